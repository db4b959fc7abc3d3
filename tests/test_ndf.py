"""NDF: closed-form N-type / S-type cases, factor product, per-source diagnosis, indentation, CLI."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from stabkit import examples
from stabkit.analysis.mna import assemble
from stabkit.analysis.ndf import (
    ReturnDifferenceEvaluator, ndf, unpivoted_lu_pivots, wrap_phase,
)
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit
from stabkit.errors import StabkitWarning


def ntype(g, cap, res, ind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        return examples.ntype_series_rl(g, cap, res, ind)


def stype(r, ind, res, cap):
    """S-type device −r (a CCVS sensing its own current through Vsense) + L, loaded by R ∥ C."""
    c = Circuit("S-type")
    c.add_vsource("Vsense", "a", "b", 0.0)
    c.add_ccvs("Hneg", "b", "m", "Vsense", -r)  # v(b) − v(m) = −r·i: a negative resistance in the a→m branch
    c.add_inductor("Ld", "m", "out", ind)
    c.add_resistor("Rl", "out", 0, res)
    c.add_capacitor("Cl", "out", 0, cap)
    c.add_resistor("Rret", "a", 0, 1e-3)
    return c


def ntype_expected(g, cap, res, ind):
    """RHP roots of L·C·s² + (R·C − g·L)·s + (1 − g·R) (closed form)."""
    roots = np.roots([ind * cap, res * cap - g * ind, 1 - g * res])
    return int(np.sum(roots.real > 0))


def stype_expected(r, ind, res, cap):
    """RHP roots of L·R·C·s² + (L − r·R·C)·s + (R − r) (Rret = 1 mΩ neglected; it only adds to R in series)."""
    roots = np.roots([ind * res * cap, ind - r * (res * cap) + 1e-3 * ind * 0, res - r])
    return int(np.sum(roots.real > 0))


# g = 20 mS, C = 1 pF: stable iff R < 50 Ω and L < R·C/g
NTYPE = [
    ((0.02, 1e-12, 20.0, 0.5e-9), 0),   # R < 1/g, L < RC/g = 1 nH
    ((0.02, 1e-12, 20.0, 0.9e-9), 0),
    ((0.02, 1e-12, 20.0, 1.2e-9), 2),   # L too large: complex RHP pair (oscillation)
    ((0.02, 1e-12, 20.0, 20e-9), 2),
    ((0.02, 1e-12, 60.0, 0.5e-9), 1),   # R > 1/g: one real RHP zero (latch-up / bistability)
    ((0.02, 1e-12, 49.0, 0.1e-9), 0),
    ((0.02, 1e-12, 51.0, 0.1e-9), 1),
]

# r = 10 Ω, C = 1 pF: stable iff R > r and L > r·R·C
STYPE = [
    ((10.0, 5e-9, 20.0, 1e-12), 0),
    ((10.0, 0.25e-9, 20.0, 1e-12), 0),
    ((10.0, 0.15e-9, 20.0, 1e-12), 2),  # L < rRC = 0.2 nH: complex pair
    ((10.0, 0.05e-9, 20.0, 1e-12), 2),
    ((10.0, 5e-9, 5.0, 1e-12), 1),      # R < r: single real RHP zero
]


@pytest.mark.parametrize("args, expected", NTYPE)
def test_ntype_closed_form(args, expected):
    assert ntype_expected(*args) == expected  # the table agrees with the closed-form conditions
    res = ndf(ntype(*args))
    assert res.encirclements == expected
    assert res.stable == (expected == 0)
    np.testing.assert_allclose(res.raw_count, expected, atol=0.05)
    assert not res.warnings
    assert [s.name for s in res.sources] == ["Rneg"]


@pytest.mark.parametrize("args, expected", STYPE)
def test_stype_closed_form(args, expected):
    assert stype_expected(*args) == expected
    res = ndf(stype(*args))
    assert res.encirclements == expected
    assert res.sources[0].name == "Hneg" and res.sources[0].encirclements == expected
    assert not res.warnings


@pytest.mark.parametrize("args, expected", NTYPE[:5] + STYPE)
def test_locus_properties(args, expected):
    """NDF(0) is real with sign (−1)^(real RHP zeros); the NDF tends to 1 at high frequency."""
    circuit = ntype(*args) if len(args) == 4 and args[0] < 1 else stype(*args)
    res = ndf(circuit)
    v0 = res.values[0]
    assert abs(v0.imag) <= 1e-9 * abs(v0)
    real_rhp = int(np.sum((poles(circuit).poles.real > 0) & (poles(circuit).poles.imag == 0)))
    assert np.sign(v0.real) == (-1) ** real_rhp
    np.testing.assert_allclose(res.values[-1], 1.0, atol=0.05)


def test_factor_product_is_ndf_and_matches_determinant_ratio():
    circuit = examples.two_transistor_amplifier(sections=3, feedback=200.0)
    system = assemble(circuit)
    s = 1j * 2 * np.pi * np.geomspace(1e6, 1e11, 7)
    R = ReturnDifferenceEvaluator(system)(s)
    piv = unpivoted_lu_pivots(R)
    np.testing.assert_allclose(np.prod(piv, axis=1), np.linalg.det(R), rtol=1e-9)
    # independent: ratio of the two full determinants (small circuit, so they can be formed here)
    ratio = [np.linalg.det(system.M(x).toarray()) / np.linalg.det(system.M0(x).toarray()) for x in s]
    np.testing.assert_allclose(np.linalg.det(R), ratio, rtol=1e-7)
    # leading principal minors: pivot k = Δ(1..k on)/Δ(1..k−1 on)
    for k in range(1, system.r + 1):
        minor = np.linalg.det(R[:, :k, :k])
        np.testing.assert_allclose(np.prod(piv[:, :k], axis=1), minor, rtol=1e-9)


def test_per_source_counts_telescope():
    """Amplifier with a positive feedback resistor: the latch-up appears when the second stage is switched on."""
    circuit = examples.two_transistor_amplifier(sections=4, feedback=200.0)
    system = assemble(circuit)
    res = ndf(system)
    counts = []
    for k in range(system.r + 1):
        active = [dataclasses.replace(a, a0=a.a0 * (i < k), a1=a.a1 * (i < k)) for i, a in enumerate(system.active)]
        counts.append(poles(dataclasses.replace(system, active=active)).rhp_count)
    assert res.encirclements == counts[-1] == 1
    assert [s.encirclements for s in res.sources] == list(np.diff(counts))
    assert [s.name for s in res.sources] == ["Q1.gm", "Q2.gm"]


@pytest.mark.parametrize("g1, g2", [(-0.05, 0.2), (-0.05, -0.2), (0.05, -0.2), (-0.5, 1.0), (0.5, -1.0)])
def test_series_capacitor_indentation(g1, g2):
    """M0 is singular at ω = 0 (node b is reached only through capacitors): the quarter-circle indentation
    around s = 0 handles it. Counts 0, 1 and 2 all occur in this list."""
    import scipy.sparse.linalg as spla

    c = Circuit("series C")
    c.add_resistor("R1", "a", 0, 50.0)
    c.add_inductor("L1", "a", "x", 1e-9)
    c.add_resistor("R3", "x", 0, 20.0)
    c.add_capacitor("C1", "a", "b", 1e-12)
    c.add_capacitor("C2", "b", 0, 2e-12)
    c.add_vccs("G1", "b", 0, "a", 0, g1)
    c.add_vccs("G2", "a", 0, "b", 0, g2)
    with pytest.raises(RuntimeError):
        spla.splu(assemble(c).M0(0.0).astype(complex).tocsc())
    res = ndf(c)
    assert res.encirclements == poles(c).rhp_count, res.raw_count
    assert not res.warnings


def test_negative_capacitor_tail_exponent():
    """A negative capacitor is off (open) in M0: NDF ~ s at infinity, the count still equals the poles'."""
    for cneg, expected in ((-0.5e-12, 0), (-2e-12, 1)):
        c = Circuit("negative C")
        c.add_resistor("R1", "a", 0, 50.0)
        c.add_capacitor("C1", "a", 0, 1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabkitWarning)
            c.add_capacitor("Cn", "a", 0, cneg)
        res = ndf(c)
        assert poles(c).rhp_count == expected
        assert res.encirclements == expected, res.raw_count


