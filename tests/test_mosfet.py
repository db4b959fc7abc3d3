"""MOSFETs and JFETs, device by device: the native level 1 against ngspice's level 1 (operating point, the
small-signal values ngspice reports, port impedances of the linearized circuit against ngspice ``.ac``), the
ngspice-evaluated devices (BSIM3, BSIM4, level 3, JFET) against ngspice ``.ac`` at 1e-6, charge conservation of
the measured matrices, refusals (internal nodes, NDR devices beside ngspice devices, ngspice absent)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from stabkit import ngspice
from stabkit.analysis.points import linear_points
from stabkit.analysis.ports import zin
from stabkit.circuit.netlist import read_netlist
from stabkit.cli import main as cli_main
from stabkit.errors import CircuitError, NetlistError
from stabkit.nonlinear.mosfet import MosfetLevel1, MosLevel1Params, channel_current, gate_capacitances
from stabkit.nonlinear.ngspice_devices import NgspiceDevice, device_path, ngspice_points

NGSPICE = shutil.which("ngspice")
#: the reference runs converge ngspice's operating point fully (its default reltol leaves ~1e-7 V, which a
#: high-gain circuit turns into 1e-6 differences of its small-signal model)
TIGHT = ".options reltol=1e-9 abstol=1e-18 vntol=1e-12"
needs_ngspice = pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed (apt-get install ngspice); "
                                                            "it is the reference simulator here")

NMOS1 = (".model nch nmos level=1 vto=0.6 kp=120u gamma=0.45 phi=0.7 lambda=0.06 tox=9n cgso=2.2e-10 "
         "cgdo=2.2e-10 cgbo=1e-10 cj=4e-4 cjsw=3e-10 mj=0.45 mjsw=0.33 pb=0.8 ld=50n js=1e-3")
PMOS1 = (".model pch pmos level=1 vto=-0.65 kp=45u gamma=0.5 phi=0.7 lambda=0.08 tox=9n cgso=2.5e-10 "
         "cgdo=2.5e-10 cbd=12f cbs=15f is=1e-15 rd=40 rs=25")
NBSIM3 = ".model nch nmos level=49 version=3.3.0 tox=9n vth0=0.55 u0=400 k1=0.55 rdsw=200 cgso=2e-10 cgdo=2e-10"
PBSIM3 = ".model pch pmos level=49 version=3.3.0 tox=9n vth0=-0.6 u0=150 k1=0.5 rdsw=400 cgso=2e-10 cgdo=2e-10"
NBSIM4 = ".model nch nmos level=54 version=4.7 toxe=2.5n vth0=0.4 u0=0.03 cgso=1.5e-10 cgdo=1.5e-10 cgbo=1e-12"
PBSIM4 = ".model pch pmos level=54 version=4.7 toxe=2.5n vth0=-0.4 u0=0.012 cgso=1.5e-10 cgdo=1.5e-10"


def bench(model: str, name: str, vg: float, vd: float, vs: float, vb: float, size: str = "W=10u L=1u") -> str:
    """One transistor biased through resistors on every terminal: every element of its small-signal model
    shows in the impedances at d, g, s and b."""
    return (f"bench\nVD vd 0 {vd}\nVG vg 0 {vg}\nVS vs 0 {vs}\nVB vb 0 {vb}\n"
            f"RD vd d 4k\nRG vg g 20k\nRS vs s 300\nRB vb b 2k\nCG g 0 30f\n"
            f"M1 d g s b {name} {size} AD=20p AS=20p PD=24u PS=24u\n{model}\n.end\n")


def ngspice_impedance(text: str, node: str, freqs) -> np.ndarray:
    probe = f"Iprobe 0 {node} DC 0 AC 1\n{TIGHT}\n.end"
    return ngspice.ac_vector(text.replace(".end", probe), freqs, f"v({node})")


FREQS = np.logspace(3, 10.5, 16)


def assert_impedances_match(text: str, nodes=("d", "g", "s", "b"), rtol: float = 1e-6) -> float:
    circuit = read_netlist(text)
    lin = linear_points(circuit)[0].circuit
    worst = 0.0
    for node in nodes:
        ours = zin(lin, node, FREQS).z
        theirs = ngspice_impedance(text, node, FREQS)
        np.testing.assert_allclose(ours, theirs, rtol=rtol, err_msg=f"impedance at {node}")
        worst = max(worst, float(np.max(np.abs(ours - theirs) / np.abs(theirs))))
    return worst


# ---------------------------------------------------------------------------------------------- netlist

def test_m_and_j_elements_are_read_with_their_instance_values():
    c = read_netlist("t\nM1 d g s b nch W=10u L={lm} m=2 off\nJ1 d g s jm 2\nR1 d 0 1k\nR2 s 0 1\nR3 b 0 1\n"
                     ".param lm=0.5u\n.model nch nmos level=1\n.model jm njf\n")
    m1, j1 = c.element("M1"), c.element("J1")
    assert (m1.kind, m1.nodes, m1.model) == ("M", ("d", "g", "s", "b"), "nch")
    assert m1.values["l"] == "lm" and m1.values["m"] == 2.0 and "off" not in m1.values
    assert (j1.kind, j1.nodes, j1.values["area"]) == ("J", ("d", "g", "s"), 2.0)


@pytest.mark.parametrize("line, expected", [
    ("M1 d g s nch", "needs 4 nodes and a model name"),
    ("M1 d g s b 10u", "needs 4 nodes and a model name"),
    ("M1 d g s b nosuch W=1u", "no '.model nosuch"),
])
def test_bad_m_lines_name_the_line(line, expected):
    with pytest.raises(NetlistError, match=expected) as info:
        read_netlist(f"t\n{line}\nR1 d 0 1\n.model nch nmos level=1\n")
    assert ":2:" in str(info.value)


def test_paths_native_level1_and_ngspice_for_the_rest():
    c = read_netlist("t\nM1 d g 0 0 n1 W=1u L=1u\nM2 d g 0 0 n49\nM3 d g 0 0 n1 W=1u L=1u\nJ1 d g 0 jm\n"
                     "R1 d 0 1\n.model n1 nmos level=1 vto=0.5\n.model n49 nmos level=49\n.model jm njf\n")
    assert device_path(c, c.element("M1"))[0] == "native"
    assert device_path(c, c.element("M2")) == ("ngspice", "BSIM3: level=49.0")
    assert device_path(c, c.element("J1"))[0] == "ngspice"
    hot = read_netlist("t\n.temp 85\nM1 d g 0 0 n1\nR1 d 0 1\n.model n1 nmos level=1\n")
    path, why = device_path(hot, hot.element("M1"))
    assert path == "ngspice" and "temperature" in why


# ---------------------------------------------------------------------------------------------- native level 1

P = MosLevel1Params.from_card("nmos", {"vto": 0.6, "kp": 1.2e-4, "gamma": 0.45, "phi": 0.7, "lambda": 0.06,
                                       "tox": 9e-9, "cgso": 2e-10, "cgdo": 2e-10, "cgbo": 1e-10},
                              {"w": 10e-6, "l": 1e-6})


@pytest.mark.parametrize("vgs, vds, vbs", [(1.2, 2.0, -0.5), (1.5, 0.2, 0.0), (1.0, -0.4, -0.3), (0.3, 1.0, -1.0),
                                           (1.8, -1.5, -0.2), (0.9, 0.05, 0.1)])
def test_level1_derivatives_are_exact(vgs, vds, vbs):
    """The channel current's derivatives against central differences (both modes, every region)."""
    h = 1e-7
    _, *grad = channel_current(P, vgs, vds, vbs)
    for k, g in enumerate(grad):
        e = np.zeros(3)
        e[k] = h
        up = channel_current(P, *(np.array([vgs, vds, vbs]) + e))[0]
        dn = channel_current(P, *(np.array([vgs, vds, vbs]) - e))[0]
        np.testing.assert_allclose(g, (up - dn) / (2 * h), rtol=1e-6, atol=1e-12)


