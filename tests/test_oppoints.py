"""DC operating points of NDR-device circuits: completeness against an independent grid count, node
voltages, stability of each point (closed forms), and agreement with ngspice ``.op``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from stabkit import Circuit, ngspice
from stabkit.cli import main as cli_main
from stabkit.analysis.negres import operating_points
from stabkit.nonlinear.dc import LoadLine, NonlinearProblem, all_roots, load_line_points, multistart_points, solve
from stabkit.nonlinear.curves import TUNNEL_1N3716, BreakoverDevice
from stabkit.errors import CircuitError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SUB_1N3716 = SHARED / "models" / "1N3716_tunnel.sub"
NGSPICE = shutil.which("ngspice")
#: volts; ngspice runs with reltol 1e-9, vntol 1e-12
ATOL_NGSPICE = 1e-9


def tunnel_circuit(vs: float, r: float, l_series: float | None = None, card: dict | None = None) -> Circuit:
    """V1 (dc vs) — R1 — [L1] — node a — tunnel diode D1 to ground."""
    c = Circuit("tunnel diode through R (+L)")
    c.add_model("td", "tunnel", **(card or TUNNEL_1N3716.card()))
    c.add_vsource("V1", "in", 0, dc=vs)
    if l_series:
        c.add_resistor("R1", "in", "m", r)
        c.add_inductor("L1", "m", "a", l_series)
    else:
        c.add_resistor("R1", "in", "a", r)
    c.add_diode("D1", "a", 0, "td")
    return c


def grid_roots(vs: float, r: float, step: float = 1e-6) -> np.ndarray:
    """Independent root count: sign changes of R·i(v) + v − vs on a uniform grid (midpoints returned)."""
    v = np.arange(-0.3, max(vs, 0.0) + 0.3, step)
    f = r * TUNNEL_1N3716.current(v) + v - vs
    k = np.flatnonzero(np.sign(f[:-1]) != np.sign(f[1:]))
    return 0.5 * (v[k] + v[k + 1])


# bias cases: (vs, R) — below, inside and above the bistable window for R = 100 Ω, an NDR point with R < |r|,
# negative bias, a large supply
CASES = [(0.3, 100.0), (0.58, 100.0), (0.56, 100.0), (0.6, 100.0), (0.3, 20.0), (0.25, 40.0), (-0.2, 50.0),
         (2.0, 300.0), (0.9, 150.0)]


@pytest.mark.parametrize("vs, r", CASES)
def test_all_intersections_match_an_independent_grid_count(vs, r):
    res = operating_points(tunnel_circuit(vs, r))
    expected = grid_roots(vs, r)
    got = np.array([p.v for p in res.points])
    assert got.size == expected.size, (got, expected)
    np.testing.assert_allclose(got, expected, atol=1e-6)  # the grid step
    for p in res.points:  # each point lies on the curve and on the load line
        np.testing.assert_allclose(p.i, TUNNEL_1N3716.current(p.v), rtol=1e-12)
        np.testing.assert_allclose(p.v + r * p.i, vs, atol=1e-12)
        np.testing.assert_allclose(p.voltages["a"], p.v, atol=1e-12)
        np.testing.assert_allclose(p.voltages["in"], vs, atol=1e-12)


def test_bistable_bias_middle_unstable_outer_stable():
    res = operating_points(tunnel_circuit(0.58, 100.0, l_series=1e-9))
    assert len(res.points) == 3
    assert [p.stable for p in res.points] == [True, False, True]
    assert [p.in_ndr for p in res.points] == [False, True, False]
    # the middle one has a single real RHP pole (R > |r|: the DC loop gain exceeds one)
    middle = res.points[1]
    assert middle.poles.rhp_count == 1 and abs(middle.poles.rhp[0].imag) < 1e-9 * abs(middle.poles.rhp[0])
    assert 100.0 > abs(middle.small_signal.resistance)


@pytest.mark.parametrize("vs, r", [(0.3, 20.0), (0.26, 30.0), (0.35, 10.0)])
def test_ndr_point_with_series_inductance_closed_form(vs, r):
    """N-type −g ∥ C fed by R + L: stable iff R < 1/|g| and L < R·C/|g| (= R·C·|r|)."""
    (p,) = operating_points(tunnel_circuit(vs, r, l_series=1e-9)).points
    assert p.in_ndr and r < abs(p.small_signal.resistance)
    l_crit = r * TUNNEL_1N3716.cd * abs(p.small_signal.resistance)
    for factor, stable in ((0.1, True), (0.9, True), (1.1, False), (5.0, False)):
        (q,) = operating_points(tunnel_circuit(vs, r, l_series=factor * l_crit)).points
        assert q.stable is stable, (factor, q.poles.poles_hz)
        if not stable:
            assert q.poles.rhp_count == 2 and np.all(np.abs(q.poles.rhp.imag) > 0)


def test_near_tangent_load_lines_are_split_or_marked_marginal():
    r = 100.0
    g = lambda v: float(TUNNEL_1N3716.conductance(v)) + 1.0 / r  # noqa: E731 - slope equals the line's
    for v_t, lo_side in ((brentq(g, 0.1007, 0.2, xtol=1e-15), True), (brentq(g, 0.2, 0.43, xtol=1e-15), False)):
        vs_t = v_t + r * float(TUNNEL_1N3716.current(v_t))
        exact = operating_points(tunnel_circuit(vs_t, r))
        assert len(exact.points) == 2 and sum(p.tangent for p in exact.points) == 1
        tangent = next(p for p in exact.points if p.tangent)
        np.testing.assert_allclose(tangent.v, v_t, atol=1e-6)
        assert not tangent.stable
        # 1e-10 V to the side where the line cuts the curve twice: two points ~10 µV apart, none missed
        shift = -1e-10 if lo_side else 1e-10
        near = operating_points(tunnel_circuit(vs_t + shift, r))
        assert len(near.points) == 3 and not any(p.tangent for p in near.points)
        assert [p.stable for p in near.points] == [True, False, True]


def test_divider_network_node_voltages_satisfy_kcl():
    c = Circuit("divider")
    c.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    c.add_vsource("V1", "in", 0, dc=1.2)
    c.add_resistor("R1", "in", "a", 150.0)
    c.add_resistor("R2", "a", 0, 120.0)
    c.add_resistor("R3", "a", "k", 5.0)
    c.add_inductor("L1", "k", "d", 2e-9)
    c.add_capacitor("C1", "in", "d", 1e-9)  # open at DC
    c.add_diode("D1", "d", 0, "td")
    res = operating_points(c)
    assert res.points
    for p in res.points:
        va, vk, vd = p.voltages["a"], p.voltages["k"], p.voltages["d"]
        i_d = float(TUNNEL_1N3716.current(vd))
        np.testing.assert_allclose((1.2 - va) / 150.0, va / 120.0 + (va - vk) / 5.0, atol=1e-15)
        np.testing.assert_allclose((va - vk) / 5.0, i_d, rtol=1e-10)
        np.testing.assert_allclose(vk, vd, atol=1e-15)  # the inductor is a DC short
    # Thevenin: V_oc = 1.2·120/270, R = 150 ∥ 120 + 5
    np.testing.assert_allclose([res.line.c / res.line.a, res.line.resistance], [1.2 * 120 / 270, 150 * 120 / 270 + 5.0],
                               rtol=1e-12)


def test_current_source_bias_uses_the_norton_form():
    """A 3 mA current source with only the junction capacitance at the node: the network is open at DC;
    the three points are where i(v) = 3 mA, the middle one (NDR, open-circuit driven) unstable."""
    c = Circuit("current-driven tunnel diode")
    c.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    c.add_isource("I1", 0, "a", dc=3e-3)
    c.add_capacitor("Cx", "a", 0, 1e-12)
    c.add_diode("D1", "a", 0, "td")
    res = operating_points(c)
    assert res.line.b == 1.0 and res.line.a == 0.0
    expected = [brentq(lambda v: float(TUNNEL_1N3716.current(v)) - 3e-3, lo, hi, xtol=1e-15)
                for lo, hi in ((0.0, 0.1), (0.1, 0.43), (0.43, 0.6))]
    np.testing.assert_allclose([p.v for p in res.points], expected, atol=1e-12)
    np.testing.assert_allclose([p.i for p in res.points], 3e-3, rtol=1e-10)
    assert [p.stable for p in res.points] == [True, False, True]


def test_all_roots_finds_double_and_close_roots():
    roots = all_roots(lambda x: (x - 0.3) ** 2 * (x + 0.2), -1.0, 1.0, n=101, ftol=1e-14)
    np.testing.assert_allclose([r for r, _ in roots], [-0.2, 0.3], atol=1e-7)
    assert [t for _, t in roots] == [False, True]
    close = all_roots(lambda x: (x - 0.3) * (x - 0.3 - 1e-6) + 0.0 * x, -1.0, 1.0, n=101)
    np.testing.assert_allclose([r for r, _ in close], [0.3, 0.3 + 1e-6], atol=1e-12)


def test_error_without_a_device():
    lin = Circuit("linear")
    lin.add_vsource("V1", "a", 0, dc=1.0)
    lin.add_resistor("R1", "a", 0, 1.0)
    with pytest.raises(CircuitError, match="no nonlinear D element"):
        operating_points(lin)


@pytest.mark.parametrize("vs, r", [(0.58, 100.0), (0.3, 20.0), (2.0, 300.0)])
def test_newton_finds_the_load_line_points(vs, r):
    """The general Newton solver (a second, independent method) converges onto the load-line points."""
    circuit = tunnel_circuit(vs, r, l_series=1e-9)
    expected = [p.v for p in operating_points(circuit).points]
    problem = NonlinearProblem(circuit)
    found = multistart_points(problem)
    got = sorted(problem.bias(y)["D1"][0] for y in found)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    plain = solve(problem)  # from the zero state, with continuation if needed
    assert plain.converged and min(abs(problem.bias(plain.y)["D1"][0] - v) for v in expected) < 1e-12


@pytest.mark.parametrize("vs, n_expected", [(0.45, 3), (0.7, 3), (0.9, 1)])
def test_two_tunnel_diodes_in_series(vs, n_expected):
    """Two devices: Newton with multiple starts. Independent count: with the common current i = i(v1),
    h(v1) = i(vs − R·i(v1) − v1) − i(v1) changes sign at every solution."""
    c = Circuit("series pair")
    c.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    c.add_vsource("V1", "in", 0, dc=vs)
    c.add_resistor("R1", "in", "a", 20.0)
    c.add_diode("D1", "a", "b", "td")
    c.add_diode("D2", "b", 0, "td")
    res = operating_points(c)
    assert res.line is None and res.warnings and "may be missed" in res.warnings[0]
    v1 = np.arange(-0.1, 1.0, 1e-6)
    i1 = TUNNEL_1N3716.current(v1)
    with np.errstate(over="ignore"):
        h = TUNNEL_1N3716.current(vs - 20.0 * i1 - v1) - i1
    k = np.flatnonzero(np.sign(h[:-1]) != np.sign(h[1:]))
    assert k.size == n_expected == len(res.points)
    np.testing.assert_allclose(sorted(p.voltages["a"] - p.voltages["b"] for p in res.points), np.sort(v1[k]), atol=2e-6)
    for p in res.points:  # KCL at every node
        i_1 = TUNNEL_1N3716.current(p.voltages["a"] - p.voltages["b"])
        np.testing.assert_allclose(i_1, TUNNEL_1N3716.current(p.voltages["b"]), rtol=1e-9)
        np.testing.assert_allclose(i_1, (vs - p.voltages["a"]) / 20.0, rtol=1e-9)
    if n_expected == 3:  # one diode high, the other low (either way round) are stable; both in NDR is not
        assert [p.stable for p in res.points].count(True) == 2
        unstable = next(p for p in res.points if not p.stable)
        assert unstable.in_ndr and all(m.negative for _, m in unstable.others.values())


# ------------------------------------------------------------------------------------------------ S-type

def breakover_circuit(vs: float, r: float, ls: float, c_load: float | None = None) -> Circuit:
    """V1 — R1 — node a — (C_load to ground) — S-type device (series ls) to ground."""
    c = Circuit("S-type through R")
    c.add_model("sd", "stype", vpk=10.0, ipk=1e-3, ron=500.0, ls=ls)
    c.add_vsource("V1", "in", 0, dc=vs)
    c.add_resistor("R1", "in", "a", r)
    if c_load:
        c.add_capacitor("CL", "a", 0, c_load)
    c.add_diode("D1", "a", 0, "sd")
    return c


S_DEV = BreakoverDevice(vpk=10.0, ipk=1e-3, ron=500.0)
I_Q = 2e-3  # steepest NDR point, r = 500 − 10/(e·1 mA) ≈ −3179 Ω
V_Q = float(S_DEV.voltage(I_Q))
R_Q = float(S_DEV.resistance(I_Q))


@pytest.mark.parametrize("r_load, stable", [(5000.0, True), (3300.0, True), (3000.0, False), (1000.0, False)])
def test_s_type_ndr_point_is_stable_iff_load_exceeds_r(r_load, stable):
    """Dual of the N-type rule: the S-type device (−r + series L) loaded by R is stable iff R > |r|."""
    res = operating_points(breakover_circuit(V_Q + r_load * I_Q, r_load, ls=1e-6))
    p = min(res.points, key=lambda q: abs(q.i - I_Q))
    np.testing.assert_allclose([p.i, p.small_signal.r], [I_Q, R_Q], rtol=1e-9)
    assert p.in_ndr and p.stable is stable
    # the closed form: one real pole s = −(R + r)/L
    np.testing.assert_allclose(p.poles.poles, [-(r_load + R_Q) / 1e-6], rtol=1e-9)
    # cross-check against an independent grid count of intersections
    cur = np.arange(-1e-3, 0.02, 1e-8)
    f = S_DEV.voltage(cur) + r_load * cur - (V_Q + r_load * I_Q)
    assert len(res.points) == int(np.count_nonzero(np.sign(f[:-1]) != np.sign(f[1:])))


def test_s_type_r_parallel_c_load_closed_form():
    """S-type −r with series L loaded by R ∥ C: stable iff R > |r| and L > |r|·R·C."""
    r_load, ls = 5000.0, 1e-6
    c_crit = ls / (abs(R_Q) * r_load)
    for factor, stable in ((0.5, True), (0.95, True), (1.05, False), (3.0, False)):
        res = operating_points(breakover_circuit(V_Q + r_load * I_Q, r_load, ls=ls, c_load=factor * c_crit))
        (p,) = res.points
        assert p.stable is stable, factor


def test_open_and_short_circuit_stability_duals():
    """S-type is open-circuit stable, N-type short-circuit stable (at the same kind of NDR point)."""
    # current-source drive with a large shunt R (≈ open): S-type NDR point stable, N-type NDR point unstable
    s = Circuit("S open")
    s.add_model("sd", "stype", vpk=10.0, ipk=1e-3, ron=500.0, ls=1e-6)
    s.add_isource("I1", 0, "a", dc=I_Q + V_Q / 1e6)
    s.add_resistor("Rsh", "a", 0, 1e6)
    s.add_diode("D1", "a", 0, "sd")
    ps = min(operating_points(s).points, key=lambda q: abs(q.i - I_Q))
    assert ps.in_ndr and ps.stable
    n = Circuit("N open")
    n.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    n.add_isource("I1", 0, "a", dc=3e-3)
    n.add_resistor("Rsh", "a", 0, 1e6)
    n.add_diode("D1", "a", 0, "td")
    pn = operating_points(n).points[1]
    assert pn.in_ndr and not pn.stable
    # voltage-source drive through a small R (≈ short): N-type stable, S-type unstable
    (pn2,) = operating_points(tunnel_circuit(0.3, 5.0, l_series=1e-10)).points
    assert pn2.in_ndr and pn2.stable
    res = operating_points(breakover_circuit(V_Q + 5.0 * I_Q, 5.0, ls=1e-6))
    ps2 = min(res.points, key=lambda q: abs(q.i - I_Q))
    assert ps2.in_ndr and not ps2.stable


def test_load_line_points_on_a_bare_device():
    pts = load_line_points(TUNNEL_1N3716, LoadLine.thevenin(0.58, 100.0))
    assert len(pts) == 3
    pts = load_line_points(S_DEV, LoadLine.norton(I_Q, 0.0))  # a pure current drive: one point on an S curve
    assert len(pts) == 1 and pts[0].i == pytest.approx(I_Q)


# ------------------------------------------------------------------------------------------------ ngspice

def run_ngspice_op(netlist: str, nodes: list[str]) -> dict[str, float]:
    """ngspice ``op`` with tight tolerances (its defaults, reltol 1e-3 and vntol 1 µV, are too loose)."""
    values = ngspice.operating_point(netlist + ".options reltol=1e-9 vntol=1e-12 abstol=1e-15\n")
    return {n: values[f"v({n})"] if f"v({n})" in values else values[n] for n in nodes}


def behavioural_tunnel(card: dict) -> str:
    """The card's equation as ngspice B sources (independent of ../shared)."""
    p = card
    return (f"Bth a 0 I={p['ip']}*exp(-{p['vpp']}/{p['vt']})*(exp(v(a)/{p['vt']})-1)\n"
            f"Btu a 0 I={p['ip']}*(v(a)/{p['vp']})*exp(1-v(a)/{p['vp']})\n"
            f"Bex a 0 I={p['iv']}*exp(v(a)-{p['vv']})\n"
            f"Cd a 0 {p['cd']}\n")


