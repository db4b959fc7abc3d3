"""Every nonlinear device behind one small interface: currents and charges of its controls, with derivatives.

A device is described by

``controls``
    the quantities it reads: node-pair voltages ``("v", p, m)`` (``v(p) − v(m)``) or branch currents
    ``("i", key)`` of a voltage source (``key`` its lower-case name) or of the device's own branch;
``outputs``
    what it does to the circuit: ``("i", p, m)`` a current ``f(x) + d/dt q(x)`` flowing from node ``p`` through
    the device to node ``m``; or ``("v", p, m, branch)`` a voltage ``v(p) − v(m) = f(x) + d/dt φ(x)`` carried by
    a branch current of its own (the MNA unknown ``branch``, flowing ``p`` → ``m`` through the device);
:meth:`NonlinearDevice.evaluate`
    at an array of control values ``x`` (shape ``(T, n_controls)``): ``f`` and ``q`` (``(T, n_outputs)``) and
    their exact derivatives ``df``, ``dq`` (``(T, n_outputs, n_controls)``);
``resistors``
    fixed series resistances (with the internal nodes they create), part of the linear network.

The DC solver (:mod:`stabkit.nonlinear.dc`), the linearizer (:mod:`stabkit.nonlinear.linearize`) and harmonic
balance (:mod:`stabkit.nonlinear.hb`) see nothing else. Devices here:

=========================  ==========================================================================
:class:`NTypeDevice`        N-type NDR two-terminal (tunnel diode, ``ivtable``): ``i = f(v)``, ``q = cd·v``
:class:`STypeDevice`        S-type NDR two-terminal (``stype``, ``vitable``): own branch current ``j``,
                            ``v = f(j) + ls·dj/dt``, ``cp`` across
:class:`JunctionDiode`      SPICE ``D`` card: ``rs`` in series, junction current and charge
:class:`BipolarTransistor`  Gummel–Poon ``Q``: transport/base currents, ``rb``, four charges, ``rc``/``re``
:class:`BehaviouralSource`  ``B n+ n- I=...``/``V=...``: any expression, exact derivatives (dual numbers)
:class:`LinearizedDevice`   a device known only by its small-signal model at a given operating point
                            (provided externally, e.g. by another simulator): affine, same interface
=========================  ==========================================================================

:func:`circuit_devices` builds them from a circuit's ``D``, ``Q`` and ``B`` elements and their model cards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stabkit.circuit import expr
from stabkit.circuit.elements import Element
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, ParameterError
from stabkit.nonlinear import gummel_poon as gp
from stabkit.nonlinear.curves import Device as Curve
from stabkit.nonlinear.curves import device_from_model

__all__ = ["Evaluation", "Output", "NonlinearDevice", "NTypeDevice", "STypeDevice", "JunctionDiode",
           "BipolarTransistor", "BehaviouralSource", "LinearizedDevice", "TransistorBias",
           "circuit_devices", "nonlinear_elements", "is_junction_diode", "simulator_options", "JUNCTION_ON_V",
           "transistor_region"]

#: a junction counts as forward-biased above this voltage (V) when naming a transistor's region
JUNCTION_ON_V = 0.5


@dataclass(frozen=True)
class Output:
    """What a device drives: ``kind`` ``"i"`` (a current ``p`` → ``m``) or ``"v"`` (a voltage ``v(p) − v(m)``
    carried by the device's own branch current ``branch``)."""

    kind: str
    p: str
    m: str
    branch: str | None = None


@dataclass
class Evaluation:
    """``f``, ``q`` of shape ``(T, n_outputs)`` and ``df``, ``dq`` of shape ``(T, n_outputs, n_controls)``."""

    f: np.ndarray
    q: np.ndarray
    df: np.ndarray
    dq: np.ndarray


class NonlinearDevice:
    """The interface (see the module docstring). Subclasses set the attributes in ``__init__`` and implement
    :meth:`evaluate`; :meth:`limit`, :meth:`start` and :meth:`describe` have defaults."""

    #: ``"ndr"``, ``"diode"``, ``"transistor"``, ``"behavioural"`` or ``"external"``
    family = "device"

    def __init__(self, name: str, element: Element | None = None):
        self.name = name
        self.element = element
        self.controls: list[tuple] = []
        self.outputs: list[Output] = []
        self.resistors: list[tuple[str, str, str, float]] = []  # (label, a, b, ohms)
        self.own_branches: list[str] = []
        self.nodes: list[str] = []  # every node the device touches, internal ones included
        #: (output, control) -> element label of the linearized conductance / capacitance
        self.labels: dict[tuple[int, int], tuple[str, str]] = {}
        self.notes: list[str] = []

    #: devices whose :meth:`evaluate` takes ``charges=False`` (currents and conductances only, ``q``/``dq`` left
    #: zero: what the DC Newton needs, at about half the cost)
    dc_only = False

    # -- the interface ---------------------------------------------------------------------------------
    def evaluate(self, x: np.ndarray) -> Evaluation:  # pragma: no cover - abstract
        raise NotImplementedError

    def limit(self, x_new: np.ndarray, x_old: np.ndarray) -> tuple[np.ndarray, bool]:
        """Newton step limiting: the control values to evaluate at, and whether they were changed."""
        return x_new, False

    def start(self) -> np.ndarray | None:
        """Control values for the first Newton iteration (None: take them from the starting solution)."""
        return None

    def describe(self, x: np.ndarray) -> dict:
        """JSON-ready bias and small-signal values at control values ``x`` (shape ``(n_controls,)``)."""
        ev = self.evaluate(np.atleast_2d(x))
        return {"name": self.name, "controls": [float(v) for v in x], "f": [float(v) for v in ev.f[0]]}

    # -- helpers ----------------------------------------------------------------------------------------
    @property
    def n_controls(self) -> int:
        return len(self.controls)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def label(self, output: int, control: int, which: int) -> str:
        """Name (without the device prefix) of the linear element for ``d output / d control``
        (``which`` 0: conductance, 1: capacitance)."""
        pair = self.labels.get((output, control))
        if pair is not None:
            return pair[which]
        return f"{'gc'[which]}{output}{control}" if (self.n_outputs, self.n_controls) != (1, 1) else "gc"[which]

    def _touch(self, *nodes: str) -> None:
        for n in nodes:
            if n not in self.nodes:
                self.nodes.append(n)


def _zeros(t: int, n_out: int, n_ctrl: int) -> Evaluation:
    return Evaluation(np.zeros((t, n_out)), np.zeros((t, n_out)), np.zeros((t, n_out, n_ctrl)),
                      np.zeros((t, n_out, n_ctrl)))


# ---------------------------------------------------------------------------------------------------------
# NDR two-terminal devices (the curves of stabkit.nonlinear.curves)


class NTypeDevice(NonlinearDevice):
    """N-type NDR device: ``i = curve(v)`` from anode to cathode, ``q = c·v`` (junction capacitance)."""

    family = "ndr"

    def __init__(self, name: str, anode: str, cathode: str, curve: Curve, element: Element | None = None):
        super().__init__(name, element)
        if curve.control != "N":
            raise CircuitError(f"{name}: NTypeDevice needs a voltage-controlled curve")
        self.curve = curve
        self.capacitance = float(getattr(curve, "capacitance", 0.0))
        self.controls = [("v", anode, cathode)]
        self.outputs = [Output("i", anode, cathode)]
        self.labels = {(0, 0): ("rd", "cd")}
        self._touch(anode, cathode)
        lo, hi = curve.window()
        self.max_step = 0.1 * (hi - lo)

    def evaluate(self, x):
        v = np.asarray(x, dtype=float)[:, 0]
        ev = _zeros(v.size, 1, 1)
        ev.f[:, 0] = self.curve.response(v)
        ev.df[:, 0, 0] = self.curve.slope(v)
        ev.q[:, 0] = self.capacitance * v
        ev.dq[:, 0, 0] = self.capacitance
        return ev

    def limit(self, x_new, x_old):
        step = x_new - x_old
        if abs(step[0]) > self.max_step:
            return x_old + np.sign(step) * self.max_step, True
        return x_new, False

    def describe(self, x):
        v = float(x[0])
        i, g = float(self.curve.response(v)), float(self.curve.slope(v))
        return {"name": self.name, "v": v, "i": i, "ndr": bool(g < 0), "type": "N", "g": g,
                "r": 1.0 / g if g != 0 else None, "c": self.capacitance}


class STypeDevice(NonlinearDevice):
    """S-type NDR device: own branch current ``j``, ``v(anode, cathode) = curve(j) + ls·dj/dt``, ``cp`` across."""

    family = "ndr"

    def __init__(self, name: str, anode: str, cathode: str, curve: Curve, element: Element | None = None):
        super().__init__(name, element)
        if curve.control != "S":
            raise CircuitError(f"{name}: STypeDevice needs a current-controlled curve")
        self.curve = curve
        self.ls = float(getattr(curve, "ls", 0.0))
        self.cp = float(getattr(curve, "cp", 0.0))
        branch = f"{name.lower()}#j"
        self.own_branches = [branch]
        self.controls = [("i", branch), ("v", anode, cathode)]
        self.outputs = [Output("v", anode, cathode, branch), Output("i", anode, cathode)]
        self.labels = {(0, 0): ("rd", "ls"), (1, 1): ("g", "cp")}
        self._touch(anode, cathode)
        lo, hi = curve.window()
        self.max_step = 0.1 * (hi - lo)

    def evaluate(self, x):
        x = np.asarray(x, dtype=float)
        j = x[:, 0]
        ev = _zeros(j.size, 2, 2)
        ev.f[:, 0] = self.curve.response(j)
        ev.df[:, 0, 0] = self.curve.slope(j)
        ev.q[:, 0] = self.ls * j
        ev.dq[:, 0, 0] = self.ls
        ev.q[:, 1] = self.cp * x[:, 1]
        ev.dq[:, 1, 1] = self.cp
        return ev

    def limit(self, x_new, x_old):
        step = x_new[0] - x_old[0]
        if abs(step) > self.max_step:
            out = x_new.copy()
            out[0] = x_old[0] + math.copysign(self.max_step, step)
            return out, True
        return x_new, False

    def describe(self, x):
        j = float(x[0])
        v, r = float(self.curve.response(j)), float(self.curve.slope(j))
        return {"name": self.name, "v": v, "i": j, "ndr": bool(r < 0), "type": "S", "r": r, "ls": self.ls,
                "cp": self.cp}


# ---------------------------------------------------------------------------------------------------------
# junction diode and Gummel–Poon transistor


class JunctionDiode(NonlinearDevice):
    """SPICE junction diode: ``rs`` from the anode to the internal anode ``<d>.ai``, junction current (with
    gmin) and charge (depletion + ``TT·i``) from there to the cathode; SPICE's junction limiting."""

    family = "diode"

    def __init__(self, name: str, anode: str, cathode: str, d: gp.DiodeTemperature, gmin: float,
                 model: str = "", element: Element | None = None):
        super().__init__(name, element)
        self.d, self.gmin, self.model = d, gmin, model
        self.anode, self.cathode = anode, cathode
        self.inner = f"{name.lower()}.ai" if d.rs > 0 else anode
        if d.rs > 0:
            self.resistors = [("rs", anode, self.inner, d.rs)]
        self.controls = [("v", self.inner, cathode)]
        self.outputs = [Output("i", self.inner, cathode)]
        self.labels = {(0, 0): ("gd", "cd")}
        self._touch(anode, cathode, self.inner)

    dc_only = True

    def evaluate(self, x, charges: bool = True):
        v = np.asarray(x, dtype=float)[:, 0]
        i_j, g_j = gp.junction_current(v, self.d.is_, self.d.n * self.d.vt)
        ev = _zeros(v.size, 1, 1)
        ev.f[:, 0], ev.df[:, 0, 0] = i_j + self.gmin * v, g_j + self.gmin  # gp.diode_current
        if charges:
            ev.q[:, 0], ev.dq[:, 0, 0] = gp.diode_charge(v, i_j, g_j, self.d)
        return ev

    def limit(self, x_new, x_old):
        v, limited = gp.pn_limit(float(x_new[0]), float(x_old[0]), self.d.n * self.d.vt, self.d.vcrit)
        return np.array([v]), limited

    def start(self):
        return np.array([self.d.vcrit])

    def describe(self, x):
        """``vd`` (internal junction voltage), ``i`` (anode→cathode), ``gd``, ``cd``, ``rs`` at control values ``x``."""
        ev = self.evaluate(np.atleast_2d(x))
        return {"name": self.name, "model": self.model, "vd": float(x[0]), "i": float(ev.f[0, 0]),
                "gd": float(ev.df[0, 0, 0]), "cd": float(ev.dq[0, 0, 0]), "rs": self.d.rs}


@dataclass
class TransistorBias:
    """One transistor at its operating point. Currents flow *into* the external terminals (A); ``vbe``,
    ``vbc`` are the internal junction voltages in the device's own sense (positive forward for NPN and PNP);
    ``vce`` is external. Small-signal values in S, Ω, F."""

    name: str
    model: str
    polarity: int
    nodes: dict[str, str]  # c, b, e, s, ci, bi, ei
    vbe: float
    vbc: float
    vce: float
    ic: float
    ib: float
    ie: float
    gm: float
    go: float
    gpi: float
    gmu: float
    rb: float
    re: float
    rc: float
    cpi: float
    cmu: float
    cbx: float
    ccs: float
    cbe_vbc: float
    tf_effective: float
    temp_c: float
    notes: tuple[str, ...] = ()

    @property
    def ft(self) -> float:
        """Intrinsic transit frequency ``gm / (2π (Cπ + Cμ + Cbx))`` (Hz): no parasitics, no resistances."""
        total = self.cpi + self.cmu + self.cbx
        return self.gm / (2.0 * math.pi * total) if total > 0 else math.inf

    @property
    def beta(self) -> float:
        """DC current gain ``Ic/Ib``."""
        return self.ic / self.ib if self.ib != 0 else math.inf

    @property
    def region(self) -> str:
        return transistor_region(self.vbe, self.vbc)

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "type": "npn" if self.polarity > 0 else "pnp",
                "vbe": self.vbe, "vbc": self.vbc, "vce": self.vce, "ic": self.ic, "ib": self.ib, "ie": self.ie,
                "beta": self.beta, "gm": self.gm, "go": self.go, "gpi": self.gpi, "gmu": self.gmu, "rb": self.rb,
                "re": self.re, "rc": self.rc, "cpi": self.cpi, "cmu": self.cmu, "cbx": self.cbx, "ccs": self.ccs,
                "cbe_vbc": self.cbe_vbc, "tf_effective": self.tf_effective, "ft": self.ft, "temp_c": self.temp_c,
                "notes": list(self.notes)}


