"""The oscillator cases against ngspice, and the figures of docs/oscillation.md and docs/cases/*.md.

Run from the repository root: ``python scripts/oscillators.py`` (needs ngspice and ``../shared/models``). It prints
harmonic balance beside ngspice ``.tran`` for ``cases/tunnel_osc.cir``, ``cases/colpitts_bfr840.cir`` and
``cases/hard_start_osc.cir`` (with timings), the one-port view and the output-power sweep of the tunnel-diode
oscillator, and writes the figures to ``docs/cases/img/``. ``tests/test_oscillation.py`` asserts the same
comparisons with the issue's tolerances (frequency 0.5 %, fundamental 3 %).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
IMG = ROOT / "docs" / "cases" / "img"

from tran_reference import ngspice_deck, run_tran, steady_state  # noqa: E402

from stabkit.analysis.negres import one_port_oscillator, power_sweep  # noqa: E402
from stabkit.analysis.oscillation import oscillation  # noqa: E402
from stabkit.circuit.netlist import read_netlist  # noqa: E402

TUNNEL_B = ("Bth a 0 I=4.7m*exp(-0.525/26m)*(exp(v(a)/26m)-1)\nBtu a 0 I=4.7m*(v(a)/0.1)*exp(1-v(a)/0.1)\n"
            "Bex a 0 I=370u*exp(v(a)-0.37)\nCd a 0 25p\n")


def compare(name: str, node: str, deck: str, tstep: float, tstop: float, tstart: float, uic: bool = False):
    t0 = time.perf_counter()
    res = oscillation(read_netlist(ROOT / "cases" / name))
    t_hb = time.perf_counter() - t0
    t0 = time.perf_counter()
    t, v = run_tran(deck, [node], tstep, tstop, tstart, uic=uic)
    t_sp = time.perf_counter() - t0
    ref = steady_state(t, v[node])
    print(f"{name}: {res.regime}, {res.harmonics} harmonics; node {node}")
    print(f"  harmonic balance  {res.frequency_hz / 1e6:12.6f} MHz  {res.amplitude_v[node] * 1e3:10.4f} mV peak  "
          f"({t_hb:.1f} s)")
    print(f"  ngspice .tran     {ref.frequency_hz / 1e6:12.6f} MHz  {ref.amplitude * 1e3:10.4f} mV peak  ({t_sp:.1f} s, "
          f"{ref.periods} periods, drift {ref.drift_frequency:.1e} / {ref.drift_amplitude:.1e})")
    print(f"  relative error    {res.frequency_hz / ref.frequency_hz - 1:+.2e}      "
          f"{res.amplitude_v[node] / ref.amplitude - 1:+.2e}")
    return res


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    IMG.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "cases" / "tunnel_osc.cir").read_text()
    body = "\n".join(ln for ln in text.splitlines() if not ln.lower().startswith((".model", "d1", ".end")))
    compare("tunnel_osc.cir", "a", body + "\n" + TUNNEL_B + ".ic v(a)=0.24 v(m)=0.24\n", 0.01e-9, 3e-6, 2.5e-6, uic=True)
    colpitts = compare("colpitts_bfr840.cir", "t",
                       ngspice_deck(ROOT / "cases" / "colpitts_bfr840.cir") + "Ik 0 e pulse(0 1m 1n 1n 1n 3n)\n",
                       0.01e-9, 3e-6, 2.5e-6)
    fig = colpitts.plot()
    fig.savefig(IMG / "colpitts_bfr840_steady_state.png", dpi=110)
    deck = ngspice_deck(ROOT / "cases" / "hard_start_osc.cir").replace("VCC vcc 0 dc {vcc}",
                                                                       "VCC vcc 0 pwl(0 0 0.5u {vcc})")
    hard = compare("hard_start_osc.cir", "c", deck, 1e-9, 300e-6, 270e-6)
    print(f"  unstable orbit (start threshold): {hard.other_orbits[0]['probe_amplitude_v'] * 1e3:.2f} mV at "
          f"{hard.other_orbits[0]['frequency_hz'] / 1e3:.2f} kHz")
    ax = hard.plot_sweep()
    ax.figure.savefig(IMG / "hard_start_osc_sweep.png", dpi=110, bbox_inches="tight")

    circuit = read_netlist(ROOT / "cases" / "tunnel_osc.cir")
    one = one_port_oscillator(circuit)
    print(f"one-port view: A = {one.amplitude * 1e3:.2f} mV, f = {one.frequency_hz / 1e6:.3f} MHz, "
          f"R_N(0, f) = {one.small_signal_r:.2f} Ω")
    ax = one.plot()
    ax.figure.savefig(IMG / "tunnel_osc_one_port.png", dpi=110, bbox_inches="tight")
    ps = power_sweep(circuit, "R1", [2, 4, 6, 8, 10, 12, 13, 14, 15, 16, 18, 20, 22], hold="vs")
    print(f"power sweep: maximum {np.nanmax(ps.power_w) * 1e6:.1f} µW at R1 = {ps.optimum_ohm:.2f} Ω; "
          f"|r| = {ps.small_signal_r:.2f} Ω, |r|/3 = {ps.rule_ohm:.2f} Ω, implied exponent n = {ps.exponent:.2f}")
    for r, p, f in zip(ps.values, ps.power_w, ps.frequency_hz):
        print(f"  R1 = {r:5.1f} Ω  {p * 1e6:7.2f} µW  {f / 1e6:8.3f} MHz")
    ax = ps.plot()
    ax.figure.savefig(IMG / "tunnel_osc_power.png", dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
