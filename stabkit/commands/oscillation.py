"""``stabkit oscillation NET``: does the circuit oscillate, at which frequency and amplitude, and does it hold?"""

from __future__ import annotations

import argparse
import sys

from stabkit.commands.common import add_common, emit_json, load_circuit, print_warnings, table
from stabkit.units import format_eng

__all__ = ["register", "run"]

EPILOG = """\
This command answers a question ("does it oscillate, and how?"), not a stability verdict. It starts from the
small-signal verdict (the same as `stabkit poles`/`oppoints`) and then solves the periodic steady state of the
whole circuit by harmonic balance: from an unstable DC point at the unstable pole's frequency (soft start); from a
stable one it searches large amplitudes too (hard start: a supply ramp or a kick can start an oscillation that the
small-signal verdict does not see). The number of harmonics is raised (5, 11, 23, 47, 95) until frequency and
amplitude stop changing, or set with --harmonics. Stability of the oscillation: Floquet multipliers (Hill's
method), cross-checked with Kurokawa's condition.

regime (JSON "regime")  oscillates  exit
  oscillator             true        0   unstable DC point, stable orbit: frequency, amplitudes, harmonics
  hard-start             true        0   stable DC point AND a coexisting stable orbit (needs a ramp or a kick)
  relaxation             true        0   unstable DC point, no near-sinusoidal orbit: frequency/amplitude null
  none                   false       0   no periodic orbit (soft or hard) over the whole amplitude sweep
  bistable               false       0   two or more stable DC points (a switch)
  linear                 false       0   a stable linear circuit
  unbounded              true/false  3   an unstable LINEAR circuit: the amplitude grows without bound
  undecided              null        3   harmonic balance could not decide (no convergence from an unstable
                                         DC point, an amplitude sweep that stopped short of its range, an
                                         orbit on the edge of stability)
In any regime the exit is 3 when the numbers are not trustworthy: harmonics that did not settle by 95, or
--harmonics K with harmonic K not below 1e-4 of the fundamental at some node. Exit 3 always prints its reason
on stderr; bad input exits 2.

examples:
  stabkit oscillation cases/tunnel_osc.cir
  stabkit oscillation cases/tunnel_osc.cir --harmonics 15 --json
  stabkit oscillation cases/tunnel_osc.cir --set ls=20n
"""


def register(sub) -> None:
    p = sub.add_parser("oscillation", help="periodic steady state: oscillation frequency, amplitude, stability",
                       description="Harmonic balance on the whole circuit: does it oscillate, at which frequency "
                                   "and amplitude (fundamental peak and DC at every node), with which harmonics, and "
                                   "is the oscillation stable (Floquet / Kurokawa)?",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist with nonlinear devices (D, Q, B)")
    p.add_argument("--harmonics", type=_harmonics, metavar="K",
                   help="use exactly K harmonics (default: raised until the answer stops changing)")
    add_common(p)
    p.set_defaults(func=run)


def _harmonics(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= k <= 200:
        raise argparse.ArgumentTypeError(f"expected 1..200 harmonics, got {k}")
    return k


def run(args) -> int:
    from stabkit.analysis.oscillation import oscillation

    circuit = load_circuit(args.netlist, args.set)
    res = oscillation(circuit, harmonics=args.harmonics)
    if args.json:
        emit_json(res.to_dict())
    else:
        print(circuit.summary())
        print(f"small-signal verdict: {res.verdict.summary()}")
        if res.amplitude_v:
            shown = [node for node in res.amplitude_v if "." not in node]  # subcircuit-internal nodes: JSON only
            rows = [[node, format_eng(res.amplitude_v[node], "V"), format_eng(res.dc_v[node], "V"),
                     format_eng(res.dc_point_v.get(node, float("nan")), "V"), f"{_thd(res.harmonic_v[node]):.3g} %"]
                    for node in shown]
            print(table(rows, ["node", "fundamental (peak)", "DC in oscillation", "DC point", "harmonics / fund."]))
            if len(shown) < len(res.amplitude_v):
                print(f"({len(res.amplitude_v) - len(shown)} subcircuit-internal nodes in the JSON output)")
            if res.floquet:
                print("Floquet multipliers, largest: " + ", ".join(f"{abs(m):.6g}" for m in res.floquet[:4])
                      + (" ..." if len(res.floquet) > 4 else "") + " (|μ|; stable iff all < 1)")
            print(f"harmonics: {res.harmonics} ("
                  + ", ".join(f"K={k}: {format_eng(f, 'Hz')}" for k, f, _ in res.history) + ")")
        for other in res.other_orbits:
            held = {True: "stable", False: "unstable", None: "of undecided stability"}[other["stable"]]
            print(f"note: another periodic orbit at {format_eng(other['frequency_hz'], 'Hz')}, "
                  f"{format_eng(other['probe_amplitude_v'], 'V')} at node {res.probe}: {held}")
        for note in res.notes:
            print(f"note: {note}")
        print(res.summary())
        print_warnings(res.verdict.warnings)
    if res.reasons:
        print(f"stabkit: uncertain: {res.reasons[0]}", file=sys.stderr)
    return res.exit_code


def _thd(amps: list[float]) -> float:
    if not amps or amps[0] == 0:
        return 0.0
    return 100.0 * (sum(a * a for a in amps[1:]) ** 0.5) / amps[0]
