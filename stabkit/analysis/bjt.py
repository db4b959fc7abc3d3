"""Bipolar transistors (Gummel–Poon ``Q``) and junction diodes (``D`` with a SPICE ``D`` card) in a circuit:
DC operating point, then the small-signal circuit the stability analyses take.

:func:`bias_point` solves the DC equations (inductors shorted, capacitors open, sources at their ``dc``
values) by Newton's method as SPICE does it: every junction voltage is limited between iterations
(:func:`~stabkit.circuit.gummel_poon.pn_limit`), the transistor starts at ``Vbe = Vcrit``, ``Vbc = 0``; if
plain Newton fails, gmin stepping (a conductance from every node to ground, 10 mS down to 0), then source
stepping (all sources ramped from 0). ``gmin`` (default 1e-12 S, or ``.options gmin=``) sits across every
junction, as in SPICE.

:func:`linearize_bjts` replaces each ``Q`` by its small-signal equivalent in a copy of the circuit
(element names ``<Q>.<part>``, internal nodes ``<Q>.bi``, ``<Q>.ci``, ``<Q>.ei``)::

    b ──rb── bi ──┬── rpi = 1/gpi ──┬── ei ──re── e        gm: VCCS ci → ei, controlled by v(bi, ei)
                  ├── cpi ───────────┤                      cx: VCCS bi → ei, (0 + s·∂Qbe/∂Vbc)·v(bi, ci)
                  ├── rmu = 1/gmu, cmu ── ci ──rc── c       ro = 1/go between ci and ei
    b ── cbx ── ci  (the (1 − XCJC) part of Cjc)            cjs between the substrate and ci

``gm`` is ``∂Ic/∂Vbe − ∂Ic/∂Vce``-free: with ``go = −∂Ic/∂Vbc`` the collector current is
``gm·vbe + go·vce``, so the reverse transconductance is carried by ``ro``. A conductance or capacitance
that comes out negative is written as a self-controlled VCCS (it is then active for the NDF). Each junction
diode becomes ``rs`` in series with ``1/gd ∥ cd``.

Temperature: ``.temp T`` or ``.options temp=T`` in the netlist (or ``temp=`` here); otherwise every model
is evaluated at its own nominal temperature (``TNOM`` of the card, else ``.options tnom=``, else 27 °C), i.e.
without temperature scaling. Note that ngspice's default is 27 °C: put ``.temp`` in netlists you compare.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la

from stabkit.analysis.mna import assemble
from stabkit.circuit import gummel_poon as gp
from stabkit.circuit.elements import Element
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, StabkitWarning


# ---------------------------------------------------------------------------------------------------------
# which elements are bipolar transistors / junction diodes


def _model_values(circuit: Circuit, element: Element, resolved: Mapping[str, float]) -> tuple[str, dict[str, float]]:
    model, values = circuit.model_values(element, resolved)
    return model.type, values  # type: ignore[return-value]


def is_junction_diode(circuit: Circuit, element: Element) -> bool:
    model = circuit.models.get((element.model or "").lower())
    return element.kind == "D" and model is not None and gp.is_junction_diode_model(model.type)


def needs_bias(circuit: Circuit) -> bool:
    """True when the circuit holds ``Q`` elements or junction diodes (``D`` with a SPICE ``D`` card)."""
    return any(e.kind == "Q" or is_junction_diode(circuit, e) for e in circuit)


# ---------------------------------------------------------------------------------------------------------
# results


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

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "type": "npn" if self.polarity > 0 else "pnp",
                "vbe": self.vbe, "vbc": self.vbc, "vce": self.vce, "ic": self.ic, "ib": self.ib, "ie": self.ie,
                "beta": self.beta, "gm": self.gm, "go": self.go, "gpi": self.gpi, "gmu": self.gmu, "rb": self.rb,
                "re": self.re, "rc": self.rc, "cpi": self.cpi, "cmu": self.cmu, "cbx": self.cbx, "ccs": self.ccs,
                "cbe_vbc": self.cbe_vbc, "tf_effective": self.tf_effective, "ft": self.ft, "temp_c": self.temp_c,
                "notes": list(self.notes)}


@dataclass
class DiodeBias:
    """A junction diode at its operating point: ``vd`` internal junction voltage, ``i`` anode→cathode."""

    name: str
    model: str
    nodes: dict[str, str]  # a, k, ai
    vd: float
    i: float
    gd: float
    cd: float
    rs: float

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model, "vd": self.vd, "i": self.i, "gd": self.gd, "cd": self.cd,
                "rs": self.rs}


@dataclass
class BiasResult:
    """DC operating point of a circuit with bipolar transistors and junction diodes.

    ``voltages``: every node (internal device nodes ``<Q>.bi`` ... included), ``currents``: branch current
    of every V source and inductor (from its ``n+`` through it to ``n−``), ``method``: which continuation
    converged, ``temp_c``: the circuit temperature (None: each model at its TNOM)."""

    voltages: dict[str, float]
    currents: dict[str, float]
    transistors: dict[str, TransistorBias]
    diodes: dict[str, DiodeBias]
    method: str
    iterations: int
    temp_c: float | None
    gmin: float
    params: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"voltages": dict(self.voltages), "currents": dict(self.currents),
                "transistors": [t.to_dict() for t in self.transistors.values()],
                "diodes": [d.to_dict() for d in self.diodes.values()], "method": self.method,
                "iterations": self.iterations, "temp_c": self.temp_c, "gmin": self.gmin, "notes": list(self.notes)}

    def plot(self, ax=None):
        """Bar chart of the external node voltages."""
        from stabkit.report.plots import plot_node_voltages

        shown = {k: v for k, v in self.voltages.items() if not any(k.endswith(s) for s in (".bi", ".ci", ".ei", ".ai"))}
        return plot_node_voltages(shown, ax=ax, title="DC operating point")


# ---------------------------------------------------------------------------------------------------------
# the DC problem


@dataclass
class _Transistor:
    element: Element
    t: gp.TransistorTemperature
    c: str
    b: str
    e: str
    s: str
    ci: str
    bi: str
    ei: str
    gmin: float  # gmin·m: SPICE puts gmin across the junctions of each of the m parallel copies


@dataclass
class _Diode:
    element: Element
    d: gp.DiodeTemperature
    a: str
    k: str
    ai: str
    gmin: float


def _options(circuit: Circuit, temp: float | None, gmin: float | None) -> tuple[float | None, float, float]:
    opts = getattr(circuit, "options", {}) or {}
    temp_c = temp if temp is not None else opts.get("temp")
    tnom_c = opts.get("tnom", gp.DEFAULT_TNOM_C)
    g = gmin if gmin is not None else opts.get("gmin", gp.DEFAULT_GMIN)
    return temp_c, tnom_c, g


def _refined_solve(jac: np.ndarray, b: np.ndarray, steps: int = 2) -> np.ndarray | None:
    """``jac⁻¹ b`` with iterative refinement, residuals in extended precision: nodes tied to the rest only by
    reverse-biased junctions and gmin (conductances 1e-12 S beside 10 S ones) are otherwise lost in rounding."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu = la.lu_factor(jac)
            x = la.lu_solve(lu, b)
            jac_ext = jac.astype(np.longdouble)
            b_ext = b.astype(np.longdouble)
            for _ in range(steps):
                r = (b_ext - jac_ext @ x.astype(np.longdouble)).astype(float)
                x = x + la.lu_solve(lu, r)
    except (la.LinAlgError, ValueError):
        return None
    return x if np.all(np.isfinite(x)) else None


