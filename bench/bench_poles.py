"""Speed of the exact pole solver on the 30+-node two-transistor circuit (issue: 'well under a second').

Run: python bench/bench_poles.py
"""

from __future__ import annotations

import time

from stabkit import assemble, poles
from stabkit.examples import two_transistor_amplifier


def main() -> None:
    for sections in (8, 30, 100):
        circuit = two_transistor_amplifier(sections)
        n_nodes = len(circuit.nodes) - 1
        t0 = time.perf_counter()
        system = assemble(circuit)
        t1 = time.perf_counter()
        repeats = 5
        for _ in range(repeats):
            result = poles(system)
        t2 = time.perf_counter()
        print(f"{n_nodes:4d} nodes, {system.n:4d} unknowns: assemble {1e3 * (t1 - t0):7.2f} ms, "
              f"poles {1e3 * (t2 - t1) / repeats:8.2f} ms ({result.poles.size} finite, stable={result.stable})")


if __name__ == "__main__":
    main()
