"""The paper's design steps on the vendor-model Linvill NIC (cases/linvill_bfr840.cir): wall times of one
sensitivity analysis, the port impedance over 241 frequencies (QZ against per-frequency LU), one design
(steps 4 + 5 and the admissible L_ext), and a re-biased Table-2 column. Needs ../shared/models.

Run: OPENBLAS_NUM_THREADS=1 python bench/bench_paper.py
"""

from __future__ import annotations

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
