"""Port impedance against closed forms (lumped and transmission line)."""

from __future__ import annotations

import numpy as np
import pytest

from stabkit import Circuit, CircuitError, zin

F = np.geomspace(1e6, 1e10, 37)
W = 2 * np.pi * F


def test_series_rlc():
    c = Circuit()
    c.add_resistor("R1", "in", "a", 10.0)
    c.add_inductor("L1", "a", "b", 5e-9)
    c.add_capacitor("C1", "b", 0, 2e-12)
    res = zin(c, "in", F)
    np.testing.assert_allclose(res.z, 10 + 1j * W * 5e-9 + 1 / (1j * W * 2e-12), rtol=1e-10)


def test_ideal_nic_input_is_negative_inductance():
    c = Circuit("NIC alone")
    c.add_vcvs("Enic", "out", 0, "in", 0, 1.0)
    c.add_vsource("Vsense", "out", "load", 0.0)
    c.add_inductor("L0", "load", 0, 5e-9)
    c.add_cccs("Fnic", "in", 0, "Vsense", -1.0)
    c.add_resistor("Rleak", "in", 0, 1e15)  # the input node needs a path to ground of its own
    res = zin(c, "in", F)
    np.testing.assert_allclose(res.inductance, -5e-9, rtol=1e-10)
    np.testing.assert_allclose(res.z.real, 0.0, atol=1e-6)


@pytest.mark.parametrize("z_load", [25.0, 50.0, 200.0])
def test_lossless_line_transforms_the_load(z_load):
    z0, td = 75.0, 0.3e-9
    c = Circuit()
    c.add_tline("T1", "in", 0, "out", 0, z0=z0, td=td)
    c.add_resistor("RL", "out", 0, z_load)
    res = zin(c, "in", F)
    t = np.tan(W * td)
    expected = z0 * (z_load + 1j * z0 * t) / (z0 + 1j * z_load * t)
    np.testing.assert_allclose(res.z, expected, rtol=1e-9)


def test_line_by_frequency_and_wavelengths():
    """``f=1g nl=0.25`` is a quarter-wave line at 1 GHz: Zin = Z0²/ZL there."""
    c = Circuit()
    c.add_tline("T1", "in", 0, "out", 0, z0=50.0, f=1e9, nl=0.25)
    c.add_resistor("RL", "out", 0, 100.0)
    np.testing.assert_allclose(zin(c, "in", [1e9]).z, [25.0], rtol=1e-9)


def test_bad_port():
    c = Circuit()
    c.add_resistor("R1", "a", 0, 1.0)
    with pytest.raises(CircuitError, match="no node named 'zz'"):
        zin(c, "zz", [1e6])
    with pytest.raises(CircuitError, match="positive"):
        zin(c, "a", [0.0])
