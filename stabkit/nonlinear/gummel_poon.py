"""Gummel–Poon bipolar transistor and SPICE junction diode: model cards, temperature, currents, charges.

The equations are the SPICE 2G6 / SPICE3 ones (as ngspice evaluates them, so the two agree to rounding):

Transport and base currents (``vbe``, ``vbc`` internal junction voltages, ``Vt = kT/q``)::

    Ibe1 = IS·(exp(vbe/(NF·Vt)) − 1)        Ibe2 = ISE·(exp(vbe/(NE·Vt)) − 1) + gmin·vbe
    Ibc1 = IS·(exp(vbc/(NR·Vt)) − 1)        Ibc2 = ISC·(exp(vbc/(NC·Vt)) − 1) + gmin·vbc
    q1 = 1/(1 − vbc/VAF − vbe/VAR),  q2 = Ibe1/IKF + Ibc1/IKR,  qb = q1·(1 + sqrt(1 + 4·q2))/2
    Ic = (Ibe1 − Ibc1)/qb − Ibc1/BR − Ibc2,      Ib = Ibe1/BF + Ibe2 + Ibc1/BR + Ibc2

(below ``−3·N·Vt`` a junction's exponential is replaced by SPICE's ``−IS·(1 + (3NVt/(e·v))³)``.)
Base resistance ``rb = RBM + (RB − RBM)/qb``, or with ``IRB`` the ``tan`` formula of current crowding.

Charges: ``Qbe = TF·(1 + XTF·(Ibe1/(Ibe1 + ITF))²·exp(vbc/(1.44·VTF)))·Ibe1/qb + Qje(vbe)``,
``Qbc = TR·Ibc1 + XCJC·Qjc(vbc)`` at the internal base, ``Qbx = (1 − XCJC)·Qjc(vbx)`` from the external base
to the internal collector, ``Qcs = Qjs(vcs)``; depletion charges with the ``FC`` linear extension.

Temperature (``TEMP`` vs ``TNOM``): ``IS``, ``ISE``, ``ISC`` through ``EG``/``XTI`` (``ISE``/``ISC`` divided by
the beta factor), ``BF``, ``BR`` by ``(T/TNOM)^XTB``, junction potentials and zero-bias capacitances by the
SPICE energy-gap formula. ``MJE``, ``MJC``, ``MJS`` above 0.999 are limited to 0.999 (as ngspice does: the
SPICE depletion charge is singular at 1); the limit is reported in :attr:`TransistorTemperature.notes`.

Not modelled: excess phase ``PTF`` (ngspice applies ``exp(−jω·PTF·TF·π/180)`` to ``gm`` in ``.ac``; for the
Infineon cards that is a phase of < 1e-5 rad at 3 GHz; a rational pole model has no exact equivalent), noise
(``KF``, ``AF``), the quasi-saturation extensions (``RCO`` ...), temperature coefficients of resistances.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from stabkit.errors import CircuitError

#: the physical constants ngspice uses (CODATA 2014), so the thermal voltage is the same to the last digit
BOLTZMANN = 1.38064852e-23
CHARGE = 1.6021766208e-19
K_OVER_Q = BOLTZMANN / CHARGE
CELSIUS_TO_KELVIN = 273.15
#: SPICE's reference temperature for the energy-gap formulas (27 °C)
REFERENCE_TEMP_K = 300.15
#: SPICE's default nominal temperature (°C) for models that do not give TNOM
DEFAULT_TNOM_C = 27.0
#: SPICE's default gmin (S): a conductance across every pn junction
DEFAULT_GMIN = 1e-12
#: largest junction grading exponent (ngspice limits MJE/MJC/MJS to it)
MAX_GRADING = 0.999


def thermal_voltage(temp_c: float) -> float:
    """``kT/q`` (V) at ``temp_c`` °C."""
    return K_OVER_Q * (temp_c + CELSIUS_TO_KELVIN)


# ---------------------------------------------------------------------------------------------------------
# model cards


#: alternative SPICE names -> canonical name
_BJT_ALIASES = {"va": "vaf", "vb": "var", "ik": "ikf", "pe": "vje", "me": "mje", "pc": "vjc", "mc": "mjc",
                "ccs": "cjs", "ps": "vjs", "ms": "mjs", "pt": "xti", "tref": "tnom"}
#: accepted and ignored (noise, SPICE-level flags that do not change the DC/AC model here)
_BJT_IGNORED = {"kf", "af", "level"}


#: simulator-only limits and vendor annotations on model cards (safe-operating-area checks of LTspice/ngspice,
#: manufacturer tags): read and not used, with a note, so vendor cards read as they are
SIMULATOR_ONLY = frozenset({"vceo", "icrating", "mfg", "iave", "vpk", "ipk", "type", "bvcbo", "vcbo", "vebo"})


def is_simulator_only(name: str) -> bool:
    """True for a model-card entry that only a simulator's safe-operating-area check reads (``vce_max``,
    ``bv_max`` ... and :data:`SIMULATOR_ONLY`)."""
    key = name.lower()
    return key.endswith("_max") or key in SIMULATOR_ONLY


def _card_values(params: Mapping[str, float], known: set[str], aliases: Mapping[str, str], ignored,
                 label: str, model_name: str, skipped: list[str] | None = None) -> dict[str, float]:
    """A model card's parameters as floats under their dataclass field names (``IS`` → ``is_``, aliases
    resolved, ignored ones dropped, simulator-only limits listed in ``skipped``); a non-number or an
    unsupported name raises :class:`CircuitError`."""
    values: dict[str, float] = {}
    for raw_key, raw in params.items():
        key = aliases.get(raw_key.lower(), raw_key.lower())
        if key in ignored:
            continue
        if is_simulator_only(key):
            if skipped is not None:
                skipped.append(raw_key.lower())
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise CircuitError(f"{label}: {raw_key}={raw!r} is not a number") from None
        if key == "is":
            values["is_"] = value
        elif key in known:
            values[key] = value
        else:
            raise CircuitError(f"{label}: parameter {raw_key!r} is not supported by the {model_name} here "
                               f"(supported: IS {' '.join(sorted(k.upper() for k in known))})")
    return values


@dataclass(frozen=True)
class GummelPoonParams:
    """A Gummel–Poon model card with SPICE defaults (SI units, temperatures in °C).

    ``polarity`` is +1 for NPN and −1 for PNP. ``inf`` stands for "not given" where SPICE treats 0 as
    infinite (``VAF``, ``VAR``, ``IKF``, ``IKR``); ``rbm=None`` means ``RBM = RB``; ``vtf=None``: no
    ``VBC`` dependence of ``TF``; ``tnom=None``: the circuit's nominal temperature."""

    polarity: int = 1
    is_: float = 1e-16
    bf: float = 100.0
    nf: float = 1.0
    vaf: float = math.inf
    ikf: float = math.inf
    ise: float = 0.0
    ne: float = 1.5
    br: float = 1.0
    nr: float = 1.0
    var: float = math.inf
    ikr: float = math.inf
    isc: float = 0.0
    nc: float = 2.0
    rb: float = 0.0
    irb: float = 0.0
    rbm: float | None = None
    re: float = 0.0
    rc: float = 0.0
    cje: float = 0.0
    vje: float = 0.75
    mje: float = 0.33
    tf: float = 0.0
    xtf: float = 0.0
    vtf: float | None = None
    itf: float = 0.0
    ptf: float = 0.0
    cjc: float = 0.0
    vjc: float = 0.75
    mjc: float = 0.33
    xcjc: float = 1.0
    tr: float = 0.0
    cjs: float = 0.0
    vjs: float = 0.75
    mjs: float = 0.0
    xtb: float = 0.0
    eg: float = 1.11
    xti: float = 3.0
    fc: float = 0.5
    tnom: float | None = None
    #: simulator-only entries of the card (``vce_max`` ...), read and not used
    skipped: tuple[str, ...] = ()

    @classmethod
    def from_card(cls, model_type: str, params: Mapping[str, float], name: str = "model") -> "GummelPoonParams":
        """From a ``.model NAME NPN|PNP(...)`` card's (evaluated) parameters. Unknown names raise
        :class:`CircuitError`; ``KF``/``AF`` (noise) are accepted and ignored."""
        mtype = model_type.lower()
        if mtype not in ("npn", "pnp"):
            raise CircuitError(f"model {name}: type {model_type!r} is not a bipolar transistor (npn or pnp)")
        known = {f.name for f in fields(cls)} - {"polarity", "is_", "skipped"}
        values: dict = {"polarity": 1 if mtype == "npn" else -1}
        skipped: list[str] = []
        values.update(_card_values(params, known, _BJT_ALIASES, _BJT_IGNORED, f"model {name} ({mtype})",
                                   "Gummel–Poon model", skipped))
        values["skipped"] = tuple(skipped)
        for key in ("vaf", "var", "ikf", "ikr"):  # SPICE: 0 means infinite
            if values.get(key) == 0.0:
                values[key] = math.inf
        if values.get("vtf") == 0.0:
            values["vtf"] = None
        p = cls(**values)
        # SPICE 2 convention: ISE/ISC above 1e-4 are multiples of IS (C2, C4)
        if p.ise > 1e-4:
            p = replace(p, ise=p.ise * p.is_)
        if p.isc > 1e-4:
            p = replace(p, isc=p.isc * p.is_)
        if p.fc > 0.9999:
            p = replace(p, fc=0.9999)
        return p

    def to_dict(self) -> dict:
        return {k: (None if v is None or (isinstance(v, float) and math.isinf(v)) else
                    (list(v) if isinstance(v, tuple) else v)) for k, v in asdict(self).items()}


