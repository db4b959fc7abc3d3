"""Admissible load ranges, tables, maps and loci against closed forms and independent pole scans."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from stabkit import examples
from stabkit.analysis.loads import (CircuitProbe, Probe, admissible_range, pole_locus, stability_map,
                                    stability_table)
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit
from stabkit.errors import ParameterError, StabkitWarning

RTOL = 1e-4


def _ntype(r=50.0, cap=10e-12, ind=1e-9, res=10.0):
    return examples.ntype_series_rl(1.0 / r, cap, res, ind)


def _stype(r=50.0, ind=100e-9, res=100.0, cap=10e-12):
    """S-type −r (a CCVS whose drop along its own current is −r·i) in series with L, loaded by R ∥ C.
    (Built here: ``examples.stype_series_l`` presents +r — its CCVS drop is +r·i along the current.)"""
    c = Circuit("S-type: -r + L loaded by R || C")
    c.add_vsource("Vsense", "a", "b", 0.0)
    c.add_ccvs("Hneg", "b", "m", "Vsense", -r)  # v(b) − v(m) = −r·i along the current a → b → m
    c.add_inductor("Ld", "m", "out", ind)
    c.add_resistor("Rl", "out", 0, res)
    c.add_capacitor("Cl", "out", 0, cap)
    c.add_resistor("Rret", "a", 0, 1e-6)
    return c


def _assert_edges(result, expected, rtol=RTOL):
    """Every interval end that is not a sweep limit matches the closed form to rtol (relative)."""
    got = [x for iv in result.intervals for x in iv if x not in (result.lo, result.hi)]
    assert len(got) == len(expected), (result.intervals, expected)
    np.testing.assert_allclose(got, expected, rtol=rtol)


# ------------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("r, cap, ind", [(50.0, 10e-12, 1e-9), (58.9, 25e-12, 0.2e-9), (20.0, 1e-12, 5e-9 / 400)])
def test_ntype_series_resistance_window(r, cap, ind):
    """N-type −r ∥ C fed by series R + L: stable iff L/(rC) < R < r."""
    low = ind / (r * cap)
    res = admissible_range(_ntype(r, cap, ind), "Rs", low / 30, r * 30)
    assert len(res.intervals) == 1
    _assert_edges(res, [low, r])
    lower, upper = res.edges
    # what crosses: at R = L/(rC) a complex pair at ω² = (1 − R/r)/(LC); at R = r a real pole through s = 0
    assert lower.crossing == "complex pair"
    np.testing.assert_allclose(lower.freq_hz, math.sqrt((1 - low / r) / (ind * cap)) / (2 * math.pi), rtol=1e-3)
    assert upper.crossing == "real pole" and upper.via == "origin"
    for e in res.edges:  # the bracket proves the edge: ends evaluated on opposite sides, width within rtol
        a, b = e.bracket
        assert a <= e.value <= b and (b - a) <= RTOL * e.value


@pytest.mark.parametrize("r, ind, cap", [(50.0, 100e-9, 10e-12), (10.0, 1e-6, 1e-9)])
def test_stype_load_resistance_window(r, ind, cap):
    """S-type −r in series with L, loaded by R ∥ C: stable iff r < R < L/(rC)."""
    high = ind / (r * cap)
    res = admissible_range(_stype(r, ind, cap=cap), "Rl", r / 20, high * 20)
    assert len(res.intervals) == 1
    _assert_edges(res, [r, high])


@pytest.mark.parametrize("l0", [1e-9, 5e-9, 10e-9])
def test_ideal_nic_stable_iff_lext_above_l0(l0):
    """Ideal E+F NIC realising −L0 with 50 Ω and series L_ext: stable iff L_ext > L0 (the pole passes
    through infinity there)."""
    res = admissible_range(examples.ideal_nic(l0, 2 * l0), "Lext", 0.1e-9, 100e-9)
    assert len(res.intervals) == 1 and res.intervals[0][1] == 100e-9
    _assert_edges(res, [l0])
    assert res.edges[0].crossing == "real pole" and res.edges[0].via == "infinity"


def _two_window_circuit():
    """N-type (window R ∈ (2, 50) Ω) whose series resistance is (x − 5)² + 1: stable for
    x ∈ (−2, 4) ∪ (6, 12)."""
    c = Circuit("two windows")
    c.set_param("x", 0.0)
    c.set_param("rser", "(x - 5)**2 + 1")
    c.add_resistor("Rs", "0", "a", "rser")
    c.add_inductor("L1", "a", "d", 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        c.add_resistor("Rneg", "d", "0", -50.0)
    c.add_capacitor("Cd", "d", "0", 10e-12)
    return c


def test_two_disjoint_windows():
    res = admissible_range(_two_window_circuit(), "x", -5.0, 15.0)
    assert len(res.intervals) == 2
    # relative tolerance on |x|: edges at −2, 4, 6, 12
    _assert_edges(res, [-2.0, 4.0, 6.0, 12.0])


def test_narrow_window_between_scan_points_is_found():
    """A stable window (2.0, 2.2) Ω narrower than one step of a 21-point log scan over 7 decades is found by
    the margin-extremum search, and missed without it."""
    c = examples.ntype_series_rl(1 / 2.2, 1e-9 / (2 * 2.2), 1.0, 1e-9)
    res = admissible_range(c, "Rs", 1e-3, 1e4, points=21)
    _assert_edges(res, [2.0, 2.2])
    blind = admissible_range(c, "Rs", 1e-3, 1e4, points=21, refine_extrema=False)
    assert blind.intervals == []


def test_unstable_everywhere_and_stable_everywhere():
    res = admissible_range(_ntype(), "Rs", 60.0, 1e3)  # above r = 50: a real RHP pole throughout
    assert res.intervals == [] and res.edges == []
    res = admissible_range(_ntype(), "Rs", 3.0, 40.0)
    assert res.intervals == [(3.0, 40.0)]


def test_custom_probe_and_bad_input():
    """The probe is pluggable: a stability rule given as a function."""
    def rule(x):
        return Probe(value=x, rhp_count=0 if 3.0 < x < 7.0 else 1, margin=None, poles=None)

    res = admissible_range(None, "x", 0.0, 10.0, probe=rule, rtol=1e-6)
    np.testing.assert_allclose(np.ravel(res.intervals), [3.0, 7.0], rtol=1e-6)
    with pytest.raises(ParameterError):
        CircuitProbe(_ntype(), "nonexistent")
    with pytest.raises(ValueError):
        admissible_range(_ntype(), "Rs", 10.0, 1.0)


# ------------------------------------------------------------------------------------------ tables, maps, loci
def _rhp_count_ntype(r, cap, ind, res):
    """RHP roots of L·C·s² + (R·C − L/r)·s + (1 − R/r) (independent of the MNA)."""
    roots = np.roots([ind * cap, res * cap - ind / r, 1 - res / r])
    return int(np.sum(roots.real > 0))


def test_stability_table_columns_match_closed_form():
    caps = [5e-12, 10e-12, 20e-12]
    table = stability_table(_ntype(), "Rs", 0.1, 500.0, by="Cj", values=caps, workers=1)
    for cap, col in zip(caps, table.columns):
        _assert_edges(col, [1e-9 / (50.0 * cap), 50.0])
    # every probed cell agrees with the characteristic polynomial
    for i, x in enumerate(table.probes):
        for j, cap in enumerate(caps):
            assert table.probe_rhp[i, j] == _rhp_count_ntype(50.0, cap, 1e-9, x)
            assert table.probe_stable[i, j] == (_rhp_count_ntype(50.0, cap, 1e-9, x) == 0)
    d = table.to_dict()
    assert [c["cj"] for c in d["columns"]] == caps
    assert "admissible" in table.text()


def test_stability_map_counts_match_polynomial():
    rs = np.geomspace(0.5, 200.0, 9)
    ls = np.geomspace(0.1e-9, 10e-9, 7)
    smap = stability_map(_ntype(), "Rs", rs, "Ls", ls, workers=1)
    expected = np.array([[_rhp_count_ntype(50.0, 10e-12, ind, r) for r in rs] for ind in ls])
    np.testing.assert_array_equal(smap.rhp_count, expected)


def test_pole_locus_crossings():
    locus = pole_locus(_ntype(), "Rs", np.geomspace(0.5, 200.0, 25))
    np.testing.assert_allclose(sorted(e.value for e in locus.crossings), [2.0, 50.0], rtol=RTOL)
    assert len(locus.poles) == 25


def test_parallel_executor_gives_the_same_table():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        par = stability_table(_ntype(), "Rs", 0.1, 500.0, by="Cj", values=[5e-12, 10e-12], executor=pool)
    ser = stability_table(_ntype(), "Rs", 0.1, 500.0, by="Cj", values=[5e-12, 10e-12], workers=1)
    assert par.to_dict()["columns"] == ser.to_dict()["columns"]


# ------------------------------------------------------------------------------------------ NIC cases
def test_opamp_nic_window_edge_approaches_l0_as_gbw_grows():
    """Op-amp NIC realising −L0: the lower L_ext edge rises towards the ideal |L0| as the GBW grows and
    the edge is a complex pair crossing, checked against a direct pole scan on both sides."""
    from stabkit.circuit.nic_cases import opamp_nic

    edges = []
    for gbw in (1e9, 1e10):
        c = opamp_nic(gbw=gbw, l0=100e-9)
        res = admissible_range(c, "lext", 10e-9, 1e-6)
        (lo, hi), = res.intervals
        edges.append(lo)
        assert poles(c, {"lext": lo * (1 + 3 * RTOL)}).stable
        assert not poles(c, {"lext": lo * (1 - 3 * RTOL)}).stable
    assert edges[0] < edges[1] < 100e-9


# ------------------------------------------------------------------------------------------ Linvill NIC
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LINVILL = {"ln": 3.3652e-9, "rn": 40.0}  # the stabilised design of docs/cases/linvill_nic.md
RC_VALUES = [0.0, 2.0, 4.0, 6.0, 8.0]


def _verdict_flips(circuit, grid, fixed):
    """Independent scan: the pencil's verdict on a fine grid, and the grid intervals where it flips."""
    stable = np.array([poles(circuit, dict(fixed, lext=x)).stable for x in grid])
    flips = [(grid[i], grid[i + 1]) for i in np.flatnonzero(stable[1:] != stable[:-1])]
    return stable, flips


