"""MOSFET circuits: time per operating point (native level 1, and through ngspice) and agreement with ngspice
(prints its figures; not a test). Needs ngspice for the second half.

    PYTHONPATH=. python bench/bench_mosfet.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stabkit import ngspice  # noqa: E402
from stabkit.analysis.points import linear_points  # noqa: E402
from stabkit.analysis.ports import zin  # noqa: E402
from stabkit.analysis.verdict import decide  # noqa: E402
from stabkit.circuit.netlist import read_netlist  # noqa: E402
from tests.test_mosfet import CASES_LEVEL1, CASES_NGSPICE, TIGHT, bench  # noqa: E402
from tests.test_mosfet_circuits import CROSS_COUPLED, LNA, OPAMP  # noqa: E402

CIRCUITS = {"Miller op-amp follower, Cc = 3 pF (level 1)": OPAMP.format(compensation="CC y out 3p"),
            "Miller op-amp follower, no Cc (level 1)": OPAMP.format(compensation=""),
            "cross-coupled LC oscillator (BSIM4)": CROSS_COUPLED,
            "common-gate LNA (BSIM4)": LNA,
            "CMOS negative-capacitance converter (level 1)": (REPO / "cases" / "cmos_nic.cir").read_text()}


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def worst_impedance_error(text: str, nodes) -> float:
    lin = linear_points(read_netlist(text))[0].circuit
    freqs = np.logspace(3, 10, 8)
    worst = 0.0
    for node in nodes:
        ours = zin(lin, node, freqs).z
        theirs = ngspice.ac_vector(text.replace(".end", f"IPROBE 0 {node} DC 0 AC 1\n{TIGHT}\n.end"), freqs,
                                   f"v({node})")
        worst = max(worst, float(np.max(np.abs(ours / theirs - 1))))
    return worst


def main() -> None:
    print("operating point + linearization, best of 3:")
    for name, text in CIRCUITS.items():
        circuit = read_netlist(text)
        path = "ngspice" if "BSIM4" in name else "native"
        if path == "ngspice" and not ngspice.available():
            print(f"  {name:50s} skipped: ngspice is not installed")
            continue
        seconds, points = timed(lambda: linear_points(circuit))
        verdict = decide(circuit)
        p = verdict.points[0].poles.poles
        p = p[np.isfinite(p)]
        right = p[np.argmax(p.real)] / (2 * np.pi)
        print(f"  {name:50s} {seconds * 1e3:7.1f} ms  {verdict.verdict:9s} rightmost {right.real:+.4g} "
              f"{abs(right.imag):.4g}j Hz")
    if not ngspice.available():
        print("ngspice is not installed: no comparison")
        return
    print("largest relative port-impedance difference from ngspice .ac (1 kHz .. 10 GHz, every terminal):")
    for label, cases in (("native level 1", CASES_LEVEL1), ("through ngspice", CASES_NGSPICE)):
        for case, (model, name, vg, vd, vs, vb) in cases.items():
            size = "W=10u L=1u" if label == "native level 1" else "W=5u L=0.5u"
            err = worst_impedance_error(bench(model, name, vg, vd, vs, vb, size=size), ("d", "g", "s", "b"))
            print(f"  {label:16s} {case:32s} {err:.1e}")


if __name__ == "__main__":
    main()
