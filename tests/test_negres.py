"""Regions of operation, load-line pole locations and one-port design relations, each checked against the
pole picture (exact natural frequencies of the linearized circuit) or an independent computation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from stabkit import Circuit, poles
from stabkit.analysis.negres import operating_points
from stabkit.nonlinear.linearize import SmallSignal, linearize
from stabkit.analysis.mna import assemble
from stabkit.analysis.negres import (
    ac_load_resistance, amplifier_voltage_gain, classify_points, device_impedance, network_impedance, oscillator_conditions,
    pole_paths, reflection_amplifier_stable, reflection_coefficient, reflection_gain, reflection_gain_matched,
    region_map, sweep_regions,
)
from stabkit.analysis.ports import zin
from stabkit.nonlinear.curves import TUNNEL_1N3716, curve_features
from stabkit.errors import StabkitWarning

CD = TUNNEL_1N3716.cd


def tunnel_circuit(r: float, l_series: float | None = None) -> Circuit:
    """V1 (dc = param vs) — R1 — [L1] — tunnel diode D1; ``vs``, ``r1``, ``l1`` are parameters."""
    c = Circuit("tunnel diode")
    c.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    c.set_param("vs", 0.3)
    c.set_param("r1", r)
    c.add_vsource("V1", "in", 0, dc="vs")
    if l_series:
        c.set_param("l1", l_series)
        c.add_resistor("R1", "in", "m", "r1")
        c.add_inductor("L1", "m", "a", "l1")
    else:
        c.add_resistor("R1", "in", "a", "r1")
    c.add_diode("D1", "a", 0, "td")
    return c


def tangent_biases(r: float) -> tuple[float, float]:
    """Supply voltages at which the load line of slope −1/R touches the curve (independent: brentq on g = −1/R)."""
    g = lambda v: float(TUNNEL_1N3716.conductance(v)) + 1.0 / r  # noqa: E731
    vt = [brentq(g, 0.1007, 0.2, xtol=1e-15), brentq(g, 0.2, 0.43, xtol=1e-15)]
    vs = sorted(v + r * float(TUNNEL_1N3716.current(v)) for v in vt)
    return vs[0], vs[1]


def test_bias_sweep_regions_for_a_steep_and_a_shallow_load_line():
    # R = 100 Ω > |r|min = 58.9 Ω: stable → bistable → stable, the bistable window between the tangent biases
    lo, hi = tangent_biases(100.0)
    values = np.linspace(0.45, 0.7, 26)
    sweep = sweep_regions(tunnel_circuit(100.0, 1e-9), "vs", values)
    assert set(sweep.regions) == {"stable", "bistable"}
    (b_lo, b_hi), = sweep.intervals("bistable")
    step = values[1] - values[0]
    assert lo <= b_lo < lo + step and hi - step < b_hi <= hi
    # R = 20 Ω < |r|min: one point for every bias; inside the NDR region it is an amplifier
    sweep = sweep_regions(tunnel_circuit(20.0, 1e-9), "vs", np.linspace(0.05, 0.6, 23))
    assert "bistable" not in sweep.regions and "amplifier" in sweep.regions
    (a_lo, a_hi), = sweep.intervals("amplifier")
    (v_pk, i_pk), (v_vl, i_vl) = curve_features(TUNNEL_1N3716).peaks[0], curve_features(TUNNEL_1N3716).valleys[0]
    assert v_pk + 20 * i_pk - 0.026 < a_lo and a_hi < v_vl + 20 * i_vl + 0.026


def test_large_series_inductance_turns_the_amplifier_into_an_oscillator():
    lin = tunnel_circuit(20.0, 100e-9)
    res = operating_points(lin)
    assert classify_points(res) == "oscillator"
    assert res.stable_count == 0
    assert classify_points(operating_points(tunnel_circuit(20.0, 1e-9))) == "amplifier"


def test_tangent_bias_is_marginal():
    lo, _ = tangent_biases(100.0)
    res = operating_points(tunnel_circuit(100.0), {"vs": lo})
    assert classify_points(res) == "marginal"


def test_pole_paths_follow_the_closed_form_as_the_inductance_grows():
    """N-type −g ∥ C fed by R + L: poles are the roots of L·C·s² + (R·C + g·L)·s + (1 + g·R) = 0."""
    circuit = tunnel_circuit(20.0, 1e-9)
    values = np.geomspace(1e-9, 100e-9, 9)
    paths = pole_paths(circuit, "l1", values)
    g = operating_points(circuit).points[0].small_signal.g
    for l_value, row in zip(values, paths.rows):
        (p,) = row
        expected = np.roots([l_value * CD, 20.0 * CD + g * l_value, 1.0 + g * 20.0]) / (2 * np.pi)
        np.testing.assert_allclose(np.sort_complex(p["poles_hz"]), np.sort_complex(expected), rtol=1e-8)
        assert p["stable"] == bool(np.all(expected.real < 0))
    assert paths.to_dict()["points"][0][0]["poles"]


@pytest.mark.parametrize("r_source", [5.0, 20.0, 40.0, 55.0])
def test_amplifier_voltage_gain_matches_the_linearized_circuit(r_source):
    """Gv = r/(r − R) (|r| of the NDR point) against an MNA solve of the linearized divider; stable iff R < |r|."""
    circuit = tunnel_circuit(r_source)
    vs = 0.2 + r_source * float(TUNNEL_1N3716.current(0.2))  # bias at the steepest point
    res = operating_points(circuit, {"vs": vs})
    (p,) = res.points
    r = abs(p.small_signal.resistance)
    lin = linearize(circuit, {"D1": (p.v, p.i)}, {"vs": vs})
    system = assemble(lin, {"vs": vs})
    rhs = np.zeros(system.n)
    rhs[system.branch_index["v1"]] = 1.0  # 1 V low-frequency signal from V1
    x = np.linalg.solve(system.G.toarray(), rhs)
    gain = x[system.node_index["a"]]
    np.testing.assert_allclose(gain, r / (r - r_source), rtol=1e-10)
    np.testing.assert_allclose(gain, amplifier_voltage_gain(p.small_signal.resistance, r_source), rtol=1e-10)
    assert p.stable is (r_source < r)


def ntype_one_port(g: float, c: float, r1: float) -> Circuit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        circ = Circuit("N one-port")
        circ.add_resistor("Rd", "a", 0, 1.0 / g)
        circ.add_capacitor("Cd", "a", 0, c)
        circ.add_resistor("R1", "a", 0, r1)
    return circ


def stype_one_port(r: float, ls: float, r1: float) -> Circuit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        circ = Circuit("S one-port")
        circ.add_inductor("Ls", "a", "x", ls)
        circ.add_resistor("Rd", "x", 0, r)
        circ.add_resistor("R1", "a", 0, r1)
    return circ


@pytest.mark.parametrize("factor", [0.3, 0.8, 0.95, 1.05, 1.5, 4.0])
def test_reflection_amplifier_gain_and_stability(factor):
    r = 58.9
    # N-type: -r ∥ 25 pF terminated by R1; S-type: -r + 10 nH terminated by R1
    n = SmallSignal("N", g=-1.0 / r, c=CD)
    s = SmallSignal("S", r=-r, ls=10e-9)
    r1 = factor * r
    for model, circuit, control in ((n, ntype_one_port(-1.0 / r, CD, r1), "N"), (s, stype_one_port(-r, 10e-9, r1), "S")):
        assert poles(circuit).stable is reflection_amplifier_stable(control, -r, r1)
        # gain at 100 MHz: closed-form |Γ|² against Z_N from an MNA port solve of the device alone
        f = 100e6
        device_only = circuit.copy()
        device_only = _without(device_only, "R1")
        z_mna = zin(device_only, "a", [f]).z[0]
        np.testing.assert_allclose(z_mna, model.impedance(2j * np.pi * f), rtol=1e-10)
        gain = reflection_gain(z_mna, r1)
        expected = ((-model.impedance(2j * np.pi * f).real + r1) ** 2 + model.impedance(2j * np.pi * f).imag ** 2) / \
            ((r1 + model.impedance(2j * np.pi * f).real) ** 2 + model.impedance(2j * np.pi * f).imag ** 2)
        np.testing.assert_allclose(gain, expected, rtol=1e-12)
        assert gain > 1.0  # a negative real part reflects more than it receives
    # the matched-reactance closed form against the general |Γ|² with Z_1 = R_1 − jX_N
    x_n = 17.0
    np.testing.assert_allclose(reflection_gain_matched(r, r1, x_n), reflection_gain(-r + 1j * x_n, r1 - 1j * x_n), rtol=1e-12)


def _without(circuit: Circuit, name: str) -> Circuit:
    out = Circuit(circuit.title)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StabkitWarning)
        for e in circuit:
            if e.name != name:
                out.add(e.__class__(name=e.name, kind=e.kind, nodes=e.nodes, values=dict(e.values)))
    return out


@pytest.mark.parametrize("factor", [0.5, 0.9, 1.1, 2.0])
def test_oscillator_conditions_agree_with_the_poles(factor):
    """Start-up (R_N + R_L < 0 at X_N + X_L = 0) and |Γ_N Γ_L| ≥ 1 hold exactly when the linearized circuit
    has an RHP pole pair; at the threshold the balance frequency is the pole's frequency."""
    base = tunnel_circuit(20.0, 1e-9)
    (p0,) = operating_points(base).points
    l_crit = 20.0 * CD * abs(p0.small_signal.resistance)
    res = operating_points(base, {"l1": factor * l_crit})
    (p,) = res.points
    cond = oscillator_conditions(device_impedance(p.small_signal), network_impedance(base, "D1", {"l1": factor * l_crit}),
                                 1e6, 1e10)
    (cand,) = cond.candidates
    assert cand.starts is (not p.stable)
    assert (cand.gamma_product >= 1.0) is cand.starts
    # the balance frequency: X_N(ω) = −ωL  ⇔  ω² = (C/L − g²)/C²
    g, l_value = p.small_signal.g, factor * l_crit
    np.testing.assert_allclose(cand.freq_hz, np.sqrt((CD / l_value - g ** 2) / CD ** 2) / (2 * np.pi), rtol=1e-8)
    np.testing.assert_allclose(cand.r_load, 20.0, rtol=1e-9)
    # at the threshold the pole sits on the jω axis at the balance frequency
    near = operating_points(base, {"l1": l_crit})
    w = np.abs(near.points[0].poles.poles_hz.imag).max()
    cond_c = oscillator_conditions(device_impedance(near.points[0].small_signal),
                                   network_impedance(base, "D1", {"l1": l_crit}), 1e6, 1e10)
    np.testing.assert_allclose(cond_c.candidates[0].freq_hz, w, rtol=1e-6)
    assert abs(cond_c.candidates[0].margin) < 1e-6 * 20.0
    np.testing.assert_allclose(cond_c.candidates[0].gamma_product, 1.0, rtol=1e-6)


