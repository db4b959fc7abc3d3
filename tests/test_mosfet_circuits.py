"""CMOS circuits against ngspice: a two-stage Miller op-amp in a unity-gain follower with and without its
compensation (native level-1 cards), a cross-coupled LC oscillator and a common-gate LNA (BSIM4 cards evaluated
by ngspice). For each: the linearized circuit's port impedance against ngspice ``.ac`` (1e-6), the verdict
against the growth or decay of ngspice's ``.tran`` after a small kick, and the rightmost poles against the
poles fitted to that transient (matrix pencil)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import eig, hankel, pinv, svd

from stabkit import ngspice
from stabkit.analysis.points import linear_points
from stabkit.analysis.ports import zin
from stabkit.analysis.verdict import decide
from stabkit.circuit.netlist import read_netlist

NGSPICE = shutil.which("ngspice")
#: the reference runs converge ngspice's operating point fully (its default reltol leaves ~1e-7 V, which a
#: high-gain circuit turns into 1e-6 differences of its small-signal model)
TIGHT = ".options reltol=1e-9 abstol=1e-18 vntol=1e-12"
pytestmark = [pytest.mark.ngspice,
              pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed (apt-get install ngspice); it is "
                                                         "the reference simulator here")]

LEVEL1_CARDS = """
.model nch nmos level=1 vto=0.7 kp=110u gamma=0.4 phi=0.7 lambda=0.04 tox=9n cgso=2.5e-10 cgdo=2.5e-10 cj=4e-4 cjsw=3e-10 mj=0.5 mjsw=0.33 pb=0.8
.model pch pmos level=1 vto=-0.7 kp=40u gamma=0.5 phi=0.7 lambda=0.05 tox=9n cgso=2.5e-10 cgdo=2.5e-10 cj=5e-4 cjsw=3.5e-10 mj=0.5 mjsw=0.33 pb=0.8
"""

OPAMP = """two-stage Miller op-amp (level 1) in a unity-gain follower
VDD vdd 0 3.3
VIN inp 0 DC 1.65
VB nb 0 DC 0.95
M1 x out tail 0 nch W=20u L=1u AD=40p AS=40p PD=44u PS=44u
M2 y inp tail 0 nch W=20u L=1u AD=40p AS=40p PD=44u PS=44u
M3 x x vdd vdd pch W=10u L=1u AD=20p AS=20p PD=24u PS=24u
M4 y x vdd vdd pch W=10u L=1u AD=20p AS=20p PD=24u PS=24u
M5 tail nb 0 0 nch W=20u L=1u AD=40p AS=40p PD=44u PS=44u
M6 out y vdd vdd pch W=80u L=1u AD=160p AS=160p PD=164u PS=164u
M7 out nb 0 0 nch W=40u L=1u AD=80p AS=80p PD=84u PS=84u
CL out 0 5p
{compensation}
""" + LEVEL1_CARDS + ".end\n"

BSIM4_CARDS = """
.model nch nmos level=54 version=4.7 toxe=2.5n vth0=0.4 u0=0.03 cgso=1.5e-10 cgdo=1.5e-10 cgbo=1e-12
.model pch pmos level=54 version=4.7 toxe=2.5n vth0=-0.4 u0=0.012 cgso=1.5e-10 cgdo=1.5e-10
"""

CROSS_COUPLED = """NMOS cross-coupled LC oscillator (BSIM4)
VDD vdd 0 1.2
L1 vdd a 2n
L2 vdd b 2n
R1 vdd a {rp}
R2 vdd b {rp}
C1 a 0 1.5p
C2 b 0 1.5p
M1 a b tail 0 nch W=20u L=0.2u
M2 b a tail 0 nch W=20u L=0.2u
ITAIL tail 0 DC 2m
CT tail 0 1p
.param rp=300
""" + BSIM4_CARDS + ".end\n"

LNA = """common-gate LNA (BSIM4), 50-ohm source
VDD vdd 0 1.2
VB g 0 DC 0.75
RS src in 50
VSRC src 0 DC 0
LS in 0 6n
M1 d g in 0 nch W=30u L=0.15u
LD vdd d 4n
RL vdd d 600
CD d 0 200f
""" + BSIM4_CARDS + ".end\n"


def pencil_poles(y: np.ndarray, dt: float, order: int) -> np.ndarray:
    """Natural frequencies (rad/s) of a uniformly sampled sum of exponentials (matrix pencil, SVD-truncated)."""
    n = len(y)
    rows = n // 3
    hk = hankel(y[: n - rows], y[n - rows - 1:])
    _, _, vh = svd(hk, full_matrices=False)
    v = vh[:order].conj().T
    z = eig(pinv(v[:-1]) @ v[1:], right=False)
    return np.log(z.astype(complex)) / dt


def transient_after_kick(text: str, node: str, kick_node: str, t_stop: float, dt: float,
                         kick: float = 1e-6, period: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """ngspice .tran from the operating point with a current pulse (``kick`` A, a tenth of ``period`` long,
    over by ``period/4``) into ``kick_node``: ``(t, v − v_op)`` on a uniform grid of step ``dt`` (trapezoidal
    integration, steps ≤ dt/2, tight tolerances)."""
    w = period / 10
    body = text.replace(".end", f"IKICK 0 {kick_node} DC 0 PULSE(0 {kick:g} {w:g} {w / 10:g} {w / 10:g} {w:g} 1)\n"
                                ".options reltol=1e-6 abstol=1e-14 vntol=1e-9\n").rstrip()
    cmds = ["set filetype=ascii", f"tran {dt / 2:.6g} {t_stop:.6g} 0 {dt / 2:.6g}", f"write {{dir}}/tran.raw v({node})"]
    _, files = ngspice.run_batch(body, cmds, read=("tran.raw",), what="the transient reference")
    plot = ngspice.parse_raw(files["tran.raw"])[0]
    t, v = plot["time"], plot[f"v({node})"]
    grid = np.arange(0.0, t_stop, dt)
    return grid, np.interp(grid, t, v) - v[0]


def assert_transient_agrees(text: str, node: str, kick_node: str, p: complex, kick: float) -> complex:
    """Kick the circuit, let the faster modes die (2 periods of the pole ``p``), then over a window of up to 25
    periods (at most 6 time constants): the envelope grows or decays as ``Re p`` says (its sign is the verdict;
    its size within 30 %: the peaks carry the faster modes too),
    stays small-signal, and the matrix-pencil pole nearest ``p`` agrees with it within 1e-3 of ``|p|``."""
    p = complex(p.real, abs(p.imag))
    period = 2 * np.pi / p.imag
    dt = period / 100
    t0 = 2 * period
    t1 = t0 + min(25 * period, 6.0 / abs(p.real))
    t, v = transient_after_kick(text, node, kick_node, t1 + period, dt, kick=kick, period=period)
    first, last = (np.max(np.abs(v[(t >= a) & (t < a + period)])) for a in (t0, t1 - period))
    expected = p.real * (t1 - period - t0)  # log of the envelope's growth (the peaks carry the faster modes too)
    np.testing.assert_allclose(np.log(last / first), expected, rtol=0.3)
    assert np.max(np.abs(v[t < t1])) < 0.05  # small-signal all along
    window = (t >= t0) & (t < t1)
    step = 2  # the pencil needs 50 samples per period
    found = matched(pencil_poles(v[window][::step], dt * step, order=6), p)
    np.testing.assert_allclose(found, p, rtol=1e-3)
    return found


def assert_port_impedance(text: str, node: str, freqs) -> float:
    lin = linear_points(read_netlist(text))[0].circuit
    ours = zin(lin, node, freqs).z
    theirs = ngspice.ac_vector(text.replace(".end", f"IPROBE 0 {node} DC 0 AC 1\n{TIGHT}\n.end"), freqs, f"v({node})")
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    return float(np.max(np.abs(ours / theirs - 1)))


def rightmost(verdict, count: int = 1) -> np.ndarray:
    p = verdict.points[0].poles.poles
    p = p[np.isfinite(p)]
    return p[np.argsort(-p.real)][: 2 * count]


def matched(fitted: np.ndarray, target: complex) -> complex:
    return fitted[np.argmin(np.abs(fitted - target))]


# ------------------------------------------------------------------------------------------- the op-amp

@pytest.mark.parametrize("compensated", [True, False])
def test_miller_opamp_follower(compensated):
    """With Cc = 3 pF the follower settles (stable: a damped pair near 23 MHz); without it the two high-impedance
    nodes ring up at about 88 MHz (unstable). Verdict, rightmost poles and the output impedance all against
    ngspice: the poles fitted to the .tran response agree with stabkit's within 1e-3 of their magnitude."""
    text = OPAMP.format(compensation="CC y out 3p" if compensated else "")
    freqs = np.logspace(3, 10, 15)
    assert_port_impedance(text, "out", freqs)
    verdict = decide(read_netlist(text))
    assert verdict.verdict == ("stable" if compensated else "unstable")
    p = rightmost(verdict)[0]
    assert (p.real < 0) == compensated
    assert_transient_agrees(text, "out", "y", p, kick=1e-5 if compensated else 1e-10)


