"""Devices stabkit does not model itself, evaluated by ngspice: BSIM3/BSIM4/any-level MOSFETs, JFETs, VBIC/HICUM.

Which path a device takes (:func:`device_path`):

* native (:mod:`stabkit.nonlinear.devices`, :mod:`stabkit.nonlinear.mosfet`): tunnel/table/S-type ``D``, junction
  diodes, Gummel–Poon ``Q``, behavioural ``B``, and ``M`` with a level-1 card that the native level 1 covers;
* ngspice: every other ``M`` card (levels 2, 3, BSIM3 ``level=8/49``, BSIM4 ``level=14/54``, PSP ... whatever
  the installed ngspice accepts), ``J`` (JFET cards) and ``Q`` with a VBIC/HICUM/MEXTRAM card (``level`` other
  than 1).

A circuit with at least one ngspice device is solved by ngspice (:func:`ngspice_points`): stabkit writes the
flattened circuit (parameters and ``--set`` overrides evaluated, independent sources without AC values) and,
for every ngspice device, *copies* of it whose terminals are held by ideal voltage-controlled sources at the
original's terminal voltages — one copy per terminal, that terminal carrying a 1 V AC excitation. One ngspice
run then gives the operating point (``op``) and, from the copies' source currents in an ``ac`` sweep
(1 MHz … 10 GHz), each device's terminal admittance matrix ``Y(jω)`` at exactly its operating point.

For a quasi-static device without internal nodes ``Y(jω) = G + jω·C`` exactly: ``G`` and ``C`` are read at one
frequency and **checked at the other four** (relative 1e-6); a device whose admittance is not of that form — it
has internal nodes (series, gate or body resistances: ``rsh·nrd``, ``rdsmod=1``, ``rgatemod``, ``rbodymod``, the
resistances of a VBIC card) or a non-quasi-static mode — is refused with a one-line message naming it and its
model, never approximated. ``G`` and ``C`` (conservation: every row and column sums to zero) become a
:class:`NgspiceDevice`, a :class:`~stabkit.nonlinear.devices.LinearizedDevice` stamped as explicit elements:

=======================================  ===================================================================
conductances, relative to the source     ``<M>.gm`` (VCCS, drain current by ``v(g,s)``), ``<M>.gmbs`` (by
(emitter; for a MOSFET in inverse mode   ``v(b,s)``), ``<M>.gds`` (resistor), gate/bulk terms ``<M>.g<x>.<y>``
the drain acts as source)                (VCCS) and ``<M>.g<x><s>`` (resistors) where ngspice reports them
capacitances                             the reciprocal part as two-terminal capacitors between every pair
                                         (``<M>.cgs``, ``cgd``, ``cgb``, ``cds``, ``cbd``, ``cbs``: a negative one
                                         is an active element), the non-reciprocal rest of the BSIM charge
                                         matrix as transcapacitance sources ``<M>.cm.<x><y>``
=======================================  ===================================================================

so the NDF switches each transistor's gain off like any other dependent source. Native devices in the same
circuit are solved again by stabkit's Newton from ngspice's solution (the ngspice devices held at their
affine models, exact at the point) and linearized by their own models: the two meet in one linearized circuit.

Consequences: the operating point is ngspice's (its ``.options``, ``gmin``, temperature); ``--set`` values are
applied before the netlist is written, so they reach ngspice; a circuit that mixes ngspice devices with NDR
devices (tunnel/table/S-type ``D``: several operating points, curves ngspice does not know) or with S-parameter
blocks is refused with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from stabkit import ngspice
from stabkit.circuit import expr
from stabkit.circuit.elements import Element
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError
from stabkit.nonlinear.devices import LinearizedDevice, NonlinearDevice, nonlinear_elements, simulator_options

__all__ = ["NgspiceDevice", "NgspiceDeviceNeeded", "device_path", "ngspice_elements", "ngspice_points",
           "write_netlist", "terminal_admittance", "AC_FREQUENCIES", "AFFINE_RTOL", "device_family",
           "NGSPICE_TERMINALS"]

#: the frequencies (Hz) of the admittance sweep: G and C are read at the middle one, checked at the others
AC_FREQUENCIES = (1e6, 1e7, 1e8, 1e9, 1e10)
#: largest relative deviation of Y(jω) from G + jωC accepted (a device with internal nodes is refused)
AFFINE_RTOL = 1e-6
#: ngspice's Newton stops at reltol=1e-3 by default (~1e-7 V left in a node): the operating point is converged
#: fully instead (a high-gain circuit turns 1e-7 V into 1e-6 of its small-signal model); on failure, defaults
TIGHT_OPTIONS = {"reltol": 1e-9, "abstol": 1e-15, "vntol": 1e-12}
#: entries below this fraction of the largest one are rounding noise of the measurement and dropped
NOISE_FLOOR = 1e-12
#: terminal letters of the devices ngspice evaluates, in SPICE's node order
NGSPICE_TERMINALS = {"M": ("d", "g", "s", "b"), "J": ("d", "g", "s"), "Q": ("c", "b", "e", "s")}
_BIPOLAR_FAMILIES = {4: "VBIC", 9: "VBIC", 8: "HICUM", 7: "HICUM", 6: "MEXTRAM"}
_MOS_FAMILIES = {1: "level 1", 2: "level 2", 3: "level 3", 6: "level 6", 9: "level 9", 8: "BSIM3", 49: "BSIM3",
                 14: "BSIM4", 54: "BSIM4", 10: "BSIM4SOI", 58: "BSIM4SOI", 69: "PSP", 44: "EKV", 68: "HiSIM2",
                 73: "HiSIM_HV"}


class NgspiceDeviceNeeded(CircuitError):
    """A device that only ngspice evaluates was asked of the native DC solver."""


@dataclass
class _Family:
    kind: str  # "M", "J", "Q"
    family: str  # "BSIM4", "level 1", "VBIC" ...
    polarity: int


def _card_level(values: Mapping[str, float | str]) -> float | None:
    level = values.get("level")
    if isinstance(level, str):
        try:
            return float(level)
        except ValueError:
            return None
    return level


def _raw_card(circuit: Circuit, element: Element):
    cards = circuit.model_cards(element.model or "")
    if not cards:
        raise CircuitError(f"{element.where()}: {element.name} uses model {element.model!r}, but there is no "
                           f".model card of that name")
    return cards


def device_family(circuit: Circuit, element: Element) -> _Family:
    """Kind, model family and polarity of an ``M``, ``J`` or ``Q`` element from its card."""
    cards = _raw_card(circuit, element)
    card = cards[0]
    level = _card_level(card.params)
    t = card.type.lower()
    if element.kind == "M":
        pol = {"nmos": 1, "pmos": -1}.get(t)
        if pol is None:
            raise CircuitError(f"{element.where()}: {element.name}: model {card.name} is a {t!r} card; a MOSFET needs "
                               "nmos or pmos")
        lv = int(level) if level is not None else 1
        return _Family("M", _MOS_FAMILIES.get(lv, f"level {lv}"), pol)
    if element.kind == "J":
        pol = {"njf": 1, "pjf": -1}.get(t)
        if pol is None:
            raise CircuitError(f"{element.where()}: {element.name}: model {card.name} is a {t!r} card; a JFET needs "
                               "njf or pjf")
        return _Family("J", f"JFET level {int(level) if level else 1}", pol)
    pol = {"npn": 1, "pnp": -1}.get(t, 1)
    lv = int(level) if level is not None else 1
    return _Family("Q", _BIPOLAR_FAMILIES.get(lv, f"bipolar level {lv}" if lv != 1 else "Gummel-Poon"), pol)


def device_path(circuit: Circuit, element: Element, resolved: Mapping[str, float] | None = None,
                temp_c: float | None = None) -> tuple[str, str]:
    """``("native" | "ngspice", why)`` for a nonlinear element (see the module docstring)."""
    if element.kind in ("D", "B"):
        return "native", "stabkit model"
    if element.kind == "Q":
        level = _card_level(circuit.models.get((element.model or "").lower(), None).params
                            if (element.model or "").lower() in circuit.models else {})
        if level is None or level == 1:
            return "native", "Gummel-Poon"
        return "ngspice", f"{device_family(circuit, element).family} card (level {level:g})"
    if element.kind == "J":
        return "ngspice", "JFET card"
    if element.kind == "M":
        from stabkit.nonlinear.mosfet import native_level1_reason

        cards = _raw_card(circuit, element)
        if len(cards) > 1:
            return "ngspice", f"binned model cards {element.model}.1 ... (ngspice picks the bin)"
        if resolved is None:
            resolved = circuit.resolve_params()
        try:
            _, values = circuit.model_values(element, resolved, text_keys=("version",))
            instance = circuit.values(element, resolved)
        except Exception as exc:  # an expression stabkit cannot evaluate: ngspice may
            return "ngspice", f"card not evaluated by stabkit ({exc})"
        if temp_c is None:
            temp_c = simulator_options(circuit)[0]
        reason = native_level1_reason(cards[0].type, values, instance, temp_c)
        if reason is None:
            return "native", "level 1"
        return "ngspice", f"{device_family(circuit, element).family}: {reason}"
    return "native", "stabkit model"


def ngspice_elements(circuit: Circuit, resolved: Mapping[str, float] | None = None) -> list[Element]:
    """The elements of ``circuit`` that ngspice evaluates, in netlist order."""
    out = []
    temp_c = simulator_options(circuit)[0]
    for e in nonlinear_elements(circuit):
        if e.kind in ("M", "J", "Q") and device_path(circuit, e, resolved, temp_c)[0] == "ngspice":
            out.append(e)
    return out


# ---------------------------------------------------------------------------------------------------------
# the netlist ngspice reads


@dataclass
class _Names:
    """stabkit names ↔ the names written for ngspice (plain identifiers, unique)."""

    nodes: dict[str, str] = field(default_factory=dict)
    elements: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    def node(self, n: str) -> str:
        if n == GROUND:
            return "0"
        if n not in self.nodes:
            self.nodes[n] = f"n{len(self.nodes) + 1}"
        return self.nodes[n]

    def element(self, e: Element) -> str:
        if e.key not in self.elements:
            self.elements[e.key] = f"{e.kind.lower()}sk{len(self.elements) + 1}"
        return self.elements[e.key]

    def back(self, text: str) -> str:
        """ngspice's message with stabkit's names put back."""
        table = {v: k for k, v in self.elements.items()}
        table.update({v: k for k, v in self.nodes.items()})
        table.update({v: k for k, v in self.models.items()})
        return re.sub(r"\b[a-z]+sk\d+\b|\bn\d+\b|\bmod\d+\b", lambda m: table.get(m.group(0), m.group(0)),
                      text, flags=re.IGNORECASE)


def _num(x: float) -> str:
    return repr(float(x))


_MODEL_TEXT = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _model_card_lines(circuit: Circuit, element: Element, names: _Names, resolved: Mapping[str, float]) -> list[str]:
    key = (element.model or "").lower()
    if key in names.models:
        return []
    names.models[key] = f"mod{len(names.models) + 1}"
    lines = []
    for card in circuit.model_cards(key):
        suffix = card.name.lower()[len(key):] if card.name.lower() != key else ""
        parts = []
        for k, raw in card.params.items():
            if isinstance(raw, str):
                try:
                    value = _num(expr.evaluate(raw, resolved))
                except Exception:
                    if not _MODEL_TEXT.match(raw):
                        raise CircuitError(f"model {card.name}: parameter {k}={raw!r} cannot be passed to ngspice")
                    value = raw
            else:
                value = _num(raw)
            parts.append(f"{k}={value}")
        lines.append(f".model {names.models[key]}{suffix} {card.type} " + " ".join(parts))
    return lines


def _behavioural_line(e: Element, names: _Names, resolved: Mapping[str, float], circuit: Circuit) -> str:
    kind, text = e.expression
    if "ifelse" in text or re.search(r"[<>]|==|!=", text):
        raise CircuitError(f"{e.where()}: {e.name}: a behavioural source with conditions cannot be passed to ngspice "
                           "together with ngspice-modelled devices")
    pairs = [(e.nodes[k], e.nodes[k + 1]) for k in range(2, len(e.nodes), 2)]
    mapping = {f"_v{k}": f"xxv{k}" for k in range(len(pairs))}
    mapping.update({f"_i{k}": f"xxi{k}" for k in range(len(e.refs))})
    used = expr.names_in(text, behavioural=True)
    mapping.update({p: f"xxp{j}" for j, p in enumerate(sorted(p for p in used if p in resolved))})
    body = expr.rename(text, mapping, behavioural=True)
    for k, (a, b) in enumerate(pairs):
        body = re.sub(rf"\bxxv{k}\b", f"v({names.node(a)},{names.node(b)})", body)
    for k, ref in enumerate(e.refs):
        body = re.sub(rf"\bxxi{k}\b", f"i({names.element(circuit.element(ref))})", body)
    for j, p in enumerate(sorted(p for p in used if p in resolved)):
        body = re.sub(rf"\bxxp{j}\b", f"({_num(resolved[p])})", body)
    return f"{names.element(e)} {names.node(e.nodes[0])} {names.node(e.nodes[1])} {kind.upper()}={{{body}}}"


def _instance_text(values: Mapping[str, float], skip: Sequence[str] = ()) -> str:
    return " ".join(f"{k}={_num(v)}" for k, v in values.items() if k not in skip)


def write_netlist(circuit: Circuit, resolved: Mapping[str, float], names: _Names | None = None, *,
                  tight: bool = True) -> tuple[list[str], _Names]:
    """The flattened circuit as ngspice netlist lines (title first): values evaluated, sources DC only; with
    ``tight``, convergence tolerances :data:`TIGHT_OPTIONS`."""
    names = names or _Names()
    lines = [f"* {circuit.title or 'stabkit circuit'} (written by stabkit for ngspice)"]
    opts = dict(circuit.options or {})
    opts.update(TIGHT_OPTIONS if tight else {})
    if opts:
        lines.append(".options " + " ".join(f"{k}={_num(v)}" for k, v in opts.items()))
    models: list[str] = []
    for e in circuit:
        n = [names.node(x) for x in e.nodes]
        v = circuit.values(e, resolved)
        name = names.element(e)
        if e.kind in "RLC":
            lines.append(f"{name} {n[0]} {n[1]} {_num(v['value'])}")
        elif e.kind == "K":
            refs = [names.element(circuit.element(r)) for r in e.refs]
            lines.append(f"{name} {refs[0]} {refs[1]} {_num(v['value'])}")
        elif e.kind in "GE":
            if e.kind == "G" and v.get("c"):
                raise CircuitError(f"{e.where()}: {e.name}: a transcapacitance source cannot be passed to ngspice")
            lines.append(f"{name} {' '.join(n)} {_num(v['value'])}")
        elif e.kind in "FH":
            lines.append(f"{name} {n[0]} {n[1]} {names.element(circuit.element(e.refs[0]))} {_num(v['value'])}")
        elif e.kind in "VI":
            lines.append(f"{name} {n[0]} {n[1]} DC {_num(v.get('dc', 0.0))}")
        elif e.kind == "T":
            if v.get("td") is not None and "td" in e.values:
                lines.append(f"{name} {' '.join(n)} Z0={_num(v['z0'])} TD={_num(v['td'])}")
            else:
                lines.append(f"{name} {' '.join(n)} Z0={_num(v['z0'])} F={_num(v['f'])} NL={_num(v.get('nl', 0.25))}")
        elif e.kind == "O":  # its own card, with the evaluated values (ngspice reads r l g c len)
            card = f"ltra{len(models) + 1}"
            models.append(f".model {card} ltra " + " ".join(f"{k}={_num(v[k])}" for k in ("r", "l", "g", "c", "len")))
            lines.append(f"{name} {' '.join(n)} {card}")
        elif e.kind in "DQMJ":
            models += _model_card_lines(circuit, e, names, resolved)
            model = names.models[(e.model or "").lower()]
            if e.kind == "D":
                lines.append(f"{name} {n[0]} {n[1]} {model} {_num(v.get('area', 1.0))} {_instance_text(v, ('area',))}")
            elif e.kind == "Q":
                lines.append(f"{name} {' '.join(n)} {model} {_num(v.get('area', 1.0))} {_instance_text(v, ('area',))}")
            else:
                lines.append(f"{name} {' '.join(n)} {model} {_instance_text(v)}")
        elif e.kind == "B":
            lines.append(_behavioural_line(e, names, resolved, circuit))
        else:
            raise CircuitError(f"{e.where()}: {e.describe()} cannot be passed to ngspice (the circuit has devices "
                               "that only ngspice evaluates)")
    return [ln.rstrip() for ln in lines + models], names


def _probe_lines(element: Element, index: int, names: _Names, values: Mapping[str, float]) -> tuple[list[str], dict]:
    """Copies of an ngspice device, one per terminal, each terminal held by ``E`` at the original's terminal
    voltage in series with a 0 V source that carries a 1 V AC excitation on the copy's own terminal."""
    terminals = element.nodes
    model = names.models[(element.model or "").lower()]
    lines, sources = [], {}
    for j in range(len(terminals)):
        copy_nodes = []
        for t, node in enumerate(terminals):
            cn, mid = f"pk{index}x{j}t{t}", f"pm{index}x{j}t{t}"
            src = f"vpk{index}x{j}t{t}"
            ac = " AC 1" if t == j else ""
            if node == GROUND:
                lines.append(f"{src} {cn} 0 DC 0{ac}")
            else:
                lines.append(f"epk{index}x{j}t{t} {mid} 0 {names.node(node)} 0 1")
                lines.append(f"{src} {cn} {mid} DC 0{ac}")
            sources[(j, t)] = src
            copy_nodes.append(cn)
        extra = f"{_num(values.get('area', 1.0))} {_instance_text(values, ('area',))}" if element.kind in "QJ" and \
            "area" in values else _instance_text(values)
        lines.append(f"{element.kind.lower()}pk{index}x{j} {' '.join(copy_nodes)} {model} {extra}".rstrip())
    return lines, sources


