"""The paper's design steps on the vendor-model Linvill NIC (cases/linvill_bfr840.cir): wall times of one
sensitivity analysis, the port impedance over 241 frequencies (QZ against per-frequency LU), one design
(steps 4 + 5 and the admissible L_ext), a re-biased Table-2 column, and the whole of Table 4 (the command of
docs/paper.md §4: 30 designs on every core; wall and CPU time, this process and its workers). Needs
../shared/models.

Run: OPENBLAS_NUM_THREADS=1 python bench/bench_paper.py [--no-table4]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "linvill_bfr840.cir"


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label}: {time.perf_counter() - t0:.2f} s")
    return out


def main() -> int:
    if not (ROOT.parent / "shared" / "models" / "BFR840L3RHESD.lib").is_file():
        print("needs ../shared/models/BFR840L3RHESD.lib")
        return 2
    warnings.simplefilter("ignore")
    from stabkit.analysis.equiv import PortModel, design, port_impedance
    from stabkit.analysis.loads import stability_table
    from stabkit.analysis.mna import assemble
    from stabkit.analysis.ports import impedance
    from stabkit.analysis.sensitivity import sensitivities
    from stabkit.circuit.graph import Circuit

    c = Circuit.from_netlist(str(CASE))
    res = timed("sensitivities of the unstable pair (elements + 11 .params, re-biased where needed)",
                lambda: sensitivities(c, {"rp": 1e12, "lload": 5.3e-9, "rload": 10.0, "lext": 10e-9}))
    print(f"  {res.modes[0].describe()}")
    model = PortModel(c, "in", external=["LEXT", "RSRC"])
    system = assemble(model.circuit_at())
    f = np.geomspace(0.05e9, 20e9, 241)
    z1 = timed("port impedance, 241 frequencies, one QZ", lambda: port_impedance(system, f, "in"))
    z2 = timed("port impedance, 241 frequencies, sparse LU each", lambda: impedance(system, f, "in"))
    print(f"  largest relative difference {np.max(np.abs(z1 - z2) / np.abs(z2)):.1e}")
    d = timed("one design: tune Lн + compensate Rн + admissible L_ext",
              lambda: design(c, "in", (0.5e9, 2e9), -5e-9, tune="lload", compensate="rload",
                             external=["LEXT", "RSRC"], loads=("lext", 1e-9, 100e-9)))
    print(f"  Lн = {d.tuned['lload'] * 1e9:.4f} nH, Rн = {d.tuned['rload']:.3f} Ω, window {d.intervals}")
    t = timed("Table-2 columns U = 5, 9 V (re-biased per column, frozen Lн)",
              lambda: stability_table(c, "lext", 1e-9, 100e-9, "u", [5.0, 9.0], workers=1, probes=[]))
    print(f"  windows {[col.intervals for col in t.columns]}")
    if "--no-table4" not in sys.argv[1:]:
        table4()
    return 0


#: docs/paper.md §4, as scripts/linvill_paper.py runs it
TABLE4 = ["equiv", "cases/linvill_bfr840.cir", "--port", "in", "--band", "0.5g:2g", "--external", "LEXT,RSRC",
          "--target", "-1n,-2n,-3n,-4n,-5n,-6n,-7n,-8n,-9n,-10n", "--tol", "1%,2%,5%", "--tune", "lload",
          "--compensate", "rload", "--mode", "widest", "--line", "LN=90", "--line-above", "5.5n",
          "--loads", "lext=0.3n:100n", "--fmax", "1t", "--json"]


def table4() -> None:
    """The Table 4 command as a designer runs it (a fresh process, every core): wall time, and the CPU time of the
    process and its pool workers (on a shared machine the wall time also says how busy the cores were)."""
    import json

    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stabkit", *TABLE4], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    rows = json.loads(proc.stdout)["rows"] if proc.stdout else []
    stable = sum(1 for r in rows if r.get("intervals"))
    print(f"Table 4 (30 designs, {os.cpu_count()} cores, exit {proc.returncode}): {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"  {len(rows)} rows, {stable} with a stable L_ext window")


if __name__ == "__main__":
    raise SystemExit(main())