# ------------------------------------------------------------------------------------------- LC oscillator

def test_cross_coupled_lc_oscillator():
    """The tank loses 1/300 S, the pair gives more: unstable, oscillating near 1/(2π√(L·C_total)).
    Growth rate and frequency of ngspice's .tran start-up agree with stabkit's rightmost pair (1e-3)."""
    text = CROSS_COUPLED
    verdict = decide(read_netlist(text))
    assert verdict.verdict == "unstable"
    p = rightmost(verdict)[0]
    assert 1e9 < abs(p.imag) / (2 * np.pi) < 4e9 and p.real > 0
    assert_transient_agrees(text, "a", "a", p, kick=1e-9)
    assert_port_impedance(text, "a", np.logspace(6, 10, 9))


def test_cross_coupled_pair_is_stable_with_a_lossy_tank():
    """With 150 Ω across each half-tank the pair cannot make up the loss: stable, the kick rings down at the rate
    and frequency of stabkit's rightmost pair."""
    text = CROSS_COUPLED.replace(".param rp=300", ".param rp=150")
    verdict = decide(read_netlist(text))
    assert verdict.verdict == "stable"
    p = rightmost(verdict)[0]
    assert p.real < 0
    assert_transient_agrees(text, "a", "a", p, kick=1e-5)


