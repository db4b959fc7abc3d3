"""Speed of the operating-point search (prints its figures; not a test).

    python -m bench.bench_oppoints   (or PYTHONPATH=. python bench/bench_oppoints.py)
"""

from __future__ import annotations

import time

import numpy as np

from stabkit import Circuit
from stabkit.analysis.negres import operating_points
from stabkit.nonlinear.dc import LoadLine, NonlinearProblem, load_line_points, multistart_points
from stabkit.analysis.negres import sweep_regions
from stabkit.nonlinear.curves import TUNNEL_1N3716


def tunnel(vs: float, r: float) -> Circuit:
    c = Circuit("bench")
    c.add_model("td", "tunnel", **TUNNEL_1N3716.card())
    c.set_param("vs", vs)
    c.add_vsource("V1", "in", 0, dc="vs")
    c.add_resistor("R1", "in", "m", r)
    c.add_inductor("L1", "m", "a", 1e-9)
    c.add_diode("D1", "a", 0, "td")
    return c


def timed(label: str, fn, repeat: int) -> None:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    dt = (time.perf_counter() - t0) / repeat
    print(f"{label:<58s} {dt * 1e3:8.2f} ms")


if __name__ == "__main__":
    line = LoadLine.thevenin(0.58, 100.0)
    timed("load_line_points (4001-point grid, 3 roots)", lambda: load_line_points(TUNNEL_1N3716, line), 50)
    c = tunnel(0.58, 100.0)
    timed("operating_points (3 points, linearize + poles each)", lambda: operating_points(c), 20)
    timed("multistart_points (1 device, 8 starts)", lambda: multistart_points(NonlinearProblem(c)), 5)
    timed("sweep_regions over 50 biases", lambda: sweep_regions(c, "vs", np.linspace(0.4, 0.8, 50)), 1)