def test_level1_meyer_limits():
    """Saturation: cgs = 2/3·Cox·W·Leff + overlap, cgd = overlap; accumulation: cgb = Cox·W·Leff + overlap."""
    cox = 3.9 * 8.854214871e-12 / 9e-9 * 10e-6 * 1e-6
    cgs, cgd, cgb = gate_capacitances(P, np.array([1.5]), np.array([3.0]), np.array([0.0]))
    np.testing.assert_allclose([cgs[0], cgd[0], cgb[0]], [2 / 3 * cox + 2e-15, 2e-15, 1e-16], rtol=1e-12)
    cgs, cgd, cgb = gate_capacitances(P, np.array([-2.0]), np.array([1.0]), np.array([0.0]))
    np.testing.assert_allclose([cgs[0], cgd[0], cgb[0]], [2e-15, 2e-15, cox + 1e-16], rtol=1e-12)


CASES_LEVEL1 = {  # name: (model line, model name, vg, vd, vs, vb)
    "nmos saturation": (NMOS1, "nch", 1.4, 3.0, 0.0, 0.0),
    "nmos linear, body effect": (NMOS1, "nch", 2.5, 0.6, 0.3, -0.8),
    "nmos near threshold": (NMOS1, "nch", 0.72, 2.0, 0.0, 0.0),
    "nmos sub-threshold Meyer ramp": (NMOS1, "nch", 0.5, 2.0, 0.0, 0.0),
    "nmos inverse mode": (NMOS1, "nch", 2.0, -0.5, 0.8, -0.5),
    "pmos saturation, rd rs": (PMOS1, "pch", -1.5, -3.0, 0.0, 0.0),
    "pmos linear": (PMOS1, "pch", -3.0, -0.3, 0.0, 0.5),
}