@pytest.mark.ngspice
@pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed")
@pytest.mark.parametrize("vs, r", [(0.3, 20.0), (0.58, 100.0), (0.25, 40.0), (2.0, 300.0), (0.9, 150.0)])
def test_operating_points_agree_with_ngspice_sub(vs, r):
    """ngspice .op on the vendor subcircuit (../shared/models/1N3716_tunnel.sub), steered by .nodeset to each
    of stabkit's points (ngspice's Newton finds one point per run), lands on every one of them."""
    if not SUB_1N3716.exists():
        pytest.skip(f"{SUB_1N3716} not present (the shared model folder sits beside the repository)")
    res = operating_points(tunnel_circuit(vs, r, l_series=1e-9))
    for p in res.points:
        net = (f"tunnel diode op\n.include {SUB_1N3716}\nV1 in 0 dc {vs}\nR1 in m {r}\nL1 m a 1n\nX1 a 0 1N3716\n"
               f".nodeset v(a)={p.v + 1e-3}\n")
        got = run_ngspice_op(net, ["a", "m"])
        np.testing.assert_allclose([got["a"], got["m"]], [p.voltages["a"], p.voltages["m"]], atol=ATOL_NGSPICE)
    # without a nodeset ngspice lands on one of ours
    net = f"tunnel diode op\n.include {SUB_1N3716}\nV1 in 0 dc {vs}\nR1 in a {r}\nX1 a 0 1N3716\n"
    got = run_ngspice_op(net, ["a"])
    assert min(abs(got["a"] - p.v) for p in res.points) < ATOL_NGSPICE