_DIODE_ALIASES = {"cj0": "cjo", "cj": "cjo", "mj": "m", "pb": "vj", "tref": "tnom"}
_DIODE_IGNORED = {"kf", "af", "level"}


@dataclass(frozen=True)
class JunctionDiodeParams:
    """A SPICE junction diode card (``.model NAME D(...)``) with SPICE defaults. Breakdown (``BV``) is
    accepted only where it does not matter for the bias (it is not modelled)."""

    is_: float = 1e-14
    n: float = 1.0
    rs: float = 0.0
    cjo: float = 0.0
    vj: float = 1.0
    m: float = 0.5
    fc: float = 0.5
    tt: float = 0.0
    eg: float = 1.11
    xti: float = 3.0
    bv: float = math.inf
    ibv: float = 1e-3
    tnom: float | None = None
    #: simulator-only entries of the card (``bv_max`` ...), read and not used
    skipped: tuple[str, ...] = ()

    @classmethod
    def from_card(cls, params: Mapping[str, float], name: str = "model") -> "JunctionDiodeParams":
        known = {f.name for f in fields(cls)} - {"is_", "skipped"}
        skipped: list[str] = []
        values = _card_values(params, known, _DIODE_ALIASES, _DIODE_IGNORED, f"model {name} (d)",
                              "junction diode model", skipped)
        p = cls(**values, skipped=tuple(skipped))
        if p.fc > 0.95:
            p = replace(p, fc=0.95)
        return p


