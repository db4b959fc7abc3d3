"""Random lumped circuits against an exact rational reference (tests/randckt.py, python-flint).

For every draw, ``poles`` and ``ndf`` must either give the exact verdict (and count) or say
``uncertain``: zero tolerance for a wrong sure answer, and no draw is thrown away. Uncertain answers must
stay rare; the bounds below are the measured rates with head-room (see the report in docs/theory.md).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from randckt import GROUPS, build, exact_reference, generate
from stabkit.analysis.ndf import ndf
from stabkit.analysis.poles import poles
from stabkit.errors import CircuitError

DRAWS = int(os.environ.get("RANDOM_CIRCUITS", 2000))
#: the NDF sweeps cost ~4× a pole solve: every NDF_EVERY-th draw is also counted by the NDF
NDF_EVERY = int(os.environ.get("RANDOM_CIRCUITS_NDF_EVERY", 4))
#: upper bounds on the fraction of "uncertain" answers (measured: see docs/theory.md, "Numerical doubt")
MAX_UNCERTAIN = {"poles": 0.15, "ndf": 0.15}
MAX_UNCERTAIN_GROUP = 0.45


def _judge(seed: int, group: str, stats: dict, failures: list) -> None:
    rows = generate(seed, group)
    truth = exact_reference(rows, seed)
    circuit = build(rows)
    st = stats.setdefault(group, {"draws": 0, "poles_uncertain": 0, "ndf_draws": 0, "ndf_uncertain": 0})
    st["draws"] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # model notes (inductor loops …) are warned about by the circuit
        try:
            pr = poles(circuit)
        except CircuitError:
            if truth["verdict"] != "singular":
                failures.append((seed, group, "poles raised for a regular pencil", truth))
            return
        if truth["verdict"] == "singular":
            failures.append((seed, group, "poles answered for a singular pencil", pr.verdict))
            return
        v = pr.verdict
        if v == "uncertain":
            st["poles_uncertain"] += 1
        elif v != truth["verdict"]:
            failures.append((seed, group, "poles: wrong sure verdict", v, truth, pr.doubts))
        elif v == "unstable" and (pr.rhp_count > truth["rhp"] or (not pr.doubts and pr.rhp_count != truth["rhp"])):
            failures.append((seed, group, "poles: wrong RHP count", pr.rhp_count, truth))
        elif v == "stable" and pr.zero_modes != truth["zero_modes"]:
            failures.append((seed, group, "poles: wrong zero-mode count", pr.zero_modes, truth))
        if (seed // len(GROUPS)) % NDF_EVERY:
            return
        st["ndf_draws"] += 1
        try:
            res = ndf(circuit)
        except CircuitError:  # the NDF refuses (a degenerate contour): no answer, counted as uncertain
            st["ndf_uncertain"] += 1
            return
    v = res.verdict
    if v == "uncertain":
        st["ndf_uncertain"] += 1
    elif v != truth["verdict"] or (v == "unstable" and res.encirclements != truth["rhp"]):
        failures.append((seed, group, "ndf: wrong sure answer", v, res.encirclements, truth))


def test_random_circuits_never_give_a_wrong_sure_answer():
    stats: dict = {}
    failures: list = []
    for seed in range(DRAWS):
        _judge(seed, GROUPS[seed % len(GROUPS)], stats, failures)
    print(stats)
    assert not failures, failures[:10]
    draws = sum(s["draws"] for s in stats.values())
    ndf_draws = sum(s["ndf_draws"] for s in stats.values())
    assert draws == DRAWS
    p_rate = sum(s["poles_uncertain"] for s in stats.values()) / draws
    n_rate = sum(s["ndf_uncertain"] for s in stats.values()) / max(ndf_draws, 1)
    assert p_rate <= MAX_UNCERTAIN["poles"], stats
    assert n_rate <= MAX_UNCERTAIN["ndf"], stats
    for group, s in stats.items():
        assert s["poles_uncertain"] / s["draws"] <= MAX_UNCERTAIN_GROUP, (group, s)


# ---------------------------------------------------------------------------------------------- regressions
def _circuit(rows):
    return build(rows, "regression")


def _truth(rows):
    return exact_reference(rows)


def test_small_negative_resistance_across_a_fraction_of_a_picofarad_beside_millihenries():
    """−3 Ω across 0.25 pF beside 1 mH: a real RHP pole near 1/(2π·3 Ω·0.25 pF) ≈ 212 GHz that a rank
    tolerance on the mixed-unit C used to drop."""
    rows = [("R", "R1", ("a", "0"), 1000.0, ()), ("L", "L1", ("a", "x"), 2.0 ** -10, ()),
            ("C", "C1", ("x", "0"), 2.0 ** -42, ()), ("R", "R2", ("x", "0"), -3.0, ()),
            ("R", "R3", ("x", "a"), 1024.0, ())]
    truth = _truth(rows)
    res = poles(_circuit(rows))
    assert truth["verdict"] == res.verdict == "unstable" and res.rhp_count == truth["rhp"] == 1
    fast = res.rhp[0].real / (2 * np.pi)
    assert 1e11 < fast < 1e12


def test_passive_rc_island_is_stable_with_a_zero_mode():
    """Capacitor-only cut-sets used to come out as RHP 'poles' at +1e-12 Hz: a passive RC network was
    called unstable."""
    rows = [("R", "R1", ("a", "0"), 100.0, ()), ("C", "C1", ("a", "m"), 2.0 ** -30, ()),
            ("C", "C2", ("m", "b"), 2.0 ** -33, ()), ("C", "C3", ("m", "0"), 2.0 ** -35, ()),
            ("R", "R2", ("b", "0"), 50.0, ()), ("C", "C4", ("b", "0"), 2.0 ** -40, ()),
            ("C", "C5", ("i1", "a"), 2.0 ** -38, ()), ("C", "C6", ("i1", "b"), 2.0 ** -37, ()),
            ("R", "R3", ("i1", "i2"), 10.0, ()), ("C", "C7", ("i2", "0"), 2.0 ** -39, ())]
    truth = _truth(rows)
    res = poles(_circuit(rows))
    assert truth["verdict"] == "stable" and res.verdict == "stable"
    # two islands: node m (C1, C2, C3) and nodes i1, i2 (joined by R3, tied to the rest through C5–C7)
    assert res.zero_modes == truth["zero_modes"] == 2 and res.poles.size == truth["degree"]
    notes = " / ".join(res.zero_mode_notes)
    assert "node(s) m," in notes and "i1, i2" in notes
    assert res.to_dict()["zero_modes"] == 2 and res.to_dict()["verdict"] == "stable"
    assert ndf(_circuit(rows)).encirclements == 0


def test_inductor_loops_are_zero_modes_not_poles():
    rows = [("R", "R1", ("a", "0"), 50.0, ()), ("L", "L1", ("a", "b"), 2.0 ** -20, ()),
            ("L", "L2", ("a", "b"), 2.0 ** -22, ()), ("C", "C1", ("b", "0"), 2.0 ** -36, ()),
            ("V", "V1", ("b", "c"), 0.0, ()), ("L", "L3", ("c", "0"), 2.0 ** -25, ()),
            ("R", "R2", ("c", "0"), -200.0, ())]
    truth = _truth(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = poles(_circuit(rows))
    assert res.zero_modes == truth["zero_modes"] == 1
    assert res.verdict == truth["verdict"]
    if truth["verdict"] == "unstable":
        assert res.rhp_count == truth["rhp"]


def test_verdict_rules():
    from stabkit.analysis.poles import PoleResult

    sure = PoleResult(poles=np.array([1.0 + 0j, -2.0 + 0j]), errors=np.array([0.1, 0.1]), doubts=["x"])
    assert sure.verdict == "unstable" and not sure.stable and sure.rhp_count == 1
    axis = PoleResult(poles=np.array([1e-3 + 5j, 1e-3 - 5j]), errors=np.array([0.01, 0.01]))
    assert axis.verdict == "uncertain" and axis.marginal.size == 2 and axis.rhp_count == 0
    clean = PoleResult(poles=np.array([-1.0 + 0j]), errors=np.array([1e-9]), zero_modes=2)
    assert clean.verdict == "stable" and clean.to_dict()["zero_modes"] == 2


def test_higher_index_fast_mode_is_kept():
    """A VCVS drives a capacitor (index 2) next to a genuinely fast mode 1e10 × the slow scale."""
    rows = [("R", "R1", ("a", "0"), 1.0, ()), ("C", "C1", ("a", "0"), 1.0, ()),
            ("E", "E1", ("b", "0", "a", "0"), 2.0, ()), ("C", "C2", ("b", "c"), 2.0 ** -30, ()),
            ("R", "R2", ("c", "0"), -(2.0 ** -4), ()), ("R", "R3", ("c", "a"), 1e6, ())]
    truth = _truth(rows)
    res = poles(_circuit(rows))
    assert res.verdict == truth["verdict"]
    if res.verdict == "unstable":
        assert res.rhp_count == truth["rhp"]
