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
