"""The native MOSFET: SPICE level 1 (Shichman–Hodges drain current, Meyer gate capacitances, bulk junctions).

Simple CMOS circuits — a textbook op-amp, a cross-coupled pair, a negative-capacitance converter drawn with
``level=1`` cards — need no other simulator: :class:`MosfetLevel1` is a device of the one nonlinear layer
(:mod:`stabkit.nonlinear.devices`), solved by the one Newton solver and linearized by the one linearizer like
the Gummel–Poon transistor. Its equations are SPICE's level 1 at the model's nominal temperature (what ngspice
evaluates for ``level=1``; the test suite compares operating points and small-signal models with it):

=============================  ================================================================================
threshold                      ``von = vto − γ√φ + γ·√(φ − vbs)`` (``vbs > 0``: ``√φ − vbs/(2√φ)``, not below 0)
drain current (``vds ≥ 0``)    cut-off ``vgst = vgs − von ≤ 0``: 0; saturation ``vgst ≤ vds``: ``β/2·vgst²·(1+λvds)``;
                               linear: ``β·vds·(vgst − vds/2)·(1+λvds)``, ``β = KP·W·m/(L − 2·LD)``; for
                               ``vds < 0`` source and drain swap roles (SPICE's inverse mode)
bulk junctions                 ``i = Is·(exp(v/vt) − 1) + gmin·v`` (``gmin·v − Is`` below ``−3vt``), depletion
                               charge with ``cbd``/``cbs`` (or ``cj·AD``, ``cjsw·PD`` ...), ``mj``, ``mjsw``,
                               ``pb``, linearised above ``fc·pb``
gate                           Meyer's capacitances ``cgs``, ``cgd``, ``cgb`` (``Cox·W·Leff``, regions around
                               threshold as SPICE) plus the overlaps ``cgso·W``, ``cgdo·W``, ``cgbo·Leff``
series resistances             ``rd``/``rs`` (or ``rsh·nrd``/``rsh·nrs``): internal nodes ``<M>.di``/``<M>.si``
=============================  ================================================================================

Meyer's capacitances are not the derivatives of charges (the model does not conserve charge): ``dq`` reports
them exactly (what SPICE's ``.ac`` and stabkit's linearization use), while ``q`` — which only harmonic balance
reads — is the integral of each capacitance over its own branch voltage from 0, the other voltages held
(Gauss–Legendre on each piece between the formula changes). One deliberate difference from ngspice: with the bulk forward-biased (``vbs > 0``) the
body transconductance is the exact derivative of the current, where SPICE uses ``γ/(2·sarg)``.

A card that this native model does not cover — another level, ``nsub``/``nss``/``tpg`` without ``vto``,
``gamma`` and ``phi``, a circuit temperature other than the card's ``tnom`` — goes to ngspice
(:mod:`stabkit.nonlinear.ngspice_devices`); :func:`native_level1_reason` says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stabkit.circuit.elements import Element
from stabkit.errors import CircuitError
from stabkit.nonlinear.devices import Evaluation, NonlinearDevice, Output
from stabkit.nonlinear.gummel_poon import pn_limit

__all__ = ["MosLevel1Params", "MosfetLevel1", "native_level1_reason", "mos_polarity", "EPS_OX",
           "MEYER_MIN_VDSAT", "DEFAULT_L", "DEFAULT_W"]

#: permittivity of SiO2 (F/m), as SPICE takes it: 3.9·ε0
EPS_OX = 3.9 * 8.854214871e-12
#: Meyer's model never lets ``vdsat`` fall below this (V)
MEYER_MIN_VDSAT = 0.025
#: SPICE's default channel length and width (m) when an instance gives none
DEFAULT_L = 100e-6
DEFAULT_W = 100e-6
_BOLTZMANN_OVER_Q = 1.3806226e-23 / 1.6021918e-19  # SPICE's CONSTKoverQ
_KELVIN = 273.15

#: level-1 card parameters this model evaluates (others on a level-1 card send the device to ngspice)
_LEVEL1_KNOWN = frozenset({"level", "vto", "vt0", "kp", "gamma", "phi", "lambda", "rd", "rs", "cbd", "cbs", "is",
                           "pb", "cgso", "cgdo", "cgbo", "rsh", "cj", "mj", "cjsw", "mjsw", "js", "tox", "ld", "u0",
                           "uo", "fc", "tnom", "kf", "af", "nsub", "nss", "tpg"})
#: instance values read (``off``/``ic`` are dropped by the reader)
_INSTANCE_KNOWN = frozenset({"l", "w", "ad", "as", "pd", "ps", "nrd", "nrs", "m"})
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


def mos_polarity(model_type: str) -> int:
    """+1 for ``nmos``, −1 for ``pmos`` (CircuitError for anything else)."""
    t = model_type.lower()
    if t == "nmos":
        return 1
    if t == "pmos":
        return -1
    raise CircuitError(f"model type {model_type!r} is not a MOSFET card (expected nmos or pmos)")


def native_level1_reason(model_type: str, values: Mapping[str, float | str], instance: Mapping[str, float],
                         temp_c: float | None) -> str | None:
    """None when :class:`MosfetLevel1` evaluates this card and instance exactly as SPICE's level 1 does, else why not
    (then the device goes to ngspice)."""
    level = values.get("level", 1.0)
    if not isinstance(level, float) or level != 1.0:
        return f"level={level}"
    unknown = sorted(set(values) - _LEVEL1_KNOWN)
    if unknown:
        return f"parameter {unknown[0]} is not a level-1 parameter stabkit evaluates"
    if any(not isinstance(v, float) for k, v in values.items()):
        return "a card value is not a number"
    if "nsub" in values and not ({"gamma", "phi"} <= set(values) and {"vto", "vt0"} & set(values)):
        return "nsub without vto, gamma and phi (SPICE derives them from the doping)"
    inst_unknown = sorted(set(instance) - _INSTANCE_KNOWN)
    if inst_unknown:
        return f"instance value {inst_unknown[0]}"
    tnom = values.get("tnom", 27.0)
    if temp_c is not None and abs(temp_c - tnom) > 1e-9:
        return f"circuit temperature {temp_c:g} °C differs from the card's tnom {tnom:g} °C"
    return None


@dataclass(frozen=True)
class MosLevel1Params:
    """A level-1 card evaluated for one instance (SI units, at the card's nominal temperature)."""

    polarity: int
    vto: float
    gamma: float
    phi: float
    lam: float
    beta: float  # KP·W·m/Leff (A/V²)
    cox: float  # Cox'·W·Leff·m (F)
    cgso: float  # overlap capacitances (F)
    cgdo: float
    cgbo: float
    rd: float  # series resistances (Ω), 0: none
    rs: float
    is_d: float  # junction saturation currents (A)
    is_s: float
    cbd: float  # zero-bias bottom and sidewall junction capacitances (F)
    cbdsw: float
    cbs: float
    cbssw: float
    pb: float
    mj: float
    mjsw: float
    fc: float
    vt: float  # thermal voltage (V)

    @classmethod
    def from_card(cls, model_type: str, values: Mapping[str, float], instance: Mapping[str, float],
                  name: str = "model") -> "MosLevel1Params":
        pol = mos_polarity(model_type)
        v = dict(values)
        if "vt0" in v and "vto" not in v:
            v["vto"] = v["vt0"]
        if "uo" in v and "u0" not in v:
            v["u0"] = v["uo"]
        m = instance.get("m", 1.0)
        length = instance.get("l", DEFAULT_L)
        width = instance.get("w", DEFAULT_W)
        ld = v.get("ld", 0.0)
        leff = length - 2.0 * ld
        if leff <= 0 or width <= 0 or m <= 0:
            raise CircuitError(f"model {name}: effective length L − 2·LD = {leff:g} m, W = {width:g} m and m = {m:g} "
                               "must be positive")
        tox = v.get("tox", 0.0)
        cox_area = EPS_OX / tox if tox > 0 else 0.0
        kp = v.get("kp")
        if kp is None:
            kp = v.get("u0", 600.0) * cox_area * 1e-4 if cox_area > 0 else 2e-5
        tnom_k = v.get("tnom", 27.0) + _KELVIN
        ad, as_ = instance.get("ad", 0.0), instance.get("as", 0.0)
        js = v.get("js", 0.0)
        if js == 0 or ad == 0 or as_ == 0:
            is_d = is_s = v.get("is", 1e-14) * m
        else:
            is_d, is_s = js * m * ad, js * m * as_

        def bottom(given: str, area: float) -> float:
            if given in v:
                return v[given] * m
            return v.get("cj", 0.0) * area * m

        def side(perimeter: float) -> float:
            return v.get("cjsw", 0.0) * perimeter * m

        def series(given: str, squares_key: str) -> float:
            if given in v:
                return v[given] / m if v[given] != 0 else 0.0
            rsh = v.get("rsh", 0.0)
            squares = instance.get(squares_key, 1.0)
            return rsh * squares / m if rsh != 0 and squares != 0 else 0.0

        return cls(polarity=pol, vto=v.get("vto", 0.0), gamma=v.get("gamma", 0.0), phi=v.get("phi", 0.6),
                   lam=v.get("lambda", 0.0), beta=kp * m * width / leff, cox=cox_area * leff * m * width,
                   cgso=v.get("cgso", 0.0) * m * width, cgdo=v.get("cgdo", 0.0) * m * width,
                   cgbo=v.get("cgbo", 0.0) * m * leff, rd=series("rd", "nrd"), rs=series("rs", "nrs"),
                   is_d=is_d, is_s=is_s, cbd=bottom("cbd", ad), cbdsw=side(instance.get("pd", 0.0)),
                   cbs=bottom("cbs", as_), cbssw=side(instance.get("ps", 0.0)), pb=v.get("pb", 0.8),
                   mj=v.get("mj", 0.5), mjsw=v.get("mjsw", 0.5), fc=v.get("fc", 0.5),
                   vt=_BOLTZMANN_OVER_Q * tnom_k)

    @property
    def vbi(self) -> float:
        """``vto − γ√φ`` in the device's own (n-type) sense."""
        return self.polarity * self.vto - self.gamma * math.sqrt(self.phi)


# ---------------------------------------------------------------------------------------------------------
# the equations, on arrays, in the device's own (n-type) sense


def threshold(p: MosLevel1Params, vbs):
    """``(von, dvon/dvbs)`` at bulk–source voltages ``vbs`` (source: the terminal acting as source)."""
    vbs = np.asarray(vbs, dtype=float)
    root = math.sqrt(p.phi)
    reverse = vbs <= 0
    sarg = np.where(reverse, np.sqrt(np.maximum(p.phi - vbs, 0.0)), root - vbs / (2.0 * root))
    dsarg = np.where(reverse, -0.5 / np.where(sarg > 0, sarg, 1.0), -0.5 / root)
    clipped = sarg <= 0
    sarg = np.where(clipped, 0.0, sarg)
    dsarg = np.where(clipped, 0.0, dsarg)
    return p.vbi + p.gamma * sarg, p.gamma * dsarg


def forward_current(p: MosLevel1Params, vgs, vds, vbs):
    """Drain current for ``vds ≥ 0`` and its derivatives ``(i, gm, gds, gmbs, von, vgst)``."""
    von, dvon = threshold(p, vbs)
    vgst = vgs - von
    on = vgst > 0
    sat = on & (vgst <= vds)
    lin = on & ~sat
    betap = p.beta * (1.0 + p.lam * vds)
    i = np.where(sat, 0.5 * betap * vgst ** 2, np.where(lin, betap * vds * (vgst - 0.5 * vds), 0.0))
    gm = np.where(sat, betap * vgst, np.where(lin, betap * vds, 0.0))
    gds = np.where(sat, 0.5 * p.lam * p.beta * vgst ** 2,
                   np.where(lin, betap * (vgst - vds) + p.lam * p.beta * vds * (vgst - 0.5 * vds), 0.0))
    gmbs = -gm * dvon
    return i, gm, gds, gmbs, von, vgst


def channel_current(p: MosLevel1Params, vgs, vds, vbs):
    """The channel current from drain to source (n-type sense) and its exact derivatives with respect to
    ``vgs``, ``vds``, ``vbs``, in both modes: ``(i, di_dvgs, di_dvds, di_dvbs)``."""
    vgs, vds, vbs = (np.asarray(a, dtype=float) for a in (vgs, vds, vbs))
    fwd = vds >= 0
    i_f, gm_f, gds_f, gmb_f, _, _ = forward_current(p, vgs, vds, vbs)
    i_r, gm_r, gds_r, gmb_r, _, _ = forward_current(p, vgs - vds, -vds, vbs - vds)
    i = np.where(fwd, i_f, -i_r)
    d_vgs = np.where(fwd, gm_f, -gm_r)
    d_vds = np.where(fwd, gds_f, gm_r + gds_r + gmb_r)
    d_vbs = np.where(fwd, gmb_f, -gmb_r)
    return i, d_vgs, d_vds, d_vbs


def junction(is_: float, vt: float, gmin: float, v):
    """Bulk junction current and conductance (SPICE's MOS form: ``gmin·v − Is`` below ``−3vt``)."""
    v = np.asarray(v, dtype=float)
    deep = v <= -3.0 * vt
    ev = np.exp(np.minimum(v / vt, 709.0))
    i = np.where(deep, gmin * v - is_, is_ * (ev - 1.0) + gmin * v)
    g = np.where(deep, gmin, is_ * ev / vt + gmin)
    return i, g


def junction_charge(c_bot: float, c_side: float, p: MosLevel1Params, v):
    """Depletion charge and capacitance of a bulk junction (bottom + sidewall), linearised above ``fc·pb``."""
    v = np.asarray(v, dtype=float)
    if c_bot == 0 and c_side == 0:
        return np.zeros_like(v), np.zeros_like(v)
    pb, mj, mjsw, fc = p.pb, p.mj, p.mjsw, p.fc
    dep = fc * pb
    low = v < dep
    arg = np.where(low, 1.0 - v / pb, 1.0)
    s_bot, s_side = arg ** (-mj), arg ** (-mjsw)
    q_low = pb * (c_bot * (1.0 - arg * s_bot) / (1.0 - mj) + c_side * (1.0 - arg * s_side) / (1.0 - mjsw))
    c_low = c_bot * s_bot + c_side * s_side
    a1 = 1.0 - fc
    sb, ss = a1 ** (-mj), a1 ** (-mjsw)
    f2 = c_bot * (1.0 - fc * (1.0 + mj)) * sb / a1 + c_side * (1.0 - fc * (1.0 + mjsw)) * ss / a1
    f3 = c_bot * mj * sb / a1 / pb + c_side * mjsw * ss / a1 / pb
    f4 = (c_bot * pb * (1.0 - a1 * sb) / (1.0 - mj) + c_side * pb * (1.0 - a1 * ss) / (1.0 - mjsw)
          - f3 / 2.0 * dep * dep - dep * f2)
    q_high = f4 + v * (f2 + v * f3 / 2.0)
    c_high = f2 + f3 * v
    return np.where(low, q_low, q_high), np.where(low, c_low, c_high)


def meyer(p: MosLevel1Params, vgs, vgd, von, vdsat):
    """Meyer's intrinsic gate capacitances ``(cgs, cgd, cgb)`` (F, overlaps not included) for the forward
    orientation (swap ``vgs``/``vgd`` and the results for the inverse mode), as SPICE evaluates them."""
    vgs, vgd = np.asarray(vgs, dtype=float), np.asarray(vgd, dtype=float)
    cox, phi = p.cox, p.phi
    vgst = vgs - von
    vds = vgs - vgd
    vdsat = np.maximum(vdsat, MEYER_MIN_VDSAT)
    vddif = 2.0 * vdsat - vds
    vddif1 = vdsat - vds
    with np.errstate(divide="ignore", invalid="ignore"):
        share_d = np.where(vds < vdsat, 1.0 - vdsat ** 2 / vddif ** 2, 0.0)
        share_s = np.where(vds < vdsat, 1.0 - vddif1 ** 2 / vddif ** 2, 1.0)
    full = 2.0 * cox / 3.0
    ramp = 4.0 * vgst * cox / (3.0 * phi) + full  # from 0 at vgst = −φ/2 up to 2/3·Cox at threshold
    base = np.where(vgst > 0, full, np.where(vgst > -phi / 2, ramp, 0.0))
    cgs = base * share_s
    cgd = base * share_d
    cgb = np.where(vgst <= -phi, cox, np.where(vgst <= 0, -vgst * cox / phi, 0.0))
    return cgs, cgd, cgb


def gate_capacitances(p: MosLevel1Params, vgs, vds, vbs):
    """Meyer's gate capacitances with overlaps, in both modes: ``(cgs, cgd, cgb)`` (F)."""
    vgs, vds, vbs = (np.asarray(a, dtype=float) for a in (vgs, vds, vbs))
    vgd = vgs - vds
    fwd = vds >= 0
    von_f = threshold(p, vbs)[0]
    von_r = threshold(p, vbs - vds)[0]
    von = np.where(fwd, von_f, von_r)
    vdsat = np.maximum(np.where(fwd, vgs, vgd) - von, 0.0)
    cgs_f, cgd_f, cgb_f = meyer(p, vgs, vgd, von, vdsat)
    cgd_r, cgs_r, cgb_r = meyer(p, vgd, vgs, von, vdsat)
    cgs = np.where(fwd, cgs_f, cgs_r) + p.cgso
    cgd = np.where(fwd, cgd_f, cgd_r) + p.cgdo
    cgb = np.where(fwd, cgb_f, cgb_r) + p.cgbo
    return cgs, cgd, cgb


def gate_breaks(p: MosLevel1Params, vds, vbs) -> np.ndarray:
    """The gate–source voltages (shape ``(T, 4)``) where Meyer's capacitances change formula, at fixed ``vds`` and
    ``vbs``: threshold − φ, − φ/2, threshold, and the saturation edge."""
    vds, vbs = np.asarray(vds, dtype=float), np.asarray(vbs, dtype=float)
    fwd = vds >= 0
    von = np.where(fwd, threshold(p, vbs)[0], threshold(p, vbs - vds)[0] + vds)
    edge = np.maximum(np.abs(vds), MEYER_MIN_VDSAT)
    return np.stack([von - p.phi, von - p.phi / 2, von, von + edge], axis=-1)


def gate_charges(p: MosLevel1Params, vgs, vds, vbs):
    """``(q_gs, q_gd, q_gb)``: each Meyer capacitance (with its overlap) integrated over its own branch voltage from
    0, the other voltages held — Gauss–Legendre on each piece between the formula changes, exact to rounding for
    the polynomial pieces."""
    vgs, vds, vbs = (np.asarray(a, dtype=float) for a in (vgs, vds, vbs))
    breaks = gate_breaks(p, vds, vbs)  # in vgs
    out = []
    k = _GL_NODES.size
    for which, offset in ((0, np.zeros_like(vgs)), (1, vds), (2, vbs)):
        v = vgs - offset  # the branch voltage; along the path the gate is at offset + t, t from 0 to v
        lo, hi = np.minimum(0.0, v), np.maximum(0.0, v)
        cuts = np.clip(breaks - offset[:, None], lo[:, None], hi[:, None])
        edges = np.sort(np.concatenate([lo[:, None], cuts, hi[:, None]], axis=1), axis=1)  # (T, 6)
        a, b = edges[:, :-1], edges[:, 1:]  # 5 pieces
        t = 0.5 * (a + b)[:, :, None] + 0.5 * (b - a)[:, :, None] * _GL_NODES[None, None, :]
        n = vgs.size
        gate = (t + offset[:, None, None]).reshape(n, -1)
        caps = gate_capacitances(p, gate, np.repeat(vds[:, None], gate.shape[1], axis=1),
                                 np.repeat(vbs[:, None], gate.shape[1], axis=1))[which].reshape(n, 5, k)
        total = np.sum(0.5 * (b - a) * (caps @ _GL_WEIGHTS), axis=1)
        out.append(np.where(v >= 0, total, -total))
    return tuple(out)


class MosfetLevel1(NonlinearDevice):
    """SPICE level-1 MOSFET (see the module docstring) between nodes ``d g s b``.

    ========================  =================================  ============  ===========
    output                    controlled by                      conductance   capacitance
    ========================  =================================  ============  ===========
    di → si  (channel)        v(g,si), v(di,si), v(b,si)          gm, gds, gmbs —
    b → di   (junction)       v(b,di)                            gbd           cbd
    b → si   (junction)       v(b,si)                            gbs           cbs
    g → si, g → di, g → b     v(g,si), v(g,di), v(g,b)           —             cgs, cgd, cgb
    ========================  =================================  ============  ===========
    """

    family = "transistor"
    _VGS, _VDS, _VBS, _VGD, _VGB, _VBD = range(6)

    def __init__(self, name: str, nodes, p: MosLevel1Params, gmin: float, model: str = "",
                 element: Element | None = None):
        super().__init__(name, element)
        d, g, s, b = nodes
        prefix = name.lower()
        self.p, self.gmin, self.model, self.polarity = p, gmin, model, p.polarity
        di = f"{prefix}.di" if p.rd > 0 else d
        si = f"{prefix}.si" if p.rs > 0 else s
        self.node_map = {"d": d, "g": g, "s": s, "b": b, "di": di, "si": si}
        self.controls = [("v", g, si), ("v", di, si), ("v", b, si), ("v", g, di), ("v", g, b), ("v", b, di)]
        self.outputs = [Output("i", di, si), Output("i", b, di), Output("i", b, si), Output("i", g, si),
                        Output("i", g, di), Output("i", g, b)]
        self.labels = {(0, 0): ("gm", "gm.c"), (0, 1): ("gds", "cds"), (0, 2): ("gmbs", "gmbs.c"),
                       (1, 5): ("gbd", "cbd"), (2, 2): ("gbs", "cbs"), (3, 0): ("ggs", "cgs"),
                       (4, 3): ("ggd", "cgd"), (5, 4): ("ggb", "cgb")}
        self.resistors = [(label, a, bb, r) for label, a, bb, r in (("rd", d, di, p.rd), ("rs", s, si, p.rs)) if r > 0]
        self._touch(d, g, s, b, di, si)
        self.vcrit_d = p.vt * math.log(p.vt / (math.sqrt(2.0) * p.is_d)) if p.is_d > 0 else 0.6
        self.vcrit_s = p.vt * math.log(p.vt / (math.sqrt(2.0) * p.is_s)) if p.is_s > 0 else 0.6

    def evaluate(self, x):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        p, pol = self.p, self.polarity
        vgs, vds, vbs = pol * x[:, 0], pol * x[:, 1], pol * x[:, 2]
        vbd = pol * x[:, 5]
        n = x.shape[0]
        ev = Evaluation(np.zeros((n, 6)), np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros((n, 6, 6)))
        i, d_gs, d_ds, d_bs = channel_current(p, vgs, vds, vbs)
        ev.f[:, 0] = pol * i
        ev.df[:, 0, self._VGS], ev.df[:, 0, self._VDS], ev.df[:, 0, self._VBS] = d_gs, d_ds, d_bs
        ibd, gbd = junction(p.is_d, p.vt, self.gmin, vbd)
        ibs, gbs = junction(p.is_s, p.vt, self.gmin, vbs)
        ev.f[:, 1], ev.df[:, 1, self._VBD] = pol * ibd, gbd
        ev.f[:, 2], ev.df[:, 2, self._VBS] = pol * ibs, gbs
        qbd, cbd = junction_charge(p.cbd, p.cbdsw, p, vbd)
        qbs, cbs = junction_charge(p.cbs, p.cbssw, p, vbs)
        ev.q[:, 1], ev.dq[:, 1, self._VBD] = pol * qbd, cbd
        ev.q[:, 2], ev.dq[:, 2, self._VBS] = pol * qbs, cbs
        cgs, cgd, cgb = gate_capacitances(p, vgs, vds, vbs)
        ev.dq[:, 3, self._VGS], ev.dq[:, 4, self._VGD], ev.dq[:, 5, self._VGB] = cgs, cgd, cgb
        # charges for harmonic balance: each Meyer capacitance integrated over its own branch voltage
        ev.q[:, 3], ev.q[:, 4], ev.q[:, 5] = (pol * q for q in gate_charges(p, vgs, vds, vbs))
        return ev

    def limit(self, x_new, x_old):
        """SPICE's junction limiting on the bulk junctions and a 0.5 V cap on gate-voltage steps."""
        pol = self.polarity
        out = np.array(x_new, dtype=float)
        changed = False
        for k in (self._VGS, self._VDS):
            step = out[k] - x_old[k]
            if abs(step) > 0.5:
                out[k] = x_old[k] + math.copysign(0.5, step)
                changed = True
        vbs, l1 = pn_limit(pol * float(out[self._VBS]), pol * float(x_old[self._VBS]), self.p.vt, self.vcrit_s)
        if l1:
            out[self._VBS] = pol * vbs
            changed = True
        if changed:
            out[self._VGD] = out[self._VGS] - out[self._VDS]
            out[self._VGB] = out[self._VGS] - out[self._VBS]
            out[self._VBD] = out[self._VBS] - out[self._VDS]
        return out, changed

    def start(self):
        """SPICE's first guess: ``vgs = vto``, ``vds = 0``, ``vbs = −1``."""
        pol = self.polarity
        vgs = pol * (self.p.vbi + self.p.gamma * math.sqrt(self.p.phi))
        vbs = -pol * 1.0
        return np.array([vgs, 0.0, vbs, vgs, vgs - vbs, vbs])

    def bias(self, x) -> dict:
        """JSON-ready bias and small-signal values at control values ``x``."""
        ev = self.evaluate(np.atleast_2d(x))
        pol = self.polarity
        vgs, vds, vbs = (pol * float(v) for v in x[:3])
        p = self.p
        fwd = vds >= 0
        von = float(threshold(p, vbs if fwd else vbs - vds)[0])
        vgst = (vgs if fwd else vgs - vds) - von
        vdse = abs(vds)
        region = "cut-off" if vgst <= 0 else ("saturation" if vgst <= vdse else "linear")
        gm = float(ev.df[0, 0, 0]) if fwd else -float(ev.df[0, 0, 0])
        return {"name": self.name, "model": self.model, "type": "nmos" if pol > 0 else "pmos", "level": 1,
                "id": float(ev.f[0, 0] - ev.f[0, 1]), "vgs": pol * vgs, "vds": pol * vds, "vbs": pol * vbs,
                "vth": pol * von, "region": region, "gm": gm, "gds": float(ev.df[0, 0, 1]),
                "gmbs": float(ev.df[0, 0, 2]), "cgs": float(ev.dq[0, 3, 0]), "cgd": float(ev.dq[0, 4, 3]),
                "cgb": float(ev.dq[0, 5, 4]), "cbd": float(ev.dq[0, 1, 5]), "cbs": float(ev.dq[0, 2, 2]),
                "path": "native level 1"}

    def describe(self, x):
        return self.bias(x)