# ---------------------------------------------------------------------------------------------------------
# from measured admittances to a linearized device


def terminal_admittance(currents: Mapping[tuple[int, int], np.ndarray], n_terminals: int) -> np.ndarray:
    """``Y[f, t, j]``: current into terminal ``t`` per volt on terminal ``j`` (``currents[(j, t)]`` are the
    holding sources' branch currents, which flow out of the device terminal)."""
    n_f = len(next(iter(currents.values())))
    y = np.zeros((n_f, n_terminals, n_terminals), dtype=complex)
    for (j, t), i in currents.items():
        y[:, t, j] = -np.asarray(i)
    return y


def affine_fit(y: np.ndarray, freqs: Sequence[float]) -> tuple[np.ndarray, np.ndarray, float]:
    """``(G, C, deviation)``: ``G`` and ``C`` read at the middle frequency, ``deviation`` the largest relative
    difference between ``Y(jω)`` and ``G + jωC`` at every frequency."""
    omega = 2 * np.pi * np.asarray(freqs, dtype=float)
    k = len(omega) // 2
    g = y[k].real.copy()
    c = y[k].imag / omega[k]
    dev = 0.0
    for f_idx, w in enumerate(omega):
        model = g + 1j * w * c
        scale = max(np.max(np.abs(y[f_idx])), 1e-300)
        dev = max(dev, float(np.max(np.abs(y[f_idx] - model)) / scale))
    return g, c, dev