def test_wrap_phase():
    np.testing.assert_allclose(wrap_phase(np.array([0.0, 3 * np.pi / 2, -3 * np.pi / 2, 2 * np.pi])),
                               [0.0, -np.pi / 2, np.pi / 2, 0.0], atol=1e-12)


def test_result_dict_and_plot():
    res = ndf(ntype(0.02, 1e-12, 20.0, 1.2e-9))
    d = res.to_dict()
    assert d["stable"] is False and d["encirclements"] == 2
    assert d["sources"] == [{"name": "Rneg", "kind": "R", "encirclements": 2, "raw_count": pytest.approx(2, abs=0.05)}]
    assert res.freq_hz.shape == res.values.shape
    import matplotlib

    matplotlib.use("Agg")
    ax = res.plot()
    assert ax.get_title().startswith("N-type")
    res.plot_sources()


def test_sparameter_block_between_its_reference_terminations(models_dir):
    """An S-parameter block terminated in its own reference impedances sees Γ = 0: its return difference
    det(I − S·Γ) is exactly 1. With a negligible (1 µS) external source the NDF must stay at 1 within 1e-3,
    count nothing, list the block among the sources, and its contour must cover the measured band."""
    import skrf
    path = models_dir / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"
    if not path.exists():
        pytest.skip(f"{path} absent")
    net = skrf.Network(str(path))
    c = Circuit("BFR840 block with a weak external negative conductance")
    c.add_nport("N1", ["b", "c"], net)
    c.add_resistor("RL", "c", 0, 50.0)
    c.add_resistor("RS", "b", 0, 50.0)
    c.add_vccs("Gx", "b", 0, "b", 0, 1e-6)  # 1 µS: negligible next to 20 mS
    res = ndf(c)
    assert any("S-parameter block" in w and "N1" in w for w in res.warnings)
    assert res.freq_hz.min() <= net.f[0] and res.freq_hz.max() >= net.f[-1]
    assert [s.name for s in res.sources] == ["N1", "Gx"]
    np.testing.assert_allclose(np.abs(res.sources[0].values - 1.0).max(), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(res.values - 1.0).max(), 0.0, atol=1e-3)
    assert res.encirclements == 0