def transistor_region(vbe: float, vbc: float) -> str:
    """The operating region of a bipolar transistor from its internal junction voltages (device sense):
    ``forward active`` (B–E on, B–C off), ``saturation`` (both on), ``reverse active``, ``cut-off``."""
    be, bc = vbe > JUNCTION_ON_V, vbc > JUNCTION_ON_V
    if be and not bc:
        return "forward active"
    if be and bc:
        return "saturation"
    return "reverse active" if bc else "cut-off"


class BipolarTransistor(NonlinearDevice):
    """Gummel–Poon transistor (SPICE 2G6 / ngspice equations of :mod:`stabkit.nonlinear.gummel_poon`).

    Controls (node pairs, polarity applied inside): ``vbe`` (bi, ei), ``vbc`` (bi, ci), ``vce`` (ci, ei; redundant,
    it carries the output conductance so the linearized circuit has ``ro``), ``vbx`` (b, ci), ``vcs`` (s, ci or bi),
    ``vrb`` (b, bi). Outputs: ``ice = (Ibe1 − Ibc1)/qb`` (ci → ei) with ``qbe`` (bi → ei) … see the table::

        output      current                 charge        linearized as
        ci → ei     (Ibe1 − Ibc1)/qb        —             gm (VCCS on vbe), ro
        bi → ei     Ibe1/BF + Ibe2          Qbe           rpi, cpi, cx (transcapacitance on vbc)
        bi → ci     Ibc1/BR + Ibc2          Qbc           rmu, cmu
        b  → ci     —                       Qbx           cbx
        s  → ci|bi  —                       Qcs           cjs
        b  → bi     v/rb(qb, ib)            —             rb
    """

    family = "transistor"
    _VBE, _VBC, _VCE, _VBX, _VCS, _VRB = range(6)

    def __init__(self, name: str, nodes: Sequence[str], t: gp.TransistorTemperature, gmin: float, model: str = "",
                 element: Element | None = None):
        super().__init__(name, element)
        c, b, e = nodes[:3]
        s = nodes[3] if len(nodes) == 4 else GROUND
        prefix = name.lower()
        self.t, self.gmin, self.model, self.polarity = t, gmin, model, t.polarity
        ci = f"{prefix}.ci" if t.rc > 0 else c
        bi = f"{prefix}.bi" if t.rb > 0 else b
        ei = f"{prefix}.ei" if t.re > 0 else e
        self.node_map = {"c": c, "b": b, "e": e, "s": s, "ci": ci, "bi": bi, "ei": ei}
        sub = ci if t.polarity > 0 else bi  # SPICE: vertical NPN to ci, lateral PNP to bi
        self.controls = [("v", bi, ei), ("v", bi, ci), ("v", ci, ei), ("v", b, ci), ("v", s, sub), ("v", b, bi)]
        self.outputs = [Output("i", ci, ei), Output("i", bi, ei), Output("i", bi, ci), Output("i", b, ci),
                        Output("i", s, sub), Output("i", b, bi)]
        self.labels = {(0, 0): ("gm", "gm.c"), (0, 2): ("ro", "ro.c"), (1, 0): ("rpi", "cpi"), (1, 1): ("cx.g", "cx"),
                       (2, 1): ("rmu", "cmu"), (3, 3): ("gbx", "cbx"), (4, 4): ("gjs", "cjs"), (5, 5): ("rb", "cb")}
        self.resistors = [(label, a, bb, r) for label, a, bb, r in (("rc", c, ci, t.rc), ("re", e, ei, t.re)) if r > 0]
        self.dc_conductances = [(s, sub, gmin)]  # SPICE's gmin from the substrate to its junction
        self._touch(c, b, e, s, ci, bi, ei)
        self.notes = list(t.notes)

    dc_only = True

    def evaluate(self, x, charges: bool = True):
        x = np.asarray(x, dtype=float)
        t, pol = self.t, self.polarity
        vbe, vbc, vbx, vcs = pol * x[:, 0], pol * x[:, 1], pol * x[:, 3], x[:, 4]
        cur = gp.gp_currents(vbe, vbc, t, self.gmin)
        n = x.shape[0]
        ev = _zeros(n, 6, 6)
        # Ic = ice − ibc and Ib = ibe + ibc: the B'–C' branch carries Ibc1/BR + Ibc2, the B'–E' one the rest
        i_ce = (cur.ibe1 - cur.ibc1) / cur.qb
        i_bc = i_ce - cur.ic
        i_be = cur.ib - i_bc
        gx = cur.gx
        ev.f[:, 0], ev.f[:, 1], ev.f[:, 2] = pol * i_ce, pol * i_be, pol * i_bc
        ev.f[:, 5] = gx * x[:, 5]
        ev.df[:, 0, self._VBE] = cur.gm
        ev.df[:, 0, self._VCE] = cur.go
        ev.df[:, 1, self._VBE] = cur.gpi
        ev.df[:, 2, self._VBC] = cur.gmu
        ev.df[:, 5, self._VRB] = gx
        if not charges:
            return ev
        ch = gp.gp_charges(vbe, vbc, vbx, vcs, t, cur)
        ev.q[:, 1], ev.q[:, 2], ev.q[:, 3], ev.q[:, 4] = pol * ch.qbe, pol * ch.qbc, pol * ch.qbx, ch.qcs
        ev.dq[:, 1, self._VBE], ev.dq[:, 1, self._VBC], ev.dq[:, 2, self._VBC] = ch.cbe, ch.cbe_vbc, ch.cbc
        ev.dq[:, 3, self._VBX], ev.dq[:, 4, self._VCS] = ch.cbx, ch.ccs
        return ev

    def limit(self, x_new, x_old):
        pol, t = self.polarity, self.t
        vbe, l1 = gp.pn_limit(pol * float(x_new[0]), pol * float(x_old[0]), t.vt, t.vcrit)
        vbc, l2 = gp.pn_limit(pol * float(x_new[1]), pol * float(x_old[1]), t.vt, t.vcrit)
        if not (l1 or l2):
            return x_new, False
        out = x_new.copy()
        out[0], out[1] = pol * vbe, pol * vbc
        out[2] = out[0] - out[1]  # keep vce consistent with the limited junctions
        return out, True

    def start(self):
        pol = self.polarity
        x = np.zeros(6)
        x[0] = pol * self.t.vcrit
        x[2] = x[0]
        return x

    def bias(self, x, voltages: Mapping[str, float]) -> TransistorBias:
        """The transistor's bias record at control values ``x`` (``voltages``: node voltages, for ``vce``)."""
        t, pol = self.t, self.polarity
        vbe, vbc, vbx, vcs = pol * float(x[0]), pol * float(x[1]), pol * float(x[3]), float(x[4])
        cur = gp.gp_currents(vbe, vbc, t, self.gmin)
        caps = gp.gp_charges(vbe, vbc, vbx, vcs, t, cur)
        nd = self.node_map

        def volt(node):
            return 0.0 if node == GROUND else voltages[node]

        ic, ib = pol * float(cur.ic), pol * float(cur.ib)
        gx = float(cur.gx)
        return TransistorBias(
            name=self.name, model=self.model, polarity=pol, nodes=dict(nd), vbe=vbe, vbc=vbc,
            vce=pol * (volt(nd["c"]) - volt(nd["e"])), ic=ic, ib=ib, ie=-(ic + ib), gm=float(cur.gm),
            go=float(cur.go), gpi=float(cur.gpi), gmu=float(cur.gmu),
            rb=(1.0 / gx if gx > 0 else 0.0) if nd["bi"] != nd["b"] else 0.0, re=t.re, rc=t.rc,
            cpi=float(caps.cbe), cmu=float(caps.cbc), cbx=float(caps.cbx), ccs=float(caps.ccs),
            cbe_vbc=float(caps.cbe_vbc), tf_effective=float(caps.tf_effective), temp_c=t.temp_c, notes=t.notes)


