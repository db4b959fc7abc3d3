"""Operating points → small-signal circuits: the first step of every stability question.

Every command, the report, ``check`` and the pytest plugin ask the same thing of a netlist: at which DC
operating point(s) does the circuit rest, and what is its linear small-signal circuit there?
:func:`linear_points` answers it for every circuit stabkit reads:

* a linear circuit (no ``D``/``Q``/``B``): one point, the circuit itself;
* otherwise the one nonlinear layer (:mod:`stabkit.nonlinear`): **every** operating point where NDR devices
  (tunnel/table/S-type ``D`` elements) are present (load-line search for one device in a linear circuit,
  multi-start Newton otherwise), else the one DC point by Newton (limiting, gmin and source stepping); each
  point linearized by the one linearizer, with each transistor's operating region;
* devices only ngspice evaluates (BSIM MOSFETs, JFETs, VBIC ... :mod:`stabkit.nonlinear.ngspice_devices`): the
  operating point from ngspice, those devices linearized from ngspice's small-signal admittances, the native
  ones by their own models.

Parameter overrides are applied *before* the DC point is solved (so a swept supply moves the bias), and may
name ``.param`` entries or elements (``{"c2": 1e-12}`` sets C2's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

__all__ = ["LinearPoint", "linear_points", "sweep_circuit", "nonlinear_kinds", "apply_overrides", "bias_movers",
           "linear_point_near", "bias_summary", "diode_held_nodes"]


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
    #: field-effect transistors (native level 1 and ngspice-evaluated): bias, small-signal values, path
    fets: list[dict] = field(default_factory=list)
    tangent: bool = False
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = "linear"  # "linear" | "ndr" | "transistor"
    #: the DC solution itself (None for a linear circuit): harmonic balance starts from it
    dc: object | None = None

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
            if self.fets:
                out["fets"] = [dict(d) for d in self.fets]
        return out


def apply_overrides(circuit: Circuit, params: Mapping[str, float] | None) -> Circuit:
    """``circuit`` with ``params`` applied (``.param`` names or element names), or itself when there are none."""
    return circuit.with_values(params) if params else circuit


def nonlinear_kinds(circuit: Circuit) -> tuple[list[str], list[str]]:
    """``(ndr, other)``: names of NDR ``D`` devices, and of transistors (``Q``, ``M``, ``J``), junction diodes and
    behavioural sources."""
    from stabkit.nonlinear.devices import is_junction_diode, nonlinear_elements

    ndr, other = [], []
    for e in nonlinear_elements(circuit):
        (ndr if e.kind == "D" and not is_junction_diode(circuit, e) else other).append(e.name)
    return ndr, other


def linear_points(circuit: Circuit, params: Mapping[str, float] | None = None, *, start=None) -> list[LinearPoint]:
    """Every DC operating point of ``circuit`` (with ``params`` applied) and its small-signal circuit: one DC
    solver (:func:`stabkit.nonlinear.dc.dc_points`) and one linearizer (:func:`stabkit.nonlinear.linearize.linearize`)
    for every mix of devices (tunnel diodes, S-type devices, junction diodes, transistors, behavioural sources).

    ``start``: a :class:`~stabkit.nonlinear.dc.DCPoint` of the same circuit (e.g. at nominal values) where the
    DC Newton of a circuit without NDR devices starts (a warm start, see :func:`~stabkit.nonlinear.dc.dc_points`)."""
    from stabkit.nonlinear.dc import dc_points
    from stabkit.nonlinear.devices import BipolarTransistor, JunctionDiode, transistor_region
    from stabkit.nonlinear.linearize import linearize

    circuit = apply_overrides(circuit, params)
    if not len(circuit):
        raise CircuitError(f"{circuit.source or 'the circuit'}: no circuit elements to analyse")
    ndr, other = nonlinear_kinds(circuit)
    if not ndr and not other:
        return [LinearPoint(index=1, count=1, circuit=circuit)]
    from stabkit.nonlinear.ngspice_devices import ngspice_elements, ngspice_points

    points = ngspice_points(circuit) if any(e.kind in "MJQ" for e in circuit) and ngspice_elements(circuit) \
        else dc_points(circuit, start=start)
    out = []
    for k, pt in enumerate(points, start=1):
        devices = pt.problem.devices
        voltages = {n: v for n, v in pt.voltages.items() if not n.endswith((".bi", ".ci", ".ei", ".ai"))}
        ndr_dicts, transistors, diodes, fets, warn = [], [], [], [], []
        volts = pt.voltages
        for j, dev in enumerate(devices):
            x = pt.controls(j)
            if dev.family == "ndr":
                ndr_dicts.append({**dev.describe(x), "tangent": pt.tangent})
            elif isinstance(dev, BipolarTransistor):
                t = dev.bias(x, volts)
                region = transistor_region(t.vbe, t.vbc)
                transistors.append({**t.to_dict(), "region": region})
                if region != "forward active":
                    warn.append(f"{t.name} is in {region} (Vbe = {t.vbe:.3f} V, Vbc = {t.vbc:.3f} V, Ic = {t.ic:.3g} A): "
                                "its small-signal gain is not what a forward-active design assumes")
            elif isinstance(dev, JunctionDiode):
                diodes.append(dev.describe(x))
            elif getattr(dev, "element", None) is not None and dev.element.kind in "MJ" or hasattr(dev, "i_dc"):
                fet = dev.describe(x)
                fets.append(fet)
                if fet.get("region") == "cut-off":
                    warn.append(f"{fet['name']} is cut off (Vgs = {fet['vgs']:.3f} V, threshold {fet['vth']:.3f} V): "
                                "its small-signal gain is zero")
        kind = "ndr" if ndr else "transistor"
        notes = [*pt.device_notes, *pt.notes]
        blocks = [e.name for e in circuit if e.kind == "N"]
        if blocks:
            notes.append(f"{', '.join(blocks)}: S-parameter data carry no DC information; in the DC solution "
                         "each block is its lowest-frequency data extrapolated to 0 Hz (Re S(f1)), as the NDF "
                         "takes it")
        out.append(LinearPoint(index=k, count=len(points), circuit=linearize(circuit, pt), voltages=voltages,
                               devices=ndr_dicts, transistors=transistors, diodes=diodes, fets=fets, tangent=pt.tangent,
                               notes=notes, warnings=warn, kind=kind, dc=pt))
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
    ndr, other_kinds = nonlinear_kinds(circuit)
    if not ndr and not other_kinds:
        return {}
    base_points = linear_points(circuit, params)
    if point is None and len(base_points) > 1:
        raise CircuitError(f"the circuit has {len(base_points)} DC operating points; choose the one to sweep "
                           f"around with --point K (1..{len(base_points)})")
    k = (point or 1) - 1
    if not 0 <= k < len(base_points):
        raise CircuitError(f"operating point {point} asked for, but the circuit has {len(base_points)}")
    base = base_points[k]
    devices = set(n.lower() for n in (*ndr, *other_kinds))
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
                out[name] = (f"sweeping {name} moves the DC operating point (node {node}: {v0:.6g} V, {v1:.6g} V at "
                             f"{name}={value:g})")
                break
    return out


def sweep_circuit(circuit: Circuit, sweeps: Mapping[str, Sequence[float]], params: Mapping[str, float] | None = None,
                  point: int | None = None) -> Circuit:
    """The small-signal circuit a load sweep analyses: ``circuit`` itself when it is linear, else its
    linearization at the chosen operating point (``point``, 1-based; required when there are several).

    The sweep linearizes once, so a swept name (``.param`` or element) must leave the DC point alone
    (:func:`bias_movers`); one that moves it raises :class:`CircuitError` (sweep the nonlinear circuit itself
    instead: :class:`~stabkit.analysis.loads.CircuitProbe` then re-biases per value)."""
    ndr, other_kinds = nonlinear_kinds(circuit)
    if not ndr and not other_kinds:
        return circuit
    movers = bias_movers(circuit, sweeps, params, point)
    if movers:
        raise CircuitError(next(iter(movers.values())) + "; the sweep linearizes once, so sweep a value that "
                           "leaves the bias alone (an inductor, a capacitor, an AC-coupled load)")
    return linear_points(circuit, params)[(point or 1) - 1].circuit


def linear_point_near(circuit: Circuit, params: Mapping[str, float] | None = None,
                      near: LinearPoint | None = None, point: int | None = None) -> LinearPoint:
    """One DC operating point and its small-signal circuit, followed from a neighbour (continuation).

    Without NDR devices (transistors, junction diodes, behavioural sources): Newton starts from ``near``'s DC
    solution and device states (the warm start of :func:`~stabkit.nonlinear.dc.dc_points`; the DC solver's usual
    sequence if that does not converge). With several operating points (NDR devices): the point nearest
    ``near`` in node voltages, or the ``point``-th (1-based) without a neighbour. Linear circuits: the circuit
    itself."""
    ndr, _ = nonlinear_kinds(circuit)
    start = near.dc if (near is not None and not ndr) else None
    pts = linear_points(circuit, params, start=start)
    if near is not None and len(pts) > 1:
        return min(pts, key=lambda q: _distance(q.voltages, near.voltages))
    if len(pts) > 1 and point is None:
        raise CircuitError(f"the circuit has {len(pts)} DC operating points; choose one with --point K "
                           f"(1..{len(pts)})")
    k = (point or 1) - 1
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
