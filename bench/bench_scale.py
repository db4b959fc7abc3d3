"""Scale (issue #14): stabkit against ngspice ``.ac`` on the active RC ladder (series R, shunt C, a VCCS every
10th node, one negative resistor; :func:`stabkit.examples.active_rc_ladder`) at 200 / 2 000 / 20 000 /
100 000 nodes, in one run.

Run: python bench/bench_scale.py [--sizes 200,2000,20000] [--max-nodes N] [--repeats 1]

For each size the netlist is written once; then, each in a fresh process (one BLAS thread, as the tool sets
it for its own analyses):

* ``stabkit`` — parse the netlist file, assemble, the NDF at the same 2003 frequencies ngspice uses
  (``ac dec 286 10k 100G``; ``ndf_on_axis(per_source=False)``: det M / det M0, two sparse LUs a frequency),
  the rightmost natural frequencies (:func:`stabkit.analysis.rightmost.rightmost_poles`, shift-invert
  Arnoldi), and the adaptive counting ``ndf()`` with its verdict cross-checked by ``judge``. The child
  reports its own phase times (in-process) and peak memory (``resource.getrusage``, max RSS); the parent
  times the whole process.
* ``ngspice -b`` with ``ac dec 286 10k 100G`` (whole process, max RSS from ``/usr/bin/time``), and the same
  netlist with ``op`` only: the difference is ngspice's analysis time without start-up and parsing.

Printed: a table per size, the ratios stabkit / ngspice (whole process, and analysis only: NDF phase vs
ngspice .ac minus op), and the growth exponents ``d log t / d log N`` between successive sizes. Targets
(issue #14): NDF on 2000 frequencies ≤ 1× ngspice .ac wall time at 200 and 20 000 nodes; rightmost modes of
20 000 nodes < 10 s and < 1 GB. The default stops at 20 000 nodes (a few minutes on a quiet machine); 100 000
takes several more (``--sizes 200,2000,20000,100000``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FSTART, FSTOP, PER_DECADE = 1e4, 1e11, 286  # ngspice: 7·286 + 1 = 2003 frequencies
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def frequencies():
    import numpy as np

    decades = np.log10(FSTOP / FSTART)
    count = int(round(decades * PER_DECADE)) + 1
    return FSTART * 10.0 ** (np.arange(count) / PER_DECADE)


def child(netlist: str) -> None:
    """The stabkit side, in its own process: phase times (s) and peak memory as JSON on stdout."""
    import resource
    import warnings

    t0 = time.perf_counter()
    import numpy as np

    from stabkit.analysis.mna import assemble
    from stabkit.analysis.ndf import ReturnDifferenceEvaluator, ndf, ndf_on_axis
    from stabkit.analysis.rightmost import rightmost_poles
    from stabkit.analysis.verdict import judge
    from stabkit.circuit.graph import Circuit

    out = {"import": time.perf_counter() - t0}
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    circuit = Circuit.from_netlist(netlist)
    out["parse"] = time.perf_counter() - t
    t = time.perf_counter()
    system = assemble(circuit)
    out["assemble"] = time.perf_counter() - t
    out["n"], out["r"] = system.n, system.r
    f = frequencies()
    t = time.perf_counter()
    values, _ = ndf_on_axis(system, f, per_source=False)
    out["ndf_grid"] = time.perf_counter() - t
    out["freqs"] = int(f.size)
    out["solver"] = ReturnDifferenceEvaluator(system, per_source=False).solver
    out["grid_finite"] = bool(np.all(np.isfinite(values)))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    poles = rightmost_poles(system, expected_rhp=None)
    out["rightmost"] = time.perf_counter() - t
    out["rss_after_rightmost_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_before_rightmost_mb"] = rss_before / 1024
    out["modes"] = int(poles.poles.size)
    out["rightmost_hz"] = [float(poles.poles[0].real / 2 / np.pi), float(poles.poles[0].imag / 2 / np.pi)] \
        if poles.poles.size else None
    t = time.perf_counter()
    res = ndf(system)
    out["ndf_count"] = time.perf_counter() - t
    out["encirclements"], out["points"] = int(res.encirclements), int(res.s.size)
    out["pole_rhp"] = int(poles.rhp_count)
    out["inertia_rhp"] = ladder_rhp_by_inertia(system)
    out["verdict"] = judge(poles, res)[0]
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def ladder_rhp_by_inertia(system) -> int:
    """Independent count for the ladder: its G is tridiagonal with positive off-diagonal products (a VCCS only
    weakens one direction of a series conductance) and C is ``c·I``, so the pencil is similar to a symmetric
    one, every natural frequency ``−λ(G)/c`` is real, and the right-half-plane ones are the negative eigenvalues
    of G: by Sylvester's law of inertia, the negative pivots of G's elimination (the three-term recurrence,
    which only sees the products). ``-1`` when the matrices do not have that form."""
    import numpy as np

    G, C = system.G.tocsr(), system.C.tocsr()
    coo = G.tocoo()
    d, u, l = G.diagonal(), G.diagonal(1), G.diagonal(-1)
    c = C.diagonal()
    if (np.max(np.abs(coo.row - coo.col), initial=0) > 1 or abs(C - C.T).sum() or (C != 0).sum() != c.size
            or np.ptp(c) > 1e-12 * c.max() or np.any(u * l <= 0)):
        return -1
    negative, p = int(d[0] < 0), d[0]
    for k in range(1, d.size):
        p = d[k] - u[k - 1] * l[k - 1] / p
        negative += int(p < 0)
    return negative


def timed(cmd: list[str], timeout: float = 3600.0) -> tuple[float, float, str]:
    """(wall seconds, max RSS MB, stdout) of a command, through /usr/bin/time when present."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as rec:
        full = [gnu_time, "-f", "%M", "-o", rec.name, *cmd] if gnu_time else cmd
        t = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, text=True, env=ENV, timeout=timeout)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        text = open(rec.name).read().strip().splitlines() if gnu_time else []
    rss = float(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan")
    return wall, rss, proc.stdout


def ngspice_deck(netlist_text: str, analysis: str) -> str:
    body = netlist_text.replace(".end\n", "Iac 0 n1 dc 0 ac 1\n")
    return body + f".control\n{analysis}\nquit\n.endc\n.end\n"


def exponent(t1: float, t2: float, n1: int, n2: int) -> float:
    import math

    return math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and t2 > 0 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,2000,20000", help="comma list of ladder sizes (nodes)")
    parser.add_argument("--max-nodes", type=int, default=None, help="skip sizes above this")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    from stabkit.circuit.nic_cases import write_netlist
    from stabkit.examples import active_rc_ladder

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if args.max_nodes:
        sizes = [n for n in sizes if n <= args.max_nodes]
    spice = shutil.which("ngspice")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for nodes in sizes:
            text = write_netlist(active_rc_ladder(nodes))
            net = Path(tmp) / f"ladder{nodes}.cir"
            net.write_text(text)
            wall, rss, stdout = timed([sys.executable, __file__, "--child", str(net)])
            row = {"nodes": nodes, "wall": wall, "rss": rss, **json.loads(stdout.strip().splitlines()[-1])}
            if spice:
                ac = Path(tmp) / f"ac{nodes}.cir"
                ac.write_text(ngspice_deck(text, f"ac dec {PER_DECADE} {FSTART:g} {FSTOP:g}"))
                op = Path(tmp) / f"op{nodes}.cir"
                op.write_text(ngspice_deck(text, "op"))
                row["spice_wall"], row["spice_rss"], _ = timed([spice, "-b", str(ac)])
                row["spice_op"], _, _ = timed([spice, "-b", str(op)])
                row["spice_ac"] = max(row["spice_wall"] - row["spice_op"], 1e-9)
            rows.append(row)
            r = row
            print(f"{nodes:>7} nodes (n={r['n']}, r={r['r']}, {r['solver']} LU): stabkit process {r['wall']:7.2f} s "
                  f"{r['rss']:7.0f} MB | import {r['import']:.2f} parse {r['parse']:.2f} assemble {r['assemble']:.2f} "
                  f"NDF({r['freqs']} f) {r['ndf_grid']:.2f} rightmost {r['rightmost']:.2f} ({r['modes']} modes, "
                  f"RSS {r['rss_before_rightmost_mb']:.0f}->{r['rss_after_rightmost_mb']:.0f} MB) ndf() "
                  f"{r['ndf_count']:.2f} s ({r['points']} pts, {r['encirclements']} enc, {r['pole_rhp']} RHP found, "
                  f"{r['inertia_rhp']} by inertia, "
                  f"{r['verdict']})" + (f" | ngspice .ac {r['spice_wall']:.2f} s {r['spice_rss']:.0f} MB "
                                        f"(op only {r['spice_op']:.2f} s)" if spice else " | ngspice absent"),
                  flush=True)
    print()
    head = (f"{'nodes':>7} {'stabkit':>8} {'NDF grid':>8} {'rightmost':>9} {'ndf()':>7} {'peak MB':>8} "
            f"{'ngspice':>8} {'.ac only':>8} {'spice MB':>8} {'proc/sp':>7} {'NDF/sp':>7} {'NDF/.ac':>7}")
    print(head)
    for r in rows:
        sp_wall, sp_ac = r.get("spice_wall", float("nan")), r.get("spice_ac", float("nan"))
        print(f"{r['nodes']:>7} {r['wall']:8.2f} {r['ndf_grid']:8.3f} {r['rightmost']:9.3f} {r['ndf_count']:7.2f} "
              f"{r['rss']:8.0f} {sp_wall:8.3f} {sp_ac:8.3f} {r.get('spice_rss', float('nan')):8.0f} "
              f"{r['wall'] / sp_wall:7.2f} {r['ndf_grid'] / sp_wall:7.2f} {r['ndf_grid'] / sp_ac:7.2f}")
    if len(rows) > 1:
        print("\ngrowth exponents d log t / d log N:")
        keys = [("whole process", "wall"), ("parse", "parse"), ("assemble", "assemble"), ("NDF grid", "ndf_grid"),
                ("rightmost", "rightmost"), ("ndf()", "ndf_count"), ("ngspice .ac", "spice_wall"),
                ("ngspice .ac only", "spice_ac")]
        for a, b in zip(rows, rows[1:]):
            parts = [f"{name} {exponent(a[k], b[k], a['nodes'], b['nodes']):.2f}" for name, k in keys if k in a and k in b]
            print(f"  {a['nodes']} -> {b['nodes']}: " + ", ".join(parts))
    print("\ntargets: NDF on the grid <= 1x ngspice .ac wall at 200 and 20 000 nodes; rightmost modes of 20 000 "
          "nodes < 10 s and < 1 GB (process peak)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
