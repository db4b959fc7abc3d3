"""Speed of the exact pole solver on the two-transistor amplifier with 8/30/100-section ladders (31/97/307
nodes; issue: 'well under a second').

Run: python bench/bench_poles.py [--before REV]

Prints, per size: assembly time, the first ``poles()`` call on a new topology ("cold": the structure and
the generic plan are made and cached) and the mean of later calls on the same topology ("warm": a sweep
over element values). With ``--before REV`` (e.g. ``c6b46e8``, main before the structural solver) the same
figures for ``stabkit/analysis/poles.py`` as of that git revision, loaded side by side, for comparison.
BLAS is limited to one thread (small dense matrices: threads only add overhead).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from stabkit import assemble
from stabkit.analysis.poles import poles
from stabkit.examples import two_transistor_amplifier


def _old_poles(rev: str):
    """``poles`` from ``stabkit/analysis/poles.py`` at git revision ``rev`` (imported under another name)."""
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(["git", "show", f"{rev}:stabkit/analysis/poles.py"], cwd=root, check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "poles_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("poles_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["poles_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.poles


def measure(fn, system, repeats: int = 5) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    result = fn(system)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        result = fn(system)
    return cold, (time.perf_counter() - t0) / repeats, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=None, help="git revision to compare with (e.g. c6b46e8)")
    args = parser.parse_args()
    before = _old_poles(args.before) if args.before else None
    with threadpool_limits(1):
        for sections in (8, 30, 100):
            circuit = two_transistor_amplifier(sections)
            n_nodes = len(circuit.nodes) - 1
            t0 = time.perf_counter()
            system = assemble(circuit)
            t_asm = time.perf_counter() - t0
            cold, warm, result = measure(poles, system)
            line = (f"{n_nodes:4d} nodes, {system.n:4d} unknowns: assemble {1e3 * t_asm:7.2f} ms, poles cold "
                    f"{1e3 * cold:8.2f} ms, warm {1e3 * warm:8.2f} ms ({result.poles.size} finite, {result.verdict})")
            if before is not None:
                _, old, _ = measure(before, system)
                line += f"; {args.before}: {1e3 * old:8.2f} ms (ratio {warm / old:.2f})"
            print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