def test_linvill_table_matches_fine_pole_scan():
    """The Table-3-like run (admissible L_ext per Rc) recomputed, each edge checked against an independent
    fine grid of direct pole computations (and just either side of the edge)."""
    from stabkit.circuit.nic_cases import linvill_nic

    c = linvill_nic(ln=LINVILL["ln"], rn=LINVILL["rn"])
    lo, hi = 1e-9, 20e-9
    table = stability_table(c, "lext", lo, hi, by="rc", values=RC_VALUES, workers=1, points=21, probes=[])
    grid = np.geomspace(lo, hi, 48)  # steps of 6.6 %: finer than the columns' spread of edges
    uppers = []
    for rc, col in zip(RC_VALUES, table.columns):
        stable, flips = _verdict_flips(c, grid, {"rc": rc})
        edges = [e.value for e in col.edges]
        assert len(edges) == len(flips), (rc, col.intervals, flips)
        for e, (a, b) in zip(edges, flips):
            assert a <= e <= b
            assert poles(c, {"rc": rc, "lext": e * (1 - 3 * RTOL)}).stable != \
                poles(c, {"rc": rc, "lext": e * (1 + 3 * RTOL)}).stable
        assert stable[0] == bool(col.intervals and col.intervals[0][0] == lo)
        uppers.append(col.intervals[0][1])
    # the stabilising collector resistors widen the admissible range (as in the paper's Table 3)
    assert all(np.diff(uppers) > 0)