def _instance(circuit: Circuit, e: Element, resolved, temp_c: float | None, model_tnom: float | None,
              tnom_c: float) -> tuple[float, float | None, float]:
    """Effective area (``area·m``: m parallel copies), temperature (its ``temp=``, else the circuit
    temperature, or without one the model's nominal temperature, plus its ``dtemp=``) and ``m``."""
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


class _BiasProblem:
    def __init__(self, circuit: Circuit, resolved: dict[str, float], temp_c: float | None, tnom_c: float, gmin: float):
        self.gmin = gmin
        self.transistors: list[_Transistor] = []
        self.diodes: list[_Diode] = []
        drop = set()
        for e in circuit:
            if e.kind == "Q":
                mtype, values = _model_values(circuit, e, resolved)
                try:
                    params = gp.GummelPoonParams.from_card(mtype, values, name=e.model or "?")
                except CircuitError as exc:
                    raise CircuitError(f"{e.where()}: {e.name}: {exc}") from None
                area, inst_temp, m = _instance(circuit, e, resolved, temp_c, params.tnom, tnom_c)
                t = gp.transistor_at(params, inst_temp, tnom_c, area)
                c, b, em = e.nodes[:3]
                s = e.nodes[3] if len(e.nodes) == 4 else GROUND
                prefix = e.name.lower()
                self.transistors.append(_Transistor(
                    e, t, c, b, em, s, ci=f"{prefix}.ci" if t.rc > 0 else c,
                    bi=f"{prefix}.bi" if t.rb > 0 else b, ei=f"{prefix}.ei" if t.re > 0 else em, gmin=gmin * m))
                drop.add(e.key)
            elif e.kind == "D":
                if not is_junction_diode(circuit, e):
                    mtype = circuit.models.get((e.model or "").lower())
                    raise CircuitError(f"{e.where()}: {e.name}: the transistor bias solver handles junction diodes "
                                       f"(.model ... D); {e.model} is a {mtype.type if mtype else '?'} device "
                                       "(use stabkit oppoints for circuits of NDR devices)")
                _, values = _model_values(circuit, e, resolved)
                try:
                    params = gp.JunctionDiodeParams.from_card(values, name=e.model or "?")
                except CircuitError as exc:
                    raise CircuitError(f"{e.where()}: {e.name}: {exc}") from None
                area, inst_temp, m = _instance(circuit, e, resolved, temp_c, params.tnom, tnom_c)
                d = gp.diode_at(params, inst_temp, tnom_c, area)
                a, k = e.nodes
                # a diode's m folds into its area and gmin stays single (as ngspice does)
                self.diodes.append(_Diode(e, d, a, k, ai=f"{e.name.lower()}.ai" if d.rs > 0 else a, gmin=gmin))
                drop.add(e.key)
        net = circuit.without(drop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StabkitWarning)
            for q in self.transistors:
                if q.t.rc > 0:
                    net.add_resistor(f"{q.element.name}.rc", q.c, q.ci, q.t.rc)
                if q.t.re > 0:
                    net.add_resistor(f"{q.element.name}.re", q.e, q.ei, q.t.re)
            for dd in self.diodes:
                if dd.d.rs > 0:
                    net.add_resistor(f"{dd.element.name}.rs", dd.a, dd.ai, dd.d.rs)
        for q in self.transistors:
            for node in (q.c, q.b, q.e, q.s, q.ci, q.bi, q.ei):
                net.graph.add_node(node)
        for dd in self.diodes:
            for node in (dd.a, dd.k, dd.ai):
                net.graph.add_node(node)
        system = assemble(net, resolved, validate=False)
        self.network = net
        self.system = system
        self.node_index = dict(system.node_index)
        self.n = system.n
        self.a_mat = np.real(system.M(0.0).toarray())
        self.rhs = np.zeros(self.n)
        for e in net:
            if e.kind not in ("V", "I"):
                continue
            dc = net.values(e, resolved).get("dc", 0.0)
            if e.kind == "V":
                self.rhs[system.branch_index[e.key]] += dc
            else:  # dc flows from n+ through the source to n-
                for node, sign in ((e.nodes[0], -1.0), (e.nodes[1], 1.0)):
                    if node != GROUND:
                        self.rhs[self.node_index[node]] += sign * dc
        self.n_nodes = len(self.node_index)

    def idx(self, node: str) -> int | None:
        return None if node == GROUND else self.node_index[node]

    def v(self, x: np.ndarray, node: str) -> float:
        return 0.0 if node == GROUND else float(x[self.node_index[node]])

    def initial_state(self) -> list[float]:
        state = []
        for q in self.transistors:
            state += [q.t.vcrit, 0.0]
        for dd in self.diodes:
            state.append(dd.d.vcrit)
        return state

    def _conductance(self, jac, a, b, g):
        ia, ib = self.idx(a), self.idx(b)
        if ia is not None:
            jac[ia, ia] += g
        if ib is not None:
            jac[ib, ib] += g
        if ia is not None and ib is not None:
            jac[ia, ib] -= g
            jac[ib, ia] -= g

    def load(self, x: np.ndarray, state: list[float], evaluate_at_state: bool, lam: float, gshunt: float
             ) -> tuple[np.ndarray, np.ndarray, bool, list[float]]:
        """Companion (linearized) system at ``x``; junction voltages limited against ``state``."""
        jac = self.a_mat.copy()
        b = lam * self.rhs
        limited = False
        new_state: list[float] = []
        k = 0
        for q in self.transistors:
            t, pol = q.t, q.t.polarity
            if evaluate_at_state:
                vbe, vbc = state[k], state[k + 1]
            else:
                vbe_new = pol * (self.v(x, q.bi) - self.v(x, q.ei))
                vbc_new = pol * (self.v(x, q.bi) - self.v(x, q.ci))
                vbe, l1 = gp.pn_limit(vbe_new, state[k], t.vt, t.vcrit)
                vbc, l2 = gp.pn_limit(vbc_new, state[k + 1], t.vt, t.vcrit)
                limited = limited or l1 or l2
            k += 2
            new_state += [vbe, vbc]
            cur = gp.gp_currents(vbe, vbc, t, q.gmin)
            ic, ib = float(cur.ic), float(cur.ib)
            gm, go, gpi, gmu = float(cur.gm), float(cur.go), float(cur.gpi), float(cur.gmu)
            d_ic = (gm + go, -(go + gmu))
            d_ib = (gpi, gmu)
            d_ie = (-(gm + go) - gpi, (go + gmu) - gmu)
            ctrl = ((q.bi, q.ei), (q.bi, q.ci))
            for node, f0, derivs in ((q.ci, ic, d_ic), (q.bi, ib, d_ib), (q.ei, -(ic + ib), d_ie)):
                row = self.idx(node)
                if row is None:
                    continue
                b[row] -= pol * (f0 - derivs[0] * vbe - derivs[1] * vbc)
                for (p, m), dv in zip(ctrl, derivs):
                    ip, im = self.idx(p), self.idx(m)
                    if ip is not None:
                        jac[row, ip] += dv
                    if im is not None:
                        jac[row, im] -= dv
            if q.bi != q.b:
                self._conductance(jac, q.b, q.bi, float(cur.gx))
            self._conductance(jac, q.s, q.ci if pol > 0 else q.bi, q.gmin)
        for dd in self.diodes:
            d = dd.d
            if evaluate_at_state:
                vd = state[k]
            else:
                vd, lim = gp.pn_limit(self.v(x, dd.ai) - self.v(x, dd.k), state[k], d.n * d.vt, d.vcrit)
                limited = limited or lim
            k += 1
            new_state.append(vd)
            i, g = gp.diode_current(vd, d, dd.gmin)
            i, g = float(i), float(g)
            eq = i - g * vd
            for node, sign in ((dd.ai, 1.0), (dd.k, -1.0)):
                row = self.idx(node)
                if row is not None:
                    b[row] -= sign * eq
            self._conductance(jac, dd.ai, dd.k, g)
        if gshunt:
            jac[np.arange(self.n_nodes), np.arange(self.n_nodes)] += gshunt
        return jac, b, limited, new_state

    def newton(self, x0: np.ndarray, state: list[float], fresh: bool, lam: float = 1.0, gshunt: float = 0.0,
               max_iter: int = 150) -> tuple[np.ndarray, list[float], bool, int]:
        x = x0.copy()
        # Converged when, at an iterate reached without limiting, the KCL residual is below SPICE's abstol
        # (1 pA; the branch equations below 1 nV) and the next step is below 1e-9 relative + 0.1 mV; that
        # next Newton step is returned, which polishes the well-conditioned unknowns to rounding level. A plain
        # test on the steps cannot work: a node tied to the rest only by reverse junctions and gmin (between
        # two ESD diodes, say) has its voltage fixed by 1e-12 A currents through ohm-sized series resistors, and
        # the float64 rounding of the voltages around those resistors leaves ~1e-5 V of noise on it.
        n_nodes = self.n_nodes
        for it in range(max_iter):
            jac, b, limited, state = self.load(x, state, fresh and it == 0, lam, gshunt)
            residual_ok = False
            if it > 0 and not limited:
                f = np.abs(jac @ x - b)  # the nonlinear residual: the companion model is evaluated at x itself
                rounding = 1e-14 * (np.abs(jac) @ np.abs(x) + np.abs(b))  # large conductances: float64 noise
                residual_ok = (bool(np.all(f[:n_nodes] <= 1e-12 + rounding[:n_nodes]))
                               and bool(np.all(f[n_nodes:] <= 1e-9 + rounding[n_nodes:])))
            x_new = _refined_solve(jac, b)
            if x_new is None:
                return x, state, False, it + 1
            step = np.abs(x_new - x)
            x_prev, x = x, x_new
            if residual_ok and bool(np.all(step <= 1e-9 * np.maximum(np.abs(x_new), np.abs(x_prev)) + 1e-4)):
                return x, state, True, it + 1
        return x, state, False, max_iter

    def start_from(self, voltages: Mapping[str, float]) -> tuple[np.ndarray, list[float]]:
        """An initial iterate from known node voltages (a neighbouring solution) and the junction state there."""
        x = np.zeros(self.n)
        for node, i in self.node_index.items():
            x[i] = float(voltages.get(node, 0.0))
        # internal nodes not given (a LinearPoint keeps external nodes only) start at their terminal's voltage
        inner = [(q.bi, q.b) for q in self.transistors] + [(q.ci, q.c) for q in self.transistors] + \
                [(q.ei, q.e) for q in self.transistors] + [(d.ai, d.a) for d in self.diodes]
        for node, terminal in inner:
            if node != terminal and node not in voltages and node in self.node_index:
                x[self.node_index[node]] = self.v(x, terminal)
        state = []
        for q in self.transistors:
            pol = q.t.polarity
            state += [pol * (self.v(x, q.bi) - self.v(x, q.ei)), pol * (self.v(x, q.bi) - self.v(x, q.ci))]
        for dd in self.diodes:
            state.append(self.v(x, dd.ai) - self.v(x, dd.k))
        return x, state

    def solve(self, initial: Mapping[str, float] | None = None) -> tuple[np.ndarray, str, int]:
        total = 0
        if initial:  # continuation: Newton from a neighbouring solution, the usual sequence if that fails
            x, state = self.start_from(initial)
            x, state, ok, its = self.newton(x, state, True)
            total += its
            if ok:
                return x, "continuation", total
        x0 = np.zeros(self.n)
        x, state, ok, its = self.newton(x0, self.initial_state(), True)
        total += its
        if ok:
            return x, "newton", total
        # gmin stepping
        x, state = x0.copy(), self.initial_state()
        fresh = True
        ok = True
        for gshunt in [10.0 ** -k for k in range(2, 13)] + [0.0]:
            x, state, ok, its = self.newton(x, state, fresh, gshunt=gshunt)
            total += its
            fresh = False
            if not ok:
                break
        if ok:
            return x, "gmin stepping", total
        # source stepping
        x, state, ok, its = self.newton(x0.copy(), self.initial_state(), True, lam=0.0)
        total += its
        lam, step = 0.0, 0.1
        while ok and lam < 1.0:
            trial = min(1.0, lam + step)
            x_new, state_new, good, its = self.newton(x, list(state), False, lam=trial)
            total += its
            if good:
                x, state, lam, step = x_new, state_new, trial, min(step * 2.0, 0.5)
            else:
                step *= 0.5
                if step < 1e-6:
                    ok = False
        if ok:
            return x, "source stepping", total
        raise CircuitError("DC operating point: Newton's method did not converge (plain, with gmin stepping, "
                           "or with source stepping); check the bias network (a node without a DC path?)")

    # ------------------------------------------------------------------ results
    def result(self, x: np.ndarray, method: str, iterations: int, temp_c: float | None, resolved) -> BiasResult:
        voltages = {node: float(x[i]) for node, i in self.node_index.items()}
        currents = {}
        for e in self.network:
            if e.kind in ("V", "L") and e.key in self.system.branch_index:
                currents[e.name.lower()] = float(x[self.system.branch_index[e.key]])
        transistors: dict[str, TransistorBias] = {}
        notes: list[str] = []
        for q in self.transistors:
            t, pol = q.t, q.t.polarity
            vbe = pol * (self.v(x, q.bi) - self.v(x, q.ei))
            vbc = pol * (self.v(x, q.bi) - self.v(x, q.ci))
            vbx = pol * (self.v(x, q.b) - self.v(x, q.ci))
            sub_con = q.ci if pol > 0 else q.bi
            vcs = self.v(x, q.s) - self.v(x, sub_con)  # SPICE: vertical NPN to ci, lateral PNP to bi
            cur = gp.gp_currents(vbe, vbc, t, q.gmin)
            caps = gp.gp_capacitances(vbe, vbc, vbx, vcs, t, cur)
            ic = pol * float(cur.ic)  # the gmin leak to the substrate (≈ 1e-12 A) is not included
            ib = pol * float(cur.ib)
            gx = float(cur.gx)
            transistors[q.element.name] = TransistorBias(
                name=q.element.name, model=q.element.model or "", polarity=pol,
                nodes={"c": q.c, "b": q.b, "e": q.e, "s": q.s, "ci": q.ci, "bi": q.bi, "ei": q.ei},
                vbe=vbe, vbc=vbc, vce=pol * (self.v(x, q.c) - self.v(x, q.e)), ic=ic, ib=ib, ie=-(pol * float(cur.ic) + ib),
                gm=float(cur.gm), go=float(cur.go), gpi=float(cur.gpi), gmu=float(cur.gmu),
                rb=(1.0 / gx if gx > 0 else 0.0) if q.bi != q.b else 0.0, re=t.re, rc=t.rc,
                cpi=float(caps.cbe), cmu=float(caps.cbc), cbx=float(caps.cbx), ccs=float(caps.ccs),
                cbe_vbc=float(caps.cbe_vbc), tf_effective=float(caps.tf_effective), temp_c=t.temp_c, notes=t.notes)
            notes += [f"{q.element.name}: {n}" for n in t.notes]
        diodes: dict[str, DiodeBias] = {}
        for dd in self.diodes:
            vd = self.v(x, dd.ai) - self.v(x, dd.k)
            i, g = gp.diode_current(vd, dd.d, dd.gmin)
            _, g_junction = gp.junction_current(vd, dd.d.is_, dd.d.n * dd.d.vt)
            diodes[dd.element.name] = DiodeBias(
                name=dd.element.name, model=dd.element.model or "", nodes={"a": dd.a, "k": dd.k, "ai": dd.ai},
                vd=vd, i=float(i), gd=float(g), cd=float(gp.diode_capacitance(vd, g_junction, dd.d)), rs=dd.d.rs)
        return BiasResult(voltages=voltages, currents=currents, transistors=transistors, diodes=diodes, method=method,
                          iterations=iterations, temp_c=temp_c, gmin=self.gmin, params=dict(resolved), notes=notes)


