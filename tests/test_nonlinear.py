"""The one nonlinear layer: exact derivatives (dual numbers, charges), devices of every kind in one DC solver
(checked against ngspice ``.op``), an externally linearized device. Harmonic balance: ``test_oscillation.py``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stabkit import ngspice
from stabkit.analysis.poles import poles
from stabkit.circuit.expr import evaluate_dual
from stabkit.circuit.graph import Circuit
from stabkit.circuit.netlist import read_netlist
from stabkit.nonlinear import gummel_poon as gp
from stabkit.nonlinear.curves import TUNNEL_1N3716
from stabkit.nonlinear.dc import NonlinearProblem, dc_point, dc_points, solve
from stabkit.nonlinear.devices import LinearizedDevice, circuit_devices
from stabkit.nonlinear.linearize import linearize

NGSPICE = shutil.which("ngspice")
needs_ngspice = pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed (apt-get install ngspice); "
                                                            "it is the reference here")

TUNNEL_B = ("Bth {a} 0 I=4.7m*exp(-0.525/26m)*(exp(v({a})/26m)-1)\n"
            "Btu {a} 0 I=4.7m*(v({a})/0.1)*exp(1-v({a})/0.1)\n"
            "Bex {a} 0 I=370u*exp(v({a})-0.37)\nCd {a} 0 25p\n")


# ------------------------------------------------------------------------------------------ exact derivatives

@pytest.mark.parametrize("text", [
    "a*exp(-_v0/b)*sin(3*_v0) + _v1**3",
    "sqrt(_v0*_v0 + 1) * tanh(_v1) / (2 + cos(_v0))",
    "limit(-1, 4*_v0*_v1, 1) + ifelse(_v0 > 0.1, log(1 + _v0*_v0), atan(_v1))",
    "pow(1 + _v0*_v0, 1.5) - max(_v0, _v1) + abs(_v1 - 0.3)",
])
def test_dual_numbers_match_central_differences(text):
    """Forward-mode derivatives of the AST walker against central differences (step 1e-6, away from kinks)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.8, 0.8, size=(40, 2))
    scope = {"a": 2.0, "b": 0.7}
    value, grad = evaluate_dual(text, scope, {"_v0": 0, "_v1": 1}, x)
    h = 1e-6
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        up, _ = evaluate_dual(text, scope, {"_v0": 0, "_v1": 1}, x + e)
        down, _ = evaluate_dual(text, scope, {"_v0": 0, "_v1": 1}, x - e)
        fd = (up - down) / (2 * h)
        smooth = np.abs(fd - grad[:, k]) < 1e-2  # rows that straddle a kink (limit, max, abs, if) are skipped
        assert smooth.mean() > 0.8
        np.testing.assert_allclose(grad[smooth, k], fd[smooth], rtol=1e-6, atol=1e-7)


def test_gummel_poon_charges_differentiate_to_the_capacitances():
    """The charges harmonic balance uses are the integrals of the capacitances the linearizer uses."""
    t = gp.transistor_at(gp.GummelPoonParams(is_=2e-16, bf=120, vaf=40, ikf=0.05, cje=1e-12, mje=0.4, cjc=0.5e-12,
                                             mjc=0.35, xcjc=0.6, tf=8e-12, xtf=3, vtf=2, itf=0.02, tr=1e-9,
                                             cjs=0.3e-12, mjs=0.3))
    rng = np.random.default_rng(3)
    vbe, vbc, vbx, vcs = (rng.uniform(lo, hi, 30) for lo, hi in ((0.3, 0.9), (-3, 0.5), (-3, 0.5), (-4, 0.3)))
    h = 1e-7

    def q(a, b, c, d):
        return gp.gp_charges(a, b, c, d, t, gp.gp_currents(a, b, t))

    caps = gp.gp_charges(vbe, vbc, vbx, vcs, t, gp.gp_currents(vbe, vbc, t))
    d_vbe = (q(vbe + h, vbc, vbx, vcs).qbe - q(vbe - h, vbc, vbx, vcs).qbe) / (2 * h)
    d_vbc = (q(vbe, vbc + h, vbx, vcs).qbe - q(vbe, vbc - h, vbx, vcs).qbe) / (2 * h)
    np.testing.assert_allclose(d_vbe, caps.cbe, rtol=1e-5)
    np.testing.assert_allclose(d_vbc, caps.cbe_vbc, rtol=1e-4, atol=1e-18)
    np.testing.assert_allclose((q(vbe, vbc + h, vbx, vcs).qbc - q(vbe, vbc - h, vbx, vcs).qbc) / (2 * h), caps.cbc,
                               rtol=1e-5)
    np.testing.assert_allclose((q(vbe, vbc, vbx + h, vcs).qbx - q(vbe, vbc, vbx - h, vcs).qbx) / (2 * h), caps.cbx,
                               rtol=1e-5)
    np.testing.assert_allclose((q(vbe, vbc, vbx, vcs + h).qcs - q(vbe, vbc, vbx, vcs - h).qcs) / (2 * h), caps.ccs,
                               rtol=1e-5)


