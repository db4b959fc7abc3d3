"""Poles against ngspice's pole-zero analysis on small circuits (same netlist text for both)."""

from __future__ import annotations

import numpy as np
import pytest

from stabkit import Circuit, ngspice, poles

CIRCUITS = {
    "rlc-ladder": ("""rlc ladder
V1 in 0 dc 0 ac 1
R1 in a 10
L1 a b 1u
C1 b 0 1n
R2 b c 5
L2 c out 0.5u
C2 out 0 2n
Rload out 0 1k
""", ("in", "0", "out", "0")),
    "vccs-amplifier": ("""two-stage transconductance amplifier with Miller capacitors
V1 in 0 dc 0 ac 1
Rs in b1 100
Cpi1 b1 0 2p
Cmu1 b1 c1 0.1p
G1 c1 0 b1 0 40m
Rc1 c1 0 1k
Cpi2 c1 0 2p
Cmu2 c1 out 0.1p
G2 out 0 c1 0 40m
Rc2 out 0 1k
Cl out 0 0.5p
""", ("in", "0", "out", "0")),
    "vcvs-sallen-key-and-cccs": ("""Sallen-Key low-pass with a VCVS of gain 2.5 and a CCCS-driven side branch
V1 in 0 dc 0 ac 1
R1 in a 1k
R2 a b 1k
C1 a out 1n
C2 b 0 1n
E1 out 0 b 0 2.5
Vsense out o2 0
Ro o2 0 5k
F1 0 x Vsense 0.5
Rx x 0 200
Cx x 0 3p
""", ("in", "0", "x", "0")),
}


@pytest.mark.ngspice
@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_poles_agree_with_ngspice_pz(name, ngspice_required):
    text, port = CIRCUITS[name]
    ours = poles(Circuit.from_netlist(text)).poles
    theirs = ngspice.pz_poles(text, *port)
    assert theirs.size == ours.size, f"ngspice found {theirs.size} poles, stabkit {ours.size}"
    key = lambda z: np.lexsort((np.round(z.imag, 3), np.round(z.real, 3)))  # noqa: E731
    np.testing.assert_allclose(theirs[key(theirs)], ours[key(ours)], rtol=1e-6)


CCVS_LOOP = """negative-resistance loop: a CCVS of -20 ohm in series with Rs, L and R || C
V1 in 0 dc 0 ac 1
Rs in a 50
Vsense a b 0
H1 b m Vsense -20
L1 m out 10n
Rl out 0 100
Cl out 0 1p
"""


@pytest.mark.ngspice
def test_ccvs_loop_agrees_with_ngspice_ac(ngspice_required):
    """With a CCVS, ngspice-39's `pz` returns the poles of the loop with the CCVS sign flipped (R_eff = 50 + 20),
    while its own `op` and `ac` use R_eff = 50 − 20. We take `ac` as the arbiter: the transfer v(out)/v(in)
    it computes must equal the one implied by our poles, H(s) = K / (L·Rl·C·s² + (L + R·Rl·C)·s + R + Rl)·Rl."""
    freqs = np.geomspace(1e7, 1e10, 13)
    theirs = ngspice.ac_vector(CCVS_LOOP, freqs, "v(out)")
    ours = poles(Circuit.from_netlist(CCVS_LOOP)).poles
    L, Rl, C, R = 10e-9, 100.0, 1e-12, 50.0 - 20.0
    np.testing.assert_allclose(np.sort_complex(ours), np.sort_complex(np.roots([L * Rl * C, L + R * Rl * C, R + Rl])), rtol=1e-9)
    s = 2j * np.pi * freqs
    transfer = Rl / (L * Rl * C * s**2 + (L + R * Rl * C) * s + R + Rl)
    np.testing.assert_allclose(theirs, transfer, rtol=1e-6)