def _clean(m: np.ndarray) -> np.ndarray:
    top = np.max(np.abs(m)) if m.size else 0.0
    out = m.copy()
    out[np.abs(out) <= NOISE_FLOOR * top] = 0.0
    return out


class NgspiceDevice(LinearizedDevice):
    """A device evaluated by ngspice at the operating point: its terminal conductance and capacitance matrices,
    stamped relative to the terminal acting as source (see the module docstring). ``bias`` is JSON-ready."""

    family = "transistor"

    def __init__(self, element: Element, fam: _Family, letters: Sequence[str], nodes: Sequence[str], ref: int,
                 g: np.ndarray, c: np.ndarray, voltages: Mapping[str, float], i_dc: np.ndarray, model: str):
        others = [k for k in range(len(nodes)) if k != ref]
        pairs = [(a, b) for ia, a in enumerate(others) for b in others[ia + 1:]]
        controls = [(nodes[k], nodes[ref]) for k in others] + [(nodes[a], nodes[b]) for a, b in pairs]
        outputs = list(controls)
        n = len(outputs)
        gm = np.zeros((n, n))
        cm = np.zeros((n, n))
        g, c = _clean(g), _clean(c)
        sym = 0.5 * (c + c.T)
        anti = _clean(0.5 * (c - c.T))
        labels: dict[tuple[int, int], tuple[str, str]] = {}
        L = letters
        role = _roles(fam, letters, ref)
        for o, k in enumerate(others):
            for q, l in enumerate(others):
                gm[o, q] = g[k, l]
                if o == q:
                    cm[o, q] = -sym[k, ref]  # the capacitance between k and the reference terminal
                else:
                    cm[o, q] = anti[k, l]
                labels[(o, q)] = (role.get((k, l), f"g{L[k]}{L[ref]}" if k == l else f"g{L[k]}.{L[l]}"),
                                  _pair_name(L, k, ref) if k == l else f"cm.{L[k]}{L[l]}")
        for p_idx, (a, b) in enumerate(pairs):
            o = len(others) + p_idx
            cm[o, o] = -sym[a, b]
            labels[(o, o)] = (f"g{L[a]}{L[b]}", _pair_name(L, a, b))
        x0 = [voltages.get(a, 0.0) - voltages.get(b, 0.0) for a, b in controls]
        f0 = [float(i_dc[k]) for k in others] + [0.0] * len(pairs)
        super().__init__(element.name, controls, outputs, x0, f0, gm, cm, labels=labels)
        self.element = element
        self.model = model
        self.kind, self.family_name, self.polarity = fam.kind, fam.family, fam.polarity
        self.letters, self.terminal_nodes, self.ref = tuple(letters), tuple(nodes), ref
        self.g_terminal, self.c_terminal = g, c
        self.i_dc = np.asarray(i_dc, dtype=float)
        self.notes = [f"{fam.family} card {model}: operating point and small-signal model from ngspice"]

    def bias(self) -> dict:
        """Terminal voltages and currents at the operating point and the leading small-signal values."""
        L, nodes = self.letters, self.terminal_nodes
        v = dict(zip(L, [float(x) for x in self._terminal_voltages()]))
        out = {"name": self.name, "model": self.model, "family": self.family_name, "path": "ngspice",
               "type": {("M", 1): "nmos", ("M", -1): "pmos", ("J", 1): "njf", ("J", -1): "pjf",
                        ("Q", 1): "npn", ("Q", -1): "pnp"}[(self.kind, self.polarity)]}
        for k, letter in enumerate(L):
            out[f"i{letter}"] = float(self.i_dc[k])
        if self.kind in "MJ":
            out["id"] = float(self.i_dc[0])
            out["vgs"] = v["g"] - v["s"]
            out["vds"] = v["d"] - v["s"]
            if "b" in v:
                out["vbs"] = v["b"] - v["s"]
        g, c = self.g_terminal, self.c_terminal
        src = self.ref
        drn = {"M": 0, "J": 0, "Q": 0}[self.kind] if src != 0 else 2
        gate = 1
        out["gm"] = float(g[drn, gate])
        out["gds"] = float(g[drn, drn])
        if len(L) == 4 and self.kind == "M":
            out["gmbs"] = float(g[drn, 3])
        for a in range(len(L)):
            for b in range(a + 1, len(L)):
                out[_pair_name(L, a, b)] = float(-0.5 * (c[a, b] + c[b, a]))
        out["mode"] = "forward" if src == 2 else "inverse"
        return out

    def _terminal_voltages(self):
        # x0 holds v(k, ref) for the non-reference terminals first
        others = [k for k in range(len(self.terminal_nodes)) if k != self.ref]
        out = np.zeros(len(self.terminal_nodes))
        for o, k in enumerate(others):
            out[k] = self.x0[o]
        return out

    def describe(self, x):
        return self.bias()