def is_junction_diode_model(model_type: str) -> bool:
    """True for SPICE's standard diode card type ``D``."""
    return model_type.lower() == "d"


# ---------------------------------------------------------------------------------------------------------
# temperature


def _junction_temperature(cj0: float, vj: float, m: float, temp_k: float, tnom_k: float) -> tuple[float, float]:
    """Zero-bias capacitance and built-in potential at ``temp_k`` (SPICE's energy-gap formula)."""

    def pbfact(t_k: float) -> float:
        egfet = 1.16 - (7.02e-4 * t_k * t_k) / (t_k + 1108.0)
        arg = -egfet / (2.0 * BOLTZMANN * t_k) + 1.1150877 / (BOLTZMANN * 2.0 * REFERENCE_TEMP_K)
        return -2.0 * K_OVER_Q * t_k * (1.5 * math.log(t_k / REFERENCE_TEMP_K) + CHARGE * arg)

    fact1, fact2 = tnom_k / REFERENCE_TEMP_K, temp_k / REFERENCE_TEMP_K
    pbo = (vj - pbfact(tnom_k)) / fact1
    gma_old = (vj - pbo) / pbo
    vj_t = fact2 * pbo + pbfact(temp_k)
    gma_new = (vj_t - pbo) / pbo
    cj_t = cj0 / (1.0 + m * (4e-4 * (tnom_k - REFERENCE_TEMP_K) - gma_old))
    cj_t *= 1.0 + m * (4e-4 * (temp_k - REFERENCE_TEMP_K) - gma_new)
    return cj_t, vj_t