# ---------------------------------------------------------------------------------------------------------
# behavioural sources


class BehaviouralSource(NonlinearDevice):
    """``B n+ n- I={expr}`` (a current ``n+`` → ``n−``) or ``V={expr}`` (a voltage, own branch current), of node
    voltages and voltage-source currents; values and exact derivatives by :func:`~stabkit.circuit.expr.evaluate_dual`.
    Newton steps of a controlling voltage are capped at ``max_step`` (V): exponentials of a node voltage
    overflow otherwise."""

    family = "behavioural"
    max_step = 0.3

    def __init__(self, element: Element, params: Mapping[str, float]):
        super().__init__(element.name, element)
        kind, text = element.expression
        self.text, self.params = text, dict(params)
        n_plus, n_minus = element.nodes[:2]
        pairs = [(element.nodes[k], element.nodes[k + 1]) for k in range(2, len(element.nodes), 2)]
        self.controls = [("v", a, b) for a, b in pairs] + [("i", ref.lower()) for ref in element.refs]
        self.variables = {f"_v{k}": k for k in range(len(pairs))}
        self.variables.update({f"_i{k}": len(pairs) + k for k in range(len(element.refs))})
        if kind == "v":
            branch = f"{element.key}#j"
            self.own_branches = [branch]
            self.outputs = [Output("v", n_plus, n_minus, branch)]
        else:
            self.outputs = [Output("i", n_plus, n_minus)]
        self.labels = {(0, k): (f"g{k}", f"c{k}") for k in range(len(self.controls))}
        if len(self.controls) == 1:
            self.labels = {(0, 0): ("g", "c")}
        self._touch(*element.nodes)
        self._voltage_controls = np.array([c[0] == "v" for c in self.controls], dtype=bool)

    def evaluate(self, x):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        ev = _zeros(x.shape[0], 1, len(self.controls))
        if not self.controls:
            value, _ = expr.evaluate_dual(self.text, self.params, {}, np.zeros((x.shape[0], 0)))
            ev.f[:, 0] = value
            return ev
        try:
            value, grad = expr.evaluate_dual(self.text, self.params, self.variables, x)
        except ParameterError as exc:
            raise CircuitError(f"{self.element.where()}: {self.name}: {exc}") from None
        ev.f[:, 0] = value
        ev.df[:, 0, :] = grad
        return ev

    def limit(self, x_new, x_old):
        step = x_new - x_old
        big = self._voltage_controls & (np.abs(step) > self.max_step)
        if not np.any(big):
            return x_new, False
        out = x_new.copy()
        out[big] = x_old[big] + np.sign(step[big]) * self.max_step
        return out, True

    def describe(self, x):
        ev = self.evaluate(np.atleast_2d(x))
        return {"name": self.name, "expression": self.text, "output": self.outputs[0].kind,
                "value": float(ev.f[0, 0]), "gradient": [float(g) for g in ev.df[0, 0]]}


