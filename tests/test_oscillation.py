"""Oscillators in steady state: harmonic balance against ngspice ``.tran`` (a tunnel-diode oscillator with the card
written as B sources, a BJT Colpitts with a vendor package model, a hard-start oscillator started by a supply ramp
and by kicks), against closed forms and against its own second methods (Floquet vs Kurokawa, the one-port
describing function vs the whole circuit); regimes and exit codes of ``stabkit oscillation``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tran_reference import NGSPICE, ngspice_deck, run_tran, steady_state

from stabkit.analysis.negres import one_port_oscillator, power_sweep
from stabkit.analysis.oscillation import oscillation
from stabkit.circuit.netlist import read_netlist
from stabkit.cli import main as cli_main
from stabkit.nonlinear.curves import TUNNEL_1N3716

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "cases"
MODELS = REPO.parent / "shared" / "models"
needs_ngspice = pytest.mark.skipif(NGSPICE is None, reason="ngspice is not installed (apt-get install ngspice); "
                                                            "it is the time-domain reference here")
needs_models = pytest.mark.skipif(not (MODELS / "BFR840L3RHESD.lib").is_file(),
                                  reason=f"{MODELS} is absent: vendor model files are not shipped with stabkit")

#: the 1N3716 ``tunnel`` card as ngspice B sources (thermal, tunnelling, excess currents) and its 25 pF
TUNNEL_B = ("Bth {a} 0 I=4.7m*exp(-0.525/26m)*(exp(v({a})/26m)-1)\n"
            "Btu {a} 0 I=4.7m*(v({a})/0.1)*exp(1-v({a})/0.1)\n"
            "Bex {a} 0 I=370u*exp(v({a})-0.37)\nCd {a} 0 25p\n")
#: tolerances the issue sets against the time-domain reference
RTOL_FREQUENCY, RTOL_AMPLITUDE = 5e-3, 3e-2


def tunnel_deck() -> str:
    text = (CASES / "tunnel_osc.cir").read_text()
    body = "\n".join(ln for ln in text.splitlines() if not ln.lower().startswith((".model", "d1", ".end")))
    return body + "\n" + TUNNEL_B.format(a="a")


@pytest.fixture(scope="module")
def tunnel_osc():
    return oscillation(read_netlist(CASES / "tunnel_osc.cir"))


@pytest.fixture(scope="module")
def hard_start():
    return oscillation(read_netlist(CASES / "hard_start_osc.cir"))


# ------------------------------------------------------------------------------------------ tunnel-diode oscillator

def test_tunnel_oscillator_steady_state(tunnel_osc):
    res = tunnel_osc
    assert res.oscillates is True and res.regime == "oscillator" and res.exit_code == 0
    assert res.stable_oscillation is True and res.kurokawa > 0  # Floquet and Kurokawa agree
    assert all(abs(m) < 1 for m in res.floquet)
    (k0, f0, a0), (k1, f1, a1) = res.history[-2:]  # settled: the last two counts agree
    assert k1 > k0 and abs(f1 - f0) <= 1e-5 * f1 and abs(a1 - a0) <= 1e-4 * a1
    # KCL at the fundamental, independently of the solver: the series current through R1 (v(in) is a DC source)
    # equals the diode's current, i(v) from the card's closed form plus cd·dv/dt, on the HB waveforms
    t, va, vm = res.time_s, res.waveforms["a"], res.waveforms["m"]
    w = 2 * np.pi * res.frequency_hz
    i_diode = TUNNEL_1N3716.current(va)
    fund = 2 * np.mean(i_diode * np.exp(-1j * w * t)) + 1j * w * 25e-12 * 2 * np.mean(va * np.exp(-1j * w * t))
    i_r1 = -2 * np.mean(vm * np.exp(-1j * w * t)) / 20.0
    np.testing.assert_allclose(fund, i_r1, rtol=1e-4)


@needs_ngspice
def test_tunnel_oscillator_agrees_with_ngspice_transient(tunnel_osc):
    """ngspice .tran of the same circuit (the tunnel card as B sources), kicked off its DC point and run to steady
    state; frequency and fundamental over whole periods of the last 0.5 µs."""
    t, v = run_tran(tunnel_deck() + ".ic v(a)=0.24 v(m)=0.24\n", ["a"], 0.01e-9, 3e-6, 2.5e-6, uic=True)
    ref = steady_state(t, v["a"])
    assert ref.drift_frequency < 1e-5 and ref.drift_amplitude < 1e-3  # settled
    np.testing.assert_allclose(tunnel_osc.frequency_hz, ref.frequency_hz, rtol=RTOL_FREQUENCY)
    np.testing.assert_allclose(tunnel_osc.amplitude_v["a"], ref.amplitude, rtol=RTOL_AMPLITUDE)
    np.testing.assert_allclose(tunnel_osc.dc_v["a"], ref.mean, atol=2e-3)


def test_vendor_subcircuit_with_b_sources_oscillates_like_the_card(tunnel_osc):
    """The 1N3716 file (three B sources + 25 pF) in place of the tunnel card: the same steady state, by a
    different device path (dual-number derivatives instead of the closed form)."""
    sub = MODELS / "1N3716_tunnel.sub"
    if not sub.is_file():
        pytest.skip(f"{sub} is absent: vendor model files are not shipped with stabkit")
    text = (CASES / "tunnel_osc.cir").read_text()
    deck = "\n".join(ln for ln in text.splitlines() if not ln.lower().startswith((".model", "d1", ".end")))
    res = oscillation(read_netlist(deck + f"\n.include '{sub}'\nX1 a 0 1N3716\n.end\n"), harmonics=11)
    np.testing.assert_allclose(res.frequency_hz, tunnel_osc.frequency_hz, rtol=1e-6)
    np.testing.assert_allclose(res.amplitude_v["a"], tunnel_osc.amplitude_v["a"], rtol=1e-5)


# ------------------------------------------------------------------------------------------ BJT Colpitts (vendor model)

@pytest.fixture(scope="module")
def colpitts():
    if not (MODELS / "BFR840L3RHESD.lib").is_file():
        pytest.skip(f"{MODELS} is absent: vendor model files are not shipped with stabkit")
    return oscillation(read_netlist(CASES / "colpitts_bfr840.cir"))


def test_colpitts_with_the_vendor_package_model_oscillates(colpitts):
    assert colpitts.regime == "oscillator" and colpitts.stable_oscillation and colpitts.exit_code == 0
    assert colpitts.verdict.verdict == "unstable"  # soft start: the DC point has a right-half-plane pair
    # the emitter's mean rises in oscillation (the base-emitter junction rectifies): the DC shift is reported
    assert colpitts.dc_v["e"] - colpitts.dc_point_v["e"] > 0.01
    assert colpitts.kurokawa > 0 and max(abs(m) for m in colpitts.floquet) < 1


@needs_ngspice
@needs_models
def test_colpitts_agrees_with_ngspice_transient(colpitts):
    """The same netlist in ngspice (the vendor subcircuit as is), kicked at t = 1 ns and run 3 µs (about 700
    periods; the start-up takes about 1.5 µs); the last 0.5 µs are settled to 1e-6."""
    deck = ngspice_deck(CASES / "colpitts_bfr840.cir") + "Ik 0 e pulse(0 1m 1n 1n 1n 3n)\n"
    t, v = run_tran(deck, ["t", "e"], 0.01e-9, 3e-6, 2.5e-6)
    ref = steady_state(t, v["t"])
    assert ref.drift_frequency < 1e-5 and ref.drift_amplitude < 1e-3
    np.testing.assert_allclose(colpitts.frequency_hz, ref.frequency_hz, rtol=RTOL_FREQUENCY)
    np.testing.assert_allclose(colpitts.amplitude_v["t"], ref.amplitude, rtol=RTOL_AMPLITUDE)
    emitter = steady_state(t, v["e"], reference=v["t"])
    np.testing.assert_allclose(colpitts.amplitude_v["e"], emitter.amplitude, rtol=RTOL_AMPLITUDE)
    np.testing.assert_allclose(colpitts.dc_v["e"], emitter.mean, atol=2e-3)


# ------------------------------------------------------------------------------------------ hard start

def test_hard_start_oscillator_is_reported_with_its_threshold(hard_start):
    res = hard_start
    assert res.verdict.verdict == "stable"  # the small-signal answer alone would say "no oscillation"
    assert res.regime == "hard-start" and res.oscillates is True and res.exit_code == 0
    assert res.stable_oscillation is True
    assert any("hard start" in n for n in res.notes)
    (unstable,) = res.other_orbits  # the unstable orbit between the stable DC point and the oscillation
    assert unstable["stable"] is False and unstable["probe_amplitude_v"] < 0.1 * res.amplitude_v["c"]


@needs_ngspice
def test_hard_start_supply_ramp_reaches_the_coexisting_oscillation(hard_start):
    """VCC ramped from 0 in 0.5 µs (half a period) rings the tank beyond the threshold: ngspice settles on the
    orbit harmonic balance reports."""
    deck = ngspice_deck(CASES / "hard_start_osc.cir").replace("VCC vcc 0 dc {vcc}", "VCC vcc 0 pwl(0 0 0.5u {vcc})")
    t, v = run_tran(deck, ["c"], 1e-9, 300e-6, 270e-6)
    ref = steady_state(t, v["c"])
    assert ref.drift_frequency < 1e-5 and ref.drift_amplitude < 1e-3
    np.testing.assert_allclose(hard_start.frequency_hz, ref.frequency_hz, rtol=RTOL_FREQUENCY)
    np.testing.assert_allclose(hard_start.amplitude_v["c"], ref.amplitude, rtol=RTOL_AMPLITUDE)


@needs_ngspice
@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_hard_start_kicks_below_the_threshold_die_and_above_it_grow(hard_start, factor):
    """From the DC point with the supply on, a 50 ns current pulse puts ``factor`` times the unstable orbit's
    amplitude on the tank capacitor: below the threshold the oscillation dies, above it the circuit goes to the
    stable orbit."""
    threshold = hard_start.other_orbits[0]["probe_amplitude_v"]
    charge = factor * threshold * 2.53e-9
    deck = ngspice_deck(CASES / "hard_start_osc.cir") + f"Ik 0 c pulse(0 {charge / 50e-9:g} 1u 1n 1n 50n 1)\n"
    t, v = run_tran(deck, ["c"], 2e-9, 300e-6, 0.0)
    c = v["c"]
    early = np.ptp(c[(t > 2e-6) & (t < 4e-6)]) / 2
    late = np.ptp(c[t > 290e-6]) / 2
    np.testing.assert_allclose(early, factor * threshold, rtol=0.1)  # the kick landed where it was aimed
    if factor < 1:
        assert late < 0.5 * early
    else:
        np.testing.assert_allclose(steady_state(t[t > 250e-6], c[t > 250e-6]).amplitude, hard_start.amplitude_v["c"],
                                   rtol=RTOL_AMPLITUDE)


def test_floquet_and_kurokawa_agree_on_both_hard_start_orbits(hard_start):
    """The stable orbit: Kurokawa's number > 0 and all multipliers inside the unit circle. The unstable one:
    ``G(A)`` crosses zero downwards there (the probe sweep), so Kurokawa's number is negative."""
    assert hard_start.kurokawa > 0 and max(abs(m) for m in hard_start.floquet) < 1
    a_unstable = hard_start.other_orbits[0]["probe_amplitude_v"]
    sweep = np.array(hard_start.sweep)
    k = np.flatnonzero(np.diff(np.sign(sweep[:, 2])))
    crossing = [j for j in k if sweep[j, 0] <= a_unstable <= sweep[j + 1, 0]]
    assert crossing and sweep[crossing[0], 2] > 0 > sweep[crossing[0] + 1, 2]


