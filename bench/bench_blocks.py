"""Speed of the NDF on circuits with S-parameter blocks (prints its figures; not a test): the measured
BFR840 case and a synthetic Pierce oscillator whose file has 10 … 2000 samples. Needs ../shared/models for
the first.

    PYTHONPATH=. python bench/bench_blocks.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from stabkit import Circuit
from stabkit.analysis.blocks import TouchstoneData, to_network
from stabkit.analysis.ndf import ndf

CASES = Path(__file__).resolve().parents[1] / "cases"


def timed(circuit, repeat: int = 3):
    best, res = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        res = ndf(circuit)
        best = min(best, time.perf_counter() - t)
    return best, res


def pierce(n_samples: int) -> Circuit:
    f = np.geomspace(1e6, 1e12, n_samples)
    s = 2j * np.pi * f
    ypi, ymu = 1 / 1e3 + s * 1e-12, s * 0.1e-12
    y = np.empty((f.size, 2, 2), dtype=complex)
    y[:, 0, 0], y[:, 0, 1] = ypi + ymu, -ymu
    y[:, 1, 0], y[:, 1, 1] = 40e-3 - ymu, 1 / 5e3 + ymu
    eye = np.eye(2)
    S = (eye - 50 * y) @ np.linalg.inv(eye + 50 * y)
    c = Circuit("Pierce around a hybrid-pi two-port block")
    c.add_nport("N1", ["b", "c"], to_network(TouchstoneData("pierce.s2p", f, S, np.full(2, 50.0))))
    c.add_capacitor("C1", "b", 0, 1e-12)
    c.add_capacitor("C2", "c", 0, 3e-12)
    c.add_inductor("L1", "b", "c", 20e-9)
    return c


def main() -> None:
    path = CASES / "bfr840_s2p_feedback.cir"
    try:
        c = Circuit.from_netlist(str(path))
    except Exception as exc:  # noqa: BLE001 - the measured file is not shipped
        print(f"{path.name}: skipped ({exc})")
    else:
        for le in (1e-9, 0.2e-9):
            t, res = timed(c.with_values({"le": le}))
            print(f"{path.name} le={le:.2g}: {t * 1e3:7.1f} ms, {res.s.size} points, {res.encirclements} encirclement(s)")
    for n in (10, 31, 121, 500, 2000):
        t, res = timed(pierce(n))
        print(f"Pierce block, {n:5d} samples: {t * 1e3:7.1f} ms, {res.s.size} points, "
              f"{res.encirclements} encirclement(s)")


if __name__ == "__main__":
    main()