# ---------------------------------------------------------------------------------------------------------
# a device known by its small-signal model at one operating point


class LinearizedDevice(NonlinearDevice):
    """A device known only by its operating point and small-signal model there, provided from outside
    (another simulator's ``.op``, a measurement): ``f(x) = f0 + G·(x − x0)``, ``q(x) = C·(x − x0)``, for
    ``("i", p, m)`` outputs controlled by node-pair voltages. The DC solver, the linearizer and harmonic
    balance take it like any other device (harmonic balance then treats it as linear)."""

    family = "external"

    def __init__(self, name: str, controls: Sequence[tuple[str, str]], outputs: Sequence[tuple[str, str]],
                 x0, f0, g, c=None, labels: Mapping[tuple[int, int], tuple[str, str]] | None = None):
        super().__init__(name)
        self.controls = [("v", a, b) for a, b in controls]
        self.outputs = [Output("i", a, b) for a, b in outputs]
        self.x0 = np.asarray(x0, dtype=float)
        self.f0 = np.asarray(f0, dtype=float)
        self.g = np.asarray(g, dtype=float).reshape(len(outputs), len(controls))
        self.c = np.zeros_like(self.g) if c is None else np.asarray(c, dtype=float).reshape(self.g.shape)
        self.labels = dict(labels or {})
        for a, b in (*controls, *outputs):
            self._touch(a, b)

    def evaluate(self, x):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        dx = x - self.x0
        t = x.shape[0]
        return Evaluation(f=self.f0 + dx @ self.g.T, q=dx @ self.c.T, df=np.broadcast_to(self.g, (t, *self.g.shape)).copy(),
                          dq=np.broadcast_to(self.c, (t, *self.c.shape)).copy())

    def start(self):
        return self.x0.copy()


