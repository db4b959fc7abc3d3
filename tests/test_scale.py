"""Scale (issue #14): the sparse NDF evaluator against the dense one, the total count from det M / det M0
against the per-source one, shift-invert Arnoldi against the exact spectrum, its completeness check through
the one verdict, and the memory refusal. Every circuit here is small enough for seconds."""

from __future__ import annotations

import numpy as np
import pytest

import stabkit.analysis.ndf as ndf_module
import stabkit.analysis.rightmost as rightmost_module
import stabkit.analysis.verdict as verdict_module
from stabkit import assemble, examples
from stabkit.analysis.ndf import ReturnDifferenceEvaluator, ndf, ndf_on_axis, unpivoted_lu_pivots
from stabkit.analysis.poles import poles
from stabkit.analysis.rightmost import rightmost_poles
from stabkit.analysis.verdict import decide_linear
from stabkit.errors import CircuitError

TWO_PI = 2.0 * np.pi


def _solvers(monkeypatch, system):
    """The evaluator three ways: its own choice, general sparse LU (no band), batched dense."""
    default = ReturnDifferenceEvaluator(system)
    monkeypatch.setitem(ndf_module.defaults, "ndf.max_band", -1)
    general = ReturnDifferenceEvaluator(system)
    monkeypatch.setitem(ndf_module.defaults, "ndf.dense_max_n", 10_000)
    dense = ReturnDifferenceEvaluator(system)
    monkeypatch.setitem(ndf_module.defaults, "ndf.dense_max_n", 80)
    monkeypatch.setitem(ndf_module.defaults, "ndf.max_band", 24)
    assert (default.solver, general.solver, dense.solver) == ("banded", "sparse", "dense")
    return default, general, dense


@pytest.mark.parametrize("build", [lambda: examples.two_transistor_amplifier(sections=30, feedback=200.0),
                                   lambda: examples.active_rc_ladder(120)], ids=["amplifier", "ladder"])
