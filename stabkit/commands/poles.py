"""``stabkit poles NET``: exact natural frequencies of a lumped circuit."""

from __future__ import annotations

from stabkit.analysis.poles import poles
from stabkit.analysis.bjt import linear_circuit
from stabkit.commands.common import add_common, emit_json, fmt_hz, load_circuit, table


def register(sub) -> None:
    p = sub.add_parser("poles", help="exact natural frequencies (poles) and the stability verdict",
                       description="Natural frequencies s/2π (Hz) of a lumped circuit: the finite generalized "
                                   "eigenvalues of (G, −C). Bipolar transistors (Q) and junction diodes are "
                                   "linearized at their DC operating point first. Exit 0 if stable, 1 if not.")
    p.add_argument("netlist", help="SPICE netlist")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    circuit = linear_circuit(load_circuit(args.netlist, args.set))
    res = poles(circuit)
    if args.json:
        emit_json(res.to_dict())
    else:
        rows = []
        for p, unstable in zip(res.poles_hz, res.rhp_mask):
            rows.append([fmt_hz(p.real), fmt_hz(p.imag), "RHP" if unstable else ""])
        print(circuit.summary())
        print(table(rows, ["Re(s)/2π", "Im(s)/2π", ""]) if rows else "no finite natural frequencies")
        verdict = "STABLE" if res.stable else (f"UNSTABLE: {res.rhp_count} right-half-plane pole(s)" if res.rhp_count
                                              else "MARGINAL: pole(s) on the jω axis")
        print(verdict)
    return 0 if res.stable else 1
