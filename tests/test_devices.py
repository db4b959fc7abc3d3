"""NDR device curves and model cards: tunnel card (1N3716), analytic S-type, PCHIP tables, classification."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from stabkit.nonlinear.curves import (
    TUNNEL_1N3716, BreakoverDevice, IVTable, TunnelDiode, VITable, breakover_resistance, breakover_voltage,
    classify_curve, curve_features, device_from_model, ndr_intervals, read_curve_csv, tunnel_conductance,
    tunnel_current,
)
from stabkit.errors import CircuitError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SUB_1N3716 = SHARED / "models" / "1N3716_tunnel.sub"

THYRISTOR_LIKE = BreakoverDevice(vpk=10.0, ipk=1e-3, ron=500.0, ls=10e-9)


def test_1n3716_card_matches_the_shared_subcircuit():
    """The shipped card parameters are the .Param values of ../shared/models/1N3716_tunnel.sub."""
    if not SUB_1N3716.exists():
        pytest.skip(f"{SUB_1N3716} not present (the shared model folder sits beside the repository)")
    text = SUB_1N3716.read_text()
    line = next(ln for ln in text.splitlines() if ln.strip().lower().startswith(".param"))
    pairs = dict(re.findall(r"(\w+)\s*=\s*([\d.]+\w*)", line))
    from stabkit.units import parse_value

    values = {k.lower(): parse_value(v.rstrip("VvAa") if v[-1] in "VvAa" and v[-2].isalpha() else v)
              for k, v in pairs.items()}
    cd = parse_value(re.search(r"^\s*Cd\s+\S+\s+\S+\s+(\S+)", text, re.M | re.I).group(1))
    card = TUNNEL_1N3716.card()
    for key in ("ip", "vp", "iv", "vv", "vpp", "vt"):
        np.testing.assert_allclose(card[key], values[key], rtol=1e-12, err_msg=key)
    np.testing.assert_allclose(card["cd"], cd, rtol=1e-12)
    # the three B-source expressions have the card's form (same names, same structure)
    body = text.lower().replace(" ", "")
    assert "i=ip*exp(-vpp/vt)*(exp(v(1,2)/vt)-1)" in body
    assert "i=ip*(v(1,2)/vp)*exp(1-v(1,2)/vp)" in body
    assert "i=iv*exp(v(1,2)-vv)" in body


def test_1n3716_peak_valley_and_steepest_slope():
    """Figures quoted with the shared model: peak ≈ 4.98 mA @ 0.101 V, valley ≈ 1.26 mA @ 0.433 V,
    steepest slope ≈ −58.9 Ω @ 0.200 V."""
    f = curve_features(TUNNEL_1N3716)
    assert f.control == "N" and len(f.ndr) == 1
    (vp, ip), = f.peaks
    (vv, iv), = f.valleys
    (vs, _, rs), = f.steepest
    np.testing.assert_allclose([ip, iv], [4.98e-3, 1.26e-3], rtol=2e-3)
    np.testing.assert_allclose([vp, vv, vs], [0.101, 0.433, 0.200], atol=1e-3)
    np.testing.assert_allclose(rs, -58.9, atol=0.05)
    np.testing.assert_allclose(f.pvr[0], ip / iv, rtol=1e-12)
    # independent: brute-force extrema of the raw card formula on a fine grid
    v = np.linspace(0.0, 0.6, 600001)
    i = tunnel_current(v, **{k: TUNNEL_1N3716.card()[k] for k in ("ip", "vp", "iv", "vv", "vpp", "vt")})
    k_peak = int(np.argmax(np.where(v < 0.25, i, -np.inf)))
    k_valley = int(np.argmin(np.where(v > 0.25, i, np.inf)))
    np.testing.assert_allclose([v[k_peak], i[k_peak]], [vp, ip], rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose([v[k_valley], i[k_valley]], [vv, iv], rtol=1e-5, atol=2e-6)
    g = np.gradient(i, v)
    np.testing.assert_allclose(1.0 / g.min(), rs, rtol=1e-5)


@pytest.mark.parametrize("v0", [-0.1, 0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6])
def test_tunnel_conductance_is_the_derivative(v0):
    p = {k: TUNNEL_1N3716.card()[k] for k in ("ip", "vp", "iv", "vv", "vpp", "vt")}
    h = 1e-6
    numeric = (tunnel_current(v0 + h, **p) - tunnel_current(v0 - h, **p)) / (2 * h)
    np.testing.assert_allclose(tunnel_conductance(v0, **p), numeric, rtol=1e-7, atol=1e-10)


def test_tunnel_window_contains_all_ndr_and_area_scales():
    lo, hi = TUNNEL_1N3716.window()
    v = np.linspace(-1.0, 3.0, 400001)
    g = TUNNEL_1N3716.conductance(v)
    assert np.all(g[(v < lo) | (v > hi)] > 0)
    big = TunnelDiode(**TUNNEL_1N3716.card(), area=2.0)
    np.testing.assert_allclose(big.current(v[::1000]), 2 * TUNNEL_1N3716.current(v[::1000]), rtol=1e-14)
    assert big.capacitance == pytest.approx(50e-12)


def test_breakover_device_closed_forms():
    d = THYRISTOR_LIKE
    h = 1e-9
    i0 = np.linspace(-1e-3, 8e-3, 13)
    np.testing.assert_allclose(d.resistance(i0), (d.voltage(i0 + h) - d.voltage(i0 - h)) / (2 * h), rtol=1e-6)
    f = curve_features(d)
    assert f.control == "S" and len(f.ndr) == 1
    (v_pk, i_pk), = f.peaks
    # closed form: dv/di = 0 where ron + (vpk/ipk)(1 − x)e^(1−x) = 0; the NDR ends where the window does
    lo, hi = d.window()
    np.testing.assert_allclose(f.ndr[0][1], hi, rtol=1e-9)
    np.testing.assert_allclose(breakover_resistance(np.array(f.ndr[0]), d.vpk, d.ipk, d.ron), 0.0, atol=1e-6)
    np.testing.assert_allclose(v_pk, breakover_voltage(i_pk, d.vpk, d.ipk, d.ron), rtol=1e-12)
    # the steepest point is at x = 2 exactly: r = ron − vpk/(e·ipk)
    (_, i_s, r_s), = f.steepest
    np.testing.assert_allclose([i_s, r_s], [2 * d.ipk, d.ron - d.vpk / (math.e * d.ipk)], rtol=1e-6)
    # an NDR region exists iff ron < vpk/(e·ipk)
    assert curve_features(BreakoverDevice(vpk=10.0, ipk=1e-3, ron=0.99 * 10 / (math.e * 1e-3))).ndr
    assert not curve_features(BreakoverDevice(vpk=10.0, ipk=1e-3, ron=1.01 * 10 / (math.e * 1e-3))).ndr


@pytest.mark.parametrize(
    "name, v, i, expected",
    [
        ("tunnel", *TUNNEL_1N3716.curve(np.linspace(-0.1, 0.6, 300)), "N"),
        ("breakover", *THYRISTOR_LIKE.curve(np.linspace(0.0, 8e-3, 300)), "S"),
        ("breakover reversed", *[a[::-1] for a in THYRISTOR_LIKE.curve(np.linspace(0.0, 8e-3, 300))], "S"),
        ("resistor", np.linspace(-1, 1, 11), np.linspace(-1, 1, 11) / 50, "positive"),
        ("NIC", np.linspace(-1, 1, 11), -np.linspace(-1, 1, 11) / 50, "negative"),
        ("loop", np.cos(np.linspace(0, 6, 50)), np.sin(np.linspace(0, 6, 50)), "neither"),
    ],
)
def test_classify_curve(name, v, i, expected):
    assert classify_curve(v, i) == expected


def test_ndr_intervals_on_a_sampled_cubic():
    x = np.linspace(-2, 2, 4001)
    slope = 3 * x ** 2 - 1  # d/dx (x³ − x): negative on (−1/√3, 1/√3)
    (lo, hi), = ndr_intervals(x, slope)
    np.testing.assert_allclose([lo, hi], [-1 / np.sqrt(3), 1 / np.sqrt(3)], atol=1e-6)


def test_iv_table_reproduces_the_analytic_curve(tmp_path):
    v = np.linspace(-0.05, 0.65, 141)
    i = TUNNEL_1N3716.current(v)
    path = tmp_path / "td.csv"
    path.write_text("v [V],i [A]\n" + "\n".join(f"{a:.9g},{b:.9g}" for a, b in zip(v, i)))
    table = IVTable.from_csv(path, cd=25e-12)
    fa, ft = curve_features(TUNNEL_1N3716), curve_features(table)
    # PCHIP puts extrema on samples: the location within one sample step (5 mV), the current to 0.1 %
    step = v[1] - v[0]
    for got, want in ((ft.peaks[0], fa.peaks[0]), (ft.valleys[0], fa.valleys[0])):
        np.testing.assert_allclose(got[0], want[0], atol=step)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-3)
    # PCHIP is monotone between samples: no overshoot beyond neighbouring samples
    fine = np.linspace(v[0], v[-1], 20001)
    k = np.clip(np.searchsorted(v, fine) - 1, 0, v.size - 2)
    y = table.current(fine)
    i = table.y  # the samples as read back from the CSV
    assert np.all(y <= np.maximum(i[k], i[k + 1]) + 1e-15) and np.all(y >= np.minimum(i[k], i[k + 1]) - 1e-15)
    # linear continuation beyond the table with the end slope
    np.testing.assert_allclose(table.current(0.7), i[-1] + table.conductance(0.65) * 0.05, rtol=1e-12)


def test_vi_table_is_s_type(tmp_path):
    cur = np.linspace(0.0, 8e-3, 161)
    volt = THYRISTOR_LIKE.voltage(cur)
    path = tmp_path / "s.csv"
    path.write_text("i,v\n" + "\n".join(f"{b:.9g},{a:.9g}" for a, b in zip(volt, cur)))
    v, i = read_curve_csv(path)
    np.testing.assert_allclose(v, volt, rtol=1e-8)
    table = VITable.from_csv(path, ls=10e-9)
    assert table.control == "S" and table.ls == 10e-9
    ft, fa = curve_features(table), curve_features(THYRISTOR_LIKE)
    step = cur[1] - cur[0]
    for got, want in ((ft.peaks[0], fa.peaks[0]), (ft.valleys[0], fa.valleys[0])):
        np.testing.assert_allclose(got[1], want[1], atol=step)  # current: within one sample step
        np.testing.assert_allclose(got[0], want[0], rtol=1e-3)  # voltage at the extremum


@pytest.mark.parametrize(
    "content, message",
    [
        ("v,i\n0,0\n0.1,1\n0.1,2\n", "strictly increasing"),
        ("v,i\n0,0\n0.1,1\n0.2,0.5\n", "rising branches"),
        ("v,i\n0,0\n0.1,abc\n", ":3: expected two numbers"),
        ("x,y\n0,0\n", ":1: header"),
        ("v,i\n0,0,1\n", ":2: expected two columns"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CircuitError, match=re.escape(message)):
        IVTable.from_csv(path)


def test_device_from_model_cards():
    d = device_from_model("TUNNEL", dict(ip=4.7e-3, vp=0.1, iv=370e-6, vv=0.37, vpp=0.525, vt=0.026, cd=25e-12), area=1.0)
    np.testing.assert_allclose(d.current(0.2), TUNNEL_1N3716.current(0.2), rtol=1e-15)
    s = device_from_model("stype", dict(vpk=10, ipk=1e-3, ron=500, ls=1e-8))
    assert isinstance(s, BreakoverDevice) and s.ls == 1e-8
    with pytest.raises(CircuitError, match="unknown parameter 'is'"):
        device_from_model("tunnel", dict(ip=1e-3, vp=0.1, iv=1e-4, vv=0.4, vpp=0.5, IS=1))
    with pytest.raises(CircuitError, match="vpp= is required"):
        device_from_model("tunnel", dict(ip=1e-3, vp=0.1, iv=1e-4, vv=0.4))
    with pytest.raises(CircuitError, match="not a two-terminal NDR"):
        device_from_model("npn", {})