# ---------------------------------------------------------------------------------------------------------
# building the devices of a circuit


def is_junction_diode(circuit: Circuit, element: Element) -> bool:
    """True for a ``D`` element whose card is SPICE's junction diode (``.model NAME D(...)``)."""
    model = circuit.models.get((element.model or "").lower())
    return element.kind == "D" and model is not None and gp.is_junction_diode_model(model.type)


def nonlinear_elements(circuit: Circuit) -> list[Element]:
    """The elements the nonlinear layer handles: ``D``, ``Q``, ``M``, ``J`` and ``B``, in netlist order."""
    return [e for e in circuit if e.kind in ("D", "Q", "B", "M", "J")]


def simulator_options(circuit: Circuit, temp: float | None = None, gmin: float | None = None
                      ) -> tuple[float | None, float, float]:
    """``(temp_c, tnom_c, gmin)`` from the arguments, else the netlist's ``.temp``/``.options``, else SPICE's."""
    opts = getattr(circuit, "options", {}) or {}
    temp_c = temp if temp is not None else opts.get("temp")
    tnom_c = opts.get("tnom", gp.DEFAULT_TNOM_C)
    g = gmin if gmin is not None else opts.get("gmin", gp.DEFAULT_GMIN)
    return temp_c, tnom_c, g


