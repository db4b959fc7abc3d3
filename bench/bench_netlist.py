"""Speed of the netlist reader: a generated RC ladder of growing size, a hierarchical netlist with many
instances, and the Infineon library (59 subcircuits, 6300 lines, Latin-1) when ../shared is present.

Run: python bench/bench_netlist.py
"""

from __future__ import annotations

import time
from pathlib import Path

from stabkit.circuit.netlist import read_netlist

INFINEON = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "Infineon-RFTransistor-SPICE-v2.1_full.lib"


def ladder(sections: int) -> str:
    lines = [f"RC ladder, {sections} sections", ".param r0=10 c0=1p"]
    for k in range(sections):
        lines.append(f"R{k} n{k} n{k + 1} {{r0*{1 + k % 3}}}")
        lines.append(f"C{k} n{k + 1} 0 {{c0}}")
    lines.append("Rin n0 0 50")
    return "\n".join(lines) + "\n"


def instances(count: int) -> str:
    lines = [f"{count} instances of a two-level subcircuit", ".param g0=10m"]
    for k in range(count):
        lines.append(f"X{k} n{k} n{k + 1} stage gm={{g0*{1 + k % 5}}}")
    lines += ["Rin n0 0 50", ".subckt stage a b params: gm=1m", "Xrc a rc", "G1 b 0 a 0 {gm}", "Rl b 0 1k",
              ".ends", ".subckt rc n", "R1 n k 100", "C1 k 0 1p", "L1 k 0 10n", ".ends"]
    return "\n".join(lines) + "\n"


def timed(label: str, source) -> None:
    t0 = time.perf_counter()
    circuit = read_netlist(source)
    dt = time.perf_counter() - t0
    print(f"{label:45s} {len(circuit):6d} elements {len(circuit.subcircuits):3d} subckts  {1e3 * dt:8.1f} ms")


def main() -> None:
    for n in (100, 1000, 5000):
        timed(f"RC ladder, {n} sections", ladder(n))
    for n in (10, 100, 1000):
        timed(f"{n} instances x 5 elements", instances(n))
    if INFINEON.is_file():
        timed("Infineon library (definitions only)", INFINEON)
        timed("Infineon library + 1 instance", f"t\n.lib '{INFINEON}'\nXQ1 c b 0 BFR840L3RHESD\n")
    else:
        print(f"{INFINEON} absent: library timing skipped")


if __name__ == "__main__":
    main()