@dataclass(frozen=True)
class TransistorTemperature:
    """A Gummel–Poon card evaluated at one temperature and area (what the equations use)."""

    polarity: int
    vt: float
    is_: float
    bf: float
    br: float
    ise: float
    isc: float
    nf: float
    nr: float
    ne: float
    nc: float
    inv_vaf: float
    inv_var: float
    inv_ikf: float
    inv_ikr: float
    rb: float
    rbm: float
    irb: float
    re: float
    rc: float
    cje: float
    vje: float
    mje: float
    cjc: float
    vjc: float
    mjc: float
    xcjc: float
    cjs: float
    vjs: float
    mjs: float
    tf: float
    xtf: float
    inv_vtf: float
    itf: float
    tr: float
    fc: float
    vcrit: float
    temp_c: float
    notes: tuple[str, ...] = field(default=())


def transistor_at(p: GummelPoonParams, temp_c: float | None = None, tnom_c: float | None = None,
                  area: float = 1.0) -> TransistorTemperature:
    """Scale the card to ``temp_c`` (default: its nominal temperature) and to ``area``.

    ``tnom_c`` is the circuit's nominal temperature, used when the card has no ``TNOM`` (SPICE: 27 °C)."""
    tnom = p.tnom if p.tnom is not None else (DEFAULT_TNOM_C if tnom_c is None else tnom_c)
    temp = tnom if temp_c is None else temp_c
    t_k, tn_k = temp + CELSIUS_TO_KELVIN, tnom + CELSIUS_TO_KELVIN
    vt = K_OVER_Q * t_k
    ratio = t_k / tn_k
    factlog = (ratio - 1.0) * p.eg / vt + p.xti * math.log(ratio)
    bfactor = math.exp(math.log(ratio) * p.xtb)
    notes = []
    grading = {}
    for key in ("mje", "mjc", "mjs"):
        value = getattr(p, key)
        if value > MAX_GRADING:
            notes.append(f"{key.upper()}={value:g} limited to {MAX_GRADING} (as ngspice does: the SPICE depletion "
                         "charge is singular at 1)")
            value = MAX_GRADING
        grading[key] = value
    cje, vje = _junction_temperature(p.cje, p.vje, grading["mje"], t_k, tn_k)
    cjc, vjc = _junction_temperature(p.cjc, p.vjc, grading["mjc"], t_k, tn_k)
    cjs, vjs = _junction_temperature(p.cjs, p.vjs, grading["mjs"], t_k, tn_k)
    is_t = p.is_ * math.exp(factlog) * area
    rbm = p.rb if p.rbm is None else p.rbm
    return TransistorTemperature(
        polarity=p.polarity, vt=vt, is_=is_t, bf=p.bf * bfactor, br=p.br * bfactor,
        ise=p.ise * math.exp(factlog / p.ne) / bfactor * area, isc=p.isc * math.exp(factlog / p.nc) / bfactor * area,
        nf=p.nf, nr=p.nr, ne=p.ne, nc=p.nc,
        inv_vaf=0.0 if math.isinf(p.vaf) else 1.0 / p.vaf, inv_var=0.0 if math.isinf(p.var) else 1.0 / p.var,
        inv_ikf=0.0 if math.isinf(p.ikf) else 1.0 / (p.ikf * area),
        inv_ikr=0.0 if math.isinf(p.ikr) else 1.0 / (p.ikr * area),
        rb=p.rb / area, rbm=rbm / area, irb=p.irb * area, re=p.re / area, rc=p.rc / area,
        cje=cje * area, vje=vje, mje=grading["mje"], cjc=cjc * area, vjc=vjc, mjc=grading["mjc"], xcjc=p.xcjc,
        cjs=cjs * area, vjs=vjs, mjs=grading["mjs"], tf=p.tf, xtf=p.xtf,
        inv_vtf=0.0 if p.vtf is None else 1.0 / (1.44 * p.vtf), itf=p.itf * area, tr=p.tr, fc=p.fc,
        vcrit=vt * math.log(vt / (math.sqrt(2.0) * is_t)), temp_c=temp, notes=tuple(notes))