def _instance(circuit: Circuit, e: Element, resolved, temp_c: float | None, model_tnom: float | None,
              tnom_c: float) -> tuple[float, float | None, float]:
    """Effective area (``area·m``), temperature (its ``temp=``, else the circuit's, plus ``dtemp=``) and ``m``."""
    vals = circuit.values(e, resolved)
    m = vals.get("m", 1.0)
    area = vals.get("area", 1.0) * m
    if area <= 0 or m <= 0:
        raise CircuitError(f"{e.where()}: {e.name}: area and m must be positive, got area·m = {area:g}")
    if "temp" in vals:
        return area, vals["temp"], m
    if "dtemp" in vals:
        base = temp_c if temp_c is not None else (model_tnom if model_tnom is not None else tnom_c)
        return area, base + vals["dtemp"], m
    return area, temp_c, m


def circuit_devices(circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
                    gmin: float | None = None) -> list[NonlinearDevice]:
    """Every nonlinear device of ``circuit`` (``D``, ``Q``, ``B``, level-1 ``M`` elements), built from its model card.

    Parameters
    ----------
    circuit : Circuit
    params : mapping, optional
        Resolved parameters (or overrides), as :meth:`Circuit.resolve_params` takes them.
    temp, gmin : float, optional
        Circuit temperature (°C) and junction gmin (S); default from ``.temp``/``.options``, else SPICE's.

    Returns
    -------
    list of NonlinearDevice
        In netlist order. Bad model cards raise :class:`CircuitError` naming the element's file and line.
    """
    resolved = dict(params) if params is not None and _is_resolved(circuit, params) else circuit.resolve_params(params)
    temp_c, tnom_c, g = simulator_options(circuit, temp, gmin)
    out: list[NonlinearDevice] = []
    for e in nonlinear_elements(circuit):
        try:
            out.append(_build(circuit, e, resolved, temp_c, tnom_c, g))
        except CircuitError as exc:
            text = str(exc)
            raise CircuitError(text if text.startswith(e.where()) else f"{e.where()}: {e.name}: {text}") from None
    return out


