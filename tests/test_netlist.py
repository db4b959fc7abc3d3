"""The SPICE netlist reader: dialect, hierarchy, includes, vendor libraries, error messages, fuzzing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stabkit import Circuit, NetlistError, poles, zin
from stabkit.circuit.netlist import read_netlist
from stabkit.errors import StabkitWarning

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
INFINEON = MODELS / "Infineon-RFTransistor-SPICE-v2.1_full.lib"


def _sorted(z):
    z = np.asarray(z, dtype=complex)
    return z[np.lexsort((z.imag, z.real))]


def _net(*lines: str) -> str:
    return "\n".join(("title",) + lines) + "\n"


# ------------------------------------------------------------------------------------------ elements
ELEMENT_CASES = [
    # line, kind, nodes, values, refs, model
    ("R1 in out 50", "R", ("in", "out"), {"value": 50.0}, (), None),
    ("r1 IN Out 1k", "R", ("in", "out"), {"value": 1e3}, (), None),
    ("R1 a 0 r=75", "R", ("a", "0"), {"value": 75.0}, (), None),
    ("R1 a gnd 100 m=4", "R", ("a", "0"), {"value": 25.0}, (), None),
    ("C1 a 0 10pF", "C", ("a", "0"), {"value": 10e-12}, (), None),
    ("C1 a 0 2p m=3 ic=0", "C", ("a", "0"), {"value": 6e-12}, (), None),
    ("L7 a b 3.3nH", "L", ("a", "b"), {"value": 3.3e-9}, (), None),
    ("L7 a b {2*x}", "L", ("a", "b"), {"value": "2*x"}, (), None),
    ("G1 out 0 in 0 20m", "G", ("out", "0", "in", "0"), {"value": 20e-3}, (), None),
    ("E1 out 0 in 0 -10", "E", ("out", "0", "in", "0"), {"value": -10.0}, (), None),
    ("F1 out 0 Vs 5", "F", ("out", "0"), {"value": 5.0}, ("vs",), None),
    ("H1 out 0 VS {x}", "H", ("out", "0"), {"value": "x"}, ("vs",), None),
    ("V1 a 0 DC 1 AC 1", "V", ("a", "0"), {"dc": 1.0, "ac": 1.0}, (), None),
    ("V1 a 0 5", "V", ("a", "0"), {"dc": 5.0, "ac": 0.0}, (), None),
    ("V1 a 0", "V", ("a", "0"), {"dc": 0.0, "ac": 0.0}, (), None),
    ("V1 a 0 dc=2 ac=0.5 90", "V", ("a", "0"), {"dc": 2.0, "ac": 0.5}, (), None),
    ("V1 a 0 SIN(0 1 1k) AC 1", "V", ("a", "0"), {"dc": 0.0, "ac": 1.0}, (), None),
    ("V1 a 0 DC 1.2 PULSE(0 1 0 1n 1n 5n 10n)", "V", ("a", "0"), {"dc": 1.2, "ac": 0.0}, (), None),
    ("I1 a 0 DC 1m", "I", ("a", "0"), {"dc": 1e-3, "ac": 0.0}, (), None),
    ("T1 a 0 b 0 Z0=50 TD=1n", "T", ("a", "0", "b", "0"), {"z0": 50.0, "td": 1e-9, "nl": 0.25}, (), None),
    ("T1 a 0 b 0 Z0=75 F=1g NL=0.5", "T", ("a", "0", "b", "0"), {"z0": 75.0, "f": 1e9, "nl": 0.5}, (), None),
    ("T1 a 0 b 0 z0 = 50 td = 2n", "T", ("a", "0", "b", "0"), {"z0": 50.0, "td": 2e-9, "nl": 0.25}, (), None),
    ("D1 a k DM", "D", ("a", "k"), {"area": 1.0}, (), "dm"),
    ("D1 a k DM 2.5", "D", ("a", "k"), {"area": 2.5}, (), "dm"),
    ("Q1 c b e QM", "Q", ("c", "b", "e"), {"area": 1.0}, (), "qm"),
    ("Q1 c b e s QM", "Q", ("c", "b", "e", "s"), {"area": 1.0}, (), "qm"),
    ("Q1 c b e QM 3", "Q", ("c", "b", "e"), {"area": 3.0}, (), "qm"),
    ("Q1 c b e 4 QM 2", "Q", ("c", "b", "e", "4"), {"area": 2.0}, (), "qm"),
]


@pytest.mark.parametrize("line, kind, nodes, values, refs, model", ELEMENT_CASES)
def test_element_lines(line, kind, nodes, values, refs, model):
    name = line.split()[0]
    c = read_netlist(_net(
        ".param x=2", "Vs s 0 0", line,
        ".model DM tunnel(ip=4.7m vp=0.1 iv=0.37m vv=0.37 vpp=0.525 vt=0.026 cd=25p)",
        ".model QM NPN(IS=1e-16 BF=100)"))
    e = c.element(name)
    assert e.kind == kind
    assert e.nodes == nodes
    assert e.refs == refs
    assert e.model == model
    assert set(e.values) == set(values)
    for key, expected in values.items():
        if isinstance(expected, str):
            assert e.values[key] == expected
        else:
            np.testing.assert_allclose(e.values[key], expected, rtol=1e-15)
    assert e.origin == ("<netlist>", 4)


def test_mutual_inductance_refers_to_inductors():
    c = read_netlist(_net("L1 a 0 1n", "L2 b 0 4n", "K1 L1 L2 0.9", "R1 a b 1"))
    assert c.element("K1").refs == ("l1", "l2")
    assert c.element("K1").values["value"] == 0.9


@pytest.mark.parametrize("text, expected", [
    ("10k", 1e4), ("2.2n", 2.2e-9), ("1meg", 1e6), ("1MEG", 1e6), ("1M", 1e-3), ("1m", 1e-3),
    ("5mil", 5 * 25.4e-6), ("10pF", 10e-12), ("1e-9", 1e-9), ("50ohm", 50.0), ("3.3uH", 3.3e-6),
    ("1.5G", 1.5e9), ("2T", 2e12), ("4f", 4e-15), (".5k", 500.0), ("1e3k", 1e6),
])
def test_engineering_suffixes(text, expected):
    c = read_netlist(_net(f"R1 a 0 {text}"))
    np.testing.assert_allclose(c.element("R1").values["value"], expected, rtol=1e-15)


def test_comments_continuations_and_end():
    text = (
        "my title line\n"
        "* a comment\n"
        "R1 a   ; the resistor\n"
        "* comment lines may sit between a statement and its continuation\n"
        "+ b\n"
        "\n"
        "+ 1k $ trailing comment\n"
        "C1 b 0 1p$ not a comment: no blank after the dollar, so this is a unit\n"
        ".end\n"
        "R2 this is not read\n"
    )
    c = read_netlist(text)
    assert c.title == "my title line"
    assert [e.name for e in c] == ["R1", "C1"]
    assert c.element("R1").nodes == ("a", "b")
    assert c.element("R1").values["value"] == 1e3
    assert c.element("R1").origin == ("<netlist>", 3)


def test_error_in_a_continued_statement_names_its_first_line():
    text = "t\nR1 a 0 1\nG1 out 0\n+ in\n+ 0\n"
    with pytest.raises(NetlistError, match=r"^<netlist>:3: G1 needs 4 nodes and a gain, e\.g\. 'G1 out 0 in 0 20m'$"):
        read_netlist(text)


def test_analysis_cards_and_control_blocks_are_skipped():
    c = read_netlist(_net(
        "R1 a 0 1", ".options gmin=1e-12 TNOM = 25", ".OPTION TNOM=25, GMIN= 1.00e-12", ".op",
        ".ac dec 10 1 1g", ".tran 1n 1u", ".pz a 0 a 0 vol pz", ".control", "run", "print v(a)", ".endc",
        ".title better title", "C1 a 0 1p"))
    assert [e.name for e in c] == ["R1", "C1"]
    assert c.title == "better title"


# ------------------------------------------------------------------------------------------ params
def test_params_with_dependencies_and_forward_references():
    c = read_netlist(_net(".param c={b+a} b={a*3}", ".param a=2", "R1 x 0 {c*1k}"))
    values = c.resolve_params()
    assert values == {"c": 8.0, "b": 6.0, "a": 2.0}
    np.testing.assert_allclose(c.values(c.element("R1"), values)["value"], 8e3, rtol=1e-15)
    assert c.resolve_params({"a": 1})["c"] == 4.0


def test_param_values_with_blanks_around_equals_and_quotes():
    c = read_netlist(_net(".param Vpp =525mV Ip = 4.7mA q='ip*2'", "R1 a 0 1"))
    np.testing.assert_allclose([c.resolve_params()[k] for k in ("vpp", "ip", "q")], [0.525, 4.7e-3, 9.4e-3],
                               rtol=1e-15)


@pytest.mark.parametrize("lines, line, message", [
    ((".param a={b+1}", ".param b={c*2} c={a}"), 2, r"cycle: a -> b -> c -> a"),
    ((".param a={a+1}",), 2, r"cycle: a -> a"),
    ((".param a={q*2}",), 2, r"unknown parameter 'q'"),
    ((".param a=1", "R1 x 0 {a*zz}"), 3, r"R1: \{a\*zz\} refers to unknown parameter 'zz'"),
    ((".param a=0 b={1/a}",), 2, r"parameter b: cannot evaluate"),
    ((".param a={__import__('os')}",), 2, r"unknown function '__import__'"),
    ((".param if=1",), 2, r"reserved"),
    ((".param 1a=1",), 2, r"must start with a letter"),
    ((".param a",), 2, r"\.param needs name=value pairs"),
])
def test_parameter_errors(lines, line, message):
    with pytest.raises(NetlistError, match=rf"^<netlist>:{line}: .*{message}"):
        read_netlist(_net(*lines, "R9 z 0 1"))


@pytest.mark.parametrize("lines, line, message", [
    # a default of the .subckt line that fails for the value an instance passes: reported at the .subckt line
    (("X1 a s g=0", ".subckt s p params: g=1 k={1/g}", "R1 p 0 {k}", ".ends"), 3, r"parameter x1\.k: cannot evaluate"),
    # a .param inside the definition: reported at that .param line
    (("X1 a s", ".subckt s p params: g=0", ".param q={1/g}", "R1 p 0 {q}", ".ends"), 4, r"parameter x1\.q"),
    # a value given on the X line: reported at the X line
    (("X1 a s g={zz}", ".subckt s p params: g=1", "R1 p 0 {g}", ".ends"), 2, r"unknown parameter 'zz'"),
    # an element expression inside the definition: reported at the element line
    (("X1 a s", ".subckt s p params: g=1", "R1 p 0 {g*yy}", ".ends"), 4, r"X1\.R1: .* unknown parameter 'yy'"),
])
def test_subcircuit_parameter_errors_point_at_the_source_line(lines, line, message):
    with pytest.raises(NetlistError, match=rf"^<netlist>:{line}: .*{message}"):
        read_netlist(_net(*lines))


# ------------------------------------------------------------------------------------------ subcircuits
NTYPE_HIER = """N-type device in a subcircuit, fed by series R + L
.param r=20 l=5n
R1 a m {r}
L1 m 0 {l}
XD a tdev g=20m c=10p
.subckt tdev p params: g=1m c=1p
G1 p 0 p 0 {-g}
C1 p 0 {c}
.ends tdev
"""


@pytest.mark.parametrize("r, ind", [(20.0, 5e-9), (20.0, 1e-9), (60.0, 1e-9), (20.0, 20e-9)])
def test_subcircuit_poles_match_the_closed_form(r, ind):
    """−g ∥ C fed by series R + L: L·C·s² + (R·C − g·L)·s + (1 − g·R) = 0."""
    g, cap = 20e-3, 10e-12
    c = read_netlist(NTYPE_HIER)
    result = poles(c, {"r": r, "l": ind})
    expected = np.roots([ind * cap, r * cap - g * ind, 1 - g * r])
    np.testing.assert_allclose(_sorted(result.poles), _sorted(expected), rtol=1e-9)


HIER = """two levels of subcircuits, two instances with different parameters, definitions after use
.param gm0=30m
X1 in mid stage gm={gm0} cl=2p
X2 mid out stage gm=12m
R9 out in 2k
C9 in 0 0.7p
.subckt stage a b params: gm=10m cl=1p rl=500
Xin a rcpart
Xout b rcpart c={cl}
G1 b 0 a 0 {gm}
Rl b 0 {rl}
.ends stage
.subckt rcpart n params: c=0.5p
R1 n k 100
C1 k 0 {c}
L1 k 0 40n
.ends rcpart
"""

FLAT = """the same circuit written out flat
.param gm0=30m
R.x1.xin.r1 in x1.xin.k 100
C.x1.xin.c1 x1.xin.k 0 0.5p
L.x1.xin.l1 x1.xin.k 0 40n
R.x1.xout.r1 mid x1.xout.k 100
C.x1.xout.c1 x1.xout.k 0 2p
L.x1.xout.l1 x1.xout.k 0 40n
G.x1.g1 mid 0 in 0 {gm0}
R.x1.rl mid 0 500
R.x2.xin.r1 mid x2.xin.k 100
C.x2.xin.c1 x2.xin.k 0 0.5p
L.x2.xin.l1 x2.xin.k 0 40n
R.x2.xout.r1 out x2.xout.k 100
C.x2.xout.c1 x2.xout.k 0 1p
L.x2.xout.l1 x2.xout.k 0 40n
G.x2.g1 out 0 mid 0 12m
R.x2.rl out 0 500
R9 out in 2k
C9 in 0 0.7p
"""


def test_hierarchical_and_flat_netlists_have_identical_poles():
    hier, flat = read_netlist(HIER), read_netlist(FLAT)
    assert len(hier) == len(flat) == 18
    assert sorted(hier.nodes) == sorted(flat.nodes)
    p_hier, p_flat = poles(hier).poles, poles(flat).poles
    assert p_hier.size == 9  # four L-C pairs and C9
    np.testing.assert_allclose(_sorted(p_hier), _sorted(p_flat), rtol=1e-12)
    # and with the top-level parameter changed (instance values refer to it)
    np.testing.assert_allclose(_sorted(poles(hier, {"gm0": 5e-3}).poles), _sorted(poles(flat, {"gm0": 5e-3}).poles),
                               rtol=1e-12)
    # instance parameters are scoped: each instance keeps its own value and can be overridden by name
    values = hier.resolve_params({"x2.gm": 40e-3})
    assert values["x1.gm"] == 30e-3 and values["x2.gm"] == 40e-3
    assert values["x1.xout.c"] == 2e-12 and values["x2.xout.c"] == 1e-12 and values["x1.xin.c"] == 0.5e-12


def test_instance_names_and_origins():
    hier = read_netlist(HIER)
    e = hier.element("X1.Xout.C1")
    assert e.nodes == ("x1.xout.k", "0")
    assert e.values["value"] == "x1.xout.c"
    assert e.origin == ("<netlist>", 15)


def test_subcircuit_models_are_local_to_each_instance():
    """Libraries reuse model names (M_D1 ...) with different values in every part: each instance keeps its own."""
    c = read_netlist(_net(
        "XA a 0 parta", "XB b 0 partb", "D9 a b DTOP",
        ".model DTOP D(IS=1e-15)",
        ".subckt parta p q", "D1 p q M_D1", ".model M_D1 D(IS=1e-14 N=1)", ".ends",
        ".subckt partb p q", "D1 p q M_D1 2", ".model M_D1 D(IS=3e-15 N=1.1)", ".ends"))
    a, b = c.element("XA.D1"), c.element("XB.D1")
    assert c.models[a.model].params == {"is": 1e-14, "n": 1.0}
    assert c.models[b.model].params == {"is": 3e-15, "n": 1.1}
    assert c.models[c.element("D9").model].params == {"is": 1e-15}
    assert b.values["area"] == 2.0


def test_subcircuit_library_builds_definitions_on_request():
    c = read_netlist(HIER)
    assert sorted(c.subcircuits) == ["rcpart", "stage"]
    stage = c.subcircuits["STAGE"]
    assert stage.ports == ["a", "b"]
    assert stage.defaults == {"gm": 10e-3, "cl": 1e-12, "rl": 500.0}
    host = Circuit("host")
    host.add_instance("XS", stage, ["p", "q"], {"gm": 1e-3})
    host.add_resistor("RP", "p", 0, 50.0)
    assert len(host) == 9 and host.resolve_params()["xs.gm"] == 1e-3


MIXED = """mixed elements in nested subcircuits: K, E, F, H, T, parameters passed down
.param rl=75 k0=0.3
R0 in 0 1k
X1 in o1 cell k={k0} gain=3
X2 o1 o2 cell gain=-2 rs={rl/2}
T1 o2 0 t 0 Z0=50 TD=0.3n
Rt t 0 {rl}
.subckt cell a b params: k=0.5 gain=1 rs=20
L1 a 0 10n
L2 m 0 22n
K1 L1 L2 {k}
Rm m s {rs}
Vsense s 0 0
F1 b 0 Vsense {gain}
H1 h 0 Vsense 10
Rh h n 30
E1 n 0 a 0 {gain/2}
Cb b n 2p
Rb b 0 200
.ends cell
"""


@pytest.mark.ngspice
@pytest.mark.parametrize("name, text, node", [("hier", HIER, "in"), ("ntype", NTYPE_HIER, "a"), ("mixed", MIXED, "in")])
def test_input_impedance_agrees_with_ngspice(name, text, node, ngspice_required):
    """ngspice reads the same netlist (subcircuits, parameters, suffixes): its AC input impedance is ours."""
    from stabkit import ngspice

    text = text + f"Iin 0 {node} dc 0 ac 1\n"
    freqs = np.logspace(7, 9.5, 6)
    theirs = ngspice.ac_vector(text, freqs, f"v({node})")
    ours = zin(read_netlist(text), node, freqs).z
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# ------------------------------------------------------------------------------------------ include / lib
def test_include_and_lib_sections(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parts.inc").write_text("* no title line in included files\nR2 b 0 2k\n.include more.inc\n")
    (tmp_path / "sub" / "more.inc").write_text("C2 b 0 {cval}\n")
    (tmp_path / "corners.lib").write_text(
        "* library with sections\n"
        ".lib typ\n.param cval=1p\n.endl typ\n"
        ".lib slow\n.param cval=2p\n.endl\n")
    main = tmp_path / "amp.cir"
    main.write_text("amp\nR1 a b 1k\n.include sub/parts.inc\n.lib 'corners.lib' SLOW\n.end\n")
    for given_as in (str(main), main):
        c = read_netlist(given_as)
        assert [e.name for e in c] == ["R1", "R2", "C2"]
        assert c.resolve_params() == {"cval": 2e-12}
        assert c.element("C2").origin == ("more.inc", 1)
        assert c.element("R2").origin == ("parts.inc", 2)
        assert c.source == str(main)


def test_model_file_parameters_are_relative_to_the_file_with_the_card(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "dev.inc").write_text(".model t1 ivtable(file=\"iv data.csv\" cd=2p)\n"
                                              ".model t2 ivtable(file=sub/iv.csv cd={cj})\n")
    (tmp_path / "top.cir").write_text("t\n.param cj=1p\nD1 a 0 t1\nD2 a 0 t2\nR1 a 0 1\n.include lib/dev.inc\n")
    c = read_netlist(tmp_path / "top.cir")
    assert c.models["t1"].params == {"file": str(tmp_path / "lib" / "iv data.csv"), "cd": 2e-12}
    assert c.models["t2"].params == {"file": str(tmp_path / "lib" / "sub" / "iv.csv"), "cd": "cj"}


def test_lib_without_section_includes_the_whole_file(tmp_path):
    (tmp_path / "models.lib").write_text(".model dm D(is=1e-14)\n.lib fast\n.model dm2 D(is=1)\n.endl\n")
    (tmp_path / "t.cir").write_text("t\nD1 a 0 dm\nR1 a 0 1\n.lib models.lib\n")
    c = read_netlist(tmp_path / "t.cir")
    assert sorted(c.models) == ["dm"]  # sections are read only when asked for


@pytest.mark.parametrize("content, line, message", [
    ("t\nR1 a 0 1\n.include nothere.inc\n", 3, r"\.include: no such file .*nothere\.inc"),
    ("t\nR1 a 0 1\n.include self.cir\n", 3, r"includes itself"),
    ("t\nR1 a 0 1\n.lib lib.lib nosuch\n", 3, r"has no section 'nosuch'"),
    ("t\nR1 a 0 1\n.include\n", 3, r"\.include takes one file name"),
])
def test_include_errors(tmp_path, content, line, message):
    (tmp_path / "lib.lib").write_text(".lib typ\nR5 q 0 1\n.endl\n")
    (tmp_path / "self.cir").write_text(content)
    with pytest.raises(NetlistError, match=rf"^self\.cir:{line}: .*{message}"):
        read_netlist(tmp_path / "self.cir")


def test_error_in_an_included_file_names_that_file(tmp_path):
    (tmp_path / "bad.inc").write_text("R7 a 0 1\nR8 a\n")
    (tmp_path / "top.cir").write_text("top\n.include bad.inc\n")
    with pytest.raises(NetlistError, match=r"^bad\.inc:2: R8 needs 2 nodes and a value"):
        read_netlist(str(tmp_path / "top.cir"))


def test_a_missing_file_and_one_line_text_are_reported():
    with pytest.raises(NetlistError, match="no netlist file 'nosuch.cir'"):
        read_netlist("nosuch.cir")
    with pytest.raises(NetlistError, match="unknown text encoding"):
        read_netlist(_net("R1 a 0 1"), encoding="no-such-codec")


# ------------------------------------------------------------------------------------------ error messages
ERRORS = [
    ("R1 in 50", r"R1 needs 2 nodes and a value, e\.g\. 'R1 in out 50'"),
    ("R1 in out fifty", r"R1 value: expected a number or \{expression\}, got 'fifty'; e\.g\. 'R1 in out 50'"),
    ("R1 in out 0", r"resistor R1 has value 0"),
    ("R1 in out {1+}", r"R1 value: cannot read expression"),
    ("R1 in out {2*x", r"an unclosed '\{' at column 11"),
    ("R1 a b 1 tc1=3", r"R1: unknown setting tc1=; allowed: m, r"),
    ("C1 a b 1e999", r"C1 value: '1e999' is out of range"),
    ("K1 L1 L2", r"K1 needs two inductor names and a coupling factor, e\.g\. 'K1 L1 L2 0\.9'"),
    ("K1 L1 R2 0.5", r"K1: 'r2' is not an inductor name"),
    ("K1 L1 LX 0.5", r"K1 couples 'lx', which is not an inductor in the netlist"),
    ("K1 L1 L1b 1.5", r"coupling K1 k=1\.5 must satisfy \|k\| <= 1"),
    ("K1 L1 L1b {3/2}", r"K1: coupling \{3/2\} = 1\.5; expected \|k\| <= 1"),
    ("K1 L1 L1 0.5", r"K1 couples 'l1' with itself"),
    ("T1 a 0 b 0 Z0=50 TD={-1n}", r"T1: td=\{-1n\} = -1e-09; expected a positive value"),
    ("G1 a 0 b 0", r"G1 needs 4 nodes and a gain"),
    ("F1 a 0 R1 2", r"F1: the controlling element 'R1' must be a voltage source"),
    ("H1 a 0 Vnone 2", r"H1 is controlled by 'vnone', which must be a voltage source"),
    ("V1 a 0 DC", r"V1: DC needs a value"),
    ("V1 a 0 1 2", r"V1: unexpected '2'"),
    ("T1 a 0 b 0 Z0=50", r"T1 needs Z0= and either TD= or F="),
    ("T1 a 0 b 0 Z0=50 TD=1n F=1g", r"T1: give either TD= or F= with NL=, not both"),
    ("T1 a 0 b 0 Z0=-50 TD=1n", r"line T1 needs z0 > 0"),
    ("D1 a 0", r"D1 needs 2 nodes and a model name"),
    ("D1 a 0 nomodel", r"D1 uses model 'nomodel', but there is no '\.model nomodel \.\.\.' card"),
    ("Q1 a b", r"Q1 needs 3 or 4 nodes and a model name"),
    ("X1 a b", r"no subcircuit named 'b'"),
    ("X1 a b sub", r"instance X1 of subcircuit sub needs 1 nodes \(p\), got 2"),
    ("X1 a sub zz=3", r"instance X1: subcircuit sub has no parameter zz"),
    ("X-1 a sub", r"instance name 'X-1' may contain only letters, digits and _"),
    ("M1 d g s b nmos", r"M1 uses model 'nmos', but there is no '\.model nmos \.\.\.' card"),
    ("M1 d g s nch", r"M1 needs 4 nodes and a model name"),
    ("B1 a 0 I=v(a) rpar=1g", r"B1: options after the expression"),
    ("B1 a 0 I={v(a)*nope}", r"B1: .*unknown parameter 'nope'"),
    ("B1 a 0 Q=v(a)", r"B1 needs 2 nodes and I=expression or V=expression"),
    ("Z1 a 0 1", r"Z1: MESFET"),
    ("W1 a 0 1", r"W1: current-controlled switch"),
    ("%1 a 0 1", r"%1: unknown element type '%'"),
    ("L1b x 0 1n", r"element 'L1b' is defined twice"),
    (".func f(x) x*2", r"unknown card \.func; expected one of"),
    (".global vdd", r"unknown card \.global"),
    (".model", r"\.model needs a name and a type"),
    (".model dm D(is)", r"\.model dm: 'is' is not name=value"),
    (".ends", r"\.ends without a \.subckt"),
    (".subckt", r"\.subckt needs a name and its ports"),
    (".endl", r"\.endl without a '\.lib NAME' section"),
    (".endc", r"\.endc without \.control"),
    ("+ 1k", r"\.ends 1k closes subcircuit sub"),  # it continues the '.ends' line before it
    ("R2 = a b 1", r"'=' without a name before it"),
    ("R2 a b r=", r"r= has no value"),
    ("R2 a b 50 r=60", r"R2: give the value once"),
]


@pytest.mark.parametrize("line, message", ERRORS)
def test_error_messages_name_file_line_and_the_expected_form(tmp_path, line, message):
    head = ["amp", "* header", "L1 a 0 1n", "L1b b 0 1n", ".subckt sub p params: r=1", "R1 p 0 {r}", ".ends"]
    path = tmp_path / "amp.cir"
    path.write_text("\n".join(head + [line]) + "\n")
    expected_line = 7 if line.startswith("+") else 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        with pytest.raises(NetlistError) as info:
            read_netlist(path)
    assert str(info.value).startswith(f"amp.cir:{expected_line}: "), str(info.value)
    assert info.value.file == "amp.cir" and info.value.line == expected_line
    assert re.search(message, str(info.value)), str(info.value)


def test_unclosed_subckt_and_mismatched_ends():
    with pytest.raises(NetlistError, match=r"^<netlist>:2: \.subckt amp has no \.ends"):
        read_netlist(_net(".subckt amp a b", "R1 a b 1"))
    with pytest.raises(NetlistError, match=r"^<netlist>:4: \.ends other closes subcircuit amp"):
        read_netlist(_net(".subckt amp a b", "R1 a b 1", ".ends other"))


def test_recursive_subcircuits_are_refused():
    with pytest.raises(NetlistError, match=r"^<netlist>:7: subcircuit a contains itself \(a -> b -> a\)"):
        read_netlist(_net("X1 n a", ".subckt a p", "X2 p b", ".ends", ".subckt b p", "X3 p a", ".ends"))


def test_negative_values_warn_once_per_flattened_element():
    with pytest.warns(StabkitWarning, match=r"<netlist>:4: resistor X1\.R1 has a negative value -50"):
        c = read_netlist(_net("X1 a neg", ".subckt neg p", "R1 p 0 -50", ".ends", "R2 a 0 20"))
    assert c.element("X1.R1").values["value"] == -50.0


# ------------------------------------------------------------------------------------------ vendor files
@pytest.fixture
def infineon():
    if not INFINEON.is_file():
        pytest.skip(f"{INFINEON} is absent: the Infineon SPICE library is not shipped with stabkit")
    return INFINEON


def test_infineon_full_library_is_readable(infineon):
    lib = read_netlist(infineon)  # Latin-1 bytes: read through the fallback
    assert len(lib) == 0  # only definitions
    assert len(lib.subcircuits) == 59
    for name in lib.subcircuits:
        sub = lib.subcircuits[name]
        assert len(sub.ports) in (3, 4)
        transistors = [e for e in sub.body if e.kind == "Q"]
        assert len(transistors) == 1
        assert sub.body.models[transistors[0].model].type in ("npn", "pnp")
    with pytest.raises(NetlistError, match=r"cannot decode .* as utf-8"):
        read_netlist(infineon, encoding="utf-8")


def test_infineon_part_instantiated_from_the_library(infineon):
    c = read_netlist(f"amp\n.lib '{infineon}'\nXQ1 c b 0 BFR840L3RHESD\nRB b 0 50\nRC c 0 50\n")
    q = c.element("XQ1.Q1")
    assert q.nodes == ("xq1.11", "xq1.22", "xq1.33", "xq1.55")
    model = c.models[q.model]
    assert model.type == "npn"
    np.testing.assert_allclose([model.params["bf"], model.params["is"], model.params["cjc"], model.params["vjs"]],
                               [765.7, 2.429e-16, 6.6e-15, 0.6112], rtol=1e-15)
    assert c.models[c.element("XQ1.D3").model].params == {"is": 6.911e-16, "n": 1.1, "rs": 1380.0, "cjo": 9.5e-14}
    np.testing.assert_allclose(c.element("XQ1.LB").values["value"], 3.04259e-10, rtol=1e-15)


@pytest.mark.parametrize("name, ports", [("BFR840L3RHESD.lib", 3), ("BFP840ESD.lib", 4), ("BFP620.lib", 4)])
def test_single_part_files_are_readable(name, ports):
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: vendor model files are not shipped with stabkit")
    lib = read_netlist(path)
    (sub,) = lib.subcircuits.values()
    assert len(sub.ports) == ports
    assert any(e.kind == "Q" for e in sub.body)


def test_tunnel_subcircuit_with_behavioural_sources():
    """The 1N3716 file defines the diode with B sources: they are devices of the nonlinear layer."""
    path = MODELS / "1N3716_tunnel.sub"
    if not path.is_file():
        pytest.skip(f"{path} is absent: vendor model files are not shipped with stabkit")
    lib = read_netlist(path)
    assert list(lib.subcircuits) == ["1n3716"]
    # its parameters stay readable, to fill a '.model ... tunnel(...)' card (values as written in the file)
    np.testing.assert_allclose(
        [lib.subcircuits.parameters("1N3716")[k] for k in ("vp", "ip", "vv", "vt", "vpp", "iv")],
        [0.1, 4.7e-3, 0.37, 0.026, 0.525, 370e-6], rtol=1e-15)
    # the three B sources read as behavioural devices whose sum is the tunnel card's current (an independent
    # evaluation: stabkit's closed-form TunnelDiode), and whose exact derivative is its conductance
    from stabkit.nonlinear.curves import TunnelDiode
    from stabkit.nonlinear.devices import circuit_devices

    host = read_netlist(f"t\n.include '{path}'\nX1 a 0 1N3716\nR1 a 0 50\n")
    devices = circuit_devices(host)
    assert sorted(d.name for d in devices) == ["X1.Bexcess", "X1.Bthermal", "X1.Btunnel"]
    v = np.linspace(-0.2, 0.6, 33)[:, None]
    total = sum(d.evaluate(v).f[:, 0] for d in devices)
    slope = sum(d.evaluate(v).df[:, 0, 0] for d in devices)
    card = TunnelDiode(ip=4.7e-3, vp=0.1, iv=370e-6, vv=0.37, vpp=0.525, vt=0.026)
    np.testing.assert_allclose(total, card.current(v[:, 0]), rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(slope, card.conductance(v[:, 0]), rtol=1e-12, atol=1e-15)


def test_sparameter_block_line(tmp_path):
    s2p = MODELS / "sparams" / "BFR840L3RHESD_w_noise_VCE_1.8V_IC_6.0mA.s2p"
    if not s2p.is_file():
        pytest.skip(f"{s2p} is absent: measured S-parameters are not shipped with stabkit")
    c = read_netlist(f"t\nN1 b c file='{s2p}'\nRL c 0 50\n")
    assert c.element("N1").kind == "N" and c.element("N1").nodes == ("b", "c")
    assert c.networks["n1"].nports == 2
    with pytest.raises(NetlistError, match=r"^<netlist>:2: N1: .* has 2 ports but 4 nodes"):
        read_netlist(f"t\nN1 a b c d file='{s2p}'\n")
    # inside a subcircuit, with the file relative to the netlist: the same block, the same impedance
    (tmp_path / "amp.s2p").write_bytes(s2p.read_bytes())
    (tmp_path / "amp.cir").write_text("t\nX1 b c blk\nRL c 0 50\n.subckt blk 1 2\nN1 1 2 file=amp.s2p\n.ends\n")
    hier = read_netlist(tmp_path / "amp.cir")
    assert hier.element("X1.N1").nodes == ("b", "c")
    freqs = [0.5e9, 1e9, 2e9]
    np.testing.assert_allclose(zin(hier, "b", freqs).z, zin(c, "b", freqs).z, rtol=1e-12)


# ------------------------------------------------------------------------------------------ fuzzing
VALID_NETLISTS = [NTYPE_HIER, HIER, FLAT, MIXED, (
    "kitchen sink\n.param a=2 b={a*3}\nR1 in out {b}\nC1 out 0 10pF\nL1 in 0 3n\nL2 out 0 3n\nK1 L1 L2 0.5\n"
    "V1 in 0 DC 1 AC 1 SIN(0 1 1k)\nG1 out 0 in 0 20m\nE1 e 0 in 0 2\nR2 e f 1k\nVs f 0 0\nF1 out 0 Vs 3\n"
    "H1 h 0 Vs 100\nR4 h 0 1\nT1 out 0 t2 0 Z0=50 TD=1n\nR5 t2 0 50\nD1 out 0 dm 2\n"
    ".model dm tunnel(ip=4.7m vp=0.1 iv=0.37m vv=0.37 vpp=0.525 vt=0.026 cd=25p)\nQ1 out in 0 QM\n"
    ".model QM NPN(IS=1e-16\n+ BF=100)\nX1 out 0 sub r=2\n.subckt sub p q params: r=1\nR1 p n {r*2}\n"
    "X2 n q inner\n.ends sub\n.subckt inner p q\nC1 p q 1p\n.ends\n.control\nrun\n.endc\n.op\n.end\n")]

TOKENS = ["R1", "C2", "L3", "K1", "G1", "E1", "F1", "H1", "V1", "I1", "T1", "D1", "Q1", "X1", "N1", "B1", "M1",
          "a", "b", "0", "gnd", "in", "out", "1k", "-5", "0", "1e999", "10pF", "{a*2}", "{", "}", "{}", "'x'", '"',
          "=", "z0=50", "td=1n", "f=1g", "params:", "sub", "inner", "dm", "QM", "Vs", "L1", "L2", "(", ")", ",",
          "DC", "AC", "SIN(", ".param", ".subckt", ".ends", ".model", ".include", ".lib", ".endl", ".end",
          ".control", ".endc", ".op", ".func", "+", "*", ";", "$", "a=", "=b", "x1.r", "{1/0}", "{a b}",
          "{__import__('os')}", "\t", "\x00", "µ", "é", "nosuch.inc", "{" * 3, "(" * 50, "-" * 300 + "1"]

line_strategy = st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), min_size=0, max_size=8).map(" ".join)


@st.composite
def mutated_netlists(draw):
    lines = draw(st.sampled_from(VALID_NETLISTS)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "token", "swap", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "replace":
            lines[i] = draw(line_strategy)
        elif op == "insert":
            lines.insert(i, draw(line_strategy))
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "token":
            words = lines[i].split(" ")
            j = draw(st.integers(0, len(words) - 1))
            words[j] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
            lines[i] = " ".join(words)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]), 0)))]
    return "\n".join(lines) + "\n"


@pytest.mark.filterwarnings("ignore::stabkit.errors.StabkitWarning")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_netlists() | st.lists(line_strategy, min_size=2, max_size=12).map("\n".join))
def test_fuzz_only_netlist_errors(text):
    """Whatever the text, the reader either returns a Circuit or raises NetlistError (nothing else)."""
    try:
        c = read_netlist(text)
    except NetlistError as exc:
        assert exc.file == "<netlist>" and exc.line is not None, str(exc)
        assert str(exc).startswith(f"<netlist>:{exc.line}: ") and len(exc.reason) > 10
        return
    assert isinstance(c, Circuit)
    c.resolve_params()  # a netlist that was accepted has parameters that evaluate


def test_set_names_a_source_or_says_what_it_cannot_set(tmp_path):
    """``--set V1=2`` sets a source's DC value (the bias of a nonlinear circuit); an element without a single
    value (a coupling of two named inductors has one, a subcircuit instance has none) is named in the error."""
    from stabkit.errors import ParameterError

    net = tmp_path / "src.cir"
    net.write_text("* sources\nV1 1 0 DC 1 AC 1\nR1 1 2 50\nD1 2 0 dm\n.model dm D(IS=1e-14)\n.end\n")
    c = Circuit.from_netlist(str(net))
    assert c.with_values({"V1": 2.5}).element("v1").values["dc"] == 2.5
    assert c.element("v1").values["dc"] == 1.0  # the original is untouched
    with pytest.raises(ParameterError, match="no parameter or element of that name"):
        c.with_values({"v9": 1.0})
    with pytest.raises(ParameterError, match="diode D1 has no single value to set"):
        c.with_values({"d1": 1.0})
