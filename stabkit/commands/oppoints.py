"""``stabkit oppoints NET``: every DC operating point of a circuit with one NDR device, and its stability."""

from __future__ import annotations

from stabkit.analysis.bjt import bias_point, linearize_bjts, needs_bias
from stabkit.analysis.dc import operating_points
from stabkit.analysis.poles import poles
from stabkit.commands.common import add_common, emit_json, fmt_hz, load_circuit, table
from stabkit.units import format_eng


def register(sub) -> None:
    p = sub.add_parser("oppoints", help="all DC operating points of an NDR-device circuit and their stability",
                       description="Every intersection of the load line with the device curve (N-type tunnel "
                                   "diodes, S-type devices), the circuit linearized at each point and its poles. "
                                   "DC uses the V/I sources' dc values, inductors shorted, capacitors open. "
                                   "Exit 0 if at least one operating point is stable, 1 if none is "
                                   "(the circuit cannot rest: it oscillates). Circuits with bipolar transistors (Q, "
                                   "Gummel–Poon) and junction diodes: their DC operating point by Newton "
                                   "(one point; others are not searched), with the transistors' bias.")
    p.add_argument("netlist", help="SPICE netlist with one D element using a tunnel or stype .model")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    circuit = load_circuit(args.netlist, args.set)
    if needs_bias(circuit):
        return _run_transistors(circuit, args)
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


def _run_transistors(circuit, args) -> int:
    bias = bias_point(circuit)
    pr = poles(linearize_bjts(circuit, bias))
    notes = list(bias.notes) + [f"one DC operating point, found by {bias.method} ({bias.iterations} iterations); "
                                "further operating points (if any) are not searched"]
    point = {"voltages": dict(bias.voltages), "stable": bool(pr.stable),
             "poles": [[float(p.real), float(p.imag)] for p in pr.poles_hz],
             "transistors": [t.to_dict() for t in bias.transistors.values()],
             "diodes": [d.to_dict() for d in bias.diodes.values()]}
    if args.json:
        emit_json({"points": [point], "temp_c": bias.temp_c, "warnings": notes})
    else:
        print(circuit.summary())
        rows = [[t.name, format_eng(t.ic, "A"), format_eng(t.vce, "V"), format_eng(t.vbe, "V"), f"{t.beta:.4g}",
                 format_eng(t.gm, "S"), format_eng(t.ft, "Hz")] for t in bias.transistors.values()]
        print(table(rows, ["transistor", "Ic", "Vce", "Vbe (internal)", "Ic/Ib", "gm", "fT (intrinsic)"]))
        dominant = max(pr.poles_hz, key=lambda z: z.real) if pr.poles.size else None
        if dominant is not None:
            print(f"rightmost pole: {fmt_hz(dominant.real)} {fmt_hz(dominant.imag)}")
        print("stable" if pr.stable else f"UNSTABLE: {pr.rhp_count} right-half-plane pole(s)")
        for note in notes:
            print(f"note: {note}")
    return 0 if pr.stable else 1
