"""Exact natural frequencies against closed forms and structural corner cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from stabkit import Circuit, CircuitError, DistributedCircuitError, poles
from stabkit.analysis.poles import finite_eigenvalues
from stabkit.errors import StabkitWarning
from stabkit.examples import ideal_nic, ntype_series_rl, stype_series_l, two_transistor_amplifier

RTOL = 1e-9


def _sorted(z):
    z = np.asarray(z, dtype=complex)
    return z[np.lexsort((z.imag, z.real))]


# (g [S], C [F], R [Ω], L [H]); stable iff R < 1/g and L < R·C/g
NTYPE = [
    (1 / 50, 10e-12, 20.0, 5e-9),    # stable, complex pair
    (1 / 50, 10e-12, 20.0, 1e-9),    # stable, two real poles
    (1 / 50, 10e-12, 60.0, 1e-9),    # R > 1/g: one real RHP pole
    (1 / 50, 10e-12, 20.0, 20e-9),   # L > RC/g: complex RHP pair
    (1 / 58.9, 25e-12, 30.0, 30e-9),  # 1N3716-like slope and capacitance, stable
    (1 / 58.9, 25e-12, 30.0, 60e-9),  # same, too much series L
]


@pytest.mark.parametrize("g, cap, res, ind", NTYPE)
def test_ntype_closed_form(g, cap, res, ind):
    result = poles(ntype_series_rl(g, cap, res, ind))
    expected = np.roots([ind * cap, res * cap - g * ind, 1 - g * res])
    np.testing.assert_allclose(_sorted(result.poles), _sorted(expected), rtol=RTOL)
    assert result.stable == (res < 1 / g and ind < res * cap / g)
    assert result.rhp_count == int(np.sum(expected.real > 0))


# (r [Ω], L [H], R [Ω], C [F]); stable iff R > r and L > r·R·C
STYPE = [
    (50.0, 1e-6, 100.0, 1e-12),   # stable
    (50.0, 1e-6, 40.0, 1e-12),    # R < r: real RHP pole
    (50.0, 1e-9, 100.0, 1e-12),   # L < rRC: complex RHP pair or two real
    (50.0, 4.9e-9, 100.0, 1e-12),  # just below L = rRC = 5 nH
    (50.0, 5.1e-9, 100.0, 1e-12),  # just above
]


@pytest.mark.parametrize("r, ind, res, cap", STYPE)
def test_stype_closed_form(r, ind, res, cap):
    result = poles(stype_series_l(r, ind, res, cap))
    expected = np.roots([ind * res * cap, ind - r * res * cap, res - r])
    np.testing.assert_allclose(_sorted(result.poles), _sorted(expected), rtol=RTOL)
    assert result.stable == (res > r and ind > r * res * cap)


@pytest.mark.parametrize("l0, l_ext", [(5e-9, 5.5e-9), (5e-9, 20e-9), (5e-9, 4.5e-9), (1e-9, 0.2e-9)])
def test_ideal_nic(l0, l_ext):
    result = poles(ideal_nic(l0, l_ext))
    np.testing.assert_allclose(result.poles, [-50.0 / (l_ext - l0)], rtol=RTOL)
    assert result.stable == (l_ext > l0)


def test_series_capacitors_give_a_zero_frequency_mode():
    c = Circuit("two caps in series")
    c.add_resistor("R1", "a", 0, 1e3)
    c.add_capacitor("C1", "a", "m", 1e-9)
    c.add_capacitor("C2", "m", "b", 2e-9)
    c.add_resistor("R2", "b", 0, 2e3)
    result = poles(c)
    # the series pair is one capacitor Cs = 2/3 nF through R1 + R2, plus a charge mode at exactly 0
    cs = 1e-9 * 2e-9 / 3e-9
    finite = result.poles[np.abs(result.poles) > 1.0]
    np.testing.assert_allclose(finite, [-1 / ((1e3 + 2e3) * cs)], rtol=RTOL)
    # the charge on node m is conserved: a structural zero mode, reported, not a pole, not an instability
    assert result.poles.size == 1 and result.zero_modes == 1 and "node(s) m" in result.zero_mode_notes[0]
    assert result.marginal.size == 0 and result.stable and result.verdict == "stable"


def test_capacitor_loop_is_deflated_exactly():
    """A loop of three capacitors: C is rank-deficient as a whole, no spurious poles appear."""
    c = Circuit("C loop")
    c.add_resistor("R1", "a", 0, 100.0)
    c.add_capacitor("C1", "a", 0, 1e-12)
    c.add_capacitor("C2", "a", "b", 2e-12)
    c.add_capacitor("C3", "b", 0, 3e-12)
    c.add_resistor("R2", "b", 0, 1e3)
    result = poles(c)
    G = np.array([[1 / 100, 0], [0, 1 / 1e3]])
    C = np.array([[3e-12, -2e-12], [-2e-12, 5e-12]])
    expected = np.linalg.eigvals(-np.linalg.solve(C, G))
    np.testing.assert_allclose(_sorted(result.poles), _sorted(expected), rtol=RTOL)


def test_widely_spread_time_constants():
    """Poles across 12 decades are all found (no cutoff confuses slow poles with infinite ones)."""
    c = Circuit("spread")
    expected = []
    for k, (r, cap) in enumerate([(1e6, 1e-6), (1e3, 1e-12), (1.0, 1e-15)]):
        c.add_resistor(f"R{k}", f"n{k}", 0, r)
        c.add_capacitor(f"C{k}", f"n{k}", 0, cap)
        expected.append(-1 / (r * cap))
    np.testing.assert_allclose(np.sort(poles(c).poles.real), np.sort(expected), rtol=RTOL)


def test_finite_eigenvalues_matches_qz_on_random_regular_pencils():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, k = 8, 3
        G = rng.normal(size=(n, n))
        C = np.zeros((n, n))
        C[:k, :k] = rng.normal(size=(k, k))
        ev = finite_eigenvalues(G, C)
        # independent: eliminate the algebraic block by hand
        Gr = G[:k, :k] - G[:k, k:] @ np.linalg.solve(G[k:, k:], G[k:, :k])
        ref = np.linalg.eigvals(-np.linalg.solve(C[:k, :k], Gr))
        np.testing.assert_allclose(_sorted(ev), _sorted(ref), rtol=1e-8)


def test_thirty_node_two_transistor_circuit():
    c = two_transistor_amplifier(8)
    assert len(c.nodes) - 1 >= 30
    stable = poles(c)
    assert stable.stable
    latched = poles(two_transistor_amplifier(8, feedback=2e3))
    # the feedback loop is non-inverting: one real RHP pole (DC latch-up)
    assert latched.rhp_count == 1 and abs(latched.rhp[0].imag) == 0.0


def test_floating_node_is_explained():
    c = Circuit()
    c.add_resistor("R1", "a", 0, 50.0)
    c.add_capacitor("C1", "x", "y", 1e-12)
    with pytest.raises(CircuitError, match=r"nodes x, y have no path to ground.*C1"):
        poles(c)


def test_voltage_source_loop_is_explained():
    c = Circuit()
    c.add_vsource("V1", "a", 0, 1.0)
    c.add_vsource("V2", "a", 0, 2.0)
    c.add_resistor("R1", "a", 0, 50.0)
    with pytest.raises(CircuitError, match=r"V2 closes a loop of voltage sources with V1"):
        poles(c)


def test_inductor_source_loop_warns_of_dc_mode():
    c = Circuit()
    c.add_vsource("V1", "a", 0, 1.0)
    c.add_inductor("L1", "a", 0, 1e-9)
    c.add_resistor("R1", "a", 0, 50.0)
    with pytest.warns(StabkitWarning, match="natural frequency at 0 Hz"):
        result = poles(c)
    # the flux in the loop L1–V1 is conserved: a structural zero mode, not a marginal pole
    assert result.zero_modes == 1 and "L1" in result.zero_mode_notes[0] and result.poles.size == 0
    assert result.verdict == "stable"


def test_negative_resistor_is_legal_but_warned():
    c = Circuit()
    with pytest.warns(StabkitWarning, match="negative value"):
        c.add_resistor("Rn", "a", 0, -50.0)
    c.add_resistor("R1", "a", 0, 100.0)
    c.add_capacitor("C1", "a", 0, 1e-12)
    result = poles(c)  # net conductance 1/100 − 1/50 < 0: a real RHP pole
    np.testing.assert_allclose(result.poles, [(1 / 50 - 1 / 100) / 1e-12], rtol=RTOL)


def test_zero_value_refused():
    c = Circuit()
    with pytest.raises(CircuitError, match="value 0"):
        c.add_resistor("R1", "a", 0, 0.0)


def test_distributed_circuit_points_to_ndf():
    c = Circuit()
    c.add_resistor("R1", "a", 0, 50.0)
    c.add_tline("T1", "a", 0, "b", 0, z0=50.0, td=1e-9)
    c.add_resistor("R2", "b", 0, 50.0)
    with pytest.raises(DistributedCircuitError, match="NDF"):
        poles(c)


def test_parameters_and_overrides():
    c = Circuit()
    c.set_param("rl", 100.0)
    c.set_param("cl", "{1n*2}")
    c.add_resistor("R1", "a", 0, "{rl}")
    c.add_capacitor("C1", "a", 0, "cl")
    np.testing.assert_allclose(poles(c).poles, [-1 / (100 * 2e-9)], rtol=RTOL)
    np.testing.assert_allclose(poles(c, {"rl": 10.0}).poles, [-1 / (10 * 2e-9)], rtol=RTOL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CircuitError, match="unknown parameter 'nope'"):
            poles(c, {"nope": 1.0})