def test_simulator_only_card_limits_are_read_with_a_note():
    c = read_netlist("t\n.model qn npn(is=1e-16 bf=100 vce_max=5 bv_max=7)\n.model dd d(is=1e-14 bv_max=30)\n"
                     "V1 c 0 3\nR1 c b 100k\nQ1 c b 0 qn\nR2 c k 1k\nD1 k 0 dd\n")
    devices = circuit_devices(c)
    notes = [n for d in devices for n in d.notes]
    assert any("vce_max" in n and "bv_max" in n for n in notes) and any("bv_max" in n for n in notes)
    assert dc_point(c).transistors["Q1"].ic > 0


# ------------------------------------------------------------------------------------------ one DC solver

MIXED = """transistor-biased tunnel diode: a BJT current source feeds a tunnel diode with an LC tank
.model qn npn(is=1e-15 bf=150 vaf=60 cje=1p cjc=0.5p tf=20p)
Vcc vcc 0 dc 3
R1 vcc b 22k
R2 b 0 10k
RE e 0 {re}
Q1 a b e qn
Lt a t 10n
Rt t 0 1meg
.param re=100
"""


def _mixed(with_card: bool) -> str:
    tunnel = ".model td tunnel(ip=4.7m vp=0.1 iv=370u vv=0.37 vpp=0.525 vt=26m cd=25p)\nD1 vcc a td\n" \
        if with_card else TUNNEL_B.replace("{a} 0", "vcc a").replace("v({a})", "v(vcc,a)")
    return MIXED + tunnel


def test_tunnel_diode_and_transistor_in_one_circuit():
    """One DC solver for both kinds: KCL holds at the collector (tunnel current = collector current)."""
    c = read_netlist(_mixed(True))
    points = dc_points(c)
    assert len(points) == 3  # a current source into an N-shaped curve: three points (bistable)
    for p in points:
        v = p.voltages
        i_tunnel = float(TUNNEL_1N3716.current(v["vcc"] - v["a"]))
        # (atol: SPICE's gmin of 1e-12 S from the substrate to the collector carries a few pA)
        np.testing.assert_allclose(i_tunnel, p.transistors["Q1"].ic + v["t"] / 1e6, rtol=1e-9, atol=1e-11)
        assert p.transistors["Q1"].region == "forward active"
        lin = linearize(c, p)
        assert not any(e.kind in ("D", "Q", "B") for e in lin)


@needs_ngspice
def test_mixed_circuit_bias_agrees_with_ngspice_op():
    """The tunnel card written as B sources for ngspice, the same BJT card: node voltages to 1 µV."""
    c = read_netlist(_mixed(True))
    points = dc_points(c)
    ours = points[0].voltages
    deck = _mixed(False) + f".nodeset v(a)={ours['a']}\n.options reltol=1e-9 vntol=1e-12 abstol=1e-15\n"
    got = ngspice.operating_point(deck)
    for node in ("a", "b", "e"):
        np.testing.assert_allclose(got.get(f"v({node})", got.get(node)), ours[node], atol=1e-6)
    # stabkit reading the B-source deck itself lands on the same point
    mine = dc_points(read_netlist(deck))
    assert min(abs(p.voltages["a"] - ours["a"]) for p in mine) < 1e-9


def test_externally_linearized_device_behind_the_same_interface():
    """A device known only by its small-signal model (as ngspice's .op would provide it): DC solve, linearize,
    poles — the same as writing the linear elements by hand."""
    c = Circuit("external")
    c.add_vsource("V1", "in", 0, dc=1.0)
    c.add_resistor("R1", "in", "a", 100.0)
    c.add_inductor("L1", "a", "b", 1e-6)
    c.add_capacitor("C1", "b", 0, 1e-9)
    dev = LinearizedDevice("X9", controls=[("b", "0")], outputs=[("b", "0")], x0=[0.5], f0=[2e-3], g=[[-0.02]],
                         c=[[2e-10]], labels={(0, 0): ("g", "c")})
    problem = NonlinearProblem(c, devices=[dev])
    sol = solve(problem)
    assert sol.converged
    # KCL: (1 − v_b)/100 = 2 mA − 0.02·(v_b − 0.5)  →  v_b solves the affine balance
    v_b = (1.0 / 100 - 2e-3 - 0.02 * 0.5) / (1.0 / 100 - 0.02)
    np.testing.assert_allclose(problem.voltages(sol.y)["b"], v_b, rtol=1e-12)
    from stabkit.errors import StabkitWarning
    from stabkit.nonlinear.dc import DCPoint

    point = DCPoint(problem, sol.y, sol.method, sol.iterations)
    lin = linearize(c, point)
    by_hand = c.copy()
    with pytest.warns(StabkitWarning, match="negative value"):
        by_hand.add_resistor("G", "b", 0, -50.0)
    by_hand.add_capacitor("C", "b", 0, 2e-10)
    np.testing.assert_allclose(np.sort_complex(poles(lin).poles), np.sort_complex(poles(by_hand).poles), rtol=1e-10)
    assert [e.name for e in lin][-2:] == ["X9.g", "X9.c"]
