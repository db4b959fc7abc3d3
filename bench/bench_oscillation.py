"""Speed of harmonic balance (prints its figures; not a test): ``stabkit oscillation`` on the shipped oscillator
cases, and the parts of it — probe sweep, raising the harmonics, Floquet multipliers — on the BFR840 Colpitts.
CPU seconds (``time.process_time``) beside wall seconds: on a shared machine the wall time is what the load makes
of it. Set ``OPENBLAS_NUM_THREADS=1`` where cores are shared (threaded BLAS then only contends).

    PYTHONPATH=. python bench/bench_oscillation.py
"""

from __future__ import annotations

import time
from pathlib import Path

from stabkit.analysis.oscillation import oscillation
from stabkit.circuit.netlist import read_netlist

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"


def timed(label: str, fn) -> object:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    print(f"{label:<52s} {time.process_time() - c0:7.2f} s CPU {time.perf_counter() - w0:7.2f} s wall")
    return out


def parts(path: Path) -> None:
    from stabkit.analysis.verdict import decide
    from stabkit.nonlinear import hb

    circuit = read_netlist(path)
    verdict = timed("  small-signal verdict (DC point, poles, NDF)", lambda: decide(circuit))
    dc = verdict.points[0].point.dc
    problem = dc.problem
    pole = max((p for p in verdict.points[0].poles.poles if p.imag > 0), key=lambda p: p.real)
    probe = problem.node_index["t"]
    engine = hb.HarmonicBalance(problem, 5)
    sweep = timed(f"  probe sweep at 5 harmonics ({problem.size} unknowns each)",
                  lambda: hb.probe_sweep(engine, dc.y, abs(pole.imag), probe, 1e-4, 7.5))
    (sol,) = hb.find_oscillations(engine, sweep, probe)
    sol, _, history, _ = timed("  harmonics raised until settled", lambda: hb.settle_harmonics(problem, sol))
    timed(f"  Floquet multipliers ({problem.size * (2 * sol.harmonics + 1)} unknowns, dense)",
          lambda: hb.floquet_exponents(problem, sol))
    print(f"  {len(sweep)} sweep points; harmonics {[k for k, _, _ in history]}")


if __name__ == "__main__":
    for name in ("tunnel_osc.cir", "hard_start_osc.cir"):
        res = timed(f"oscillation {name}", lambda: oscillation(read_netlist(ROOT / "cases" / name)))
        print(f"  {res.regime}, {res.frequency_hz:.6g} Hz, {res.harmonics} harmonics")
    if (MODELS / "BFR840L3RHESD.lib").is_file():
        res = timed("oscillation colpitts_bfr840.cir (vendor package model)",
                    lambda: oscillation(read_netlist(ROOT / "cases" / "colpitts_bfr840.cir")))
        print(f"  {res.regime}, {res.frequency_hz:.6g} Hz, {res.harmonics} harmonics")
        parts(ROOT / "cases" / "colpitts_bfr840.cir")
    else:
        print(f"{MODELS} is absent: the BFR840 Colpitts is skipped")
