"""Two-port factors (K, |Δ|, μ) against scikit-rf and closed forms, and the hidden-mode case."""

from __future__ import annotations

import numpy as np
import pytest

from stabkit.analysis.ndf import ndf
from stabkit.analysis.poles import poles
from stabkit.analysis.twoport import mu_factor, rollett_k, s_from_z, two_port
from stabkit.circuit.graph import Circuit

FREQS = np.geomspace(1e6, 30e9, 121)


def hidden_mode_circuit(gneg: float) -> Circuit:
    """Python-API twin of cases/hidden_mode.cir."""
    c = Circuit("hidden mode")
    c.add_resistor("Rin", "in", 0, 100.0)
    c.add_resistor("Rb", "in", "b", 10.0)
    c.add_resistor("Rpi", "b", 0, 500.0)
    c.add_capacitor("Cpi", "b", 0, 1e-12)
    c.add_capacitor("Cmu", "b", "out", 50e-15)
    c.add_vccs("Gm", "out", 0, "b", 0, 0.04)
    c.add_resistor("Ro", "out", 0, 1e3)
    c.add_resistor("Rout", "out", 0, 200.0)
    for name, a, b in (("R1", "in", "t1"), ("R2", "in", "t2"), ("R3", "t1", 0), ("R4", "t2", 0)):
        c.add_resistor(name, a, b, 100.0)
    c.add_inductor("Lt", "t1", "t2", 10e-9)
    c.add_capacitor("Ct", "t1", "t2", 2e-12)
    c.add_resistor("Rt", "t1", "t2", 500.0)
    c.add_vccs("Gneg", "t1", "t2", "t1", "t2", gneg)
    return c


def test_series_resistor_closed_form():
    """A series resistor R between the ports: S11 = R/(R+2Z0), S21 = 2Z0/(R+2Z0). A shunt to ground keeps Z finite."""
    c = Circuit("series R")
    c.add_resistor("Rs", "p1", "p2", 30.0)
    c.add_resistor("Rsh", "p2", 0, 1e9)
    res = two_port(c, "p1", "p2", [1e6])
    np.testing.assert_allclose(res.s[0, 0, 0], 30.0 / 130.0, rtol=1e-6)
    np.testing.assert_allclose(res.s[0, 1, 0], 100.0 / 130.0, rtol=1e-6)
    np.testing.assert_allclose(res.s[0], res.s[0].T, rtol=1e-9)  # reciprocal


def test_factors_match_scikit_rf():
    import skrf
    res = two_port(hidden_mode_circuit(-0.03), "in", "out", FREQS)
    net = res.network()
    Z = net.z
    np.testing.assert_allclose(s_from_z(Z, 50.0), res.s, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(skrf.network.z2s(Z, 50.0), res.s, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(net.stability, res.k, rtol=1e-9)
    np.testing.assert_allclose(rollett_k(res.s), res.k)


def test_mu_criterion_agrees_with_k_delta():
    """μ > 1 ⇔ (K > 1 and |Δ| < 1) (Edwards–Sinsky), checked on random S matrices away from the boundary."""
    rng = np.random.default_rng(7)
    S = (rng.uniform(0, 1, (4000, 2, 2)) * np.exp(2j * np.pi * rng.uniform(size=(4000, 2, 2))))
    k, mu = rollett_k(S), mu_factor(S)
    d = np.abs(S[:, 0, 0] * S[:, 1, 1] - S[:, 0, 1] * S[:, 1, 0])
    clear = (np.abs(mu - 1) > 1e-3) & (np.abs(k - 1) > 1e-3) & (np.abs(d - 1) > 1e-3)
    assert np.sum(clear) > 3000
    np.testing.assert_array_equal((mu > 1)[clear], ((k > 1) & (d < 1))[clear])


def tank_rhp_count(gneg: float) -> int:
    """The tank's differential mode, closed form: across t1–t2 sit Ct, Lt, Rt, Gneg and the bridge, whose two
    200 Ω paths (R1 + R2 through ``in``, R3 + R4 through ground) give 10 mS; the mode injects equal and opposite
    currents into ``in``, so the rest of the circuit does not load it: Ct·s² + (1/Rt + 10 mS + gneg)·s + 1/Lt."""
    roots = np.roots([2e-12, 1 / 500.0 + 1 / 100.0 + gneg, 1 / 10e-9])
    return int(np.sum(roots.real > 0))


@pytest.mark.parametrize("gneg", [-0.03, -0.005])
def test_hidden_mode(gneg):
    """The ports say unconditionally stable for both values (identical S-parameters); the NDF and the exact
    poles find the internal oscillation the closed form predicts, and the per-source split names the tank's Gneg."""
    expected = tank_rhp_count(gneg)
    circuit = hidden_mode_circuit(gneg)
    tp = two_port(circuit, "in", "out", FREQS)
    assert tp.unconditionally_stable
    assert np.all(tp.mu > 1)
    assert np.min(tp.k) > 1.0 and np.max(tp.delta_mag) < 1.0
    np.testing.assert_allclose(tp.s, two_port(hidden_mode_circuit(-0.005), "in", "out", FREQS).s, rtol=1e-9, atol=1e-12)
    res = ndf(circuit)
    assert poles(circuit).rhp_count == expected
    assert res.encirclements == expected
    assert {s.name: s.encirclements for s in res.sources} == {"Gm": 0, "Gneg": expected}
    # the unstable pair itself (0.72 GHz ± j0.87 GHz at −30 mS) is the closed form's
    tank = np.roots([2e-12, 1 / 500.0 + 1 / 100.0 + gneg, 1 / 10e-9])
    np.testing.assert_allclose(np.sort_complex(poles(circuit).rhp), np.sort_complex(tank[tank.real > 0]), rtol=1e-9)