@needs_ngspice
@pytest.mark.ngspice
@pytest.mark.parametrize("case", list(CASES_LEVEL1))
def test_native_level1_agrees_with_ngspice(case):
    """Operating point (node voltages, 1e-9 V), the small-signal values ngspice reports (1e-6) and the four
    port impedances of the linearized circuit against ngspice .ac (1e-6, 1 kHz … 30 GHz)."""
    model, name, vg, vd, vs, vb = CASES_LEVEL1[case]
    text = bench(model, name, vg, vd, vs, vb)
    circuit = read_netlist(text)
    point = linear_points(circuit)[0]
    assert point.fets[0]["path"] == "native level 1"
    theirs = ngspice.operating_point(text)
    for node in ("d", "g", "s", "b"):
        np.testing.assert_allclose(point.voltages[node], theirs[node], atol=1e-9)
    out = ngspice.run(text, ["op", "print @m1[gm] @m1[gds] @m1[gmbs] @m1[cgs] @m1[cgd] @m1[cgb] @m1[cbd] @m1[cbs]"])
    reported = {k: float(v) for k, v in __import__("re").findall(r"@m1\[(\w+)\]\s*=\s*(\S+)", out)}
    fet = point.fets[0]
    inverse = fet["vds"] * (1 if name == "nch" else -1) < 0
    for key in ("cgs", "cgd", "cgb", "cbd", "cbs"):
        np.testing.assert_allclose(fet[key], reported[key], rtol=1e-6, atol=1e-22, err_msg=key)
    if not inverse:  # ngspice reports gm, gds, gmbs in the swapped frame in inverse mode
        for key in ("gm", "gds", "gmbs"):
            np.testing.assert_allclose(fet[key], reported[key], rtol=1e-6, atol=1e-18, err_msg=key)
    assert_impedances_match(text)


def test_native_level1_needs_no_ngspice(monkeypatch):
    monkeypatch.setattr(ngspice.shutil, "which", lambda name: None)
    point = linear_points(read_netlist(bench(NMOS1, "nch", 1.4, 3.0, 0.0, 0.0)))[0]
    assert point.fets[0]["region"] == "saturation"
    assert "M1.gm" in point.circuit and "M1.cgs" in point.circuit