def bias_point(circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
               gmin: float | None = None, initial: Mapping[str, float] | None = None) -> BiasResult:
    """DC operating point of a circuit with ``Q`` elements (Gummel–Poon) and junction diodes.

    ``temp`` (°C) overrides the netlist's ``.temp``/``.options temp=``; ``gmin`` (S) its ``.options gmin=``.
    ``initial`` (node → V, e.g. the ``voltages`` of a neighbouring solution in a sweep) starts Newton there
    (continuation); if that does not converge, the usual sequence runs. Raises :class:`CircuitError` when
    no continuation converges."""
    resolved = circuit.resolve_params(params)
    circuit.validate(resolved)
    temp_c, tnom_c, g = _options(circuit, temp, gmin)
    problem = _BiasProblem(circuit, resolved, temp_c, tnom_c, g)
    x, method, iterations = problem.solve(initial)
    return problem.result(x, method, iterations, temp_c, resolved)


# ---------------------------------------------------------------------------------------------------------
# linearization


def _add_admittance(out: Circuit, name: str, a: str, b: str, g: float = 0.0, c: float = 0.0) -> None:
    """``g`` (S) and ``c`` (F) between ``a`` and ``b``: positive values as R and C, negative ones as a
    self-controlled VCCS (active)."""
    if a == b:
        return
    if g > 0:
        out.add_resistor(f"{name}", a, b, 1.0 / g)
    if c > 0:
        out.add_capacitor(f"{name}.c" if g > 0 else name, a, b, c)
    if g < 0 or c < 0:
        out.add_vccs(f"{name}.neg", a, b, a, b, min(g, 0.0), transcapacitance=min(c, 0.0) or None)