def test_linvill_as_specified_is_unstable_for_every_lext():
    """Without the series Rn the NIC has a real RHP pole below 1 MHz (DC blocks in the positive-feedback
    loop) and one in the GHz range (port capacitance against the negative inductance) for every L_ext."""
    from stabkit.circuit.nic_cases import linvill_nic

    c = linvill_nic(ln=4.72e-9, rn=0.0)
    for lext in np.geomspace(1e-9, 60e-9, 9):
        p = poles(c, {"lext": lext})
        real_rhp = np.sort(p.rhp[np.abs(p.rhp.imag) < 1e-6 * np.abs(p.rhp)].real) / (2 * np.pi)
        assert real_rhp.size >= 2
        assert real_rhp[0] < 1e6 and real_rhp[-1] > 0.5e9


def test_linvill_negative_inductance_over_the_band():
    """L_eq(f) = Im Zin / ω of the stabilised design stays within −5 nH ± 10 % over 0.5–2 GHz."""
    from stabkit.analysis.ports import zin
    from stabkit.circuit.nic_cases import linvill_nic

    c = linvill_nic(ln=LINVILL["ln"], rn=LINVILL["rn"], with_source=False)
    leq = zin(c, "in", np.linspace(0.5e9, 2e9, 16)).inductance
    np.testing.assert_allclose(leq, -5e-9, rtol=0.10)
    np.testing.assert_allclose(0.5 * (leq.max() + leq.min()), -5e-9, rtol=1e-3)