# ---------------------------------------------------------------------------------------------- through ngspice

CASES_NGSPICE = {
    "bsim3 nmos saturation": (NBSIM3, "nch", 1.3, 2.5, 0.0, 0.0),
    "bsim3 pmos linear": (PBSIM3, "pch", -2.5, -0.4, 0.0, 0.3),
    "bsim4 nmos saturation": (NBSIM4, "nch", 0.9, 1.2, 0.0, -0.3),
    "bsim4 nmos inverse mode": (NBSIM4, "nch", 1.2, -0.3, 0.4, 0.0),
    "bsim4 pmos saturation": (PBSIM4, "pch", -0.9, -1.2, 0.0, 0.0),
    "level 3 nmos": (".model nch nmos level=3 vto=0.6 kp=100u gamma=0.4 phi=0.7 tox=10n theta=0.1 eta=0.02 "
                     "cgso=2e-10 cgdo=2e-10", "nch", 1.5, 2.0, 0.0, 0.0),
}


@needs_ngspice
@pytest.mark.ngspice
@pytest.mark.parametrize("case", list(CASES_NGSPICE))
def test_ngspice_devices_reproduce_ngspice_ac(case):
    """The linearized circuit built from ngspice's operating point and the measured admittances gives the four
    port impedances of ngspice's own .ac within 1e-6 (1 kHz … 30 GHz); the measured matrices conserve charge
    and current (rows and columns sum to zero)."""
    model, name, vg, vd, vs, vb = CASES_NGSPICE[case]
    text = bench(model, name, vg, vd, vs, vb, size="W=5u L=0.5u")
    circuit = read_netlist(text)
    (pt,) = ngspice_points(circuit)
    dev = next(d for d in pt.problem.devices if isinstance(d, NgspiceDevice))
    for m in (dev.g_terminal, dev.c_terminal):
        scale = np.max(np.abs(m))
        np.testing.assert_allclose(m.sum(axis=0), 0.0, atol=1e-9 * scale)
        np.testing.assert_allclose(m.sum(axis=1), 0.0, atol=1e-9 * scale)
    if "inverse" in case:
        assert dev.bias()["mode"] == "inverse"
    assert_impedances_match(text)


@needs_ngspice
@pytest.mark.ngspice
def test_bsim_gain_is_a_source_the_ndf_switches_off():
    circuit = read_netlist(bench(NBSIM4, "nch", 0.9, 1.2, 0.0, 0.0, size="W=5u L=0.5u"))
    lin = linear_points(circuit)[0].circuit
    gm = lin.element("M1.gm")
    assert gm.kind == "G" and gm.nodes == ("d", "s", "g", "s") and gm.values["value"] > 1e-4
    assert "M1.gmbs" in lin and lin.element("M1.cgs").kind == "C"


@needs_ngspice
@pytest.mark.ngspice
def test_jfet_through_ngspice():
    text = ("jfet bench\nVD vd 0 8\nVS vs 0 0\nRD vd d 2k\nRS vs s 200\nRG g 0 1meg\nCG g 0 10p\n"
            "J1 d g s jm\n.model jm njf vto=-2 beta=1.3m lambda=0.02 cgs=3p cgd=1p is=1e-14\n.end\n")
    assert_impedances_match(text, nodes=("d", "g", "s"))


@needs_ngspice
@pytest.mark.ngspice
def test_internal_nodes_are_refused_with_the_device_named():
    model = NBSIM4 + " rsh=20 rdsmod=1 rdsw=300"
    text = bench(model, "nch", 0.9, 1.2, 0.0, 0.0, size="W=5u L=0.5u NRD=2 NRS=2")
    with pytest.raises(CircuitError, match=r"M1 \(BSIM4 model nch\).*internal nodes"):
        ngspice_points(read_netlist(text))