# ------------------------------------------------------------------------------------------ regimes and exit codes

def _ntype_poles(rneg=58.9, cj=25e-12, rser=30.0, lser=60e-9) -> np.ndarray:
    """Closed form: −g ∥ C fed through R + L: s²LC + s(RC − L/r) + (1 − R/r) = 0."""
    return np.roots([lser * cj, rser * cj - lser / rneg, 1 - rser / rneg])


@pytest.mark.parametrize("args, code, oscillates, regime", [
    (["tunnel_osc.cir"], 0, True, "oscillator"),
    (["hard_start_osc.cir"], 0, True, "hard-start"),
    (["tunnel_amp.cir"], 0, False, "none"),
    (["tunnel_bistable.cir"], 0, False, "bistable"),
    (["stype_relaxation.cir"], 0, True, "relaxation"),
    (["ntype_smallsignal.cir"], 0, False, "linear"),
    (["ntype_smallsignal.cir", "--set", "lser=60n"], 3, True, "unbounded"),
    (["tunnel_osc.cir", "--harmonics", "3"], 3, True, "oscillator"),
])
def test_cli_oscillation_regimes_and_exit_codes(args, code, oscillates, regime, capsys):
    got = cli_main(["oscillation", str(CASES / args[0]), *args[1:], "--json"])
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert (got, data["oscillates"], data["regime"]) == (code, oscillates, regime)
    assert set(data) >= {"oscillates", "frequency_hz", "amplitude_v", "dc_v", "harmonics", "stable_oscillation"}
    assert (code == 3) == ("uncertain" in out.err) == (not data["certain"])
    if regime == "relaxation":  # it oscillates, but harmonic balance invents no sinusoid
        assert data["frequency_hz"] is None and data["amplitude_v"] == {}
    if regime == "unbounded":  # the growing mode's frequency, from the closed-form poles; no amplitude
        p = _ntype_poles()
        np.testing.assert_allclose(data["frequency_hz"], abs(p[p.real > 0][0].imag) / (2 * np.pi), rtol=1e-9)
        assert data["amplitude_v"] == {} and "grows without bound" in out.err


