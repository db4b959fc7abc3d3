"""One Table-3-like run end to end: admissible L_ext of the Linvill NIC (BFR840L3RHESD hybrid-π + package)
for Rc = 0, 2, 4, 6, 8 Ω, edges to a relative 1e-4. Prints the wall time, the evaluations per column and
per located edge, serially and over a process pool.

Run: OPENBLAS_NUM_THREADS=1 python bench/bench_loads.py
(BLAS threads only slow down the small dense eigenproblems; one thread per process is fastest.)
"""

from __future__ import annotations

import os
import time

from stabkit.analysis.loads import stability_table
from stabkit.circuit.nic_cases import linvill_nic

RC_VALUES = [0.0, 2.0, 4.0, 6.0, 8.0]


def main() -> None:
    circuit = linvill_nic(ln=3.3652e-9, rn=40.0)
    print(f"{circuit.summary()}")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, cores={os.cpu_count()}")
    for workers in (1, os.cpu_count() or 1):
        t0 = time.perf_counter()
        table = stability_table(circuit, "lext", 0.5e-9, 60e-9, by="rc", values=RC_VALUES, workers=workers)
        elapsed = time.perf_counter() - t0
        evals = sum(c.evaluations for c in table.columns)
        edges = [e for c in table.columns for e in c.edges]
        print(f"\nworkers={workers}: {elapsed:.2f} s for {len(RC_VALUES)} columns, {evals} stability evaluations "
              f"({1e3 * elapsed / max(evals, 1):.1f} ms each incl. overhead), {len(table.probes)} probe rows")
        for rc, col in zip(RC_VALUES, table.columns):
            per_edge = ", ".join(f"{e.value * 1e9:.4f} nH: {e.evaluations} evals ({e.crossing}"
                                 f"{f' at {e.freq_hz / 1e9:.3f} GHz' if e.crossing == 'complex pair' else ''})"
                                 for e in col.edges)
            print(f"  Rc = {rc:g} ohm: {col.evaluations} evaluations; edges: {per_edge or 'none'}")
        if edges:
            print(f"  mean evaluations per located edge (bracketing only): "
                  f"{sum(e.evaluations for e in edges) / len(edges):.1f}")
    print()
    print(table.text(unit="H", by_unit="Ω"))


if __name__ == "__main__":
    main()