def test_sparse_and_banded_return_differences_equal_the_dense_ones(monkeypatch, build):
    """R(s) from the banded and the general sparse LU (column ordering reused across frequencies) equal the
    batched dense solve to 1e-9 (relative; the matrices are well conditioned here: 1e-12 is typical); the
    total log NDF from det M / det M0 (two factorizations) equals log det R to 1e-8."""
    system = assemble(build())
    s = 1j * TWO_PI * np.geomspace(1e5, 1e11, 13)
    banded, general, dense = _solvers(monkeypatch, system)
    ref = dense(s)
    np.testing.assert_allclose(banded(s), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(general(s), ref, rtol=1e-9, atol=1e-12)
    sign, logabs = np.linalg.slogdet(ref)
    total = {}
    for name, ev in (("banded", banded), ("general", general), ("dense", dense)):
        ev_total = ReturnDifferenceEvaluator(system, per_source=False)
        ev_total.passive = ev.passive  # the same M0 path; M on its own pattern
        total[name] = ev_total.log_ndf(s)
        np.testing.assert_allclose(total[name].real, logabs, rtol=0, atol=1e-8)
        np.testing.assert_allclose(np.exp(1j * total[name].imag), sign, rtol=0, atol=1e-8)


def test_recursive_unpivoted_pivots_equal_plain_elimination():
    """The LAPACK-based pivots (recursive Schur complements) equal Gaussian elimination without pivoting, and
    each is a ratio of leading minors (checked with numpy's determinant) — to 1e-10 relative."""
    rng = np.random.default_rng(3)
    r = 41
    R = rng.normal(size=(5, r, r)) + 1j * rng.normal(size=(5, r, r)) + 4 * np.eye(r)
    piv = unpivoted_lu_pivots(R)
    minors = np.array([[np.linalg.det(Ri[:k, :k]) for k in range(1, r + 1)] for Ri in R])
    expected = minors / np.concatenate([np.ones((5, 1)), minors[:, :-1]], axis=1)
    np.testing.assert_allclose(piv, expected, rtol=1e-10)


@pytest.mark.parametrize("circuit, rhp", [(examples.active_rc_ladder(60), 1),
                                          (examples.active_rc_ladder(60, r_neg=-500.0), 0),
                                          (examples.ntype_series_rl(0.02, 1e-12, 20.0, 1.2e-9), 2),
                                          (examples.two_transistor_amplifier(8, feedback=200.0), None)],
                         ids=["ladder-unstable", "ladder-stable", "ntype", "amplifier"])
def test_total_count_equals_per_source_count(circuit, rhp):
    """ndf(per_source=False) follows det M / det M0 only: the same encirclement count as the per-source
    contour (and, where known, the number of RHP natural frequencies from the exact poles)."""
    system = assemble(circuit)
    per = ndf(system, per_source=True)
    total = ndf(system, per_source=False)
    exact = poles(system)
    assert total.sources == [] and total.solver.endswith("det M / det M0")
    assert total.encirclements == per.encirclements == exact.rhp_count
    assert abs(total.raw_count - per.raw_count) < 0.05
    assert total.verdict == per.verdict == exact.verdict
    if rhp is not None:
        assert exact.rhp_count == rhp


def test_ndf_on_axis_total_equals_product_of_return_differences():
    system = assemble(examples.active_rc_ladder(200))
    f = np.geomspace(1e4, 1e11, 40)
    prod, factors = ndf_on_axis(system, f)
    total, none = ndf_on_axis(system, f, per_source=False)
    assert factors.shape == (40, system.r) and none.shape == (40, 0)
    np.testing.assert_allclose(total, prod, rtol=1e-8)


@pytest.mark.parametrize("r_neg, rhp", [(-120.0, 1), (-500.0, 0)])
def test_rightmost_modes_equal_the_exact_spectrum(r_neg, rhp):
    """A 300-node active ladder: every mode shift-invert Arnoldi verifies is an exact natural frequency
    (within the sum of both error bounds), the rightmost ones are all there, and the RHP count is the exact
    one and the NDF's."""
    system = assemble(examples.active_rc_ladder(300, r_neg=r_neg))
    exact = poles(system)
    found = rightmost_poles(system)
    assert found.method == "shift-invert Arnoldi" and not found.complete and found.poles.size >= 6
    for p, e in zip(found.poles, found.errors):
        i = int(np.argmin(np.abs(exact.poles - p)))
        assert abs(exact.poles[i] - p) <= e + exact.errors[i], (p, exact.poles[i])
        assert e < 1e-6 * abs(p)
    top = exact.poles[np.argsort(-exact.poles.real)][:4]
    for p in top:
        assert np.min(np.abs(found.poles - p)) <= 1e-9 * abs(p)
    assert found.rhp_count == exact.rhp_count == rhp
    assert ndf(system, per_source=False).encirclements == rhp


@pytest.fixture
def large_path(monkeypatch):
    """Treat a few hundred unknowns as large: no exact poles in the NDF's band or the verdict."""
    monkeypatch.setattr(verdict_module, "EXACT_POLES_MAX_UNKNOWNS", 100)
    monkeypatch.setitem(ndf_module.defaults, "ndf.exact_poles_max_n", 100)


@pytest.mark.parametrize("r_neg, word", [(-120.0, "unstable"), (-500.0, "stable")])
def test_verdict_of_a_large_circuit_uses_the_rightmost_modes(large_path, r_neg, word):
    pv = decide_linear(examples.active_rc_ladder(300, r_neg=r_neg))
    assert pv.poles.method == "shift-invert Arnoldi" and pv.verdict == word
    assert pv.poles.rhp_count == pv.ndf.encirclements == pv.rhp_count == (word == "unstable")
    assert any("shift-invert Arnoldi" in w for w in pv.warnings)


def test_a_mode_arnoldi_misses_makes_the_verdict_uncertain(large_path, monkeypatch):
    """One shift at the band's low end, keeping only the mode nearest it: the LHP cluster's edge (−29.85 MHz,
    nearer than the +30.28 MHz unstable mode). The NDF counts one encirclement the search did not confirm —
    uncertain, and never stable."""
    monkeypatch.setitem(rightmost_module.defaults, "rightmost.max_shifts", 1)
    monkeypatch.setitem(rightmost_module.defaults, "rightmost.k", 1)
    pv = decide_linear(examples.active_rc_ladder(300))
    assert pv.ndf.encirclements == 1 and pv.poles.rhp_count == 0
    assert pv.verdict == "uncertain"
    assert any("a mode was missed" in r for r in pv.reasons)


def test_rightmost_modes_alone_are_never_stable(large_path):
    pv = decide_linear(examples.active_rc_ladder(300, r_neg=-500.0), method="poles")
    assert pv.ndf is None and pv.poles.rhp_count == 0 and pv.verdict == "uncertain"
    assert "without the NDF count" in pv.reasons[0]


def test_per_source_refused_up_front_when_memory_is_short(monkeypatch):
    """The n × r block of per-source solves is checked against the available memory before any work: a
    one-line CircuitError; the default (total count) still runs."""
    system = assemble(examples.active_rc_ladder(200))
    monkeypatch.setattr(verdict_module, "_available_memory", lambda: 1e5)
    with pytest.raises(CircuitError) as info:
        ndf(system, per_source=True)
    assert "\n" not in str(info.value) and "per_source=False" in str(info.value)
    res = ndf(system)
    assert res.sources == [] and res.encirclements == 1


@pytest.mark.parametrize("circuit", [examples.stype_series_l(50.0, 1e-9, 100.0, 1e-12),
                                     examples.ideal_nic(10e-9, 12e-9),
                                     examples.two_transistor_amplifier(8, feedback=200.0)],
                         ids=["stype", "nic", "amplifier"])
def test_vectorised_banded_determinants_fall_back_where_pivoting_is_needed(monkeypatch, circuit):
    """MNA rows of voltage sources and inductors have a zero diagonal: the pivot-free elimination across
    frequencies must hand those frequencies to LAPACK's pivoted banded LU. Forced onto the banded path, the
    total log NDF equals log det R from the dense per-source evaluator (1e-8 absolute in log)."""
    system = assemble(circuit)
    s = 1j * TWO_PI * np.geomspace(1e6, 1e10, 17)
    sign, logabs = np.linalg.slogdet(ReturnDifferenceEvaluator(system)(s))
    monkeypatch.setitem(ndf_module.defaults, "ndf.dense_max_n", 0)
    total = ReturnDifferenceEvaluator(system, per_source=False)
    assert total.solver == "banded"
    got = total.log_ndf(s)
    np.testing.assert_allclose(got.real, logabs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.exp(1j * got.imag), sign, rtol=0, atol=1e-8)


def test_a_zero_pivot_goes_to_the_pivoted_lu(monkeypatch):
    """A permutation-like band matrix (zero diagonal, det = −1 at every s): the pivot-free elimination
    refuses every frequency and LAPACK's pivoted LU gives log det = jπ exactly."""
    from stabkit.analysis.ndf import PatternSolver

    monkeypatch.setitem(ndf_module.defaults, "ndf.dense_max_n", 0)
    n = 90
    rows = np.concatenate([np.arange(0, n, 2), np.arange(1, n, 2)])
    cols = np.concatenate([np.arange(1, n, 2), np.arange(0, n, 2)])
    g = np.ones(n)
    solver = PatternSolver(n, rows, cols, lambda s: np.ones((s.size, n)) + 0j, g, np.zeros(n))
    assert solver.kind == "banded"
    s = 1j * np.geomspace(1.0, 1e6, 5)
    _, ok = solver._banded_logdet_unpivoted(s)
    assert not ok.any()
    np.testing.assert_allclose(solver.logdet(s), np.full(5, 1j * np.pi), atol=1e-12)


def _weak_loop_cells(cells: int, unstable: int):
    """``cells`` decoupled nodes, each ``C_k ∥ 1 MΩ`` with a VCCS ``gm·v(n_k)`` (a loop of its own); the first
    ``unstable`` cells have ``gm = −3 mS`` (a real natural frequency ``−(1/R + gm)/C_k > 0``), the others
    ``gm = +1 mS``. Far above the cells' corners each loop adds a small phase ``−gm/(ωC)`` and hardly any
    magnitude: hundreds of them turn the total NDF by more than a whole turn per initial grid step while
    ``|NDF|`` stays flat (the long ladders of the scale benchmark do the same in their line regime)."""
    from stabkit.circuit.graph import Circuit

    c = Circuit(f"{cells} weak-loop cells")
    for k in range(1, cells + 1):
        c.add_resistor(f"R{k}", f"n{k}", 0, 1e6)
        c.add_capacitor(f"C{k}", f"n{k}", 0, 1e-12 * (1.0 + 0.5 * k / cells))
        c.add_vccs(f"G{k}", f"n{k}", 0, f"n{k}", 0, -3e-3 if k <= unstable else 1e-3)
    return c


@pytest.mark.parametrize("unstable", [1, 2])
def test_a_phase_that_turns_a_whole_turn_between_samples_is_caught(monkeypatch, unstable):
    """Closed form: each cell is first order, ``s_k = −(1/R + gm_k)/C_k``, so exactly ``unstable`` natural
    frequencies lie in the right half-plane. The NDF's phase turns up to ~8 rad per initial step (1/20 decade)
    where ``|NDF|`` hardly moves: the wrapped steps look small. The slope check (``d log F/d ln ω`` at every
    sample) sees the missing turns and refines; without it the count comes out wrong, with no doubt raised
    (the second half of the test shows the check is what makes the difference)."""
    circuit = _weak_loop_cells(600, unstable)
    res = ndf(circuit)
    assert res.encirclements == unstable
    assert abs(res.raw_count - unstable) < 0.1
    assert not res.doubts
    monkeypatch.setitem(ndf_module.defaults, "ndf.alias_tol", np.inf)  # the check off: aliased steps stay
    blind = ndf(circuit)
    assert blind.encirclements != unstable
