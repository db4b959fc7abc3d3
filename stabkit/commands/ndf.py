"""``stabkit ndf NET [--fmin F] [--fmax F]``: NDF/Nyquist stability verdict with per-source diagnosis."""

from __future__ import annotations

from stabkit.analysis.ndf import ndf
from stabkit.analysis.bjt import linear_circuit
from stabkit.commands.common import add_common, emit_json, load_circuit, table
from stabkit.errors import NetlistError
from stabkit.units import format_eng, parse_value


def _frequency(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        value = parse_value(text)
    except ValueError as exc:
        raise NetlistError(f"{option} {text!r}: {exc}") from None
    if value <= 0:
        raise NetlistError(f"{option} {text!r}: expected a positive frequency in Hz, e.g. 1k or 10g")
    return value


def register(sub) -> None:
    p = sub.add_parser("ndf", help="normalized determinant function: encirclements and the unstable device loop",
                       description="Counts the clockwise encirclements of the origin by NDF(jω) = det M / det M0 "
                                   "(every dependent source and negative R/L/C off): the number of unstable natural "
                                   "frequencies, hidden modes included. Each source's return difference F_k (sources "
                                   "1..k-1 on, the rest off) says which device loop is unstable. Exit 0 if stable, 1 if not.")
    p.add_argument("netlist", help="SPICE netlist")
    p.add_argument("--fmin", help="lowest frequency of the sweep (Hz, suffixes allowed); default from the circuit")
    p.add_argument("--fmax", help="top of the dense sweep (Hz); the tail is extended until the NDF settles")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    circuit = linear_circuit(load_circuit(args.netlist, args.set))  # Q/D: linearized at the DC point
    res = ndf(circuit, fmin=_frequency(args.fmin, "--fmin"), fmax=_frequency(args.fmax, "--fmax"))
    if args.json:
        emit_json(res.to_dict())
    else:
        print(circuit.summary())
        rows = [[src.name, src.kind, str(src.encirclements), f"{src.raw_count:.3f}"] for src in res.sources]
        if rows:
            print(table(rows, ["source", "kind", "encirclements", "raw"]))
        print(f"swept {format_eng(res.fmin, 'Hz')} .. {format_eng(float(res.freq_hz.max()), 'Hz')} "
              f"({res.s.size} points)")
        for msg in res.warnings:
            print(f"warning: {msg}")
        if res.stable:
            print("STABLE: the NDF does not encircle the origin")
        elif res.encirclements:
            print(f"UNSTABLE: {res.encirclements} clockwise encirclement(s) = unstable natural frequencies")
        else:
            print("MARGINAL: a natural frequency on the jω axis")
    return 0 if res.stable else 1