@dataclass(frozen=True)
class DiodeTemperature:
    """A junction diode card at one temperature and area."""

    vt: float
    is_: float
    n: float
    rs: float
    cjo: float
    vj: float
    m: float
    fc: float
    tt: float
    vcrit: float
    temp_c: float


def diode_at(p: JunctionDiodeParams, temp_c: float | None = None, tnom_c: float | None = None,
             area: float = 1.0) -> DiodeTemperature:
    """Scale a junction diode card to ``temp_c`` (default: its nominal temperature) and ``area``."""
    tnom = p.tnom if p.tnom is not None else (DEFAULT_TNOM_C if tnom_c is None else tnom_c)
    temp = tnom if temp_c is None else temp_c
    t_k, tn_k = temp + CELSIUS_TO_KELVIN, tnom + CELSIUS_TO_KELVIN
    vt = K_OVER_Q * t_k
    is_t = p.is_ * area * math.exp((t_k / tn_k - 1.0) * p.eg / (p.n * vt) + p.xti / p.n * math.log(t_k / tn_k))
    cjo, vj = _junction_temperature(p.cjo, p.vj, p.m, t_k, tn_k)
    nvt = p.n * vt
    return DiodeTemperature(vt=vt, is_=is_t, n=p.n, rs=p.rs / area, cjo=cjo * area, vj=vj, m=p.m, fc=p.fc,
                            tt=p.tt, vcrit=nvt * math.log(nvt / (math.sqrt(2.0) * is_t)), temp_c=temp)


# ---------------------------------------------------------------------------------------------------------
# free functions on arrays


def junction_current(v, i_sat: float, n_vt: float):
    """SPICE junction current and conductance ``(i, di/dv)``: ``i_sat·(exp(v/nVt) − 1)`` above ``−3·nVt``,
    ``−i_sat·(1 + (3nVt/(e·v))³)`` below (no gmin)."""
    v = np.asarray(v, dtype=float)
    forward = v >= -3.0 * n_vt
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ev = np.exp(np.where(forward, v, 0.0) / n_vt)
        cube = (3.0 * n_vt / (np.where(forward, -1.0, v) * math.e)) ** 3
        i = np.where(forward, i_sat * (ev - 1.0), -i_sat * (1.0 + cube))
        g = np.where(forward, i_sat * ev / n_vt, i_sat * 3.0 * cube / np.where(forward, -1.0, v))
    return i, g


def depletion(v, cj0: float, vj: float, m: float, fc: float):
    """SPICE depletion charge and capacitance ``(q, c)`` (C, F): ``c = cj0·(1 − v/vj)^−m`` below ``fc·vj``, its
    linear extension above, ``q`` its integral from 0."""
    v = np.asarray(v, dtype=float)
    if cj0 == 0.0:
        return np.zeros_like(v), np.zeros_like(v)
    below = v < fc * vj
    with np.errstate(invalid="ignore", divide="ignore"):
        log_arg = np.log(1.0 - np.where(below, v, 0.0) / vj)
        q_low = cj0 * vj * (1.0 - np.exp((1.0 - m) * log_arg)) / (1.0 - m)
        c_low = cj0 * np.exp(-m * log_arg)
    f1 = vj * (1.0 - math.exp((1.0 - m) * math.log(1.0 - fc))) / (1.0 - m)
    f2 = math.exp((1.0 + m) * math.log(1.0 - fc))
    f3 = 1.0 - fc * (1.0 + m)
    vf = fc * vj
    q_up = cj0 * (f1 + (f3 * (v - vf) + m / (2.0 * vj) * (v * v - vf * vf)) / f2)
    return np.where(below, q_low, q_up), np.where(below, c_low, cj0 / f2 * (f3 + m * v / vj))