@pytest.mark.ngspice
@pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed")
def test_operating_points_agree_with_ngspice_behavioural():
    """A different (scaled) card written as B sources: independent of the shared model folder."""
    card = dict(ip=10e-3, vp=0.065, iv=1e-3, vv=0.35, vpp=0.5, vt=0.026, cd=5e-12)
    vs, r = 0.45, 40.0
    res = operating_points(tunnel_circuit(vs, r, card=card))
    assert len(res.points) == 3
    for p in res.points:
        net = f"behavioural tunnel diode\nV1 in 0 dc {vs}\nR1 in a {r}\n" + behavioural_tunnel(card) + \
            f".nodeset v(a)={p.v + 1e-3}\n"
        got = run_ngspice_op(net, ["a"])
        np.testing.assert_allclose(got["a"], p.v, atol=ATOL_NGSPICE)


# ------------------------------------------------------------------------------------------------ CLI

def run_cli(capsys, *argv: str) -> tuple[int, dict]:
    """``stabkit ARGV`` in-process; returns the exit code and the parsed JSON on stdout."""
    code = cli_main(list(argv))
    out = capsys.readouterr()
    assert not out.err or code != 2, out.err
    return code, json.loads(out.out)


def test_cli_text_output_set_and_bad_input(capsys):
    assert cli_main(["oppoints", str(REPO / "cases" / "tunnel_amp.cir")]) == 0
    text = capsys.readouterr().out
    assert "NDR" in text
    assert re.search(r"^STABLE\b", text, re.M) and not re.search(r"^UNSTABLE\b", text, re.M), text
    assert cli_main(["oppoints", str(REPO / "cases" / "tunnel_amp.cir"), "--set", "ls=40n"]) == 1
    assert "UNSTABLE" in capsys.readouterr().out
    assert cli_main(["oppoints", str(REPO / "cases" / "no_such.cir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err

@pytest.mark.parametrize("case, n_points, stable", [
    ("tunnel_bistable.cir", 3, [True, False, True]),
    ("tunnel_amp.cir", 1, [True]),
    ("tunnel_osc.cir", 1, [False]),
])
def test_cli_oppoints_json(case, n_points, stable, capsys):
    code, data = run_cli(capsys, "oppoints", str(REPO / "cases" / case), "--json")
    assert code == (0 if all(stable) else 1)  # an unstable operating point is an unstable verdict (exit 1)
    assert [p["stable"] for p in data["points"]] == stable and len(data["points"]) == n_points
    for p in data["points"]:
        assert isinstance(p["voltages"], dict) and all(len(z) == 2 for z in p["poles"])
        assert p["stable"] == all(z[0] < 0 for z in p["poles"])


def test_cli_stype_relaxation_case_has_one_unstable_ndr_point(capsys):
    code, data = run_cli(capsys, "oppoints", str(REPO / "cases" / "stype_relaxation.cir"), "--json")
    assert code == 1
    (p,) = data["points"]
    assert p["device"]["type"] == "S" and p["device"]["ndr"] and not p["stable"]
    # R1 = 20 kΩ > |r| (DC condition met), but ls = 10 nH < |r|·R1·C1: the closed form says unstable
    assert 20e3 > abs(p["device"]["r"]) and 10e-9 < abs(p["device"]["r"]) * 20e3 * 100e-9


@pytest.mark.ngspice
@pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed")
@pytest.mark.parametrize("case", ["tunnel_bistable.cir", "tunnel_amp.cir", "tunnel_osc.cir"])
def test_cli_cases_agree_with_ngspice_on_the_same_netlist(case, capsys):
    """The case netlist itself, run by ngspice with only the tunnel card swapped for the vendor subcircuit
    (``.include ../shared/models/1N3716_tunnel.sub``, ``X1 a 0 1N3716``), .nodeset to each of our points."""
    if not SUB_1N3716.exists():
        pytest.skip(f"{SUB_1N3716} not present (the shared model folder sits beside the repository)")
    path = REPO / "cases" / case
    _, data = run_cli(capsys, "oppoints", str(path), "--json")
    text = path.read_text()
    text = re.sub(r"^\.model td tunnel\(.*\)$", f".include {SUB_1N3716}", text, flags=re.M | re.I)
    text = re.sub(r"^D1 a 0 td$", "X1 a 0 1N3716", text, flags=re.M | re.I)
    text = re.sub(r"^\.end\s*$", "", text, flags=re.M | re.I)
    assert ".include" in text and "X1 a 0 1N3716" in text
    for p in data["points"]:
        got = run_ngspice_op(text + f".nodeset v(a)={p['voltages']['a'] + 1e-3}\n", ["a", "m"])
        np.testing.assert_allclose([got["a"], got["m"]], [p["voltages"]["a"], p["voltages"]["m"]], atol=ATOL_NGSPICE)


def test_table_devices_from_a_netlist(tmp_path):
    """``.model NAME ivtable(file=...)`` / ``vitable(file=...)``: a CSV beside the netlist, PCHIP-interpolated."""
    v = np.linspace(-0.05, 0.65, 141)
    (tmp_path / "td.csv").write_text("v,i\n" + "\n".join(f"{a:.12g},{b:.12g}" for a, b in zip(v, TUNNEL_1N3716.current(v))))
    (tmp_path / "amp.cir").write_text("table tunnel diode\n.model tdt ivtable(file=td.csv cd=25p)\n"
                                      "V1 in 0 dc 0.58\nR1 in m 100\nL1 m a 1n\nD1 a 0 tdt\n.end\n")
    res = operating_points(Circuit.from_netlist(str(tmp_path / "amp.cir")))
    analytic = operating_points(tunnel_circuit(0.58, 100.0, l_series=1e-9))
    assert [p.stable for p in res.points] == [True, False, True]
    np.testing.assert_allclose([p.v for p in res.points], [p.v for p in analytic.points], atol=2e-4)
    cur = np.linspace(-1e-3, 8e-3, 181)
    (tmp_path / "s.csv").write_text("i,v\n" + "\n".join(f"{a:.12g},{b:.12g}" for a, b in zip(cur, S_DEV.voltage(cur))))
    (tmp_path / "s.cir").write_text("table S device\n.model st vitable(file=s.csv ls=1u)\n"
                                    f"V1 in 0 dc {V_Q + 5000 * I_Q}\nR1 in a 5k\nD1 a 0 st\n.end\n")
    (p,) = operating_points(Circuit.from_netlist(str(tmp_path / "s.cir"))).points
    np.testing.assert_allclose(p.i, I_Q, rtol=1e-3)
    assert p.in_ndr and p.stable
    (tmp_path / "bad.cir").write_text("bad\n.model st vitable(file=missing.csv)\nV1 in 0 dc 1\nR1 in a 5k\nD1 a 0 st\n.end\n")
    with pytest.raises(CircuitError, match="no such file"):
        operating_points(Circuit.from_netlist(str(tmp_path / "bad.cir")))


@pytest.mark.parametrize("shift, n_points", [(-1e-9, 1), (1e-9, 3), (1e-6, 3)])
def test_s_type_voltage_drive_near_the_holding_point(shift, n_points):
    """R = 0 (ideal voltage drive) on an S curve: the line v = V touches the curve at the valley, which is
    exactly the edge of the device window. Just above the holding voltage there are three points."""
    from stabkit.nonlinear.curves import curve_features

    (v_valley, i_valley), = curve_features(S_DEV).valleys
    pts = load_line_points(S_DEV, LoadLine.thevenin(v_valley + shift, 0.0))
    assert len(pts) == n_points
    cur = np.arange(-1e-3, 0.02, 1e-8)
    f = S_DEV.voltage(cur) - (v_valley + shift)
    assert n_points == int(np.count_nonzero(np.sign(f[:-1]) != np.sign(f[1:])))


def test_active_network_warns_and_still_finds_the_points():
    """A load line with negative resistance (an active network, a·b < 0): no monotonicity argument, so a
    warning; the points found still agree with a grid count over the widened range."""
    line = LoadLine.thevenin(0.2, -30.0)
    with pytest.warns(UserWarning, match="not passive"):
        pts = load_line_points(TUNNEL_1N3716, line)
    v = np.arange(-1.0, 2.0, 2e-6)
    with np.errstate(over="ignore"):
        f = v - 30.0 * TUNNEL_1N3716.current(v) - 0.2
    k = np.flatnonzero(np.sign(f[:-1]) != np.sign(f[1:]))
    np.testing.assert_allclose([p.v for p in pts], v[k], atol=2e-6)


def test_newton_with_an_n_type_and_an_s_type_device():
    """Two independent branches in one circuit (a bistable tunnel diode, an S-type device at its NDR point):
    the operating points are the product of each branch's load-line points."""
    c = tunnel_circuit(0.58, 100.0, l_series=1e-9)
    c.add_model("sd", "stype", vpk=10.0, ipk=1e-3, ron=500.0, ls=1e-6)
    c.add_vsource("V2", "s_in", 0, dc=V_Q + 5000.0 * I_Q)
    c.add_resistor("R2", "s_in", "s", 5000.0)
    c.add_diode("D2", "s", 0, "sd")
    res = operating_points(c)
    tunnel_points = operating_points(tunnel_circuit(0.58, 100.0, l_series=1e-9)).points
    s_points = operating_points(breakover_circuit(V_Q + 5000.0 * I_Q, 5000.0, ls=1e-6)).points
    assert len(res.points) == len(tunnel_points) * len(s_points) == 3
    np.testing.assert_allclose(sorted(p.voltages["a"] for p in res.points), [p.v for p in tunnel_points], atol=1e-10)
    for p in res.points:
        (bias, model), = p.others.values()
        np.testing.assert_allclose(bias[1], s_points[0].i, rtol=1e-9)
        assert model.control == "S" and model.negative
    # stability: each branch's verdict (the branches do not interact)
    assert [p.stable for p in res.points] == [q.stable and s_points[0].stable for q in tunnel_points]