def _is_resolved(circuit: Circuit, params: Mapping[str, float]) -> bool:
    return set(params) >= set(circuit.params) and all(isinstance(v, float) for v in params.values())


def _build(circuit: Circuit, e: Element, resolved, temp_c, tnom_c, gmin) -> NonlinearDevice:
    if e.kind == "B":
        return BehaviouralSource(e, resolved)
    if e.kind in ("M", "J", "Q"):
        from stabkit.nonlinear.ngspice_devices import NgspiceDeviceNeeded, device_family, device_path

        path, why = device_path(circuit, e, resolved, temp_c)
        if path == "ngspice":
            raise NgspiceDeviceNeeded(f"{e.where()}: {e.name} ({why}) is evaluated by ngspice: its operating point "
                                      "comes from ngspice (stabkit poles/ndf/loads/report/check do this; this "
                                      "analysis solves the DC point natively and cannot)")
        if e.kind == "M":
            from stabkit.nonlinear.mosfet import MosfetLevel1, MosLevel1Params

            model, values = circuit.model_values(e, resolved)
            p = MosLevel1Params.from_card(model.type, values, circuit.values(e, resolved), name=e.model or "?")
            return MosfetLevel1(e.name, e.nodes, p, gmin, model=e.model or "", element=e)
    if e.kind == "Q":
        model, values = circuit.model_values(e, resolved)
        params = gp.GummelPoonParams.from_card(model.type, values, name=e.model or "?")
        area, inst_temp, m = _instance(circuit, e, resolved, temp_c, params.tnom, tnom_c)
        t = gp.transistor_at(params, inst_temp, tnom_c, area)
        dev = BipolarTransistor(e.name, e.nodes, t, gmin * m, model=e.model or "", element=e)
        if params.skipped:
            dev.notes.append(f"model {e.model}: simulator-only limits {', '.join(params.skipped)} read and not used")
        return dev
    if is_junction_diode(circuit, e):
        _, values = circuit.model_values(e, resolved)
        params = gp.JunctionDiodeParams.from_card(values, name=e.model or "?")
        area, inst_temp, _ = _instance(circuit, e, resolved, temp_c, params.tnom, tnom_c)
        d = gp.diode_at(params, inst_temp, tnom_c, area)
        dev = JunctionDiode(e.name, e.nodes[0], e.nodes[1], d, gmin, model=e.model or "", element=e)
        if params.skipped:
            dev.notes.append(f"model {e.model}: simulator-only limits {', '.join(params.skipped)} read and not used")
        return dev
    model, values = circuit.model_values(e, resolved, text_keys=("file",))
    base_dir = str(Path(circuit.source).parent) if circuit.source else None
    area = circuit.values(e, resolved).get("area", 1.0)
    curve = device_from_model(model.type, values, area=area, name=e.model or "?", base_dir=base_dir)
    cls = NTypeDevice if curve.control == "N" else STypeDevice
    return cls(e.name, e.nodes[0], e.nodes[1], curve, element=e)
