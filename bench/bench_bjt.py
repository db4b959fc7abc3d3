"""Speed of the transistor DC solver and linearization on the vendor's packaged BFR840L3RHESD model
(prints its figures; not a test). Needs ../shared/models beside the repository.

    PYTHONPATH=. python bench/bench_bjt.py
"""

from __future__ import annotations

import time
from pathlib import Path

from stabkit import Circuit
from stabkit.nonlinear.dc import dc_point as bias_point
from stabkit.nonlinear.linearize import linearize as linearize_bjts
from stabkit.analysis.poles import poles

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"

NIC_BIAS = f"""BFR840L3RHESD at the Linvill-NIC bias
.include {MODELS / "BFR840L3RHESD.lib"}
.options tnom=25 temp=25
VCC vcc 0 7
RC vcc c 820
RE e 0 820
R1 vcc b 9.7k
R2 b 0 10k
X1 c b e BFR840L3RHESD
.end
"""


def timed(label: str, fn, repeat: int):
    out = fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    print(f"{label:45s} {(time.perf_counter() - t0) / repeat * 1e3:8.2f} ms")
    return out


def main() -> None:
    if not MODELS.is_dir():
        print(f"skipped: {MODELS} is absent")
        return
    circuit = Circuit.from_netlist(NIC_BIAS)
    bias = timed("bias_point (25 nodes, 1 Q, 5 diodes)", lambda: bias_point(circuit), 10)
    print(f"  {bias.method}, {bias.iterations} Newton iterations")
    linear = timed("linearize_bjts", lambda: linearize_bjts(circuit, bias), 10)
    timed("poles of the linearized circuit", lambda: poles(linear), 10)


if __name__ == "__main__":
    main()
