"""Circuits with closed-form stability answers, shared by the report/check/plugin tests.

N-type device ``−g ∥ C`` fed by a series ``R + L`` to ground. Characteristic polynomial
(KCL at the device node): ``L·C·s² + (R·C − g·L)·s + (1 − g·R) = 0``, so the circuit is stable iff
``R < 1/g`` and ``L < R·C/g`` (DESIGN.md §1).
"""

from __future__ import annotations

import numpy as np

G_NEG = 0.02  # S, magnitude of the negative conductance
R_SER = 20.0  # Ω
C_DEV = 10e-12  # F
L_CRIT = R_SER * C_DEV / G_NEG  # 10 nH: stable below, unstable above

NTYPE_NETLIST = """N-type amplifier
* -g || C fed by series R + L; stable iff rs < 1/g = 50 and lser < rs*C/g = rs*0.5n (10n at rs = 20)
.param g=0.02 lser=1n rs=20
RS a 0 {rs}
LS a d {lser}
CD d 0 10p
GD d 0 d 0 {-g}
.end
"""


def ntype_circuit(lser: float, g: float = G_NEG):
    from stabkit import Circuit

    c = Circuit("N-type amplifier")
    c.set_param("g", g)
    c.set_param("lser", lser)
    c.add_resistor("RS", "a", 0, R_SER)
    c.add_inductor("LS", "a", "d", "lser")
    c.add_capacitor("CD", "d", 0, C_DEV)
    c.add_vccs("GD", "d", 0, "d", 0, "-g")
    return c


def ntype_poles_hz(lser: float, g: float = G_NEG) -> np.ndarray:
    """Closed-form natural frequencies s/2π (Hz) of :func:`ntype_circuit`."""
    roots = np.roots([lser * C_DEV, R_SER * C_DEV - g * lser, 1.0 - g * R_SER])
    return roots / (2 * np.pi)