def substrate_junction(v, cj0: float, vj: float, m: float):
    """SPICE collector–substrate charge and capacitance ``(q, c)``: ``c = cj0·(1 − v/vj)^−m`` reverse,
    ``cj0·(1 + m·v/vj)`` forward, ``q`` the integral from 0."""
    v = np.asarray(v, dtype=float)
    if cj0 == 0.0:
        return np.zeros_like(v), np.zeros_like(v)
    with np.errstate(invalid="ignore"):
        log_arg = np.log(1.0 - np.minimum(v, 0.0) / vj)
        q_rev = vj * cj0 * (1.0 - np.exp((1.0 - m) * log_arg)) / (1.0 - m)
        c_rev = cj0 * np.exp(-m * log_arg)
    forward = v >= 0.0
    return (np.where(forward, cj0 * v * (1.0 + m * v / (2.0 * vj)), q_rev),
            np.where(forward, cj0 * (1.0 + m * v / vj), c_rev))


@dataclass
class GPCurrents:
    """Terminal currents of the intrinsic transistor and their derivatives (SPICE names).

    ``ic``, ``ib`` flow into the internal collector and base; ``dic/dvbe = gm + go``, ``dic/dvbc = −(go + gmu)``,
    ``dib/dvbe = gpi``, ``dib/dvbc = gmu``. ``gx`` is the base-resistance conductance at this bias."""

    ic: np.ndarray
    ib: np.ndarray
    gpi: np.ndarray
    gmu: np.ndarray
    gm: np.ndarray
    go: np.ndarray
    gx: np.ndarray
    qb: np.ndarray
    dqb_dvbe: np.ndarray
    dqb_dvbc: np.ndarray
    ibe1: np.ndarray
    gbe1: np.ndarray
    ibc1: np.ndarray
    gbc1: np.ndarray


def gp_currents(vbe, vbc, t: TransistorTemperature, gmin: float = DEFAULT_GMIN) -> GPCurrents:
    """Gummel–Poon DC currents at the internal junction voltages (polarity-normalised: NPN sense)."""
    vbe = np.asarray(vbe, dtype=float)
    vbc = np.asarray(vbc, dtype=float)
    ibe1, gbe1 = junction_current(vbe, t.is_, t.nf * t.vt)
    ibc1, gbc1 = junction_current(vbc, t.is_, t.nr * t.vt)
    if t.ise > 0:
        ibe2, gbe2 = junction_current(vbe, t.ise, t.ne * t.vt)
    else:
        ibe2, gbe2 = np.zeros_like(vbe), np.zeros_like(vbe)
    if t.isc > 0:
        ibc2, gbc2 = junction_current(vbc, t.isc, t.nc * t.vt)
    else:
        ibc2, gbc2 = np.zeros_like(vbc), np.zeros_like(vbc)
    ibe2 = ibe2 + gmin * vbe
    gbe2 = gbe2 + gmin
    ibc2 = ibc2 + gmin * vbc
    gbc2 = gbc2 + gmin
    q1 = 1.0 / (1.0 - t.inv_vaf * vbc - t.inv_var * vbe)
    if t.inv_ikf == 0.0 and t.inv_ikr == 0.0:
        qb = q1
        dqb_dvbe = q1 * qb * t.inv_var
        dqb_dvbc = q1 * qb * t.inv_vaf
    else:
        q2 = t.inv_ikf * ibe1 + t.inv_ikr * ibc1
        arg = np.maximum(0.0, 1.0 + 4.0 * q2)
        sq = np.where(arg != 0.0, np.sqrt(arg), 1.0)
        qb = q1 * (1.0 + sq) / 2.0
        dqb_dvbe = q1 * (qb * t.inv_var + t.inv_ikf * gbe1 / sq)
        dqb_dvbc = q1 * (qb * t.inv_vaf + t.inv_ikr * gbc1 / sq)
    ic = (ibe1 - ibc1) / qb - ibc1 / t.br - ibc2
    ib = ibe1 / t.bf + ibe2 + ibc1 / t.br + ibc2
    go = (gbc1 + (ibe1 - ibc1) * dqb_dvbc / qb) / qb
    gm = (gbe1 - (ibe1 - ibc1) * dqb_dvbe / qb) / qb - go
    gpi = gbe1 / t.bf + gbe2
    gmu = gbc1 / t.br + gbc2
    gx = base_conductance(ib, qb, t)
    return GPCurrents(ic=ic, ib=ib, gpi=gpi, gmu=gmu, gm=gm, go=go, gx=gx, qb=qb, dqb_dvbe=dqb_dvbe,
                      dqb_dvbc=dqb_dvbc, ibe1=ibe1, gbe1=gbe1, ibc1=ibc1, gbc1=gbc1)