def linearize_bjts(circuit: Circuit, bias: BiasResult) -> Circuit:
    """A copy of ``circuit`` with every ``Q`` and junction ``D`` replaced by its small-signal model at
    ``bias`` (from :func:`bias_point` on the same circuit). The result is linear: ``poles``, ``zin``, the
    NDF and the load sweeps apply to it (the bias is frozen: parameters changed later do not move it)."""
    missing = [e.name for e in circuit if (e.kind == "Q" and e.name not in bias.transistors)
               or (is_junction_diode(circuit, e) and e.name not in bias.diodes)]
    if missing:
        raise CircuitError(f"linearize: no operating point for {', '.join(missing)} (bias computed for another circuit?)")
    drop = {e.key for e in circuit if e.kind == "Q" or is_junction_diode(circuit, e)}
    out = circuit.without(drop)
    for q in bias.transistors.values():
        nd = q.nodes
        x = q.name
        if q.rc > 0:
            out.add_resistor(f"{x}.rc", nd["c"], nd["ci"], q.rc)
        if q.re > 0:
            out.add_resistor(f"{x}.re", nd["e"], nd["ei"], q.re)
        if nd["bi"] != nd["b"]:
            out.add_resistor(f"{x}.rb", nd["b"], nd["bi"], q.rb)
        _add_admittance(out, f"{x}.rpi", nd["bi"], nd["ei"], g=q.gpi)
        _add_admittance(out, f"{x}.cpi", nd["bi"], nd["ei"], c=q.cpi)
        _add_admittance(out, f"{x}.rmu", nd["bi"], nd["ci"], g=q.gmu)
        _add_admittance(out, f"{x}.cmu", nd["bi"], nd["ci"], c=q.cmu)
        _add_admittance(out, f"{x}.ro", nd["ci"], nd["ei"], g=q.go)
        _add_admittance(out, f"{x}.cbx", nd["b"], nd["ci"], c=q.cbx)
        _add_admittance(out, f"{x}.cjs", nd["s"], nd["ci"] if q.polarity > 0 else nd["bi"], c=q.ccs)
        out.add_vccs(f"{x}.gm", nd["ci"], nd["ei"], nd["bi"], nd["ei"], q.gm)
        if q.cbe_vbc != 0.0:
            out.add_vccs(f"{x}.cx", nd["bi"], nd["ei"], nd["bi"], nd["ci"], 0.0, transcapacitance=q.cbe_vbc)
    for d in bias.diodes.values():
        nd = d.nodes
        if nd["ai"] != nd["a"]:
            out.add_resistor(f"{d.name}.rs", nd["a"], nd["ai"], d.rs)
        _add_admittance(out, f"{d.name}.gd", nd["ai"], nd["k"], g=d.gd)
        _add_admittance(out, f"{d.name}.cd", nd["ai"], nd["k"], c=d.cd)
    return out


def small_signal(circuit: Circuit, params: Mapping[str, float] | None = None, *, temp: float | None = None,
                 gmin: float | None = None) -> Circuit:
    """:func:`bias_point` then :func:`linearize_bjts`: the linear small-signal circuit in one call."""
    return linearize_bjts(circuit, bias_point(circuit, params, temp=temp, gmin=gmin))


def linear_circuit(circuit: Circuit, params: Mapping[str, float] | None = None) -> Circuit:
    """``circuit`` itself when it holds no transistors or junction diodes, else its small-signal circuit at
    its DC operating point (what the CLI commands analyse)."""
    return small_signal(circuit, params) if needs_bias(circuit) else circuit


__all__ = ["BiasResult", "TransistorBias", "DiodeBias", "bias_point", "linearize_bjts", "small_signal",
           "linear_circuit", "needs_bias"]
