"""Speed of the NDF: a 200-node active circuit (two hybrid-π stages with 64-section RC ladders) at 2000
log-spaced frequencies, against ngspice ``.ac`` on the same netlist and frequencies (``ngspice -b``), and
the adaptive ``ndf()`` on small random circuits (tests/randckt.py, the random-circuit study's sizes).

Run: python bench/bench_ndf.py [--before REV]

Prints: the fixed-grid NDF time (one factorisation of M0 per frequency + r solves), the full adaptive
``ndf()`` (poles of the circuit and of its passive reference for the default band, count, refinement, tail),
the ngspice time (wall clock of the subprocess, and the same minus an ``op``-only run, i.e. without
start-up and parsing), and the ratios. With ``--before REV`` (e.g. ``c6b46e8``) the adaptive ``ndf()`` of
that git revision (``ndf.py`` and the ``poles.py`` it uses, loaded side by side) on the same circuits.
BLAS is limited to one thread.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from stabkit import assemble, ngspice
from stabkit.analysis.ndf import ndf, ndf_on_axis
from stabkit.circuit.nic_cases import write_netlist
from stabkit.examples import two_transistor_amplifier

FREQS = (1e6, 100e9, 2000)
ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _module_at(rev: str, path: str, name: str, replace: tuple[str, str] | None = None):
    text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout
    if replace:
        text = text.replace(*replace)
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(text)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def old_ndf(rev: str):
    """``ndf`` of git revision ``rev``, using that revision's ``poles.py``."""
    _module_at(rev, "stabkit/analysis/poles.py", "poles_before")
    return _module_at(rev, "stabkit/analysis/ndf.py", "ndf_before",
                      ("from stabkit.analysis.poles import", "from poles_before import")).ndf


def random_circuits(count: int = 40):
    sys.path.insert(0, str(ROOT / "tests"))
    from randckt import GROUPS, build, generate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [build(generate(seed, GROUPS[seed % len(GROUPS)])) for seed in range(0, 4 * count, 4)]


def time_all(fn, circuits) -> float:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in circuits:
            try:
                fn(c)
            except Exception:  # noqa: BLE001 - a refusal costs what it costs; the bench only times
                pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=None, help="git revision to compare with (e.g. c6b46e8)")
    args = parser.parse_args()
    before = old_ndf(args.before) if args.before else None
    with threadpool_limits(1):
        circuit = two_transistor_amplifier(65, feedback=200.0)
        system = assemble(circuit)
        f = np.geomspace(*FREQS[:2], FREQS[2])
        print(f"circuit: {len(circuit.nodes) - 1} nodes, {system.n} unknowns, {system.r} dependent sources")
        t_grid = best_of(lambda: ndf_on_axis(system, f))
        print(f"stabkit NDF on {f.size} frequencies: {t_grid * 1e3:8.1f} ms ({t_grid / f.size * 1e6:.0f} µs per "
              "frequency)")
        res = ndf(system)
        t_full = best_of(lambda: ndf(system))
        print(f"stabkit ndf() adaptive count:     {t_full * 1e3:8.1f} ms ({res.s.size} points, "
              f"{res.encirclements} encirclement(s), {res.verdict}, band {res.fmin:.3g}…{res.fmax:.3g} Hz)")
        if before is not None:
            old = before(system)
            t_old = best_of(lambda: before(system))
            print(f"{args.before} ndf() adaptive count:   {t_old * 1e3:8.1f} ms ({old.s.size} points, "
                  f"{old.encirclements} encirclement(s), band {old.fmin:.3g}…{old.fmax:.3g} Hz)")
        small = random_circuits()
        t_small = time_all(ndf, small)
        line = f"ndf() on {len(small)} random circuits (3–39 nodes): {t_small / len(small) * 1e3:7.1f} ms each"
        if before is not None:
            t_small_old = time_all(before, small)
            line += f"; {args.before}: {t_small_old / len(small) * 1e3:7.1f} ms each"
        print(line)
        if not ngspice.available():
            print("ngspice not installed: no comparison")
            return
        netlist = write_netlist(circuit).replace(".end\n", "Iac 0 src dc 0 ac 1\n.end\n")
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