CASES = Path(__file__).resolve().parents[1] / "cases"


@pytest.mark.parametrize("extra, code, stable, total", [([], 1, False, 2), (["--set", "gneg=-5m"], 0, True, 0)])
def test_cli_hidden_mode(capsys, extra, code, stable, total):
    """`stabkit ndf cases/hidden_mode.cir --json`: the contract's JSON, the per-source split, the exit code,
    and the same count as `stabkit poles`."""
    from stabkit.cli import main

    assert main(["ndf", str(CASES / "hidden_mode.cir"), "--json", *extra]) == code
    out = json.loads(capsys.readouterr().out)
    assert out["stable"] is stable and out["encirclements"] == total
    assert [(s["name"], s["encirclements"]) for s in out["sources"]] == [("Gm", 0), ("Gneg", total)]
    assert sum(s["encirclements"] for s in out["sources"]) == out["encirclements"]
    assert out["warnings"] == []
    main(["poles", str(CASES / "hidden_mode.cir"), "--json", *extra])
    assert json.loads(capsys.readouterr().out)["rhp_count"] == total


def test_cli_band_options_and_bad_input(capsys):
    from stabkit.cli import main

    assert main(["ndf", str(CASES / "hidden_mode.cir"), "--fmin", "1meg", "--fmax", "100g", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose([out["fmin_hz"], out["fmax_hz"]], [1e6, 1e11])
    assert main(["ndf", str(CASES / "hidden_mode.cir"), "--fmin", "fast"]) == 2
    assert "--fmin" in capsys.readouterr().err
    assert main(["ndf", str(CASES / "hidden_mode.cir"), "--fmin", "10g", "--fmax", "1g"]) == 2
    assert "fmin" in capsys.readouterr().err
    assert main(["ndf", str(CASES / "hidden_mode.cir")]) == 1
    text = capsys.readouterr().out
    assert "UNSTABLE" in text and "Gneg" in text


def test_dense_banded_and_sparse_solvers_agree(monkeypatch):
    """The three linear-solver paths of the evaluator give the same return-difference matrices."""
    import stabkit.analysis.ndf as ndf_module

    system = assemble(examples.two_transistor_amplifier(sections=30, feedback=200.0))
    s = 1j * 2 * np.pi * np.geomspace(1e6, 1e11, 9)
    banded = ReturnDifferenceEvaluator(system)
    assert system.n > ndf_module.defaults["ndf.dense_max_n"] and banded.banded
    monkeypatch.setitem(ndf_module.defaults, "ndf.max_band", -1)
    general = ReturnDifferenceEvaluator(system)
    assert not general.banded and not general.dense
    monkeypatch.setitem(ndf_module.defaults, "ndf.dense_max_n", 10_000)
    dense = ReturnDifferenceEvaluator(system)
    assert dense.dense
    ref = dense(s)
    np.testing.assert_allclose(banded(s), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(general(s), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("args, expected", NTYPE[:5])
def test_python_control_agrees(args, expected):
    """The same locus handed to python-control (frd + nyquist_response on NDF − 1) gives the same count."""
    import control  # noqa: F401  (a runtime dependency)
    from stabkit.analysis.ndf import python_control_count

    res = ndf(ntype(*args))
    assert python_control_count(res) == res.encirclements == expected


def test_static_pivot_lu_agrees_with_lapack_and_hands_on_what_it_cannot_do(monkeypatch):
    """The static-pivot sparse LU of the bordered matrix (dense-size lumped systems, many frequencies at once)
    against LAPACK's pivoted LU at every frequency, over 16 decades: the same ``Eᵀ·M0⁻¹·U`` to rounding. With a
    single pivot order (chosen at the slowest frequency) the growth check must reject a part of the band and leave
    it to LAPACK; with a growth limit of 0 every frequency goes to LAPACK."""
    import stabkit.analysis.ndf as ndf_module

    system = assemble(examples.two_transistor_amplifier(sections=10, feedback=200.0))
    assert ndf_module.defaults["ndf.static_lu_min_n"] <= system.n <= ndf_module.defaults["ndf.dense_max_n"]
    s = 2j * np.pi * np.geomspace(1.0, 1e16, 200) + 2 * np.pi * 1e-3
    ev = ReturnDifferenceEvaluator(system)
    assert ev.dense and ev.passive.g is not None
    fast = ev(s)
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_min_n", 10 ** 9)
    reference = ev(s)
    assert np.all(np.isfinite(reference))
    np.testing.assert_allclose(fast, reference, rtol=1e-9, atol=1e-12 * np.max(np.abs(reference)))
    # one pivot order: what it cannot do is left over (and what it did is right): Eᵀ·M0⁻¹·U against LAPACK's
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_min_n", 10 ** 9)
    solves = ev.passive.selected_solves(s, ev.U, ev.Et)
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_min_n", 24)
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_plans", 1)
    out = np.full(solves.shape, np.nan, dtype=complex)
    left = ev.passive._static_selected_solves(s, ev.U, ev.Et, out)
    done = np.setdiff1d(np.arange(s.size), left)
    assert 0 < left.size < s.size and np.all(np.isnan(out[left]))
    np.testing.assert_allclose(out[done], solves[done], rtol=1e-9, atol=1e-12 * np.max(np.abs(solves[done])))
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_growth", 0.0)
    out[:] = np.nan
    assert ev.passive._static_selected_solves(s, ev.U, ev.Et, out).size == s.size
    np.testing.assert_array_equal(ev(s), reference)  # all by LAPACK: bit for bit


def test_static_pivot_lu_count_matches_the_lapack_count(monkeypatch):
    """The NDF of a dense-size circuit (static-pivot LU) counts what it counts on LAPACK's LU, factor by factor."""
    import stabkit.analysis.ndf as ndf_module

    circuit = examples.two_transistor_amplifier(sections=10, feedback=200.0)
    fast = ndf(circuit)
    monkeypatch.setitem(ndf_module.defaults, "ndf.static_lu_min_n", 10 ** 9)
    slow = ndf(circuit)
    assert fast.encirclements == slow.encirclements == poles(circuit).rhp_count
    assert [x.encirclements for x in fast.sources] == [x.encirclements for x in slow.sources]
    assert fast.s.size == slow.s.size
    np.testing.assert_allclose(fast.log_values, slow.log_values, rtol=0, atol=1e-8)
