"""Edge location by pole continuation against bisection on the verdicts (stabkit loads' two ways of refining an
edge once the coarse scan has bracketed it).

For each circuit the same admissible_range runs with ``locate="bisection"`` and ``locate="continuation"`` (same
coarse scan); printed: wall time of the whole sweep, stability evaluations (verdicts: exact poles + NDF each),
per edge the verdicts and pencils spent, and the edge's error against a reference — the closed form where there
is one, else bisection run to rtol = 1e-10 (whose edge sits where the *verdict* flips: the pole's error disc
inside the left half-plane, a few 1e-9 before Re s = 0). Then the refinement alone, from the scan's bracket:
``locate_edge`` (bisection) against continuation + the two verdicts that prove it.

Run: OPENBLAS_NUM_THREADS=1 python bench/bench_continuation.py [--repeat N] [--ladder NODES]
(the ladder's sweep runs once, on 9 scan points: each verdict there is a dense eigenproblem plus the NDF)
"""

from __future__ import annotations

import argparse
import math
import time

from stabkit import examples
from stabkit.analysis.loads import CircuitProbe, _Counter, _continued_edge, admissible_range, locate_edge
from stabkit.circuit.nic_cases import linvill_nic


def _cases(ladder: int):
    r, cap, ind = 50.0, 10e-12, 1e-9
    yield ("N-type -r || C, R + L (4 unknowns)", examples.ntype_series_rl(1 / r, cap, 10.0, ind), "Rs", 0.1, 1000.0,
           [ind / (r * cap), r])
    yield ("Linvill NIC, BFR840 hybrid-pi + package (61 unknowns)", linvill_nic(ln=3.3652e-9, rn=40.0), "lext",
           0.5e-9, 60e-9, None)
    yield ("Linvill NIC, Rc = 8 ohm", linvill_nic(ln=3.3652e-9, rn=40.0, rc=8.0), "lext", 0.5e-9, 60e-9, None)
    if ladder:
        yield (f"active RC ladder, {ladder} nodes (negative resistor swept)", examples.active_rc_ladder(ladder), "Rneg",
               -500.0, -100.0, None)


def _run(circuit, param, lo, hi, locate, repeat, points):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = admissible_range(circuit, param, lo, hi, locate=locate, points=points)
        best = min(best, time.perf_counter() - t0)
    return res, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (the fastest is reported)")
    ap.add_argument("--ladder", type=int, default=300, help="nodes of the active RC ladder case (0: leave it out)")
    args = ap.parse_args()
    for label, circuit, param, lo, hi, closed in _cases(args.ladder):
        print(f"\n{label}: {param} in [{lo:g}, {hi:g}]")
        points = 9 if param == "Rneg" else 41
        if closed is None:
            ref = admissible_range(circuit, param, lo, hi, locate="bisection", rtol=1e-10, points=points)
            reference, what = [e.value for e in ref.edges], "bisection to rtol 1e-10"
        else:
            reference, what = closed, "closed form"
        for locate in ("bisection", "continuation"):
            res, elapsed = _run(circuit, param, lo, hi, locate, 1 if param == "Rneg" else args.repeat, points)
            print(f"  {locate:12s} {elapsed * 1e3:7.1f} ms, {res.evaluations} evaluations in all")
            for e, x in zip(res.edges, reference):
                f = f", f_osc {e.f_osc / 1e9:.9g} GHz" if e.f_osc else ""
                print(f"    {e.side} edge {e.value:.12g}: {e.evaluations} verdicts + {e.pencils} pencils, "
                      f"error vs {what} {abs(e.value - x) / abs(x):.1e} relative (bracket "
                      f"{(e.bracket[1] - e.bracket[0]) / abs(e.value):.1e}){f}")
        _refinement(circuit, param, res, 1 if param == "Rneg" else args.repeat)


def _refinement(circuit, param, res, repeat) -> None:
    """Time the refinement of each bracketed edge alone (fresh probe each run; the fastest of ``repeat``)."""
    values = list(res.sample_values)
    for e in res.edges:
        i = max(k for k, v in enumerate(values) if v <= e.value)
        a, b = values[i], values[i + 1]
        times = {"bisection": math.inf, "continuation": math.inf}
        calls = {}
        for _ in range(repeat):
            probe = CircuitProbe(circuit, param, method="poles")
            pa, pb = probe(a), probe(b)
            s, u = (pa, pb) if pa.stable else (pb, pa)
            log = res.sample_values[-1] / res.sample_values[0] >= 10
            counter = _Counter(probe)
            t0 = time.perf_counter()
            locate_edge(counter, s, u, rtol=res.rtol, abs_floor=1e-300, log=log)
            times["bisection"] = min(times["bisection"], time.perf_counter() - t0)
            calls["bisection"] = f"{counter.calls} verdicts"
            counter = _Counter(probe)
            t0 = time.perf_counter()
            _, _, located, why = _continued_edge(counter, probe.pencil, s, u, res.rtol, 1e-300, param)
            times["continuation"] = min(times["continuation"], time.perf_counter() - t0)
            calls["continuation"] = (f"{counter.calls} verdicts + {located.pencils} pencils, stated tolerance "
                                     f"{located.tolerance / abs(located.value):.1e}" if located else why)
        print(f"    refining the {e.side} edge from [{a:.6g}, {b:.6g}]: bisection {times['bisection'] * 1e3:.1f} ms "
              f"({calls['bisection']}), continuation {times['continuation'] * 1e3:.1f} ms ({calls['continuation']}): "
              f"{times['bisection'] / times['continuation']:.1f}x")


if __name__ == "__main__":
    main()
