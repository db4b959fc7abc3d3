"""``stabkit zin NET --port NODE[,NODE2] --freqs ...``: port impedance."""

from __future__ import annotations

import numpy as np

from stabkit.analysis.ports import zin
from stabkit.analysis.bjt import linear_circuit
from stabkit.commands.common import add_common, emit_json, fmt_hz, load_circuit, parse_freqs, table
from stabkit.units import format_eng


def register(sub) -> None:
    p = sub.add_parser("zin", help="impedance seen between two nodes",
                       description="Impedance between NODE and NODE2 (default ground), all sources off, "
                                   "with L_eq = Im Z/ω. Bipolar transistors (Q) and junction diodes are "
                                   "linearized at their DC operating point first.")
    p.add_argument("netlist")
    p.add_argument("--port", required=True, help="NODE or NODE,NODE2")
    p.add_argument("--freqs", default="1meg:10g:21", help="START:STOP:N (log) or f1,f2,... (default 1meg:10g:21)")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    circuit = linear_circuit(load_circuit(args.netlist, args.set))
    res = zin(circuit, args.port, parse_freqs(args.freqs))
    if args.json:
        emit_json(res.to_dict())
        return 0
    rows = [[fmt_hz(f), f"{z.real:.6g}", f"{z.imag:.6g}", format_eng(l, "H")]
            for f, z, l in zip(res.freq_hz, res.z, res.inductance)]
    print(table(rows, ["f", "Re Z [Ω]", "Im Z [Ω]", "L_eq = Im Z/ω"]))
    return 0 if np.all(np.isfinite(res.z)) else 1
