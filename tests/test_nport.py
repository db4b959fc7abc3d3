"""S-parameter blocks from the vendors' measured Touchstone files (../shared/models/sparams)."""

from __future__ import annotations

import numpy as np
import pytest

from stabkit import Circuit, CircuitError, zin


@pytest.fixture
def bfr840(models_dir):
    import skrf

    return skrf.Network(str(models_dir / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"))


@pytest.mark.parametrize("r_load", [10.0, 50.0, 300.0])
def test_input_reflection_matches_the_bilateral_formula(bfr840, r_load):
    """Γin = S11 + S12·S21·ΓL / (1 − S22·ΓL), from the measured file itself, at its own frequency points."""
    c = Circuit("BFR840 with a resistive load")
    c.add_nport("N1", ["b", "c"], bfr840)
    c.add_resistor("RL", "c", 0, r_load)
    pick = slice(2, None, 15)
    f = bfr840.f[pick]
    s = bfr840.s[pick]
    gamma_l = (r_load - 50) / (r_load + 50)
    gamma_in = s[:, 0, 0] + s[:, 0, 1] * s[:, 1, 0] * gamma_l / (1 - s[:, 1, 1] * gamma_l)
    z = zin(c, "b", f).z
    np.testing.assert_allclose((z - 50) / (z + 50), gamma_in, rtol=1e-9, atol=1e-12)


def test_outside_the_measured_range_is_refused(bfr840):
    c = Circuit()
    c.add_nport("N1", ["b", "c"], bfr840)
    c.add_resistor("RL", "c", 0, 50.0)
    with pytest.raises(CircuitError, match="known from"):
        zin(c, "b", [20e9])


def test_port_count_must_match(bfr840):
    c = Circuit()
    with pytest.raises(CircuitError, match="2 ports but 4 nodes"):
        c.add_nport("N1", ["a", "b", "c", "d"], bfr840)
