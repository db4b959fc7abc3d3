"""``stabkit oppoints NET``: every DC operating point of a circuit and its stability."""

from __future__ import annotations

import argparse

from stabkit.commands.common import add_common, fmt_hz, finish, load_circuit, print_warnings, table
from stabkit.units import format_eng

EPILOG = """\
NDR devices (tunnel diodes, S-type devices): every intersection of the load line with the device curve.
Transistors and junction diodes: the DC point by Newton, with each transistor's bias and region.
Each point is linearized and judged as `stabkit poles` judges it. Exit 0 when every point is stable,
1 when any point is unstable (a bistable switch has an unstable middle point; an oscillator has no stable
point), 3 when a point is uncertain (e.g. a tangent point), 2 bad input.

examples:
  stabkit oppoints cases/tunnel_bistable.cir
  stabkit oppoints cases/tunnel_amp.cir --set rs=40 --json
  stabkit oppoints cases/linvill_bfr840.cir
"""


def register(sub) -> None:
    p = sub.add_parser("oppoints", help="all DC operating points and the stability of each",
                       description="DC operating points (V/I sources at their dc values, inductors shorted, "
                                   "capacitors open), each linearized and judged.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist with nonlinear devices (D with a tunnel/stype/table or junction "
                                   "model, Q)")
    add_common(p)
    p.set_defaults(func=run)


def _rightmost(pv) -> str:
    if pv.poles is None or not pv.poles.poles.size:
        return ""
    z = max(pv.poles.poles_hz, key=lambda p: p.real)
    return f"{fmt_hz(z.real)} {fmt_hz(z.imag)}"


def run(args) -> int:
    from stabkit.analysis.verdict import decide
    from stabkit.errors import CircuitError

    circuit = load_circuit(args.netlist, args.set)
    verdict = decide(circuit)
    if verdict.points[0].point.kind == "linear":
        raise CircuitError("the circuit has no nonlinear device (D with a tunnel/stype/table/junction model, Q): "
                           "it has no operating point to find; use stabkit poles")
    payload = verdict.to_dict()
    if not args.json:
        print(circuit.summary())
        kind = verdict.points[0].point.kind
        if kind == "ndr":
            rows = []
            for pv in verdict.points:
                dev = pv.point.devices[0]
                r = dev.get("r")
                rows.append([str(pv.point.index), format_eng(dev["v"], "V"), format_eng(dev["i"], "A"),
                             format_eng(r, "Ω") if r is not None else "∞", "NDR" if dev["ndr"] else "",
                             _rightmost(pv), pv.verdict.upper() if pv.verdict != "stable" else "stable"])
            name = verdict.points[0].point.devices[0]["name"]
            print(table(rows, ["#", f"v({name})", f"i({name})", "r = dv/di", "", "rightmost pole Re, Im", "verdict"]))
        else:
            pt = verdict.points[0].point
            rows = [[d["name"], d["region"], format_eng(d["ic"], "A"), format_eng(d["vce"], "V"),
                     format_eng(d["vbe"], "V"), f"{d['beta']:.4g}", format_eng(d["gm"], "S"), format_eng(d["ft"], "Hz")]
                    for d in pt.transistors]
            if rows:
                print(table(rows, ["transistor", "region", "Ic", "Vce", "Vbe (internal)", "Ic/Ib", "gm",
                                   "fT (intrinsic)"]))
            fets = [[d["name"], d.get("family", f"level {d.get('level', '?')}"), d.get("region", d.get("mode", "")),
                     format_eng(d.get("id", 0.0), "A"), format_eng(d.get("vgs", 0.0), "V"),
                     format_eng(d.get("vds", 0.0), "V"), format_eng(d.get("gm", 0.0), "S"),
                     format_eng(d.get("gds", 0.0), "S"), d.get("path", "")] for d in pt.fets]
            if fets:
                print(table(fets, ["FET", "model", "region", "Id", "Vgs", "Vds", "gm", "gds", "evaluated by"]))
            rm = _rightmost(verdict.points[0])
            if rm:
                print(f"rightmost pole: {rm}")
        for note in dict.fromkeys(n for pv in verdict.points for n in pv.point.notes):
            print(f"note: {note}")
        print(verdict.summary())
        print_warnings(verdict.warnings)
    return finish(verdict, args, payload)