def test_bfr840_transcription_and_hybrid_pi():
    """The Gummel–Poon numbers used by the case equal the vendor card's; gm = Ic/(NF·Vt)."""
    from stabkit.circuit.hybrid_pi import hybrid_pi, read_model_card, thermal_voltage
    from stabkit.circuit.nic_cases import BFR840_GP

    lib = SHARED / "models" / "BFR840L3RHESD.lib"
    if not lib.is_file():
        pytest.skip(f"vendor model absent ({lib}): the transcription cannot be checked")
    card = read_model_card(lib, "M_BFR840L3RHESD")
    for key, value in BFR840_GP.items():
        assert card[key] == pytest.approx(value, rel=1e-12), key
    hp = hybrid_pi(card, 3.3e-3, 1.6)
    np.testing.assert_allclose(hp.gm, 3.3e-3 / (card["nf"] * thermal_voltage()), rtol=1e-12)
    np.testing.assert_allclose(hp.rpi * hp.gm, card["bf"], rtol=1e-12)
    # intrinsic fT of the SiGe device is tens of GHz (the data sheet quotes 75 GHz at its optimum current)
    assert 40e9 < hp.ft < 150e9


# ------------------------------------------------------------------------------------------ command line
CASES = Path(__file__).resolve().parents[1] / "cases"


