"""The Linvill NIC with the vendor BFR840L3RHESD subcircuit (cases/linvill_bfr840_collector.cir, the collector-port alternative).

Checked against independent references: the paper's published bias points, ngspice (``op`` and ``ac``
on the same nonlinear netlist), a de-embedding of the port impedance measured *with* the external load,
and a fine scan of exact poles around the admissible-L_ext edges. docs/cases/linvill_bfr840_collector.md."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from stabkit import ngspice
from stabkit.nonlinear.dc import dc_point as bias_point
from stabkit.analysis.loads import admissible_range
from stabkit.analysis.poles import poles
from stabkit.analysis.ports import zin
from stabkit.circuit.graph import Circuit

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "linvill_bfr840_collector.cir"
VENDOR_LIB = ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib"


def _script():
    spec = importlib.util.spec_from_file_location("linvill_bfr840_script", ROOT / "scripts" / "linvill_bfr840_collector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vendor_lib() -> Path:
    if not VENDOR_LIB.is_file():
        pytest.skip(f"{VENDOR_LIB} is absent: the Infineon model is read from ../shared/models, never shipped")
    return VENDOR_LIB


@pytest.fixture(scope="module")
def case(vendor_lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # model notes (MJC/MJS limited to 0.999)
        circuit = Circuit.from_netlist(str(CASE))
        script = _script()
        return circuit, script.linearized(circuit), script


@pytest.mark.parametrize("u, ic_paper, vce_paper", [(5.0, 2.0e-3, 1.6), (7.0, 3.3e-3, 1.6), (12.0, 6.2e-3, 1.7)])
def test_bias_network_reproduces_the_papers_operating_points(case, u, ic_paper, vce_paper):
    """The 820-ohm network (collector, emitter, base divider U/2): Vce = 2 Vbe whatever U is. The paper's
    values are rounded (2 / 3.3 / 6.2 mA, 1.6 / 1.6 / 1.7 V): within 5 % and 0.05 V."""
    circuit, _, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = bias_point(circuit, {"u": u}).transistors["X1.Q1"]
    assert q.ic == pytest.approx(ic_paper, rel=0.05)
    assert q.vce == pytest.approx(vce_paper, abs=0.05)


def _ngspice_text(extra: str = "") -> str:
    text = CASE.read_text().replace(".lib ../../shared/models/BFR840L3RHESD.lib", f".include {VENDOR_LIB}")
    return text.replace(".end", extra + "\n.end")


@pytest.mark.ngspice
def test_bias_agrees_with_ngspice_op(case, ngspice_required):
    circuit, _, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = bias_point(circuit)
    theirs = ngspice.operating_point(_ngspice_text())
    nodes = ["vdd", "k1", "k2", "b1", "b2", "e1", "e2", "c1", "c2", "in"]
    np.testing.assert_allclose([ours.voltages[n] for n in nodes], [theirs[n] for n in nodes], rtol=1e-6, atol=1e-9)


FREQS = np.array([0.5e9, 1.0e9, 1.5e9, 2.0e9])


@pytest.mark.ngspice
def test_leq_agrees_with_ngspice_ac(case, ngspice_required):
    """Port impedance of the full nonlinear netlist by ngspice ``ac`` (1 A into ``in``, external load
    removed by rsrc = 1 Tohm) against stabkit's linearization; the residue is ngspice's excess phase (PTF)."""
    _, lin, script = case
    ours = script.zin_open(lin, FREQS, {})
    text = _ngspice_text("IPORT 0 in dc 0 ac 1").replace(".param rsrc=50", ".param rsrc=1e12")
    theirs = ngspice.ac_vector(text, FREQS, "v(in)")
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


def test_leq_deembedded_from_the_loaded_port(case):
    """Z seen at ``in`` with the 50 ohm + lext load attached, with that load's admittance removed by hand,
    must equal the NIC's own input impedance (computed with the load opened by rsrc = 1 Tohm)."""
    _, lin, script = case
    own = script.zin_open(lin, FREQS, {})
    loaded = zin(lin, "in", FREQS, {"rsrc": 50.0, "lext": 5e-9}).z
    external = 50.0 + 1j * 2 * np.pi * FREQS * 5e-9
    np.testing.assert_allclose(1.0 / (1.0 / loaded - 1.0 / external), own, rtol=1e-7)


def test_load_correction_makes_the_deviation_symmetric(case):
    """With the netlist's Lн (the fitted per-Rc retune), max and min of L_eq over 0.5–2 GHz straddle −5 nH
    symmetrically (to 2 pH), and the values stay within the ±12 % the docs report."""
    _, lin, script = case
    for rc in (0.0, 8.0):
        l_eq = script.leq(lin, script.band_grid(), {"rc": rc})
        assert 0.5 * (l_eq.max() + l_eq.min()) == pytest.approx(-5e-9, abs=2e-12)
        assert np.all(np.abs(l_eq / -5e-9 - 1) < 0.12)


@pytest.mark.parametrize("rc", [0.0, 8.0])
def test_admissible_lext_column_matches_a_fine_pole_scan(case, rc):
    """One column of the Table-3 sweep against an independent 60-point scan of the exact poles, plus
    points 0.2 % either side of every located edge."""
    _, lin, _ = case
    res = admissible_range(lin, "lext", 1e-9, 100e-9, params={"rc": rc})
    assert len(res.intervals) == 1
    lo, hi = res.intervals[0]
    assert lo == pytest.approx(1e-9) and 5.0e-9 < hi < 5.4e-9  # stable below about |L0|, as documented
    grid = np.geomspace(1e-9, 100e-9, 60)
    near = [x for e in res.edges for x in (e.value * 0.998, e.value * 1.002)]
    for x in list(grid) + near:
        verdict = poles(lin, {"rc": rc, "lext": x}).stable
        assert verdict == res.is_stable_at(x), f"lext = {x:.4g}: poles say stable={verdict}"
    # the crossing at the upper edge is a complex pair near 1.2 GHz
    upper = [e for e in res.edges if e.side == "upper"][0]
    assert upper.crossing == "complex pair" and 1.0e9 < upper.freq_hz < 1.4e9


