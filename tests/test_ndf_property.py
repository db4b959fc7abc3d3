"""Property test: the NDF encirclement count equals the number of right-half-plane natural frequencies of the
exact pencil (stabkit.analysis.poles), for random lumped circuits with dependent sources, and each source's
count equals the change in that number when the source is switched on after the ones before it."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import scipy.linalg as la
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stabkit.analysis.mna import assemble
from stabkit.analysis.ndf import element_frequency_band, ndf, numerical_limit
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, StabkitWarning

DECADES = {"R": (0.0, 4.0), "C": (-13.0, -9.0), "L": (-10.0, -6.0), "gm": (-3.0, 0.0), "gain": (-1.0, 1.0)}


@st.composite
def random_circuit(draw) -> Circuit:
    """3–7 nodes joined by a random spanning tree of R/L/C (so the passive circuit is connected), extra R/L/C,
    and 1–4 active elements (VCCS, VCVS with series R, CCCS/CCVS sensing a tree branch, negative R)."""
    c = Circuit("random")
    n_nodes = draw(st.integers(3, 7))
    nodes = ["0"] + [f"n{i}" for i in range(1, n_nodes + 1)]
    count = {"k": 0}

    def name(prefix):
        count["k"] += 1
        return f"{prefix}{count['k']}"

    # values come from a generator seeded by hypothesis: generic (log-uniform across decades), never the
    # hand-picked boundary values hypothesis favours for floats (R = 1, gain = 1 next to R = −1 …), which
    # produce exact cancellations whose modes sit at numerical infinity for every method
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def value(kind):
        lo, hi = DECADES[kind]
        return float(10.0 ** rng.uniform(lo, hi))

    def passive(a, b, kinds="RRLC"):
        kind = draw(st.sampled_from(kinds))
        if kind == "R":
            c.add_resistor(name("R"), a, b, value("R"))
        elif kind == "L":
            c.add_inductor(name("L"), a, b, value("L"))
        else:
            c.add_capacitor(name("C"), a, b, value("C"))

    senses = []
    for i in range(1, n_nodes + 1):
        j = draw(st.integers(0, i - 1))
        if draw(st.integers(0, 4)) == 0:  # put a 0 V sense source in this branch
            mid = f"s{i}"
            vname = name("V")
            c.add_vsource(vname, nodes[i], mid, 0.0)
            passive(mid, nodes[j], "RL")
            senses.append(vname)
        else:
            passive(nodes[i], nodes[j])
    for _ in range(draw(st.integers(0, 4))):
        a, b = draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=2, unique=True))
        passive(a, b)
    n_active = draw(st.integers(1, 4))
    for _ in range(n_active):
        kind = draw(st.sampled_from("GGGERFH" if senses else "GGGER"))
        sign = draw(st.sampled_from([-1.0, 1.0]))
        a, b, cp, cm = (draw(st.sampled_from(nodes)) for _ in range(4))
        if kind == "G":
            assume(a != b and cp != cm)
            c.add_vccs(name("G"), a, b, cp, cm, sign * value("gm"))
        elif kind == "E":
            assume(cp != cm)
            out = name("e")
            c.add_vcvs(name("E"), out, "0", cp, cm, sign * value("gain"))
            c.add_resistor(name("R"), out, a if a != "0" else nodes[1], value("R"))
        elif kind == "R":
            assume(a != b)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", StabkitWarning)
                c.add_resistor(name("R"), a, b, -value("R"))
        elif kind == "F":
            assume(a != b)
            c.add_cccs(name("F"), a, b, draw(st.sampled_from(senses)), sign * value("gain"))
        else:
            out = name("h")
            c.add_ccvs(name("H"), out, "0", draw(st.sampled_from(senses)), sign * value("R"))
            c.add_resistor(name("R"), out, a if a != "0" else nodes[1], value("R"))
    return c


def qz_rhp_count(G: np.ndarray, C: np.ndarray, eps: float, w_top: float) -> int:
    """RHP generalized eigenvalues of ``(G, −C)`` by plain QZ (time-scaled; finite: ``|β| > 1e-13·|α|``).

    Only modes with ``|s| > 10·eps`` count, as for the NDF, whose contour starts at ``s = eps``: this drops
    the exact ``s = 0`` modes of series capacitors or inductor loops, which come out as round-off.
    Examples with a mode in the ambiguous band ``eps/10 … 10·eps``, within a relative 1e-6 of the jω axis,
    or above ``w_top`` (10⁴ × the fastest element time scale, or where ``|s|·C0`` swamps ``G0`` by 1e9:
    numerical infinity of index > 1 pencils and exact cancellations) are rejected: they are ill-posed for
    any frequency-domain count."""
    tau = np.max(np.abs(C)) / np.max(np.abs(G)) if np.any(C) and np.any(G) else 1.0  # s = ŝ/τ, as in poles
    alpha, beta = la.eigvals(G, -C / tau, homogeneous_eigvals=True)
    finite = np.abs(beta) > 1e-13 * np.abs(alpha)
    p = alpha[finite] / beta[finite] / tau
    mag = np.abs(p)
    assume(np.all(mag < w_top))
    assume(not np.any((mag > eps / 10) & (mag < 10 * eps)))
    p = p[mag >= 10 * eps]
    assume(np.all(np.abs(p.real) > 1e-6 * np.abs(p)))
    return int(np.sum(p.real > 0))


def exact_counts(system, eps: float, w_top: float) -> list[int]:
    """RHP natural-frequency counts with active elements 1..k on and the rest off, k = 0..r (QZ), the full
    circuit's also from stabkit.analysis.poles (the deflating solver). That solver drops large finite
    eigenvalues of some higher-index pencils (its index fallback treats |s|·τ > 1e6 as infinite): where the
    two exact references disagree the example says nothing about the NDF and is rejected."""
    counts = []
    for k in range(system.r + 1):
        active = [dataclasses.replace(a, a0=a.a0 if i < k else 0.0, a1=a.a1 if i < k else 0.0)
                  for i, a in enumerate(system.active)]
        partial = dataclasses.replace(system, active=active)
        counts.append(qz_rhp_count(partial.G.toarray(), partial.C.toarray(), eps, w_top))
    p = poles(system).poles
    assume(counts[-1] == int(np.sum(p[np.abs(p) >= 10 * eps].real > 0)))
    return counts


def check_circuit(circuit: Circuit) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)  # L loops: a mode at 0 Hz is warned about
        try:
            system = assemble(circuit)
            res = ndf(system)
            exact = exact_counts(system, 2 * np.pi * res.fmin,
                                 min(1e4 * element_frequency_band(system)[1], numerical_limit(system)))
        except CircuitError:
            assume(False)  # singular for every s (degenerate random circuit)
            return
    assert res.encirclements == exact[-1], (res.raw_count, poles(system).poles, res.warnings)
    assert [s.encirclements for s in res.sources] == list(np.diff(exact)), (exact, [s.raw_count for s in res.sources])
    assert sum(s.encirclements for s in res.sources) == res.encirclements
    assert res.stable == (exact[-1] == 0)
    assert not res.warnings, res.warnings


@pytest.mark.slow
@settings(max_examples=int(os.environ.get('NDF_EXAMPLES', 500)), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(random_circuit())
def test_ndf_count_equals_rhp_poles(circuit):
    check_circuit(circuit)


#: circuits the property test found, kept as explicit regressions (element kind, name, nodes, value, refs)
REGRESSIONS = {
    # endless indentation loop: round-off "singularities" at ~1e16 Hz, far above every element time scale,
    # once made the contour detour without end (now: default f_max 30× the fastest element frequency and
    # at most MAX_DETOURS indentations). The exact pencil has a mode at s ≈ 0 (2e-8 rad/s, an inductor
    # loop through V4/L5/L1) that neither method may count, and an RHP pair at 1.6 ± 5.7j GHz·2π.
    "detour-loop": [
        ("L", "L1", ("n1", "0"), 1.8551259196424685e-07, ()), ("C", "C2", ("n2", "n1"), 1.2922053851658823e-12, ()),
        ("R", "R3", ("n3", "n1"), 21.90105161919579, ()), ("V", "V4", ("n4", "s4"), 0.0, ()),
        ("L", "L5", ("s4", "n1"), 1.9732333091886624e-07, ()), ("R", "R6", ("n5", "n1"), 9186.590488107156, ()),
        ("V", "V7", ("n6", "s6"), 0.0, ()), ("R", "R8", ("s6", "0"), 17.137568248798054, ()),
        ("L", "L9", ("n7", "0"), 8.585235997393216e-10, ()), ("C", "C10", ("n5", "n1"), 2.619321369669278e-12, ()),
        ("L", "L11", ("n4", "n7"), 4.1715759629323627e-10, ()), ("C", "C12", ("n1", "n2"), 3.0879648655566784e-10, ()),
        ("L", "L13", ("n4", "n6"), 2.0434664575360723e-09, ()), ("F", "F14", ("n4", "n7"), -4.018759175512952, ("V4",)),
        ("G", "G15", ("n1", "n5", "n4", "n5"), -0.028369368088007628, ()),
        ("G", "G16", ("n6", "n3", "n5", "n6"), 0.003182508752166198, ()),
    ],
}


def build(rows) -> Circuit:
    c = Circuit("regression")
    for kind, name, nodes, value, refs in rows:
        if kind == "R":
            c.add_resistor(name, *nodes, value)
        elif kind == "L":
            c.add_inductor(name, *nodes, value)
        elif kind == "C":
            c.add_capacitor(name, *nodes, value)
        elif kind == "V":
            c.add_vsource(name, *nodes, value)
        elif kind == "G":
            c.add_vccs(name, *nodes, value)
        elif kind == "E":
            c.add_vcvs(name, *nodes, value)
        elif kind == "F":
            c.add_cccs(name, *nodes, refs[0], value)
        else:
            c.add_ccvs(name, *nodes, refs[0], value)
    return c


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        circuit = build(REGRESSIONS[name])
        system = assemble(circuit)
    res = ndf(system)
    eps, w_top = 2 * np.pi * res.fmin, 1e4 * element_frequency_band(system)[1]
    exact = []
    for k in range(system.r + 1):
        active = [dataclasses.replace(a, a0=a.a0 if i < k else 0.0, a1=a.a1 if i < k else 0.0)
                  for i, a in enumerate(system.active)]
        p = poles(dataclasses.replace(system, active=active)).poles
        p = p[(np.abs(p) >= 10 * eps) & (np.abs(p) < w_top)]
        exact.append(int(np.sum(p.real > 0)))
    assert res.encirclements == exact[-1] == 2
    assert [s.encirclements for s in res.sources] == list(np.diff(exact))
    assert not res.warnings