def _run_cli(argv, capsys):
    from stabkit.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_loads_json_contract(capsys):
    """``stabkit loads NET --sweep P --from A --to B [--by Q=...] --json`` on the case netlists."""
    import json

    code, out, _ = _run_cli(["loads", str(CASES / "ideal_nic.cir"), "--sweep", "lext", "--from", "0.1n",
                             "--to", "100n", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["param"] == "lext"
    np.testing.assert_allclose(data["intervals"][0][0], 5e-9, rtol=RTOL)
    code, out, _ = _run_cli(["loads", str(CASES / "opamp_nic.cir"), "--sweep", "lext", "--from", "10n", "--to",
                             "10u", "--by", "gbw=1g,10g", "--json", "--workers", "1"], capsys)
    data = json.loads(out)
    assert [c["gbw"] for c in data["columns"]] == [1e9, 1e10]
    lows = [c["intervals"][0][0] for c in data["columns"]]
    assert lows[0] < lows[1] < 100e-9
    code, _, err = _run_cli(["loads", str(CASES / "ideal_nic.cir"), "--sweep", "lext", "--from", "1n",
                             "--to", "2n"], capsys)
    assert code == 1  # unstable over the whole range
    code, _, err = _run_cli(["loads", str(CASES / "ideal_nic.cir"), "--sweep", "nope", "--from", "1n",
                             "--to", "2n"], capsys)
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_netlist_case_matches_python_builder():
    """The generated Linvill netlist reads back to the same natural frequencies as the Python builder."""
    from stabkit.circuit.nic_cases import linvill_nic

    from_file = poles(Circuit.from_netlist(str(CASES / "linvill_nic.cir")), {"lext": 4e-9})
    built = poles(linvill_nic(ln=LINVILL["ln"], rn=LINVILL["rn"]), {"lext": 4e-9})
    # values are written with 10 significant digits; the slow GMIN poles (tens of rad/s) are ill-conditioned,
    # so compare relative to the spread of the pole set
    scale = np.max(np.abs(built.poles))
    np.testing.assert_allclose(np.sort_complex(from_file.poles), np.sort_complex(built.poles), rtol=1e-6,
                               atol=1e-12 * scale)
    assert from_file.rhp_count == built.rhp_count


# ------------------------------------------------------------------------------------------ distributed
Z0_LINE, TD_LINE = 50.0, 0.1e-9


def _line_device(c: Circuit) -> None:
    """N-type device −50 Ω ∥ 2 pF behind a 5 Ω package resistance at node d (so that it is passive at very
    high frequency and the line's infinitely many modes stay damped)."""
    c.add_resistor("Rpk", "d", "j", 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        c.add_resistor("Rneg", "j", "0", -50.0)
    c.add_capacitor("Cd", "j", "0", 2e-12)


def _line_circuit() -> Circuit:
    c = Circuit("source R + L, 50 ohm line (0.1 ns), N-type device")
    c.set_param("rs", 10.0)
    c.add_resistor("Rs", "0", "a", "rs")
    c.add_inductor("L1", "a", "b", 0.5e-9)
    c.add_tline("T1", "b", "0", "d", "0", Z0_LINE, td=TD_LINE)
    _line_device(c)
    return c


def _ladder_circuit(sections: int) -> Circuit:
    c = Circuit(f"same with the line as {sections} LC sections")
    c.set_param("rs", 10.0)
    c.add_resistor("Rs", "0", "a", "rs")
    c.add_inductor("L1", "a", "n0", 0.5e-9)
    for k in range(sections):
        nxt = "d" if k == sections - 1 else f"n{k + 1}"
        c.add_inductor(f"Ll{k}", f"n{k}", nxt, Z0_LINE * TD_LINE / sections)
        c.add_capacitor(f"Cl{k}", nxt, "0", TD_LINE / Z0_LINE / sections)
    _line_device(c)
    return c


def test_distributed_edges_agree_with_ladders():
    """Line + negative resistance: the NDF-located edges agree with fine LC-ladder approximations (exact
    pencil), and the ladders converge towards them."""
    res = admissible_range(_line_circuit(), "rs", 1.0, 200.0, points=25)
    assert res.method == "ndf"
    (lo, hi), = res.intervals
    coarse = admissible_range(_ladder_circuit(10), "rs", 1.0, 200.0, points=25)
    fine = admissible_range(_ladder_circuit(40), "rs", 1.0, 200.0, points=25)
    (flo, fhi), = fine.intervals
    np.testing.assert_allclose([lo, hi], [flo, fhi], rtol=5e-3)
    assert abs(flo - lo) < abs(coarse.intervals[0][0] - lo)
    np.testing.assert_allclose(hi, 45.0, rtol=RTOL)  # DC: Rs + 5 Ω < 50 Ω
    # the lower edge is a complex pair; the NDF's nearest approach to zero sits at the ladder's frequency
    assert res.edges[0].crossing == fine.edges[0].crossing == "complex pair"
    np.testing.assert_allclose(res.edges[0].freq_hz, fine.edges[0].freq_hz, rtol=1e-2)


def test_ndf_path_agrees_with_the_pencil_on_a_lumped_circuit():
    """Second method: the NDF encirclement count locates the same N-type edges as the exact pencil."""
    by_ndf = admissible_range(_ntype(), "Rs", 0.5, 200.0, method="ndf", points=21)
    assert by_ndf.method == "ndf"
    _assert_edges(by_ndf, [2.0, 50.0])
    assert [e.crossing for e in by_ndf.edges] == ["complex pair", "real pole"]
    np.testing.assert_allclose(by_ndf.edges[0].freq_hz, math.sqrt((1 - 2.0 / 50.0) / (1e-9 * 10e-12)) / (2 * math.pi),
                               rtol=2e-2)


def _data_x_extent(ax, patch) -> tuple[float, float]:
    """The x range, in data coordinates, that a patch (an axvspan) covers."""
    verts = (patch.get_transform() - ax.transData).transform(patch.get_path().vertices)
    return float(verts[:, 0].min()), float(verts[:, 0].max())


def test_results_serialise_and_plot_what_they_found():
    """Every result has ``to_dict`` (JSON) and ``plot``; the plots show the closed-form answer of the N-type
    window (stable iff L/(rC) = 2 Ω < Rs < r = 50 Ω; RHP counts from L·C·s² + (R·C − L/r)·s + (1 − R/r))."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = _ntype()
    adm = admissible_range(c, "Rs", 0.5, 200.0, points=15)
    ax = adm.plot()
    (span,) = ax.patches
    np.testing.assert_allclose(_data_x_extent(ax, span), [2.0, 50.0], rtol=RTOL)
    edges = sorted(ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--")
    np.testing.assert_allclose(edges, [2.0, 50.0], rtol=RTOL)
    (step,) = [ln for ln in ax.lines if ln.get_label() == "unstable natural frequencies"]
    np.testing.assert_array_equal(step.get_ydata(), [_rhp_count_ntype(50.0, 10e-12, 1e-9, x) for x in step.get_xdata()])
    plt.close(ax.figure)

    caps = [5e-12, 10e-12]
    table = stability_table(c, "Rs", 0.5, 200.0, by="Cj", values=caps, workers=1, points=15)
    ax = table.plot()
    bars = [ln for ln in ax.lines if ln.get_linewidth() == 8]
    assert [tuple(b.get_xdata()) for b in bars] == [(0, 0), (1, 1)]
    for bar, cap in zip(bars, caps):
        np.testing.assert_allclose(bar.get_ydata(), [1e-9 / (50.0 * cap), 50.0], rtol=RTOL)
    dots = [ln for ln in ax.lines if ln.get_marker() == "o"]
    assert len(dots) == len(table.probes) * len(caps)
    for dot in dots:
        x, y = int(dot.get_xdata()[0]), float(dot.get_ydata()[0])
        stable = _rhp_count_ntype(50.0, caps[x], 1e-9, y) == 0
        assert dot.get_color() == ("tab:green" if stable else "tab:red"), (caps[x], y)
    plt.close(ax.figure)

    rs, ls = [1.0, 10.0, 100.0], [0.1e-9, 1e-9, 10e-9]
    smap = stability_map(c, "Rs", rs, "Ls", ls, workers=1)
    ax = smap.plot()
    np.testing.assert_array_equal(np.asarray(ax.collections[0].get_array()).reshape(3, 3),
                                  [[_rhp_count_ntype(50.0, 10e-12, ind, r) for r in rs] for ind in ls])
    plt.close(ax.figure)

    values = np.geomspace(0.5, 200.0, 12)
    locus = pole_locus(c, "Rs", values)
    ax = locus.plot()
    drawn = [ln for ln in ax.lines if ln.get_marker() == "."]
    assert len(drawn) == values.size
    for ln, r in zip(drawn, values):
        roots = np.roots([1e-9 * 10e-12, r * 10e-12 - 1e-9 / 50.0, 1 - r / 50.0]) / (2 * np.pi)
        got = np.asarray(ln.get_xdata()) + 1j * np.asarray(ln.get_ydata())
        np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(roots), rtol=1e-6)
    plt.close(ax.figure)

    for res in (adm, table, smap, locus):
        json.loads(json.dumps(res.to_dict()))


def test_cli_loads_table_uses_engineering_prefixes():
    """Human output prints 44.1749 n, not 4.41749e-08 (closed-form edge L = R·C·|r| = 30·25p·58.9)."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "stabkit", "loads", "cases/ntype_smallsignal.cir", "--sweep", "lser",
                           "--from", "1n", "--to", "200n"], capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "e-0" not in proc.stdout
    edge_nh = 30 * 25e-12 * 58.9 * 1e9  # 44.175 nH; found to 1e-4 relative
    assert f"upper edge {edge_nh:.2f}"[:-1] in proc.stdout and " n:" in proc.stdout


@pytest.mark.ngspice
def test_linvill_nic_port_impedance_agrees_with_ngspice_ac(ngspice_required):
    """The shipped hybrid-pi Linvill netlist as ngspice reads it (the 50 Ω source opened, 1 A AC into ``in``):
    its Zin equals stabkit's, and its L_eq = Im Zin/ω is the documented −5 nH ± 10 % over 0.5–2 GHz."""
    from stabkit import ngspice
    from stabkit.analysis.ports import zin

    text = (CASES / "linvill_nic.cir").read_text()
    assert "rs src 0 50\n" in text
    text = text.replace("rs src 0 50\n", "rs src 0 1e12\nIin 0 in dc 0 ac 1\n")
    freqs = np.geomspace(0.5e9, 2e9, 7)
    theirs = ngspice.ac_vector(text, freqs, "v(in)")
    ours = zin(Circuit.from_netlist(text), "in", freqs).z
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(theirs.imag / (2 * np.pi * freqs), -5e-9, rtol=0.10)