def base_resistance(ib, qb, t: TransistorTemperature):
    """SPICE base resistance (Ω): ``RBM + (RB − RBM)/qb``, or with ``IRB`` the current-crowding formula
    ``RBM + 3·(RB − RBM)·(tan z − z)/(z·tan² z)``, ``z = (sqrt(1 + 144/π²·Ib/IRB) − 1)/((24/π²)·sqrt(Ib/IRB))``."""
    ib = np.asarray(ib, dtype=float)
    rbpi = t.rb - t.rbm
    if t.irb == 0.0:
        return t.rbm + rbpi / np.asarray(qb, dtype=float)
    x = np.maximum(ib / t.irb, 1e-9)
    z = (-1.0 + np.sqrt(1.0 + 14.59025 * x)) / 2.4317 / np.sqrt(x)
    tz = np.tan(z)
    return t.rbm + 3.0 * rbpi * (tz - z) / z / tz / tz


def base_conductance(ib, qb, t: TransistorTemperature):
    """``1/rb``; 0 where the card has no base resistance (the internal and external base coincide)."""
    r = base_resistance(ib, qb, t)
    return np.where(r != 0.0, 1.0 / np.where(r != 0.0, r, 1.0), 0.0)


@dataclass
class GPCharges:
    """Terminal charges (C) of the Gummel–Poon transistor (NPN sense) and their derivatives (F): ``qbe`` (B'–E',
    diffusion + depletion; ``cbe = ∂qbe/∂vbe``, transcapacitance ``cbe_vbc = ∂qbe/∂vbc``), ``qbc``/``cbc`` (internal
    B'–C'), ``qbx``/``cbx`` (external B–C', the ``1 − XCJC`` part), ``qcs``/``ccs`` (substrate junction);
    ``tf_effective`` the transit time with its ``XTF``/``VTF``/``ITF`` modulation."""

    qbe: np.ndarray
    qbc: np.ndarray
    qbx: np.ndarray
    qcs: np.ndarray
    cbe: np.ndarray
    cbe_vbc: np.ndarray
    cbc: np.ndarray
    cbx: np.ndarray
    ccs: np.ndarray
    tf_effective: np.ndarray