#: capacitance names as designers write them (cgs, not csg)
_PAIR_NAMES = {frozenset("gs"): "cgs", frozenset("gd"): "cgd", frozenset("gb"): "cgb", frozenset("ds"): "cds",
               frozenset("bd"): "cbd", frozenset("bs"): "cbs", frozenset("be"): "cbe", frozenset("bc"): "cbc",
               frozenset("ce"): "cce", frozenset("cs"): "ccs", frozenset("es"): "ces"}


def _pair_name(letters: Sequence[str], a: int, b: int) -> str:
    return _PAIR_NAMES.get(frozenset((letters[a], letters[b])), f"c{letters[a]}{letters[b]}")


def _roles(fam: _Family, letters: Sequence[str], ref: int) -> dict[tuple[int, int], str]:
    """Names of the leading conductances: the transconductance and output conductance of the channel."""
    if fam.kind in "MJ":
        drain = 0 if ref == 2 else 2
        roles = {(drain, 1): "gm", (drain, drain): "gds"}
        if fam.kind == "M":
            roles[(drain, 3)] = "gmbs"
        return roles
    return {(0, 1): "gm", (0, 0): "go", (1, 1): "gpi"}


def _reference(fam: _Family, voltages: Sequence[float]) -> int:
    """The terminal acting as source (emitter): for a FET the one at the lower potential (n-type sense)."""
    if fam.kind in "MJ":
        return 2 if fam.polarity * (voltages[0] - voltages[2]) >= 0 else 0
    return 2