def test_reflection_coefficient_identity():
    """Γ_N·Γ_L = 1 exactly when Z_N + Z_L = 0 (any real reference)."""
    zn = -30.0 + 12.0j
    for z0 in (25.0, 50.0, 75.0):
        np.testing.assert_allclose(reflection_coefficient(zn, z0) * reflection_coefficient(-zn, z0), 1.0, rtol=1e-12)


def test_plots_draw_without_computing(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    circuit = tunnel_circuit(100.0, 1e-9)
    res = operating_points(circuit, {"vs": 0.58})
    ax = res.plot(ac_resistance=50.0)
    assert len(ax.lines) >= 5
    curve_features(TUNNEL_1N3716).plot()
    sweep_regions(circuit, "vs", np.linspace(0.5, 0.65, 7)).plot()
    pole_paths(circuit, "r1", [80.0, 100.0, 120.0], {"vs": 0.58}).plot()
    region_map(circuit, "vs", [0.5, 0.58], "r1", [50.0, 100.0]).plot()
    (p,) = operating_points(tunnel_circuit(20.0, 60e-9)).points
    oscillator_conditions(device_impedance(p.small_signal), network_impedance(tunnel_circuit(20.0, 60e-9), "D1"),
                          1e6, 1e10).plot()
    plt.gcf().savefig(tmp_path / "x.png")
    plt.close("all")


def test_region_map_bias_by_load():
    """Bias × load R: bistable only where R exceeds the steepest |r| (58.9 Ω) and the bias lies between the
    tangent load lines for that R (independently computed)."""
    vs_values = np.linspace(0.3, 0.8, 11)
    r_values = np.array([20.0, 40.0, 80.0, 120.0])
    m = region_map(tunnel_circuit(100.0, 1e-9), "vs", vs_values, "r1", r_values)
    for r_value, row in zip(r_values, m.regions):
        if r_value < 58.9:
            assert "bistable" not in row
        else:
            lo, hi = tangent_biases(r_value)
            for vs, region in zip(vs_values, row):
                assert (region == "bistable") is bool(lo < vs < hi), (r_value, vs, region)
    assert m.to_dict()["regions"] == m.regions


def test_ac_load_line_sees_a_bypassed_resistor():
    """DC load line through R1 = 100 Ω; at signal frequencies an extra 50 Ω through a coupling capacitor
    also loads the device: R_ac = 100 ∥ 50 Ω."""
    c = tunnel_circuit(100.0)
    c.add_capacitor("Cc", "a", "x", 1e-6)
    c.add_resistor("R2", "x", 0, 50.0)
    res = operating_points(c, {"vs": 0.58})
    np.testing.assert_allclose(res.line.resistance, 100.0, rtol=1e-12)
    np.testing.assert_allclose(ac_load_resistance(c, "D1", 1e9), 100.0 * 50.0 / 150.0, rtol=1e-6)
    np.testing.assert_allclose(ac_load_resistance(c, "D1", 1.0), 100.0, rtol=1e-3)


@pytest.mark.parametrize("l_series", [5e-9, 60e-9])
def test_linearized_tunnel_circuit_matches_the_core_closed_form_example(l_series):
    """The operating point's small-signal circuit has the poles of stabkit.examples.ntype_series_rl built
    independently from the same g, C, R, L (and of the S-type example for a breakover device)."""
    from stabkit.examples import ntype_series_rl, stype_series_l

    circuit = tunnel_circuit(20.0, l_series)
    (p,) = operating_points(circuit).points
    ref = poles(ntype_series_rl(-p.small_signal.g, CD, 20.0, l_series))
    np.testing.assert_allclose(np.sort_complex(p.poles.poles), np.sort_complex(ref.poles), rtol=1e-9)
    # S-type: device (series ls) at its steepest point, loaded by R ∥ C from a supply
    s = Circuit("S")
    s.add_model("sd", "stype", vpk=10.0, ipk=1e-3, ron=500.0, ls=1e-6)
    v_q = 1.0 + 10.0 * 2.0 * np.exp(-1.0)  # v(2 mA) = ron·i + vpk·2·e^(−1)
    s.add_vsource("V1", "in", 0, dc=v_q + 5000.0 * 2e-3)
    s.add_resistor("R1", "in", "a", 5000.0)
    s.add_capacitor("C1", "a", 0, 50e-15)
    s.add_diode("D1", "a", 0, "sd")
    (q,) = operating_points(s).points
    ref_s = poles(stype_series_l(-q.small_signal.r, 1e-6, 5000.0, 50e-15))
    np.testing.assert_allclose(np.sort_complex(q.poles.poles), np.sort_complex(ref_s.poles), rtol=1e-9)


def two_hump_table(cd: float = 1e-12):
    """An N-type table with two NDR regions (a multi-peak device): two tunnelling humps 0.5 V apart on a
    small ohmic slope, with an exponential rise at the top."""
    from stabkit.nonlinear.curves import IVTable

    ip, vp = 4.7e-3, 0.1

    def hump(v):
        return np.where(v > 0, ip * (v / vp) * np.exp(1 - v / vp), ip * v / vp * np.e)

    v = np.linspace(0.0, 1.2, 241)
    i = hump(v) + np.where(v > 0.5, hump(v - 0.5), 0.0) + 2e-3 * v + 1e-3 * np.exp((v - 1.0) / 0.05)
    return IVTable(v, i, cd=cd)


def test_two_ndr_regions_give_five_points_and_a_multistable_circuit(tmp_path):
    table = two_hump_table()
    f = curve_features(table)
    assert len(f.ndr) == 2 and len(f.pvr) == 2
    np.testing.assert_allclose([p[0] for p in f.peaks], [0.105, 0.6], atol=5e-3)  # samples every 5 mV
    path = tmp_path / "two.csv"
    path.write_text("v,i\n" + "\n".join(f"{a:.12g},{b:.12g}" for a, b in zip(table.x, table.y)))
    c = Circuit("two-hump device")
    c.add_model("dt", "ivtable", file=str(path), cd=1e-12)
    c.add_vsource("V1", "in", 0, dc=2.45)
    c.add_resistor("R1", "in", "m", 500.0)
    c.add_inductor("L1", "m", "a", 1e-9)
    c.add_diode("D1", "a", 0, "dt")
    res = operating_points(c)
    # independent count on a fine grid
    v = np.arange(-0.2, 2.6, 1e-6)
    fgrid = v + 500.0 * table.current(v) - 2.45
    assert len(res.points) == 5 == np.count_nonzero(np.sign(fgrid[:-1]) != np.sign(fgrid[1:]))
    assert [p.stable for p in res.points] == [True, False, True, False, True]
    assert classify_points(res) == "multistable"
