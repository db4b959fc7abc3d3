"""Operating points → small-signal circuits: the first step of every stability question.

Every command, the report, ``check`` and the pytest plugin ask the same thing of a netlist: at which DC
operating point(s) does the circuit rest, and what is its linear small-signal circuit there?
:func:`linear_points` answers it for every circuit stabkit reads:

* a linear circuit (no ``D``/``Q``): one point, the circuit itself;
* negative-differential-resistance devices (tunnel/table/S-type ``D`` elements): **every** operating
  point (load-line search for one device, multi-start Newton for several), each linearized;
* bipolar transistors (Gummel–Poon ``Q``) and junction diodes: the DC point by Newton (limiting, gmin
  and source stepping), linearized, with each transistor's operating region.

Parameter overrides are applied *before* the DC point is solved (so a swept supply moves the bias), and may
name ``.param`` entries or elements (``{"c2": 1e-12}`` sets C2's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

__all__ = ["LinearPoint", "linear_points", "sweep_circuit", "nonlinear_kinds", "apply_overrides", "transistor_region",
           "bias_movers", "linear_point_near", "bias_summary", "diode_held_nodes"]

#: a junction counts as forward-biased above this voltage (V) when naming a transistor's region
JUNCTION_ON_V = 0.5


@dataclass
class LinearPoint:
    """One DC operating point and the small-signal circuit linearized there.

    ``index`` counts from 1 among ``count`` points found; ``voltages`` are the node voltages (V) at the
    point (empty for a linear circuit); ``devices`` one JSON-ready dict per nonlinear device (bias, small-signal
    values, and ``region`` for transistors); ``tangent`` marks a point where the load line touches the device
    curve (marginal by construction); ``warnings`` hold operating-region warnings (a saturated or cut-off
    transistor), ``notes`` how the point was found."""

    index: int
    count: int
    circuit: Circuit
    voltages: dict[str, float] = field(default_factory=dict)
    #: NDR devices: name, v, i, ndr, type ("N"/"S") and the small-signal values (g, r, c / r, ls, cp)
    devices: list[dict] = field(default_factory=list)
    #: bipolar transistors: bias, small-signal values and ``region``
    transistors: list[dict] = field(default_factory=list)
    #: junction diodes: vd, i, gd, cd, rs
    diodes: list[dict] = field(default_factory=list)
    tangent: bool = False
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = "linear"  # "linear" | "ndr" | "transistor"

    @property
    def label(self) -> str:
        if self.kind == "linear":
            return "linear circuit"
        if self.count == 1:
            return "DC operating point"
        return f"operating point {self.index} of {self.count}"

    def to_dict(self) -> dict:
        out: dict = {"index": self.index, "label": self.label}
        if self.kind != "linear":
            out["voltages"] = dict(self.voltages)
        if self.devices:
            out["device"] = dict(self.devices[0])
            if len(self.devices) > 1:
                out["other_devices"] = [dict(d) for d in self.devices[1:]]
        if self.kind == "transistor":
            out["transistors"] = [dict(t) for t in self.transistors]
            out["diodes"] = [dict(d) for d in self.diodes]
        return out


def apply_overrides(circuit: Circuit, params: Mapping[str, float] | None) -> Circuit:
    """``circuit`` with ``params`` applied (``.param`` names or element names), or itself when there are none."""
    return circuit.with_values(params) if params else circuit


def nonlinear_kinds(circuit: Circuit) -> tuple[list[str], list[str]]:
    """``(ndr, junction)``: names of NDR ``D`` devices, and of transistors/junction diodes."""
    from stabkit.analysis.bjt import is_junction_diode

    ndr, junction = [], []
    for e in circuit:
        if e.kind == "Q" or is_junction_diode(circuit, e):
            junction.append(e.name)
        elif e.kind == "D":
            ndr.append(e.name)
    return ndr, junction


def transistor_region(vbe: float, vbc: float) -> str:
    """The operating region of a bipolar transistor from its internal junction voltages (device sense):
    ``forward active`` (B–E on, B–C off), ``saturation`` (both on), ``reverse active``, ``cut-off``."""
    be, bc = vbe > JUNCTION_ON_V, vbc > JUNCTION_ON_V
    if be and not bc:
        return "forward active"
    if be and bc:
        return "saturation"
    return "reverse active" if bc else "cut-off"


def linear_points(circuit: Circuit, params: Mapping[str, float] | None = None) -> list[LinearPoint]:
    """Every DC operating point of ``circuit`` (with ``params`` applied) and its small-signal circuit."""
    circuit = apply_overrides(circuit, params)
    if not len(circuit):
        raise CircuitError(f"{circuit.source or 'the circuit'}: no circuit elements to analyse")
    ndr, junction = nonlinear_kinds(circuit)
    if ndr and junction:
        raise CircuitError(f"the circuit holds NDR devices ({', '.join(ndr)}) and transistors/junction diodes "
                           f"({', '.join(junction)}): one DC solver for both is not available yet; linearize one "
                           "kind by hand (an equivalent linear bias network) or split the circuit")
    if junction:
        return [_transistor_point(circuit)]
    if ndr:
        return _ndr_points(circuit, ndr)
    return [LinearPoint(index=1, count=1, circuit=circuit)]


def _transistor_point(circuit: Circuit, initial: Mapping[str, float] | None = None) -> LinearPoint:
    from stabkit.analysis.bjt import bias_point, linearize_bjts

    bias = bias_point(circuit, initial=initial)
    transistors, warn = [], []
    for t in bias.transistors.values():
        region = transistor_region(t.vbe, t.vbc)
        transistors.append({**t.to_dict(), "region": region})
        if region != "forward active":
            warn.append(f"{t.name} is in {region} (Vbe = {t.vbe:.3f} V, Vbc = {t.vbc:.3f} V, Ic = {t.ic:.3g} A): "
                        "its small-signal gain is not what a forward-active design assumes")
    diodes = [d.to_dict() for d in bias.diodes.values()]
    notes = [*bias.notes, f"DC operating point by {bias.method} ({bias.iterations} iterations); further operating "
                          "points of a transistor circuit, if any, are not searched"]
    voltages = {k: v for k, v in bias.voltages.items() if not k.endswith((".bi", ".ci", ".ei", ".ai"))}
    return LinearPoint(index=1, count=1, circuit=linearize_bjts(circuit, bias), voltages=voltages,
                       transistors=transistors, diodes=diodes, notes=notes, warnings=warn, kind="transistor")


def _ndr_points(circuit: Circuit, names: list[str]) -> list[LinearPoint]:
    import warnings

    from stabkit.analysis.dc import dc_network, load_line_points, newton_points
    from stabkit.analysis.linearize import circuit_devices, linearize, small_signal

    resolved = circuit.resolve_params()
    circuit.validate(resolved)
    devices = circuit_devices(circuit, resolved)
    found: list[tuple[dict[str, tuple[float, float]], dict[str, float], bool]] = []
    notes: list[str] = []
    if len(devices) == 1:
        (name, device), = devices.items()
        net = dc_network(circuit, name, resolved)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            curve = load_line_points(device, net.line)
        notes += [str(w.message) for w in caught]
        for cp in curve:
            found.append(({name: (cp.v, cp.i)}, net.voltages(cp.v, cp.i), bool(cp.tangent)))
    else:
        problem, solutions = newton_points(circuit, resolved)
        if not solutions:
            raise CircuitError("operating points: Newton's method (with gmin and source stepping) found no DC solution")
        first = next(iter(devices))
        for y in sorted(solutions, key=lambda z: problem.bias(z)[first][0]):
            found.append((problem.bias(y), problem.voltages(y), False))
        notes.append(f"{len(devices)} nonlinear devices: operating points found by damped Newton from several "
                     "starts; unlike the one-device load-line search, points may be missed")
    if not found:
        raise CircuitError("operating points: the load line does not meet the device curve (no DC solution)")
    out = []
    for k, (bias, voltages, tangent) in enumerate(found, start=1):
        lin = linearize(circuit, bias, resolved, devices)
        devs = []
        for name, (v, i) in bias.items():
            model = small_signal(devices[name], v, i)
            devs.append({"name": name, "v": v, "i": i, "ndr": bool(model.negative), "tangent": tangent,
                         **model.to_dict()})
        out.append(LinearPoint(index=k, count=len(found), circuit=lin, voltages=voltages, devices=devs,
                               tangent=tangent, notes=list(notes), kind="ndr"))
    return out


def diode_held_nodes(circuit: Circuit) -> set[str]:
    """Nodes touched only by junction diodes (an ESD clamp's midpoint): their DC voltage is held by leakage and
    gmin and carries rounding noise, so bias comparisons leave them out."""
    incident: dict[str, set[str]] = {}
    for e in circuit:
        for n in e.nodes:
            incident.setdefault(n, set()).add(e.kind)
    return {n for n, kinds in incident.items() if kinds == {"D"}}


def _bias_shift(base: LinearPoint, other: LinearPoint, ignore: set[str]) -> tuple[str, float, float] | None:
    """The first node whose DC voltage differs by more than 1e-9 relative between two points, or ``None``."""
    for node, v0 in base.voltages.items():
        v1 = other.voltages.get(node, v0)
        if abs(v1 - v0) > 1e-9 * (1.0 + abs(v0)) and node not in ignore:
            return node, v0, v1
    return None


def bias_movers(circuit: Circuit, sweeps: Mapping[str, Sequence[float]], params: Mapping[str, float] | None = None,
                point: int | None = None) -> dict[str, str]:
    """Which swept names move the DC operating point: ``{name: why}`` (empty for a linear circuit).

    The point is solved at each name's smallest and largest value (other names at ``params``) and compared
    with the point at ``params``, node by node (1e-9 relative; nodes held only by junction diodes are left
    out). Nonlinear devices themselves cannot be swept (:class:`CircuitError`)."""
    ndr, junction = nonlinear_kinds(circuit)
    if not ndr and not junction:
        return {}
    base_points = linear_points(circuit, params)
    if point is None and len(base_points) > 1:
        raise CircuitError(f"the circuit has {len(base_points)} DC operating points; choose the one to sweep "
                           f"around with --point K (1..{len(base_points)})")
    k = (point or 1) - 1
    if not 0 <= k < len(base_points):
        raise CircuitError(f"operating point {point} asked for, but the circuit has {len(base_points)}")
    base = base_points[k]
    devices = set(n.lower() for n in (*ndr, *junction))
    ignore = diode_held_nodes(circuit)
    out: dict[str, str] = {}
    for name, values in sweeps.items():
        if name.lower() in devices:
            raise CircuitError(f"cannot sweep {name}: it is a nonlinear device, linearized at its operating point")
        values = [float(v) for v in values]
        for value in sorted({min(values), max(values)}):
            others = linear_points(circuit, {**dict(params or {}), name: value})
            other = min(others, key=lambda q: _distance(q.voltages, base.voltages))
            shift = _bias_shift(base, other, ignore)
            if shift is not None:
                node, v0, v1 = shift
                out[name] = f"sweeping {name} moves the DC operating point (node {node}: {v0:.6g} V, {v1:.6g} V at " \
                            f"{name}={value:g})"
                break
    return out


def sweep_circuit(circuit: Circuit, sweeps: Mapping[str, Sequence[float]], params: Mapping[str, float] | None = None,
                  point: int | None = None) -> Circuit:
    """The small-signal circuit a load sweep analyses: ``circuit`` itself when it is linear, else its
    linearization at the chosen operating point (``point``, 1-based; required when there are several).

    The sweep linearizes once, so a swept name (``.param`` or element) must leave the DC point alone
    (:func:`bias_movers`); one that moves it raises :class:`CircuitError` (sweep the nonlinear circuit itself
    instead: :class:`~stabkit.analysis.loads.CircuitProbe` then re-biases per value)."""
    ndr, junction = nonlinear_kinds(circuit)
    if not ndr and not junction:
        return circuit
    movers = bias_movers(circuit, sweeps, params, point)
    if movers:
        raise CircuitError(next(iter(movers.values())) + "; the sweep linearizes once, so sweep a value that "
                           "leaves the bias alone (an inductor, a capacitor, an AC-coupled load)")
    return linear_points(circuit, params)[(point or 1) - 1].circuit


def linear_point_near(circuit: Circuit, params: Mapping[str, float] | None = None,
                      near: LinearPoint | None = None, point: int | None = None) -> LinearPoint:
    """One DC operating point and its small-signal circuit, followed from a neighbour (continuation).

    Transistor circuits: Newton starts from ``near``'s node voltages (the usual sequence if that fails).
    Circuits with several operating points (NDR devices): the point nearest ``near`` in node voltages, or
    the ``point``-th (1-based) without a neighbour. Linear circuits: the circuit itself."""
    ndr, junction = nonlinear_kinds(circuit)
    if junction and not ndr:
        return _transistor_point(apply_overrides(circuit, params), near.voltages if near is not None else None)
    pts = linear_points(circuit, params)
    if near is not None and len(pts) > 1:
        return min(pts, key=lambda q: _distance(q.voltages, near.voltages))
    k = (point or 1) - 1
    if len(pts) > 1 and point is None:
        raise CircuitError(f"the circuit has {len(pts)} DC operating points; choose one with --point K "
                           f"(1..{len(pts)})")
    if not 0 <= k < len(pts):
        raise CircuitError(f"operating point {point} asked for, but the circuit has {len(pts)}")
    return pts[k]


def bias_summary(point: LinearPoint) -> dict[str, dict]:
    """``{device: {"ic": A, "vce": V, "vbe": V, "gm": S, "ft": Hz, "region": str}}`` for transistors and
    ``{device: {"v": V, "i": A, ...}}`` for NDR devices at a point (empty for a linear circuit)."""
    out: dict[str, dict] = {}
    for t in point.transistors:
        out[t["name"]] = {k: t[k] for k in ("ic", "vce", "vbe", "ib", "gm", "ft", "region") if k in t}
    for d in point.devices:
        out[d["name"]] = {k: v for k, v in d.items() if k != "name"}
    return out


def _distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    return max((abs(a[k] - b[k]) for k in a.keys() & b.keys()), default=0.0)
