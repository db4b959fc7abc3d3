"""``stabkit oppoints NET``: every DC operating point of a circuit with one NDR device, and its stability."""

from __future__ import annotations

from stabkit.analysis.dc import operating_points
from stabkit.commands.common import add_common, emit_json, fmt_hz, load_circuit, table
from stabkit.units import format_eng


def register(sub) -> None:
    p = sub.add_parser("oppoints", help="all DC operating points of an NDR-device circuit and their stability",
                       description="Every intersection of the load line with the device curve (N-type tunnel "
                                   "diodes, S-type devices), the circuit linearized at each point and its poles. "
                                   "DC uses the V/I sources' dc values, inductors shorted, capacitors open. "
                                   "Exit 0 if at least one operating point is stable, 1 if none is "
                                   "(the circuit cannot rest: it oscillates).")
    p.add_argument("netlist", help="SPICE netlist with one D element using a tunnel or stype .model")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    circuit = load_circuit(args.netlist, args.set)
    res = operating_points(circuit)
    if args.json:
        emit_json(res.to_dict())
    else:
        print(circuit.summary())
        rows = []
        for k, p in enumerate(res.points, start=1):
            dominant = max(p.poles.poles_hz, key=lambda z: z.real) if p.poles.poles.size else None
            rows.append([str(k), format_eng(p.v, "V"), format_eng(p.i, "A"),
                         format_eng(p.small_signal.resistance, "Ω"), "NDR" if p.in_ndr else "",
                         "" if dominant is None else f"{fmt_hz(dominant.real)} {fmt_hz(dominant.imag)}",
                         "marginal (tangent)" if p.tangent else ("stable" if p.stable else "UNSTABLE")])
        print(table(rows, ["#", f"v({res.device_name})", f"i({res.device_name})", "r = dv/di", "",
                           "rightmost pole Re, Im", "verdict"]))
        for note in res.warnings:
            print(f"warning: {note}")
    return 0 if res.stable_count else 1