def test_fixed_harmonics_are_judged_by_their_highest_harmonic(tunnel_osc):
    """``--harmonics K``: certain iff harmonic K is below 1e-4 of the fundamental at every node. With 3 the
    answer is flagged; with 23 it is certain and equals the settled answer."""
    few = oscillation(read_netlist(CASES / "tunnel_osc.cir"), harmonics=3)
    top = max(h[-1] / h[0] for h in few.harmonic_v.values() if h[0] > 0)
    assert top > 1e-4 and few.exit_code == 3 and "harmonic 3" in few.reasons[0]
    many = oscillation(read_netlist(CASES / "tunnel_osc.cir"), harmonics=23)
    assert max(h[-1] / max(h[0], 1e-300) for h in many.harmonic_v.values() if h[0] > 0) <= 1e-4
    assert many.exit_code == 0 and many.harmonics == 23
    np.testing.assert_allclose(many.frequency_hz, tunnel_osc.frequency_hz, rtol=1e-5)
    np.testing.assert_allclose(many.amplitude_v["a"], tunnel_osc.amplitude_v["a"], rtol=1e-4)


def test_cli_oscillation_bad_input(capsys, tmp_path):
    assert cli_main(["oscillation", str(tmp_path / "nope.cir")]) == 2
    assert cli_main(["oscillation", str(CASES / "tunnel_osc.cir"), "--harmonics", "0"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "harmonics" in err


def test_result_plots(tunnel_osc):
    import matplotlib

    matplotlib.use("Agg")
    fig = tunnel_osc.plot()
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3  # v(in), v(m), v(a)


# ------------------------------------------------------------------------------------------ the one-port view

@pytest.fixture(scope="module")
def one_port():
    return one_port_oscillator(read_netlist(CASES / "tunnel_osc.cir"))


def test_describing_function_against_a_direct_fourier_integral():
    """G_N(A), C_N(A) and the DC bias from one-harmonic HB against the Fourier integral of the card's closed form,
    the bias solved on the load line by hand: V0 + R1·I_dc(V0, A) = 0.3 V."""
    from scipy.integrate import quad
    from scipy.optimize import brentq

    amplitudes = (0.01, 0.1, 0.2)
    got = one_port_oscillator(read_netlist(CASES / "tunnel_osc.cir"), amplitudes=amplitudes)

    def harmonic(v0, a, m):
        return quad(lambda th: TUNNEL_1N3716.current(v0 + a * np.cos(th)) * np.cos(m * th), 0, 2 * np.pi,
                    epsabs=1e-16, limit=200)[0] / np.pi

    for k, a in enumerate(amplitudes):
        v0 = brentq(lambda v: v + 20.0 * harmonic(v, a, 0) / 2 - 0.30, 0.0, 0.3, xtol=1e-15)
        np.testing.assert_allclose(got.dc_v[k], v0, atol=1e-9)
        np.testing.assert_allclose(got.conductance[k], harmonic(v0, a, 1) / a, rtol=1e-6)
        np.testing.assert_allclose(got.capacitance[k], 25e-12, rtol=1e-9)  # the card's cd, linear


def test_one_port_intersection_is_near_the_whole_circuit_steady_state(one_port, tunnel_osc):
    """−Z_N(A) meets Z_L(f) where the whole-circuit harmonic balance puts the oscillation, up to what the one-port
    view leaves out (the harmonics: 2.6 % at the diode)."""
    assert one_port.amplitude is not None
    np.testing.assert_allclose(one_port.frequency_hz, tunnel_osc.frequency_hz, rtol=1e-2)
    np.testing.assert_allclose(one_port.amplitude, tunnel_osc.amplitude_v["a"], rtol=3e-2)
    # at the intersection: R_N + R_L = 0 and X_N + X_L = 0 (the load: 20 Ω + jωL, L = 40 nH)
    z_n = complex(one_port.z_device(one_port.amplitude, one_port.frequency_hz))
    np.testing.assert_allclose([z_n.real, z_n.imag], [-20.0, -2 * np.pi * one_port.frequency_hz * 40e-9], rtol=1e-3)
    import matplotlib

    matplotlib.use("Agg")
    ax = one_port.plot()
    assert len(ax.lines) >= 3


def test_output_power_optimum_against_the_r_over_3_rule(one_port):
    """Sweep the load R1 (the bias held by re-solving vs) and find the power maximum by whole-circuit harmonic
    balance; compare with |r|/3 and with the optimum the one-port describing function predicts. The tunnel
    diode's negative resistance stays nearly constant until the swing reaches the peak and valley, then falls
    steeply (R_N ∝ −(1 − (I/I_max)^n) with n ≈ 4.7), so the optimum sits near 0.7·|r|, not at |r|/3, which assumes
    a negative resistance falling linearly with the current amplitude (n = 1)."""
    c = read_netlist(CASES / "tunnel_osc.cir")
    ps = power_sweep(c, "R1", [4, 8, 10, 12, 13, 14, 15, 16, 18, 20], hold="vs")
    assert np.all(np.isfinite(ps.power_w))
    assert 0.6 * ps.small_signal_r < ps.optimum_ohm < 0.8 * ps.small_signal_r
    assert ps.optimum_ohm > 1.8 * ps.rule_ohm  # the rule of thumb is off by more than a factor of two here
    # second method: maximise ½·I²·R_L with R_L = −R_N(I) on the describing function at the optimum's frequency
    f = float(np.interp(ps.optimum_ohm, ps.values, ps.frequency_hz))
    z = one_port.z_device(one_port.amplitudes, f)
    current = one_port.amplitudes / np.abs(z)
    power = 0.5 * current ** 2 * np.maximum(-z.real, 0.0)
    r_opt = float(-z.real[np.argmax(power)])
    np.testing.assert_allclose(ps.optimum_ohm, r_opt, rtol=0.1)
    np.testing.assert_allclose(ps.small_signal_r, -float(z.real[0]), rtol=1e-3)


def test_hard_start_search_range_decides_what_is_excluded():
    """Searched only up to 50 mV, the hard-start oscillator shows no orbit (the unstable one is at 0.12 V): 'none'
    is a statement about the amplitudes searched, and the note says which."""
    res = oscillation(read_netlist(CASES / "hard_start_osc.cir"), amplitudes=(1e-4, 0.05))
    assert (res.regime, res.oscillates, res.exit_code) == ("none", False, 0)
    assert "0.05 V" in res.notes[0] and max(a for a, _, _ in res.sweep) == pytest.approx(0.05)


@needs_models
def test_a_sweep_that_stops_short_is_undecided():
    """The Linvill NIC's least-damped mode is a 100 GHz package resonance; harmonic balance stops converging there
    below 1 V, far short of the 21 V the search was to reach: larger orbits are not excluded, so exit 3."""
    res = oscillation(read_netlist(CASES / "linvill_bfr840_collector.cir"))  # the collector-port NIC
    assert res.verdict.verdict == "stable"
    assert (res.regime, res.oscillates, res.exit_code) == ("undecided", None, 3)
    assert "not excluded" in res.reasons[0] and res.sweep[-1][0] < 21.0