# ------------------------------------------------------------------------------------------- common-gate LNA

def test_common_gate_lna_input_impedance_and_stability():
    """Input impedance of the CG stage (≈ 1/gm ∥ Ls ∥ Cgs) against ngspice .ac within 1e-6; stable, and the
    transient after a kick at the drain decays at the rate of stabkit's rightmost poles."""
    text = LNA
    freqs = np.logspace(7, 10, 13)
    worst = assert_port_impedance(text, "in", freqs)
    assert worst < 1e-6
    assert_port_impedance(text, "d", freqs)
    verdict = decide(read_netlist(text))
    assert verdict.verdict == "stable"
    assert_transient_agrees(text, "d", "d", rightmost(verdict)[0], kick=1e-5)
    fets = verdict.points[0].point.fets
    assert fets[0]["path"] == "ngspice" and fets[0]["family"] == "BSIM4" and fets[0]["gm"] > 1e-3


# ------------------------------------------------------------------------------------------- the worked case

CASE = Path(__file__).resolve().parents[1] / "cases" / "cmos_nic.cir"


@pytest.mark.parametrize("cext, verdict", [(0.9e-12, "stable"), (0.5e-12, "unstable")])
def test_cmos_nic_case_against_ngspice_transient(cext, verdict):
    """cases/cmos_nic.cir on both sides of its admissible edge (about 0.71 pF): verdict, rightmost poles against
    the .tran poles (1e-3) and the port impedance between the drains against ngspice .ac (1e-6)."""
    text = CASE.read_text().replace(".param cn=1p cext=2p", f".param cn=1p cext={cext!r}")
    circuit = read_netlist(text)
    result = decide(circuit)
    assert result.verdict == verdict
    assert_transient_agrees(text, "d1", "d1", rightmost(result)[0], kick=1e-6 if verdict == "stable" else 1e-10)
    lin = linear_points(circuit)[0].circuit
    freqs = np.logspace(5, 10, 11)
    ours = zin(lin, ("d1", "d2"), freqs).z
    probe = f"IPROBE d2 d1 DC 0 AC 1\n{TIGHT}\n.end"
    theirs = ngspice.ac_vector(text.replace(".end", probe), freqs, "v(d1)-v(d2)")
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