# ---------------------------------------------------------------------------------------------------------
# the operating point


def ngspice_points(circuit: Circuit, params: Mapping[str, float] | None = None, *,
                   timeout: float = ngspice.DEFAULT_TIMEOUT):
    """The DC operating point of a circuit with ngspice devices, as a one-element list of
    :class:`~stabkit.nonlinear.dc.DCPoint` (ngspice finds one point; see the module docstring)."""
    from stabkit.nonlinear.dc import DCPoint, NonlinearProblem, solve
    from stabkit.nonlinear.devices import circuit_devices, is_junction_diode

    resolved = circuit.resolve_params(params)
    circuit.validate(resolved)
    elements = ngspice_elements(circuit, resolved)
    if not elements:
        raise CircuitError("ngspice_points: the circuit has no device that needs ngspice")
    what = ", ".join(f"{e.name} ({device_family(circuit, e).family} model {e.model})" for e in elements[:3])
    if len(elements) > 3:
        what += f" and {len(elements) - 3} more"
    for e in circuit:
        if e.kind == "D" and not is_junction_diode(circuit, e):
            raise CircuitError(f"{e.where()}: {e.name} is an NDR device (several operating points, a curve only "
                               f"stabkit knows) and {elements[0].name} is evaluated by ngspice: stabkit does not mix "
                               "the two; model the transistors with level-1 cards")
        if e.kind == "N":
            raise CircuitError(f"{e.where()}: {e.name} is an S-parameter block and {elements[0].name} is evaluated by "
                               "ngspice, which has no DC model of the block: stabkit does not mix the two")
    f = AC_FREQUENCIES
    control = ["set filetype=ascii", "op", "write {dir}/op.raw all",
               f"ac dec 1 {f[0]:.6g} {f[-1]:.6g}", "write {dir}/ac.raw all"]
    for tight in (True, False):
        lines, names = write_netlist(circuit, resolved, tight=tight)
        probes: list[dict] = []
        for k, e in enumerate(elements):
            extra, sources = _probe_lines(e, k, names, circuit.values(e, resolved))
            lines += extra
            probes.append(sources)
        try:
            _, files = ngspice.run_batch("\n".join(lines), control, read=("op.raw", "ac.raw"), timeout=timeout,
                                         what=what)
            break
        except ngspice.NgspiceMissing:
            raise
        except ngspice.NgspiceError as exc:
            if tight:
                continue
            raise ngspice.NgspiceError(names.back(str(exc))) from None
    op = ngspice.parse_raw(files["op.raw"])[0]
    ac = ngspice.parse_raw(files["ac.raw"])[0]
    freqs = np.real(ac["frequency"])
    if len(freqs) != len(f) or not np.allclose(freqs, f, rtol=1e-9):
        raise ngspice.NgspiceError(f"ngspice's ac sweep returned frequencies {freqs}, expected {list(f)}")
    voltages = {GROUND: 0.0}
    for node, written in names.nodes.items():
        key = f"v({written})"
        if key in op:
            voltages[node] = float(op[key][0])
    temp_c = simulator_options(circuit)[0]
    ng_devices: dict[str, NgspiceDevice] = {}
    for k, e in enumerate(elements):
        fam = device_family(circuit, e)
        nt = len(e.nodes)
        currents = {key: ac[f"i({src})"] for key, src in probes[k].items()}
        y = terminal_admittance(currents, nt)
        g, c, dev = affine_fit(y, f)
        if not (dev <= AFFINE_RTOL):
            raise CircuitError(
                f"{e.where()}: {e.name} ({fam.family} model {e.model}): its small-signal admittance at the operating "
                f"point is not G + jωC (deviation {dev:.1e} between 1 MHz and 10 GHz): the device has internal nodes "
                "(series, gate or body resistances such as rsh·nrd, rdsmod=1, rgatemod, rbodymod, the resistances of "
                "a VBIC card) or a non-quasi-static mode, which stabkit does not read from ngspice yet")
        i_dc = np.array([-float(op[f"i({probes[k][(0, t)]})"][0]) for t in range(nt)])
        tv = [voltages.get(n, 0.0) for n in e.nodes]
        ref = _reference(fam, tv)
        letters = NGSPICE_TERMINALS[e.kind][:nt]
        ng_devices[e.key] = NgspiceDevice(e, fam, letters, e.nodes, ref, g, c, voltages, i_dc, e.model or "")
    native_circuit = circuit.without(ng_devices)
    native = {d.name.lower(): d for d in circuit_devices(native_circuit, resolved)}
    devices: list[NonlinearDevice] = [ng_devices.get(e.key) or native[e.key] for e in nonlinear_elements(circuit)]
    problem = NonlinearProblem(circuit, resolved, devices=devices)
    y0 = np.zeros(problem.size)
    for node, idx in problem.node_index.items():
        y0[idx] = voltages.get(node, 0.0)
    for dev in devices:  # internal nodes of native devices start at their terminal's voltage
        for _, a, b, _ in dev.resistors:
            if b in problem.node_index and b not in voltages:
                y0[problem.node_index[b]] = voltages.get(a, 0.0)
    for key, idx in problem.branch_index.items():
        written = names.elements.get(key)
        if written and f"i({written})" in op:
            y0[idx] = float(op[f"i({written})"][0])
    notes = [f"DC operating point by ngspice (devices it evaluates: {what})"]
    if len(ng_devices) < len(devices):
        sol = solve(problem, y0)
        if not sol.converged:
            raise CircuitError("DC operating point: stabkit's Newton did not converge from ngspice's solution for the "
                               "native devices of the circuit")
        y, method = sol.y, "ngspice + newton"
        notes.append("native devices re-solved by stabkit's Newton from ngspice's solution "
                     f"(largest node change {np.max(np.abs(sol.y - y0)[:problem.n_nodes], initial=0.0):.1e} V)")
    else:
        y, method = y0, "ngspice"
    notes.append("further operating points, if any, are not searched")
    return [DCPoint(problem, y, method, 0, notes=notes)]
