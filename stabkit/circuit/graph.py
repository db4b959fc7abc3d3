"""The circuit: a networkx multigraph of nodes and elements, plus parameters and model cards.

``Circuit`` is what the netlist reader and the Python API build and what every analysis reads.
Nodes are lower-case strings, ground is ``"0"`` (``gnd`` is accepted as an alias). Each element is an
edge (two-terminal elements) or a few edges (four-terminal ones) keyed by its name; parallel
elements are allowed. Values may be numbers (SI) or expressions over the circuit's parameters, so a
sweep only changes the parameter table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import networkx as nx

from stabkit.circuit import expr
from stabkit.circuit.elements import DEPENDENT, KIND_NAMES, KINDS, LINES, VOLTAGE_DEFINED, Element
from stabkit.errors import CircuitError, ParameterError, StabkitWarning

__all__ = ["GROUND", "node_name", "Model", "Circuit", "Subcircuit", "check_lossy_line"]

GROUND = "0"
_GROUND_ALIASES = {"0", "gnd", "ground"}


def node_name(node: str | int) -> str:
    """Canonical node name: lower case, ground aliases mapped to ``"0"``."""
    text = str(node).strip().lower()
    return GROUND if text in _GROUND_ALIASES else text


@dataclass
class Model:
    """A ``.model`` card: name, type (``tunnel``, ``npn``, ``d`` ...) and its parameters."""

    name: str
    type: str
    params: dict[str, float | str] = field(default_factory=dict)
    origin: tuple[str, int] | None = None


class Circuit:
    """A linear(izable) circuit.

    Build it with the ``add_*`` methods (values in SI units, or ``"{expr}"`` strings over parameters)
    or read it with :meth:`from_netlist`. Analyses take the circuit and optional parameter overrides.

    >>> c = Circuit("RC")
    >>> c.add_resistor("R1", "in", 0, 1e3)
    >>> c.add_capacitor("C1", "in", 0, 1e-9)
    >>> sorted(c.nodes)
    ['0', 'in']
    """

    def __init__(self, title: str = ""):
        self.title = title
        self.graph = nx.MultiGraph()
        self.graph.add_node(GROUND)
        self._elements: dict[str, Element] = {}
        self.params: dict[str, float | str] = {}
        self.models: dict[str, Model] = {}
        #: ``.subckt`` definitions read from a netlist or library, by lower-case name (the netlist reader
        #: fills it with a mapping that builds each body when first asked for it)
        self.subcircuits: Mapping[str, Subcircuit] = {}
        #: S-parameter blocks (scikit-rf Networks) by element key
        self.networks: dict = {}
        self.source: str | None = None  # file it was read from
        #: simulator settings read from ``.temp``/``.options``: ``temp``, ``tnom`` (°C), ``gmin`` (S)
        self.options: dict[str, float] = {}

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_netlist(cls, path_or_text: str, **kwargs) -> "Circuit":
        """Read a SPICE netlist from a file path or from netlist text (see :mod:`stabkit.circuit.netlist`)."""
        from stabkit.circuit.netlist import read_netlist

        return read_netlist(path_or_text, **kwargs)

    # ------------------------------------------------------------------ access
    @property
    def elements(self) -> list[Element]:
        """Elements in insertion (netlist) order."""
        return list(self._elements.values())

    def element(self, name: str) -> Element:
        try:
            return self._elements[name.lower()]
        except KeyError:
            raise CircuitError(f"no element named {name!r} in the circuit") from None

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._elements

    def __iter__(self) -> Iterator[Element]:
        return iter(self._elements.values())

    def __len__(self) -> int:
        return len(self._elements)

    @property
    def nodes(self) -> list[str]:
        return list(self.graph.nodes)

    @property
    def dependent_sources(self) -> list[Element]:
        """The G/E/F/H elements, in netlist order."""
        return [e for e in self if e.kind in DEPENDENT]

    @property
    def is_lumped(self) -> bool:
        return not any(e.kind in LINES or e.kind == "N" for e in self)

    def __repr__(self) -> str:
        return (f"Circuit({self.title!r}: {len(self.graph) - 1} nodes + ground, {len(self)} elements, "
                f"{len(self.dependent_sources)} dependent sources)")

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for e in self:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        parts = ", ".join(f"{n} {KIND_NAMES.get(k, k)}{'s' if n > 1 else ''}" for k, n in kinds.items())
        return f"{self.title or 'circuit'}: {len(self.graph) - 1} nodes + ground; {parts}"

    def copy(self) -> "Circuit":
        """An independent copy: elements (with their value tables), parameters, model cards (with their parameter
        tables), options and the graph (same node and adjacency order) are new; subcircuit definitions and
        S-parameter data, which nothing changes once read, are shared, as in :meth:`without`. (A per-sample copy
        in ``stabkit yield``: about 5× faster than a deep copy.)"""
        out = Circuit(self.title)
        out.params = dict(self.params)
        out.models = {k: Model(name=m.name, type=m.type, params=dict(m.params), origin=m.origin)
                      for k, m in self.models.items()}
        out.networks = dict(self.networks)
        out.subcircuits = self.subcircuits
        out.source = self.source
        out.options = dict(self.options)
        out.graph = graph = nx.MultiGraph()
        graph.add_nodes_from((n, dict(data)) for n, data in self.graph.nodes(data=True))
        for e in self:
            dup = Element(name=e.name, kind=e.kind, nodes=e.nodes, values=dict(e.values), refs=e.refs, model=e.model,
                          origin=e.origin, expression=e.expression)
            out._elements[dup.key] = dup
            for a, b in self._conducting_pairs(dup):  # the edges in the order add() made them
                graph.add_edge(a, b, key=dup.key, element=dup.key, kind=dup.kind)
        return out

    def without(self, names: Iterable[str] = ()) -> "Circuit":
        """A copy without the elements in ``names`` (any case); everything else — parameters, model cards,
        S-parameter blocks, subcircuit definitions, options, the source file — is kept. This is the one copy
        routine the linearizers use to replace nonlinear devices by their small-signal models."""
        drop = {str(n).lower() for n in names}
        out = Circuit(self.title)
        out.params = dict(self.params)
        out.models = dict(self.models)
        out.networks = dict(self.networks)
        out.subcircuits = self.subcircuits
        out.source = self.source
        out.options = dict(self.options)
        graph = out.graph
        for e in self:  # checked when first added: only the graph is made again, as add() makes it
            if e.key in drop:
                continue
            dup = Element(name=e.name, kind=e.kind, nodes=e.nodes, values=dict(e.values), refs=e.refs,
                          model=e.model, origin=e.origin, expression=e.expression)
            out._elements[dup.key] = dup
            for a, b in self._conducting_pairs(dup):
                graph.add_edge(a, b, key=dup.key, element=dup.key, kind=dup.kind)
            graph.add_nodes_from(dup.nodes)
        return out

    # ------------------------------------------------------------------ building
    def add(self, element: Element) -> Element:
        """Add a prepared :class:`Element` (checks its name, nodes and values)."""
        kind = element.kind.upper()
        if kind not in KINDS and kind != "N":
            raise CircuitError(f"{element.name}: unknown element kind {element.kind!r}")
        element.kind = kind
        if element.key in self._elements:
            raise CircuitError(f"{element.where()}: element {element.name!r} is defined twice")
        if kind in KINDS:
            n_nodes, required, optional = KINDS[kind]
            if kind == "Q" and len(element.nodes) == 4:
                pass  # collector, base, emitter and substrate
            elif n_nodes and len(element.nodes) != n_nodes:
                raise CircuitError(f"{element.where()}: {element.describe()} needs {n_nodes} nodes, got {len(element.nodes)}")
            for key in required:
                if key not in element.values:
                    raise CircuitError(f"{element.where()}: {element.describe()} needs a value for {key!r}")
            for key, default in optional.items():
                if key not in element.values and default is not None:
                    element.values[key] = default
        element.nodes = tuple(node_name(n) for n in element.nodes)
        self._check_static_values(element)
        self._elements[element.key] = element
        for a, b in self._conducting_pairs(element):
            self.graph.add_edge(a, b, key=element.key, element=element.key, kind=kind)
        for n in element.nodes:
            self.graph.add_node(n)
        return element

    def _new(self, kind: str, name: str, nodes: Iterable, refs: Iterable[str] = (), model: str | None = None,
             **values) -> Element:
        vals = {k: (v if isinstance(v, str) else float(v)) for k, v in values.items() if v is not None}
        vals = {k: (v.strip()[1:-1] if isinstance(v, str) and v.strip().startswith("{") else v) for k, v in vals.items()}
        return self.add(Element(name=name, kind=kind, nodes=tuple(nodes), values=vals, refs=tuple(refs), model=model))

    def add_resistor(self, name: str, n1, n2, value: float | str) -> Element:
        """Resistor of ``value`` ohms (negative values are legal and count as active)."""
        return self._new("R", name, (n1, n2), value=value)

    def add_inductor(self, name: str, n1, n2, value: float | str) -> Element:
        return self._new("L", name, (n1, n2), value=value)

    def add_capacitor(self, name: str, n1, n2, value: float | str) -> Element:
        return self._new("C", name, (n1, n2), value=value)

    def add_mutual(self, name: str, inductor1: str, inductor2: str, k: float | str) -> Element:
        """Coupling ``k`` (|k| ≤ 1) between two inductors already in the circuit."""
        return self._new("K", name, (), refs=(inductor1, inductor2), value=k)

    def add_vccs(self, name: str, n_plus, n_minus, nc_plus, nc_minus, gm: float | str,
                 transcapacitance: float | str | None = None) -> Element:
        """Current ``gm·(v(nc+) − v(nc−))`` flowing from ``n+`` through the source to ``n−``.

        With ``transcapacitance`` ``c`` (F) the current is ``(gm + s·c)·(v(nc+) − v(nc−))``: the charge on one
        branch depends on the voltage of another (a bipolar transistor's ``∂Qbe/∂Vbc``)."""
        return self._new("G", name, (n_plus, n_minus, nc_plus, nc_minus), value=gm, c=transcapacitance)

    def add_vcvs(self, name: str, n_plus, n_minus, nc_plus, nc_minus, gain: float | str) -> Element:
        return self._new("E", name, (n_plus, n_minus, nc_plus, nc_minus), value=gain)

    def add_cccs(self, name: str, n_plus, n_minus, vsource: str, gain: float | str) -> Element:
        """Current ``gain·I(vsource)`` from ``n+`` through the source to ``n−``."""
        return self._new("F", name, (n_plus, n_minus), refs=(vsource,), value=gain)

    def add_ccvs(self, name: str, n_plus, n_minus, vsource: str, transresistance: float | str) -> Element:
        return self._new("H", name, (n_plus, n_minus), refs=(vsource,), value=transresistance)

    def add_vsource(self, name: str, n_plus, n_minus, dc: float | str = 0.0, ac: float | str = 0.0) -> Element:
        return self._new("V", name, (n_plus, n_minus), dc=dc, ac=ac)

    def add_isource(self, name: str, n_plus, n_minus, dc: float | str = 0.0, ac: float | str = 0.0) -> Element:
        return self._new("I", name, (n_plus, n_minus), dc=dc, ac=ac)

    def add_tline(self, name: str, a_plus, a_minus, b_plus, b_minus, z0: float | str,
                  td: float | str | None = None, f: float | str | None = None, nl: float | str | None = None) -> Element:
        """Lossless line: ``Z0`` with delay ``td`` (s), or frequency ``f`` (Hz) at which it is ``nl`` wavelengths long
        (``nl`` defaults to 0.25)."""
        if td is None and f is None:
            raise CircuitError(f"{name}: a transmission line needs td= or f= (with nl=)")
        return self._new("T", name, (a_plus, a_minus, b_plus, b_minus), z0=z0, td=td, f=f, nl=nl)

    def add_lossy_line(self, name: str, a_plus, a_minus, b_plus, b_minus, *, c: float | str, length: float | str,
                       r: float | str = 0.0, l: float | str = 0.0, g: float | str = 0.0) -> Element:
        """Lossy (RLGC) line of ``length`` metres with per-metre series ``r`` (Ω/m), ``l`` (H/m) and shunt ``g``
        (S/m), ``c`` (F/m): SPICE's ``O`` element with an ``ltra`` card (``r`` or ``l`` must be positive)."""
        return self._new("O", name, (a_plus, a_minus, b_plus, b_minus), r=r, l=l, g=g, c=c, len=length)

    def add_diode(self, name: str, anode, cathode, model: str, area: float | str = 1.0) -> Element:
        return self._new("D", name, (anode, cathode), model=model, area=area)

    def add_nport(self, name: str, nodes: Iterable, network) -> Element:
        """A measured/simulated N-port (an object with ``f``, ``s``, ``z0``, ``nports`` such as a ``skrf.Network``
        built in the caller's code, or a Touchstone path) between ``nodes`` and ground.

        Port ``k`` is node ``k`` against ground; one node more than the block has ports makes the last node
        the block's common reference terminal (e.g. the emitter of a common-emitter ``.s2p``), so the block can
        float above ground (emitter feedback). A Touchstone path is read as text
        (:func:`stabkit.analysis.blocks.read_touchstone`). In the NDF the block is a return difference of its
        own (``det(I − S·Γ)``, :mod:`stabkit.analysis.blocks`); it must be stable in its reference impedances,
        as every measured block is. Defined on the jω axis: measured inside its frequency range, extrapolated
        outside for the NDF."""
        nodes = tuple(nodes)
        if isinstance(network, (str, bytes)) or hasattr(network, "__fspath__"):
            from stabkit.analysis.blocks import read_touchstone

            network = read_touchstone(network)  # parsed as text: f, s, z0 arrays (no file format is unpickled)
        if len(nodes) not in (network.nports, network.nports + 1):
            raise CircuitError(f"{name}: the S-parameter block has {network.nports} ports but {len(nodes)} nodes were "
                               f"given ({network.nports}, or {network.nports + 1} with a common reference node last)")
        element = self.add(Element(name=name, kind="N", nodes=nodes, model=name.lower()))
        self.networks[name.lower()] = network
        return element

    def add_model(self, name: str, type: str, **params) -> Model:
        model = Model(name=name, type=type.lower(), params={k.lower(): v for k, v in params.items()})
        self.models[name.lower()] = model
        return model

    def set_param(self, name: str, value: float | str) -> None:
        """Define or change a parameter (number or expression string, braces optional)."""
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("{") and value.endswith("}"):
                value = value[1:-1]
            expr.parse_expression(value)
        else:
            value = float(value)
        self.params[name.lower()] = value

    def add_instance(self, name: str, subckt: "Subcircuit", nodes: Iterable, params: Mapping[str, float | str] | None = None,
                     origin: tuple[str, int] | None = None) -> None:
        """Flatten an instance of ``subckt``: elements become ``NAME.elem``, inner nodes ``NAME.node``,
        and its parameters ``NAME.param`` (so several instances keep their own values)."""
        nodes = [node_name(n) for n in nodes]
        where = f"{origin[0]}:{origin[1]}: " if origin else ""
        if len(nodes) != len(subckt.ports):
            raise CircuitError(f"{where}instance {name} of subcircuit {subckt.name} needs {len(subckt.ports)} nodes "
                               f"({' '.join(subckt.ports)}), got {len(nodes)}")
        prefix = name.lower()
        body = subckt.body
        node_map = {p: n for p, n in zip(subckt.ports, nodes)}
        node_map[GROUND] = GROUND
        local = dict(subckt.defaults)
        local.update(body.params)
        overrides = {k.lower(): v for k, v in (params or {}).items()}
        unknown = set(overrides) - set(local)
        if unknown:
            raise CircuitError(f"{where}instance {name}: subcircuit {subckt.name} has no parameter "
                               f"{', '.join(sorted(unknown))} (it has: {', '.join(sorted(local)) or 'none'})")
        rename = {p: f"{prefix}.{p}" for p in local}
        for p, v in local.items():
            if p in overrides:
                v = overrides[p]
                if isinstance(v, str):  # instance values are evaluated in the caller's scope
                    self.params[rename[p]] = v
                    continue
            if isinstance(v, str):
                v = expr.rename(v, rename)
            self.params[rename[p]] = v
        element_names = {e.key for e in body}
        # model cards defined inside the subcircuit are local to it (libraries reuse names such as M_D1
        # with different values in every part): each instance gets its own copy, NAME.model
        model_map = {key: f"{prefix}.{key}" for key in body.models}
        for key, model in body.models.items():
            self.models[model_map[key]] = Model(
                name=f"{name}.{model.name}", type=model.type,
                params={k: _rename_if_expression(v, rename) for k, v in model.params.items()}, origin=model.origin)
        for e in body:
            new_vals = {k: (expr.rename(v, rename) if isinstance(v, str) else v) for k, v in e.values.items()}
            new_refs = tuple(f"{prefix}.{r.lower()}" if r.lower() in element_names else r for r in e.refs)
            new_nodes = tuple(node_map.get(n, f"{prefix}.{n}") for n in e.nodes)
            new_model = model_map.get(e.model.lower(), e.model) if e.model else e.model
            if e.kind == "N":  # S-parameter block: its network travels with it, under the scoped name
                new_model = f"{prefix}.{e.key}"
                self.networks[new_model] = body.networks[e.key]
            new_expression = None
            if e.expression is not None:  # behavioural source: its parameters are scoped like values
                new_expression = (e.expression[0], expr.rename(e.expression[1], rename, behavioural=True))
            self.add(Element(name=f"{name}.{e.name}", kind=e.kind, nodes=new_nodes, values=new_vals,
                             refs=new_refs, model=new_model, origin=e.origin, expression=new_expression))

    # ------------------------------------------------------------------ values
    def param_names(self) -> list[str]:
        return list(self.params)

    def resolve_params(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """All parameters as floats, with ``overrides`` applied (names must exist)."""
        overrides = {k.lower(): float(v) for k, v in (overrides or {}).items()}
        unknown = [k for k in overrides if k not in self.params]
        if unknown:
            raise ParameterError(f"unknown parameter {unknown[0]!r}; the circuit has: "
                                 f"{', '.join(self.params) or 'no parameters'}")
        return expr.resolve_all(self.params, overrides)

    def values(self, element: Element, params: Mapping[str, float]) -> dict[str, float]:
        """The element's values as floats, given resolved parameters."""
        return _evaluate_table(element.values, params, f"{element.where()}: {element.name}.")  # type: ignore[return-value]

    def model_values(self, element: Element, params: Mapping[str, float],
                     text_keys: tuple[str, ...] = ()) -> tuple[Model, dict[str, float | str]]:
        """The ``.model`` card an element uses and its parameters as floats (``text_keys`` stay text).

        Raises :class:`CircuitError` when the card is missing, :class:`ParameterError` naming the card when a
        value does not evaluate."""
        key = (element.model or "").lower()
        if key not in self.models:
            raise CircuitError(f"{element.where()}: {element.describe()} uses model {element.model!r}, "
                               "but no .model card of that name exists")
        model = self.models[key]
        return model, _evaluate_table(model.params, params, f"model {model.name}: ", text_keys)

    def model_cards(self, name: str) -> list[Model]:
        """The ``.model`` cards an element naming ``name`` may use: ``name`` itself, or its size bins
        ``name.1``, ``name.2`` ... (PDK libraries bin MOSFET cards by L and W; the simulator picks one)."""
        key = name.lower()
        if key in self.models:
            return [self.models[key]]
        prefix = key + "."
        return [m for k, m in self.models.items() if k.startswith(prefix) and k[len(prefix):].isdigit()]

    def with_values(self, overrides: Mapping[str, float] | None = None) -> "Circuit":
        """A copy in which overrides are applied. Names may be parameters or element names
        (``R1=50`` sets R1's main value, ``V1=3.3`` a source's DC value). Unknown names raise
        :class:`ParameterError`."""
        c = self.copy()
        for name, value in (overrides or {}).items():
            key = name.lower()
            if key in c.params:
                c.params[key] = value if isinstance(value, str) else float(value)
            elif key in c._elements and "value" in c._elements[key].values:
                c._elements[key].values["value"] = float(value)
            elif key in c._elements and "dc" in c._elements[key].values:  # V/I source: its DC value (bias)
                c._elements[key].values["dc"] = float(value)
            elif key in c._elements:
                e = c._elements[key]
                raise ParameterError(f"--set {name}: {e.describe()} has no single value to set (it takes "
                                     f"{', '.join(e.values) or 'no values'}); use a .param in its line instead")
            else:
                raise ParameterError(f"--set {name}: no parameter or element of that name; parameters: "
                                     f"{', '.join(c.params) or 'none'}")
        return c

    def _check_static_values(self, e: Element) -> None:
        for key, raw in e.values.items():
            if isinstance(raw, str):
                expr.parse_expression(raw)
                continue
            if not math.isfinite(raw):
                raise CircuitError(f"{e.where()}: {e.name} {key}={raw} is not a finite number")
        v = e.values.get("value")
        if isinstance(v, float):
            if e.kind in "RLC" and v == 0:
                raise CircuitError(f"{e.where()}: {e.describe()} has value 0; use a wire (merge the nodes) or a 0 V source")
            if e.kind in "RLC" and v < 0:
                warnings.warn(f"{e.where()}: {e.describe()} has a negative value {v:g}: treated as an active element",
                              StabkitWarning, stacklevel=3)
            if e.kind == "K" and not (-1 <= v <= 1):
                raise CircuitError(f"{e.where()}: coupling {e.name} k={v} must satisfy |k| <= 1")
        if e.kind == "T":
            for key in ("z0", "td", "f", "nl"):
                x = e.values.get(key)
                if isinstance(x, float) and x <= 0:
                    raise CircuitError(f"{e.where()}: line {e.name} needs {key} > 0, got {x}")
        if e.kind == "O":
            check_lossy_line(e, e.values)

    @staticmethod
    def _conducting_pairs(e: Element) -> list[tuple[str, str]]:
        """Node pairs the element connects for the purpose of 'has a path to ground'."""
        n = e.nodes
        if e.kind in ("R", "L", "C", "V", "E", "H", "D", "B"):
            return [(n[0], n[1])]
        if e.kind in LINES:
            return [(n[0], n[1]), (n[2], n[3]), (n[0], n[2]), (n[1], n[3])]
        if e.kind == "Q":
            return [(n[0], n[2]), (n[1], n[2])] + ([(n[3], n[0])] if len(n) == 4 else [])
        if e.kind == "N":  # a path to ground at every terminal (the port count is the network's, not known here)
            return [(node, GROUND) for node in n]
        if e.kind == "M":  # channel and the two bulk junctions; the gate is insulated
            return [(n[0], n[2]), (n[3], n[0]), (n[3], n[2])]
        if e.kind == "J":  # channel and the two gate junctions
            return [(n[0], n[2]), (n[1], n[2]), (n[1], n[0])]
        return []  # G, F, I: ideal current sources do not give a path; K has no nodes

    # ------------------------------------------------------------------ validation
    def validate(self, params: Mapping[str, float] | None = None) -> None:
        """Raise :class:`CircuitError` explaining, from the graph, why the circuit cannot be analysed.

        Checks: references of F/H/K and model cards; nodes without any path to ground; loops made only of
        voltage-defined branches (V, E, H: their currents are undetermined); loops of voltage sources and
        inductors (warned: a natural frequency at exactly 0 Hz); values that evaluate to zero.
        """
        for e in self:
            if e.kind in ("F", "H"):
                ref = e.refs[0].lower() if e.refs else ""
                if ref not in self._elements or self._elements[ref].kind != "V":
                    raise CircuitError(f"{e.where()}: {e.describe()} is controlled by {e.refs[0] if e.refs else '?'!r}, "
                                       "which must be a voltage source (V) in the circuit")
            if e.kind == "K":
                for ref in e.refs:
                    if ref.lower() not in self._elements or self._elements[ref.lower()].kind != "L":
                        raise CircuitError(f"{e.where()}: coupling {e.name} refers to {ref!r}, which is not an inductor")
            if e.kind in ("D", "Q") and (e.model or "").lower() not in self.models:
                raise CircuitError(f"{e.where()}: {e.describe()} uses model {e.model!r}, but no .model card of that name exists")
        # floating nodes
        comps = list(nx.connected_components(self.graph))
        floating = sorted(n for comp in comps if GROUND not in comp for n in comp)
        if floating:
            touching = sorted({e.name for e in self if set(e.nodes) & set(floating)})
            raise CircuitError(
                f"node{'s' if len(floating) > 1 else ''} {', '.join(floating)} ha{'ve' if len(floating) > 1 else 's'} no path to ground "
                f"through R, L, C, lines or voltage-defined branches (touched only by: {', '.join(touching) or 'nothing'}); "
                "connect them or remove the elements")
        # loops of independent voltage sources (dependent ones may legally close loops through their gain)
        vgraph = nx.MultiGraph()
        for e in self:
            if e.kind in VOLTAGE_DEFINED and e.nodes[0] == e.nodes[1]:
                raise CircuitError(f"{e.where()}: {e.describe()} has both terminals on node {e.nodes[0]}")
            if e.kind != "V":
                continue
            a, b = e.nodes[0], e.nodes[1]
            if a == b:
                raise CircuitError(f"{e.where()}: {e.describe()} has both terminals on node {a}")
            if a in vgraph and b in vgraph and nx.has_path(vgraph, a, b):
                path = nx.shortest_path(vgraph, a, b)
                names = [next(iter(vgraph.get_edge_data(x, y).values()))["name"] for x, y in zip(path, path[1:])]
                raise CircuitError(f"{e.where()}: {e.name} closes a loop of voltage sources with {', '.join(names)} "
                                   f"(nodes {' -> '.join(path)}): their currents are undetermined; add a series resistance")
            vgraph.add_edge(a, b, name=e.name)
        # loops of voltage sources and inductors: a mode at exactly s = 0
        lgraph = nx.MultiGraph()
        for e in self:
            if e.kind in ("V", "L"):
                a, b = e.nodes[0], e.nodes[1]
                if e.kind == "L" and (a == b or (a in lgraph and b in lgraph and nx.has_path(lgraph, a, b))):
                    warnings.warn(f"{e.where()}: {e.name} closes a loop of inductors/voltage sources: the circuit has a "
                                  "natural frequency at 0 Hz (a circulating DC current); add a series resistance if that "
                                  "is not intended", StabkitWarning, stacklevel=2)
                lgraph.add_edge(a, b)
        resolved = self.resolve_params() if params is None else params
        for e in self:
            vals = self.values(e, resolved)
            if e.kind in "RLC" and vals.get("value") == 0:
                raise CircuitError(f"{e.where()}: {e.describe()} evaluates to 0")


def check_lossy_line(element: Element, values: Mapping[str, float | str]) -> None:
    """Raise :class:`CircuitError` unless the lossy line's numbers (those already known) describe a line:
    ``len > 0``, ``r, l, g, c >= 0``, a series impedance (``r`` or ``l`` positive) and a shunt admittance (``g`` or
    ``c`` positive).

    Parameters
    ----------
    element : Element
        The ``O`` element (for the message).
    values : mapping
        Its values; expression strings are skipped (checked again once evaluated)."""
    known = {k: v for k, v in values.items() if isinstance(v, (int, float))}
    if "len" in known and not known["len"] > 0:
        raise CircuitError(f"{element.where()}: lossy line {element.name} needs len > 0, got {known['len']:g}")
    for key in ("r", "l", "g", "c"):
        if key in known and (not math.isfinite(known[key]) or known[key] < 0):
            raise CircuitError(f"{element.where()}: lossy line {element.name} needs {key} >= 0, got {known[key]:g}")
    for pair, what in ((("r", "l"), "series resistance r= or inductance l="),
                       (("g", "c"), "shunt conductance g= or capacitance c=")):
        if all(known.get(k, 0.0) == 0 for k in pair) and all(k not in values or k in known for k in pair):
            raise CircuitError(f"{element.where()}: lossy line {element.name} has neither {pair[0]} nor {pair[1]}: "
                               f"give its {what} (per metre) on the ltra card")


def _rename_if_expression(value, mapping: Mapping[str, str]):
    """Scope the parameter names of a model value that is an expression; numbers and words stay as they are."""
    if not isinstance(value, str):
        return value
    try:
        return expr.rename(value, mapping)
    except ParameterError:
        return value


def _evaluate_table(table: Mapping[str, float | str], params: Mapping[str, float], label: str,
                    text_keys: tuple[str, ...] = ()) -> dict[str, float | str]:
    """Numbers stay numbers, expression strings are evaluated against ``params`` (errors prefixed by ``label``
    and the key), ``text_keys`` are kept as text."""
    out: dict[str, float | str] = {}
    for key, raw in table.items():
        if key in text_keys:
            out[key] = str(raw)
        elif isinstance(raw, str):
            try:
                out[key] = expr.evaluate(raw, params)
            except ParameterError as exc:
                raise ParameterError(f"{label}{key}: {exc}") from None
        else:
            out[key] = float(raw)
    return out


@dataclass
class Subcircuit:
    """A ``.subckt`` definition: its port nodes, default parameters and body (a :class:`Circuit`)."""

    name: str
    ports: list[str]
    defaults: dict[str, float | str] = field(default_factory=dict)
    body: Circuit = field(default_factory=Circuit)
    origin: tuple[str, int] | None = None

    def __post_init__(self):
        self.ports = [node_name(p) for p in self.ports]