@pytest.mark.parametrize("lext, rhp", [(3e-9, 0), (8e-9, 2)])
def test_ndf_count_agrees_with_exact_poles(case, lext, rhp):
    """The paper's criterion (NDF encirclements) against the exact pencil, inside and above the window;
    the unstable pair is attributed to q2's gm (the emitter follower's loop)."""
    from stabkit.analysis.ndf import ndf

    _, lin, _ = case
    res = ndf(lin, {"lext": lext})
    assert poles(lin, {"lext": lext}).rhp_count == rhp
    assert res.encirclements == rhp
    assert [s.encirclements for s in res.sources] == ([0, 0, 2, 0] if rhp else [0, 0, 0, 0])


def real_rhp_roots(system, f_lo=1.0, f_hi=1e11, points=600) -> np.ndarray:
    """Real right-half-plane natural frequencies (rad/s) without an eigen-solver: the sign changes of
    ``det(G + σ·C)`` on a log grid of σ in [2π·f_lo, 2π·f_hi], each bisected with the determinant in 256-bit
    ball arithmetic (python-flint: the sign is certified; in double precision the sign of this stiff
    determinant is wrong near the GHz root, 4e-5 away from it)."""
    import flint

    G, C = system.G.toarray(), system.C.toarray()
    flint.ctx.prec = 256
    Gf, Cf = flint.arb_mat(G.tolist()), flint.arb_mat(C.tolist())

    def exact_sign(sigma: float) -> int:
        det = (Gf + flint.arb(sigma) * Cf).det()
        assert not det.contains(0), f"det(G + σC) at σ = {sigma:g} not resolved in 256 bits"
        return 1 if det > 0 else -1

    grid = 2 * np.pi * np.geomspace(f_lo, f_hi, points)
    signs = np.array([np.linalg.slogdet(G + x * C)[0] for x in grid])
    roots = []
    for k in np.flatnonzero(signs[:-1] != signs[1:]):
        a, b = grid[k] / 1.1, grid[k + 1] * 1.1  # the double-precision bracket, widened
        sa = exact_sign(a)
        assert exact_sign(b) != sa, f"no certified sign change in [{a:g}, {b:g}]"
        for _ in range(45):
            mid = np.sqrt(a * b)
            a, b = (mid, b) if exact_sign(mid) == sa else (a, mid)
        roots.append(np.sqrt(a * b))
    return np.array(roots)


@pytest.mark.parametrize("cload, mode_hz", [(1.0, 3.78e3), (2.2e-9, 0.477e6)])
def test_as_specified_design_is_unstable_for_every_lext(case, cload, mode_hz):
    """Rн = 10 ohm, Lн = 4.8 nH, load joined straight (CLD = 1 F: no block) or through 2.2 nF: no stable
    L_ext in 1–100 nH, with a real low-frequency RHP pole (the multivibrator / converted-DC-block mode)
    and a real GHz one (1.40 GHz at L_ext = 10 nH). The reference for both is independent of the eigen-solver:
    the sign changes of det(G + σC) along the positive real axis; the documented frequencies are checked
    against it, and the exact poles must find exactly those two."""
    from stabkit.analysis.mna import assemble

    _, lin, _ = case
    p = {"rload": 10.0, "cload": cload, "ln0": 4.8e-9, "dln": 0.0}
    assert admissible_range(lin, "lext", 1e-9, 100e-9, params=p).intervals == []
    reference = real_rhp_roots(assemble(lin, {**p, "lext": 10e-9}))
    np.testing.assert_allclose(reference / (2 * np.pi), [mode_hz, 1.40e9], rtol=0.01)
    res = poles(lin, {**p, "lext": 10e-9})
    rhp = res.poles.real > 0
    assert rhp.sum() == 2 and np.all(res.poles[rhp].imag == 0)
    order = np.argsort(res.poles[rhp].real)
    found, bound = res.poles[rhp].real[order], res.errors[rhp][order]
    # each pole agrees with the certified root within its own a-posteriori error bound (the pencil is stiff:
    # 1 F beside 10 fF; the bisection stops at ~1e-10 relative), and the bound is small
    assert np.all(np.abs(found - reference) <= bound + 1e-9 * reference), (found, reference, bound)
    assert np.all(bound <= 1e-3 * reference), bound


def test_table3_runs_as_one_command(case, capsys):
    """`stabkit loads ... --by rc=0,8 --json`: the CLI accepts the rc sweep (no DC flows in Rc; the ESD
    clamp midpoints' float noise is not mistaken for a bias change) and gives the API's intervals."""
    import json

    from stabkit.cli import main

    _, lin, _ = case
    # a short range and a coarse scan keep it cheap (the full column is test_admissible_lext_column_...)
    code = main(["loads", str(CASE), "--sweep", "lext", "--from", "1n", "--to", "20n", "--by", "rc=0,8",
                 "--points", "12", "--rtol", "1e-3", "--probes", "3n", "--workers", "1", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert "rebias" not in data["columns"][0]  # rc carries no DC here: linearized once
    for column in data["columns"]:
        rc = column["rc"]
        ours = admissible_range(lin, "lext", 1e-9, 20e-9, params={"rc": rc}, points=12, rtol=1e-3).intervals
        np.testing.assert_allclose(column["intervals"], ours, rtol=1e-9)