def gp_charges(vbe, vbc, vbx, vcs, t: TransistorTemperature, cur: GPCurrents) -> GPCharges:
    """Charges and capacitances at the bias (SPICE 2G6 / ngspice charge model); ``vcs`` is substrate − collector
    (NPN sense), the voltage across the substrate junction. Below ``vbe = 0`` SPICE keeps ``TF·Ibe1``."""
    vbe, vbc = np.asarray(vbe, dtype=float), np.asarray(vbc, dtype=float)
    ibe, gbe, qb = cur.ibe1, cur.gbe1, cur.qb
    q_diff, c_diff, c_vbc, tf_eff = t.tf * ibe, t.tf * gbe, np.zeros_like(vbe), np.full_like(vbe, t.tf)
    if t.tf != 0.0:
        argtf, arg2, arg3 = np.zeros_like(vbe), np.zeros_like(vbe), np.zeros_like(vbe)
        if t.xtf != 0.0:
            argtf = t.xtf * np.exp(vbc * t.inv_vtf) if t.inv_vtf != 0.0 else np.full_like(vbe, t.xtf)
            arg2 = argtf
            if t.itf != 0.0:
                ratio = ibe / (ibe + t.itf)
                argtf = argtf * ratio * ratio
                arg2 = argtf * (3.0 - ratio - ratio)
            arg3 = ibe * argtf * t.inv_vtf
        ibe_mod = ibe * (1.0 + argtf) / qb
        forward = vbe > 0.0
        q_diff = np.where(forward, t.tf * ibe_mod, q_diff)
        c_diff = np.where(forward, t.tf * (gbe * (1.0 + arg2) - ibe_mod * cur.dqb_dvbe) / qb, c_diff)
        c_vbc = np.where(forward, t.tf * (arg3 - ibe_mod * cur.dqb_dvbc) / qb, 0.0)
        tf_eff = np.where(forward, t.tf * (1.0 + argtf), tf_eff)
    qje, cje = depletion(vbe, t.cje, t.vje, t.mje, t.fc)
    qjc, cjc = depletion(vbc, t.cjc * t.xcjc, t.vjc, t.mjc, t.fc)
    qbx, cbx = depletion(vbx, t.cjc * (1.0 - t.xcjc), t.vjc, t.mjc, t.fc)
    qcs, ccs = substrate_junction(vcs, t.cjs, t.vjs, t.mjs)
    return GPCharges(qbe=q_diff + qje, qbc=t.tr * cur.ibc1 + qjc, qbx=qbx, qcs=qcs, cbe=c_diff + cje, cbe_vbc=c_vbc,
                     cbc=t.tr * cur.gbc1 + cjc, cbx=cbx, ccs=ccs, tf_effective=tf_eff)


def diode_charge(v, i_junction, g_junction, d: "DiodeTemperature"):
    """Depletion plus diffusion (``TT·i``) charge of a junction diode and its capacitance ``(q, c)``."""
    q, c = depletion(v, d.cjo, d.vj, d.m, d.fc)
    return q + d.tt * np.asarray(i_junction, dtype=float), c + d.tt * np.asarray(g_junction, dtype=float)


def diode_current(v, d: DiodeTemperature, gmin: float = DEFAULT_GMIN):
    """Junction diode current and conductance at the internal junction voltage ``v`` (gmin included)."""
    i, g = junction_current(v, d.is_, d.n * d.vt)
    return i + gmin * np.asarray(v, dtype=float), g + gmin


def pn_limit(v_new: float, v_old: float, vt: float, v_crit: float) -> tuple[float, bool]:
    """SPICE's junction-voltage limiting for Newton steps: above ``v_crit`` a forward step grows only
    logarithmically; a large reverse step is capped. Returns ``(v, limited)``."""
    if v_new > v_crit and abs(v_new - v_old) > 2.0 * vt:
        if v_old > 0.0:
            arg = 1.0 + (v_new - v_old) / vt
            return (v_old + vt * math.log(arg), True) if arg > 0.0 else (v_crit, True)
        return vt * math.log(v_new / vt), True
    if v_new < 0.0:
        floor = -v_old - 1.0 if v_old > 0.0 else 2.0 * v_old - 1.0
        if v_new < floor:
            return floor, True
    return v_new, False


__all__ = [
    "GummelPoonParams", "JunctionDiodeParams", "TransistorTemperature", "DiodeTemperature", "GPCurrents", "GPCharges",
    "transistor_at", "diode_at", "junction_current", "depletion", "substrate_junction", "gp_currents", "gp_charges",
    "base_resistance", "base_conductance", "diode_current", "diode_charge", "pn_limit", "thermal_voltage",
    "is_junction_diode_model", "is_simulator_only", "DEFAULT_GMIN", "DEFAULT_TNOM_C",
]
