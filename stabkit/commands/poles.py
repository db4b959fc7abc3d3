"""``stabkit poles NET``: exact natural frequencies and the stability verdict."""

from __future__ import annotations

import argparse

from stabkit.commands.common import add_common, add_point, fmt_hz, finish, load_circuit, print_warnings, table

__all__ = ['register', 'run', 'pole_rows']

EPILOG = """\
The verdict is the one every stabkit command gives (exact poles cross-checked with the NDF): exit 0 stable,
1 unstable, 3 uncertain (reason on stderr), 2 bad input. Nonlinear devices (tunnel diodes, transistors,
junction diodes) are linearized at each DC operating point first; structural zero modes (a capacitor island,
an inductor loop) are reported, not counted.

examples:
  stabkit poles cases/ntype_smallsignal.cir
  stabkit poles cases/ntype_smallsignal.cir --set lser=60n --json
  stabkit poles cases/tunnel_bistable.cir            every operating point
  stabkit poles cases/tunnel_bistable.cir --point 2  only the second
  stabkit poles cases/linvill_bfr840.cir --set lext=5n --sensitivity   which elements damp the unstable modes
"""


def register(sub) -> None:
    p = sub.add_parser("poles", help="exact natural frequencies (poles) and the stability verdict",
                       description="Natural frequencies s/2π (Hz) of a lumped circuit: the finite generalized "
                                   "eigenvalues of (G, −C), with the stability verdict.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--sensitivity", nargs="?", const="auto", metavar="WHICH",
                   help="rank every element and .param by how much it moves the right-half-plane modes (or the "
                        "least-damped one when there are none); WHICH: auto (default), rhp, least-damped, or a count")
    add_point(p)
    add_common(p)
    p.set_defaults(func=run)


def _which(text: str):
    if text in ("auto", "rhp", "least-damped"):
        return text
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        from stabkit.errors import NetlistError

        raise NetlistError(f"--sensitivity {text!r}: expected auto, rhp, least-damped or a positive count")
    return k


def pole_rows(pole_result) -> list[list[str]]:
    return [[fmt_hz(p.real), fmt_hz(p.imag), "RHP" if unstable else ""]
            for p, unstable in zip(pole_result.poles_hz, pole_result.rhp_mask)]


def run(args) -> int:
    from stabkit.analysis.verdict import decide

    circuit = load_circuit(args.netlist, args.set)
    verdict = decide(circuit, point=args.point)
    d = verdict.deciding
    payload = {**(d.poles.to_dict() if d.poles is not None else {"poles": [], "rhp_count": d.rhp_count}),
               **verdict.to_dict(), "rhp_count": d.rhp_count}
    sens = None
    if args.sensitivity:
        from stabkit.analysis.sensitivity import sensitivities

        which = _which(args.sensitivity)
        if d.poles is None:
            payload["sensitivities"] = []
            payload["warnings"] = [*payload.get("warnings", []), "sensitivities need the exact poles: the circuit "
                                                                  "has distributed elements"]
        else:
            sens = sensitivities(circuit, which=which, point=d.point.index if len(verdict.points) > 1 else None)
            payload["sensitivities"] = sens.to_dict()
            payload["warnings"] = [*payload.get("warnings", []), *sens.warnings]
    if not args.json:
        print(circuit.summary())
        for pv in verdict.points:
            if len(verdict.points) > 1:
                print(f"\n{pv.point.label}: {pv.verdict.upper()}")
            if pv.poles is None:
                distributed = not pv.circuit.is_lumped
                print(("distributed elements: no finite set of natural frequencies" if distributed else
                       "too many unknowns for the exact poles (see the warning)")
                      + (f"; the verdict is the NDF's ({pv.ndf.encirclements} encirclement(s))" if pv.ndf is not None
                         else "; the NDF gave no count either"))
            elif pv.poles.poles.size:
                print(table(pole_rows(pv.poles), ["Re(s)/2π", "Im(s)/2π", ""]))
            else:
                print("no finite natural frequencies")
            if pv.poles is not None and pv.poles.zero_modes:
                print(f"{pv.poles.zero_modes} structural zero mode(s) at s = 0 (conserved charge or flux; not counted)")
        print(verdict.summary())
        if sens is not None:
            print("\nsensitivities (relative: the shift of Re s/2π for +100 % of the value, linearized):")
            print(sens.text())
        print_warnings([*verdict.warnings, *(sens.warnings if sens is not None else [])])
    return finish(verdict, args, payload)
