"""NDF on device circuits: a two-transistor circuit with an RF oscillation and a kHz latch-up, and an N-type
device at the end of a lossless line compared with a fine lumped LC ladder (exact poles)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from stabkit.analysis.mna import assemble
from stabkit.analysis.ndf import ndf
from stabkit.analysis.poles import poles
from stabkit.circuit.graph import Circuit
from stabkit.errors import StabkitWarning
from stabkit.examples import hybrid_pi

DEVICE = dict(gm=0.08, r_pi=1.2e3, c_pi=0.4e-12, c_mu=30e-15, r_b=20.0, r_o=20e3)


def two_transistor(base_inductance: float, emitter_capacitance: float, rx2: float = 5e3) -> Circuit:
    """Q1: a negative-resistance RF stage (base inductor to an RF-grounded bias node, emitter capacitor):
    oscillates at a few GHz. Q1 and Q2 are also cross-coupled through 5 kΩ / 100 nF bias paths: two
    inverting stages in a loop whose DC gain exceeds 1 latch up with a real RHP pole at a few kHz."""
    c = Circuit("two transistors: RF oscillation + latch-up")
    hybrid_pi(c, "Q1", "c1", "b1", "e1", **DEVICE)
    c.add_inductor("Lb", "b1", "bb", base_inductance)
    c.add_capacitor("Cbb", "bb", 0, 1e-9)
    c.add_resistor("Rbb", "bb", 0, 5e3)
    c.add_capacitor("Ce", "e1", 0, emitter_capacitance)
    c.add_resistor("Re", "e1", 0, 50.0)
    c.add_resistor("Rc1", "c1", 0, 300.0)
    c.add_resistor("Rx1", "c1", "b2", 5e3)
    c.add_capacitor("Cx1", "b2", 0, 100e-9)
    hybrid_pi(c, "Q2", "c2", "b2", "0", **DEVICE)
    c.add_resistor("Rc2", "c2", 0, 1e3)
    c.add_resistor("Rx2", "c2", "bb", rx2)
    c.add_capacitor("Cx2", "bb", 0, 100e-9)
    return c


def rhp_counts_switching_on(circuit: Circuit) -> list[int]:
    """Exact RHP pole counts with the first k active elements on, k = 0..r."""
    system = assemble(circuit)
    out = []
    for k in range(system.r + 1):
        active = [dataclasses.replace(a, a0=a.a0 * (i < k), a1=a.a1 * (i < k)) for i, a in enumerate(system.active)]
        out.append(poles(dataclasses.replace(system, active=active)).rhp_count)
    return out


@pytest.mark.parametrize("lb, ce, rx2, split", [
    (5e-9, 1e-12, 5e3, {"Q1.gm": 2, "Q2.gm": 1}),     # RF pair from Q1, latch-up appears with Q2
    (2e-9, 0.5e-12, 5e3, {"Q1.gm": 0, "Q2.gm": 1}),   # latch-up only
    (5e-9, 1e-12, 5e6, {"Q1.gm": 2, "Q2.gm": 0}),       # weak cross-coupling: DC loop gain < 1, RF only
])
def test_two_transistor_oscillation_and_latch(lb, ce, rx2, split):
    circuit = two_transistor(lb, ce, rx2)
    exact = rhp_counts_switching_on(circuit)
    assert dict(zip(["Q1.gm", "Q2.gm"], np.diff(exact))) == split  # the table is what the exact poles say
    p = poles(circuit)
    if split["Q2.gm"]:  # the latch-up is a slow real mode: a few kHz
        real = p.rhp[p.rhp.imag == 0] / (2 * np.pi)
        assert real.size == 1 and 1e3 < real[0].real < 1e4
    res = ndf(circuit)
    assert res.encirclements == exact[-1] == sum(split.values())
    assert {s.name: s.encirclements for s in res.sources} == split
    assert not res.warnings


G_DEV, C_DEV, Z0, TD = 1 / 25, 1e-12, 10.0, 50e-12


def _device(c: Circuit) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        c.add_resistor("Rneg", "d", 0, -1 / G_DEV)
    c.add_capacitor("Cd", "d", 0, C_DEV)


def device_on_line(load: float) -> Circuit:
    c = Circuit("N-type device on a lossless line")
    _device(c)
    c.add_tline("T1", "d", 0, "l", 0, Z0, td=TD)
    c.add_resistor("Rl", "l", 0, load)
    return c


def device_on_ladder(load: float, sections: int = 60) -> Circuit:
    """The same line as ``sections`` π-sections of L = Z0·τ/N and C = τ/(Z0·N)."""
    c = Circuit("N-type device on an LC ladder")
    _device(c)
    ind, cap, prev = Z0 * TD / sections, TD / (Z0 * sections), "d"
    for k in range(sections):
        nxt = "l" if k == sections - 1 else f"x{k}"
        c.add_capacitor(f"Ca{k}", prev, 0, cap / 2)
        c.add_inductor(f"L{k}", prev, nxt, ind)
        c.add_capacitor(f"Cb{k}", nxt, 0, cap / 2)
        prev = nxt
    c.add_resistor("Rl", "l", 0, load)
    return c


def test_distributed_stable_loads_match_ladder():
    """−25 Ω ∥ 1 pF at the end of a 10 Ω, 50 ps line: stable iff both R and Z0²/R stay below 1/g, i.e. the
    load lies in (Z0²·g, 1/g) = (4, 25) Ω. The NDF of the true line and the exact poles of a 60-section
    ladder agree on every grid point, and the stable set has those edges."""
    loads = np.geomspace(2.0, 60.0, 16)
    ndf_stable, ladder_stable = [], []
    for r in loads:
        res = ndf(device_on_line(r))
        assert not res.warnings, res.warnings
        ndf_stable.append(res.stable)
        ladder_stable.append(poles(device_on_ladder(r)).stable)
    assert ndf_stable == ladder_stable
    stable_loads = loads[np.array(ndf_stable)]
    assert 3.6 < stable_loads.min() < 4.6 and 21.0 < stable_loads.max() < 25.0
    assert np.all(np.diff(np.flatnonzero(ndf_stable)) == 1)  # one interval