def test_ndr_devices_beside_ngspice_devices_are_refused():
    text = ("t\nV1 a 0 0.3\nR1 a t 10\nD1 t 0 td\nM1 t g 0 0 n49\nVG g 0 1\n.model td tunnel(ip=1m vp=0.1 iv=0.1m "
            "vv=0.4 vpp=0.5 vt=26m cd=1p)\n.model n49 nmos level=49\n")
    with pytest.raises(CircuitError, match="NDR device"):
        linear_points(read_netlist(text))


def test_missing_ngspice_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cs4.cir"
    path.write_text(bench(NBSIM4, "nch", 0.9, 1.2, 0.0, 0.0))
    monkeypatch.setattr(ngspice.shutil, "which", lambda name: None)
    code = cli_main(["poles", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "ngspice is needed for M1 (BSIM4 model nch)" in err and "apt-get install" in err


def test_native_dc_solver_names_the_ngspice_device():
    from stabkit.nonlinear.dc import dc_point

    circuit = read_netlist(bench(NBSIM4, "nch", 0.9, 1.2, 0.0, 0.0))
    with pytest.raises(CircuitError, match="M1 .*evaluated by ngspice"):
        dc_point(circuit)


def test_level1_device_reports_its_bias():
    p = MosLevel1Params.from_card("pmos", {"vto": -0.7, "kp": 4e-5}, {"w": 2e-6, "l": 1e-6})
    dev = MosfetLevel1("M9", ("d", "g", "s", "b"), p, 1e-12)
    b = dev.bias(np.array([-1.5, -2.0, 0.0, 0.5, -1.5, 2.0]))
    np.testing.assert_allclose(b["id"], -0.5 * 4e-5 * 2 * 0.8 ** 2, rtol=1e-6)
    assert b["region"] == "saturation" and b["type"] == "pmos"


@pytest.mark.parametrize("x", [[1.0, 0.2, -0.3], [0.75, 1.5, 0.0], [0.2, 0.5, -1.0], [1.4, -0.3, -0.2]])
def test_level1_charges_integrate_the_meyer_capacitances(x):
    """Harmonic balance reads q: each gate charge's derivative along its own branch voltage (the gate moving, drain,
    source and bulk held) is the Meyer capacitance dq reports (central differences, 1e-6)."""
    p = MosLevel1Params.from_card("nmos", {"vto": 0.6, "kp": 1e-4, "tox": 9e-9, "gamma": 0.4, "phi": 0.7,
                                           "cgso": 1e-10, "cgdo": 1e-10, "cgbo": 1e-10}, {"w": 1e-5, "l": 1e-6})
    dev = MosfetLevel1("M", ("d", "g", "s", "b"), p, 1e-12)
    vgs, vds, vbs = x

    def q(out, vgs, vds, vbs):
        return dev.evaluate(np.array([vgs, vds, vbs, vgs - vds, vgs - vbs, vbs - vds])).q[0, out]

    ev = dev.evaluate(np.array([vgs, vds, vbs, vgs - vds, vgs - vbs, vbs - vds]))
    h = 1e-5
    for out, ctrl in ((3, 0), (4, 3), (5, 4)):  # the gate moves: vgs, vgd and vgb change by the same step
        slope = (q(out, vgs + h, vds, vbs) - q(out, vgs - h, vds, vbs)) / (2 * h)
        np.testing.assert_allclose(slope, ev.dq[0, out, ctrl], rtol=1e-6, atol=1e-22)


@needs_ngspice
@pytest.mark.ngspice
def test_vbic_card_goes_to_ngspice_and_is_refused_for_its_internal_nodes():
    text = ("vbic\nVC vc 0 3\nVB vb 0 0.8\nRC vc c 500\nRB vb b 2k\nRE e 0 50\nQ1 c b e qv\n"
            ".model qv npn level=4 is=1e-16 bf=100 cje=50f cjc=20f tf=5p vef=50 rbi=20 rcx=5\n.end\n")
    circuit = read_netlist(text)
    assert device_path(circuit, circuit.element("Q1"))[0] == "ngspice"
    with pytest.raises(CircuitError, match=r"Q1 \(VBIC model qv\).*not G \+ jωC"):
        linear_points(circuit)
