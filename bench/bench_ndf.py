"""Speed of the NDF: a 200-node active circuit (two hybrid-π stages with 64-section RC ladders) at 2000
log-spaced frequencies, against ngspice ``.ac`` on the same netlist and frequencies (``ngspice -b``).

Run: python bench/bench_ndf.py
Prints: the fixed-grid NDF time (one sparse LU of M0 per frequency + r solves), the full adaptive
``ndf()`` (count, refinement, tail), the ngspice time (wall clock of the subprocess, and the same minus an
``op``-only run, i.e. without start-up and parsing), and the ratios.
"""

from __future__ import annotations

import time

import numpy as np

from stabkit import assemble, ngspice
from stabkit.analysis.ndf import ndf, ndf_on_axis
from stabkit.circuit.nic_cases import write_netlist
from stabkit.examples import two_transistor_amplifier

FREQS = (1e6, 100e9, 2000)


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    circuit = two_transistor_amplifier(65, feedback=200.0)
    system = assemble(circuit)
    f = np.geomspace(*FREQS[:2], FREQS[2])
    print(f"circuit: {len(circuit.nodes) - 1} nodes, {system.n} unknowns, {system.r} dependent sources")
    t_grid = best_of(lambda: ndf_on_axis(system, f))
    print(f"stabkit NDF on {f.size} frequencies: {t_grid * 1e3:8.1f} ms ({t_grid / f.size * 1e6:.0f} µs per frequency)")
    res = ndf(system)
    t_full = best_of(lambda: ndf(system))
    print(f"stabkit ndf() adaptive count:     {t_full * 1e3:8.1f} ms ({res.s.size} points, "
          f"{res.encirclements} encirclement(s), warnings: {res.warnings or 'none'})")
    if not ngspice.available():
        print("ngspice not installed: no comparison")
        return
    netlist = write_netlist(circuit) .replace(".end\n", "Iac 0 src dc 0 ac 1\n.end\n")
    per_decade = (FREQS[2] - 1) / np.log10(FREQS[1] / FREQS[0])
    ac = [f"ac dec {per_decade:.12g} {FREQS[0]:g} {FREQS[1]:g}", "let z = v(out)"]
    t_spice = best_of(lambda: ngspice.run(netlist, ac))
    t_start = best_of(lambda: ngspice.run(netlist, ["op"]))
    print(f"ngspice .ac on the same grid:     {t_spice * 1e3:8.1f} ms wall "
          f"({(t_spice - t_start) * 1e3:.1f} ms without start-up/parse/op)")
    print(f"ratio stabkit grid / ngspice:     {t_grid / t_spice:8.2f} (wall), "
          f"{t_grid / max(t_spice - t_start, 1e-9):.2f} (analysis only)")
    print(f"ratio stabkit ndf() / ngspice:    {t_full / t_spice:8.2f} (wall)")


if __name__ == "__main__":
    main()
