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
    "ccvs-and-cccs": ("""negative-resistance loop with a CCVS, and a CCCS mirror
V1 in 0 dc 0 ac 1
Rs in a 50
Vsense a b 0
H1 b m Vsense -20
L1 m out 10n
Rl out 0 100
Cl out 0 1p
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
