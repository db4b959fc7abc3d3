"""Nonlinear two-terminal devices with negative differential resistance (NDR): curves and model cards.

Two classes of device (see ``docs/negres.md``):

* **N-type** (voltage-controlled, short-circuit stable): ``i = f(v)`` is single-valued and N-shaped.
  Small-signal model: conductance ``g = di/dv`` (negative in the NDR region) in parallel with the
  junction capacitance ``cd``. Examples: :class:`TunnelDiode`, :class:`IVTable`.
* **S-type** (current-controlled, open-circuit stable): ``v = f(i)`` is single-valued and S-shaped.
  Small-signal model: resistance ``r = dv/di`` in series with the lead inductance ``ls`` (and an
  optional capacitance ``cp`` across the terminals). Examples: :class:`BreakoverDevice`, :class:`VITable`.

Every device exposes the same small interface, written in terms of its *controlling variable* ``x``
(``v`` for N-type, ``i`` for S-type) and its *response* ``y`` (``i`` resp. ``v``):

``control``            ``"N"`` or ``"S"``
``response(x)``        ``y = f(x)`` on arrays
``slope(x)``           ``dy/dx`` on arrays (``g`` for N-type, ``r`` for S-type)
``window()``           ``(a, b)``: outside ``[a, b]`` the curve is strictly increasing (no NDR there).
                       Root finders sample ``[a, b]`` finely and know each outer branch holds at most one
                       load-line intersection.

Tunnel-diode model card (the netlist contract)::

    .model NAME tunnel(ip= vp= iv= vv= vpp= vt= cd=)
    I(V) = ip·exp(−vpp/vt)·(exp(V/vt) − 1) + ip·(V/vp)·exp(1 − V/vp) + iv·exp(V − vv)

The three terms are the thermal (diode) current, the tunnelling current and the excess current. The
excess term is written exactly as in the public LTspice model the card follows: its exponent is the
*number* ``V − vv`` (volts taken as a plain number), not ``(V − vv)/vt``.

``TUNNEL_1N3716`` ships the 1N3716 values. They are read off the ``.Param`` line of the public model
``vgreff/LTSpiceLibraries: LTSpice/vglib/sub/TUNNELDiode.sub`` (1N3716 block; a copy lives beside the
repository in ``../shared/models/1N3716_tunnel.sub``), whose three behavioural currents
``Bthermal``, ``Btunnel``, ``Bexcess`` have exactly the card's form, and whose ``Cd`` is 25 pF:
``Vp=100mV Ip=4.7mA Vv=370mV Vt=26mV Vpp=525mV Iv=370uA``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

from stabkit.errors import CircuitError

# ---------------------------------------------------------------------------------------------------------
# tunnel diode: pure functions on arrays


def tunnel_current(v, ip: float, vp: float, iv: float, vv: float, vpp: float, vt: float) -> np.ndarray:
    """Tunnel-diode current ``I(V)`` (A) of the model card, on arrays of ``v`` (V)."""
    v = np.asarray(v, dtype=float)
    thermal = ip * np.exp(-vpp / vt) * np.expm1(v / vt)
    tunnel = ip * (v / vp) * np.exp(1.0 - v / vp)
    excess = iv * np.exp(v - vv)
    return thermal + tunnel + excess


def tunnel_conductance(v, ip: float, vp: float, iv: float, vv: float, vpp: float, vt: float) -> np.ndarray:
    """Differential conductance ``g = dI/dV`` (S) of :func:`tunnel_current` (analytic)."""
    v = np.asarray(v, dtype=float)
    thermal = ip * np.exp(-vpp / vt) * np.exp(v / vt) / vt
    tunnel = (ip / vp) * (1.0 - v / vp) * np.exp(1.0 - v / vp)
    excess = iv * np.exp(v - vv)
    return thermal + tunnel + excess


# ---------------------------------------------------------------------------------------------------------
# analytic S-type example: pure functions on arrays


def breakover_voltage(i, vpk: float, ipk: float, ron: float) -> np.ndarray:
    """S-type (thyristor/UJT-like) curve ``v(i) = ron·i + vpk·(i/ipk)·exp(1 − i/ipk)`` (V).

    The second term is the dual of the tunnelling current: it rises to ``vpk`` at ``i = ipk`` and decays,
    so the curve climbs steeply (blocking state), turns over near the breakover point, falls (NDR) and
    finally follows the on-state resistance ``ron``. It has an NDR region iff ``ron < vpk/(e·ipk)``."""
    i = np.asarray(i, dtype=float)
    return ron * i + vpk * (i / ipk) * np.exp(1.0 - i / ipk)


def breakover_resistance(i, vpk: float, ipk: float, ron: float) -> np.ndarray:
    """Differential resistance ``r = dv/di`` (Ω) of :func:`breakover_voltage`."""
    i = np.asarray(i, dtype=float)
    return ron + (vpk / ipk) * (1.0 - i / ipk) * np.exp(1.0 - i / ipk)


# ---------------------------------------------------------------------------------------------------------
# device classes


class Device:
    """Common interface; see the module docstring. Subclasses set ``control`` and the curve."""

    control: str = "N"
    #: names of the controlling variable and the response, for messages and plots
    x_name = "v"
    y_name = "i"

    def response(self, x) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def slope(self, x) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def window(self) -> tuple[float, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def plot_range(self) -> tuple[float, float]:
        """A range of the controlling variable that shows the whole interesting part of the curve."""
        a, b = self.window()
        span = b - a
        return a - 0.25 * span, b + 0.25 * span

    # convenient names
    def curve(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(v, i)`` arrays along the curve for controlling values ``x``."""
        x = np.asarray(x, dtype=float)
        y = self.response(x)
        return (x, y) if self.control == "N" else (y, x)


@dataclass
class TunnelDiode(Device):
    """Tunnel diode (N-type) of the ``tunnel`` model card; ``cd`` (F) in parallel; ``area`` scales I and cd."""

    ip: float
    vp: float
    iv: float
    vv: float
    vpp: float
    vt: float
    cd: float = 0.0
    area: float = 1.0

    control = "N"

    def __post_init__(self):
        for name in ("ip", "vp", "vt", "area"):
            if not getattr(self, name) > 0:
                raise CircuitError(f"tunnel model: {name} must be > 0, got {getattr(self, name)}")
        for name in ("iv", "vpp", "cd"):
            if getattr(self, name) < 0:
                raise CircuitError(f"tunnel model: {name} must be >= 0, got {getattr(self, name)}")

    @property
    def _p(self):
        return dict(ip=self.ip * self.area, vp=self.vp, iv=self.iv * self.area, vv=self.vv, vpp=self.vpp, vt=self.vt)

    def current(self, v) -> np.ndarray:
        return tunnel_current(v, **self._p)

    def conductance(self, v) -> np.ndarray:
        return tunnel_conductance(v, **self._p)

    response = current
    slope = conductance

    @property
    def capacitance(self) -> float:
        return self.cd * self.area

    def window(self) -> tuple[float, float]:
        """``[vp, v_end]``: below ``vp`` every term rises; beyond ``v_end`` the rising thermal and excess
        slopes exceed the largest possible negative tunnelling slope ``ip/(e·vp)`` (taken at 2·vp)."""
        p = self._p
        worst = p["ip"] / (math.e * p["vp"])

        def excess_slopes(v):
            return (p["ip"] * math.exp(-p["vpp"] / p["vt"]) * math.exp(v / p["vt"]) / p["vt"]
                    + p["iv"] * math.exp(v - p["vv"]) - worst)

        lo = p["vp"]
        hi = 2.0 * p["vp"]
        while excess_slopes(hi) < 0:
            hi = lo + 2.0 * (hi - lo)
        v_end = brentq(excess_slopes, lo, hi, xtol=1e-12) if excess_slopes(lo) < 0 else lo
        return lo, max(v_end, 2.0 * p["vp"])

    def plot_range(self) -> tuple[float, float]:
        a, b = self.window()
        return -0.1 * b, 1.2 * b

    def card(self) -> dict[str, float]:
        """The model-card parameters (``.model NAME tunnel(...)``)."""
        return dict(ip=self.ip, vp=self.vp, iv=self.iv, vv=self.vv, vpp=self.vpp, vt=self.vt, cd=self.cd)


#: 1N3716 (values from the .Param line of vgreff/LTSpiceLibraries LTSpice/vglib/sub/TUNNELDiode.sub,
#: 1N3716 block; the same file is ../shared/models/1N3716_tunnel.sub). Cd = 25 pF from its ``Cd`` line.
TUNNEL_1N3716 = TunnelDiode(ip=4.7e-3, vp=0.100, iv=370e-6, vv=0.370, vpp=0.525, vt=0.026, cd=25e-12)


@dataclass
class BreakoverDevice(Device):
    """Analytic S-type device (thyristor/UJT-like), ``v(i)`` of :func:`breakover_voltage`; series lead
    inductance ``ls`` and a capacitance ``cp`` across the terminals (both may be 0)."""

    vpk: float
    ipk: float
    ron: float
    ls: float = 0.0
    cp: float = 0.0

    control = "S"
    x_name = "i"
    y_name = "v"

    def __post_init__(self):
        if not (self.vpk > 0 and self.ipk > 0 and self.ron > 0):
            raise CircuitError(f"stype model: vpk, ipk and ron must be > 0, got {self.vpk}, {self.ipk}, {self.ron}")
        if self.ls < 0 or self.cp < 0:
            raise CircuitError("stype model: ls and cp must be >= 0")

    def voltage(self, i) -> np.ndarray:
        return breakover_voltage(i, self.vpk, self.ipk, self.ron)

    def resistance(self, i) -> np.ndarray:
        return breakover_resistance(i, self.vpk, self.ipk, self.ron)

    response = voltage
    slope = resistance

    def window(self) -> tuple[float, float]:
        """``[ipk, i_end]``: below ``ipk`` both terms rise; beyond ``i_end`` (where ``(x−1)e^(1−x)`` with
        ``x = i/ipk`` has fallen back to ``ron·ipk/vpk``) the on-state resistance wins."""
        level = self.ron * self.ipk / self.vpk
        if level >= math.exp(-1.0):  # no NDR at all
            return self.ipk, 2.0 * self.ipk

        def h(x):
            return (x - 1.0) * math.exp(1.0 - x) - level

        hi = 3.0
        while h(hi) > 0:
            hi *= 2.0
        return self.ipk, self.ipk * brentq(h, 2.0, hi, xtol=1e-12)

    def plot_range(self) -> tuple[float, float]:
        a, b = self.window()
        return -0.05 * b, 1.3 * b


class _TableDevice(Device):
    """Monotone cubic (PCHIP) interpolation of a sampled curve ``y(x)``, ``x`` strictly increasing;
    outside the table the curve continues linearly with its end slopes (which must be positive)."""

    def __init__(self, x, y, what: str):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or x.shape != y.shape or x.size < 3:
            raise CircuitError(f"{what}: need two columns of equal length with at least 3 rows")
        if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
            raise CircuitError(f"{what}: the table has non-finite entries")
        if np.any(np.diff(x) <= 0):
            k = int(np.flatnonzero(np.diff(x) <= 0)[0]) + 1
            raise CircuitError(f"{what}: the {self.x_name} column must be strictly increasing "
                               f"(row {k + 1}: {x[k]:g} after {x[k - 1]:g})")
        self.x = x
        self.y = y
        self._pchip = PchipInterpolator(x, y, extrapolate=False)
        self._dpchip = self._pchip.derivative()
        self._slopes = (float(self._dpchip(x[0])), float(self._dpchip(x[-1])))
        if self._slopes[0] <= 0 or self._slopes[1] <= 0:
            raise CircuitError(f"{what}: the curve must end on rising branches at both ends of the table "
                               f"(end slopes {self._slopes[0]:g}, {self._slopes[1]:g}); every finite-power device "
                               "is eventually passive")

    def response(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        xc = np.clip(x, self.x[0], self.x[-1])
        y = np.asarray(self._pchip(xc), dtype=float)
        y = np.where(x < self.x[0], self.y[0] + self._slopes[0] * (x - self.x[0]), y)
        y = np.where(x > self.x[-1], self.y[-1] + self._slopes[1] * (x - self.x[-1]), y)
        return y

    def slope(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        xc = np.clip(x, self.x[0], self.x[-1])
        d = np.asarray(self._dpchip(xc), dtype=float)
        d = np.where(x < self.x[0], self._slopes[0], d)
        return np.where(x > self.x[-1], self._slopes[1], d)

    def window(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.x[-1])

    def plot_range(self) -> tuple[float, float]:
        return self.window()


class IVTable(_TableDevice):
    """N-type device from a table ``i = f(v)`` (v strictly increasing); ``cd`` in parallel."""

    control = "N"

    def __init__(self, v, i, cd: float = 0.0):
        super().__init__(v, i, "I-V table")
        self.cd = float(cd)

    @property
    def capacitance(self) -> float:
        return self.cd

    def current(self, v):
        return self.response(v)

    def conductance(self, v):
        return self.slope(v)

    @classmethod
    def from_csv(cls, path, cd: float = 0.0) -> "IVTable":
        v, i = read_curve_csv(path)
        return cls(v, i, cd=cd)


class VITable(_TableDevice):
    """S-type device from a table ``v = f(i)`` (i strictly increasing); ``ls`` in series, ``cp`` across."""

    control = "S"
    x_name = "i"
    y_name = "v"

    def __init__(self, i, v, ls: float = 0.0, cp: float = 0.0):
        super().__init__(i, v, "V-I table")
        self.ls = float(ls)
        self.cp = float(cp)

    def voltage(self, i):
        return self.response(i)

    def resistance(self, i):
        return self.slope(i)

    @classmethod
    def from_csv(cls, path, ls: float = 0.0, cp: float = 0.0) -> "VITable":
        v, i = read_curve_csv(path)
        return cls(i, v, ls=ls, cp=cp)


def read_curve_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column CSV of ``v, i`` (V, A); an optional header row names the columns (``v,i`` or
    ``i,v``, any case, units in brackets ignored). Returns ``(v, i)``. Errors name file and line."""
    path = Path(path)
    rows: list[tuple[float, float]] = []
    order = (0, 1)
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells or cells[0].startswith("#"):
                continue
            if len(cells) != 2:
                raise CircuitError(f"{path}:{lineno}: expected two columns (v, i), got {len(cells)}")
            try:
                a, b = float(cells[0]), float(cells[1])
            except ValueError:
                if rows:
                    raise CircuitError(f"{path}:{lineno}: expected two numbers, got {cells!r}") from None
                names = [c.split("[")[0].split("(")[0].strip().lower() for c in cells]
                if names == ["v", "i"]:
                    order = (0, 1)
                elif names == ["i", "v"]:
                    order = (1, 0)
                else:
                    raise CircuitError(f"{path}:{lineno}: header must be 'v,i' or 'i,v', got {cells!r}") from None
                continue
            rows.append((a, b))
    if not rows:
        raise CircuitError(f"{path}: no data rows")
    data = np.array(rows)
    return data[:, order[0]], data[:, order[1]]


# ---------------------------------------------------------------------------------------------------------
# model cards -> devices

#: model types understood by :func:`device_from_model` and their parameters with defaults (None = required)
MODEL_TYPES: dict[str, dict[str, float | None]] = {
    "tunnel": {"ip": None, "vp": None, "iv": None, "vv": None, "vpp": None, "vt": 0.026, "cd": 0.0},
    "stype": {"vpk": None, "ipk": None, "ron": None, "ls": 0.0, "cp": 0.0},
    "ivtable": {"file": None, "cd": 0.0},
    "vitable": {"file": None, "ls": 0.0, "cp": 0.0},
}


def device_from_model(model_type: str, params: Mapping[str, float | str], area: float = 1.0, name: str = "model",
                      base_dir: str | Path | None = None) -> Device:
    """Build a device from a ``.model`` card's type and (already evaluated) parameters.

    ``tunnel``: :class:`TunnelDiode` (``area`` scales currents and ``cd``); ``stype``:
    :class:`BreakoverDevice`; ``ivtable(file= cd=)``: :class:`IVTable`; ``vitable(file= ls= cp=)``:
    :class:`VITable` (a CSV of ``v,i`` columns, see :func:`read_curve_csv`; a relative ``file`` is taken
    relative to ``base_dir``, the folder of the top-level netlist). Unknown types or parameters
    raise :class:`CircuitError`."""
    mtype = model_type.lower()
    if mtype not in MODEL_TYPES:
        raise CircuitError(f"model {name}: type {model_type!r} is not a two-terminal NDR device model "
                           f"(known: {', '.join(MODEL_TYPES)})")
    spec = MODEL_TYPES[mtype]
    given = {k.lower(): (str(v).strip().strip("'\"") if k.lower() == "file" else float(v)) for k, v in params.items()}
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise CircuitError(f"model {name} ({mtype}): unknown parameter {unknown[0]!r}; expected {', '.join(spec)}")
    values = {}
    for key, default in spec.items():
        if key in given:
            values[key] = given[key]
        elif default is None:
            raise CircuitError(f"model {name} ({mtype}): parameter {key}= is required")
        else:
            values[key] = default
    if mtype == "tunnel":
        return TunnelDiode(area=float(area), **values)
    if area != 1.0:
        raise CircuitError(f"model {name} ({mtype}): area scaling is only defined for tunnel diodes")
    if mtype in ("ivtable", "vitable"):
        path = Path(values.pop("file"))
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.exists():
            raise CircuitError(f"model {name} ({mtype}): no such file: {path}")
        return IVTable.from_csv(path, **values) if mtype == "ivtable" else VITable.from_csv(path, **values)
    return BreakoverDevice(**values)


# ---------------------------------------------------------------------------------------------------------
# curve analysis: classification, NDR regions, peaks, valleys, PVR


def classify_curve(v, i) -> str:
    """Class of a curve sampled *along its length* (points in order): ``"N"`` when ``v`` is strictly
    monotone but ``i`` is not (``i = f(v)`` single-valued with a falling part), ``"S"`` when ``i`` is strictly
    monotone but ``v`` is not, ``"positive"`` when both rise together everywhere (an ordinary
    resistor-like curve), ``"negative"`` when one rises while the other falls everywhere (an active
    negative resistor through the origin: N- and S-controlled at once), else ``"neither"``."""
    v = np.asarray(v, dtype=float)
    i = np.asarray(i, dtype=float)
    if v.shape != i.shape or v.size < 3:
        raise ValueError("classify_curve needs two arrays of equal length (at least 3 points)")
    dv, di = np.diff(v), np.diff(i)
    if np.all(dv < 0) or (np.all(di < 0) and not np.all(dv > 0)):
        dv, di = -dv, -di  # traversed backwards
    v_mono = np.all(dv > 0)
    i_mono = np.all(di > 0)
    if v_mono and i_mono:
        return "positive"
    if v_mono and np.all(di < 0):
        return "negative"
    if v_mono:
        return "N"
    if i_mono:
        return "S"
    return "neither"


def ndr_intervals(x, slope) -> list[tuple[float, float]]:
    """Maximal intervals of a sampled grid ``x`` where ``slope < 0`` (ends at the last/first sample inside,
    refined by linear interpolation of the slope's zero crossing)."""
    x = np.asarray(x, dtype=float)
    d = np.asarray(slope, dtype=float)
    neg = d < 0
    out = []
    k = 0
    n = x.size
    while k < n:
        if not neg[k]:
            k += 1
            continue
        j = k
        while j + 1 < n and neg[j + 1]:
            j += 1
        lo = x[k] if k == 0 else x[k - 1] + (x[k] - x[k - 1]) * d[k - 1] / (d[k - 1] - d[k])
        hi = x[j] if j == n - 1 else x[j] + (x[j + 1] - x[j]) * d[j] / (d[j] - d[j + 1])
        out.append((float(lo), float(hi)))
        k = j + 1
    return out


@dataclass
class CurveFeatures:
    """What characterises an NDR curve. For N-type, ``peaks``/``valleys`` are current maxima/minima
    ``(v, i)`` and ``pvr`` = i_peak/i_valley per NDR region; for S-type they are voltage maxima
    (breakover) / minima (holding) and ``pvr`` = v_peak/v_valley. ``steepest`` holds, per region,
    ``(v, i, r)`` where the negative differential resistance ``r = dv/di`` is smallest in magnitude."""

    control: str
    ndr: list[tuple[float, float]]  # intervals of the controlling variable
    peaks: list[tuple[float, float]]
    valleys: list[tuple[float, float]]
    pvr: list[float]
    steepest: list[tuple[float, float, float]]
    curve_v: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    curve_i: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict:
        return {"type": self.control, "ndr": [list(r) for r in self.ndr],
                "peaks": [{"v": v, "i": i} for v, i in self.peaks],
                "valleys": [{"v": v, "i": i} for v, i in self.valleys], "pvr": list(self.pvr),
                "steepest": [{"v": v, "i": i, "r": r} for v, i, r in self.steepest]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_curve_features

        return plot_curve_features(self.curve_v, self.curve_i, self.peaks, self.valleys, self.ndr, self.control, ax=ax)


def curve_features(device: Device, n: int = 20001) -> CurveFeatures:
    """NDR regions, peak/valley points, PVR and steepest negative slope of ``device``.

    The slope is sampled on ``n`` points of the device window; each NDR edge (slope zero) is refined with
    ``brentq`` on the analytic/interpolated slope, and the steepest point by a bounded minimisation."""
    from scipy.optimize import minimize_scalar

    a, b = device.window()
    pad = 1e-6 * max(abs(a), abs(b), b - a)
    x = np.linspace(a - pad, b + pad, n)
    d = device.slope(x)
    step = x[1] - x[0]

    def refine(edge: float) -> float:
        """Zero of the slope near a grid-interpolated NDR edge."""
        lo, hi = edge - step, edge + step
        s_lo, s_hi = float(device.slope(lo)), float(device.slope(hi))
        if s_lo * s_hi >= 0:
            return edge  # edge of the sampled window, not a slope zero
        return float(brentq(lambda t: float(device.slope(t)), lo, hi, xtol=1e-15, rtol=1e-14))

    regions = [(refine(lo), refine(hi)) for lo, hi in ndr_intervals(x, d)]
    peaks, valleys, pvr, steepest = [], [], [], []
    for lo, hi in regions:
        y_lo, y_hi = float(device.response(lo)), float(device.response(hi))
        peak = (lo, y_lo) if device.control == "N" else (y_lo, lo)
        valley = (hi, y_hi) if device.control == "N" else (y_hi, hi)
        peaks.append(peak)
        valleys.append(valley)
        pvr.append(y_lo / y_hi if y_hi != 0 else math.inf)
        res = minimize_scalar(lambda t: float(device.slope(t)), bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-12 * max(1.0, abs(hi))})
        xs = float(res.x)
        s = float(device.slope(xs))
        ys = float(device.response(xs))
        if device.control == "N":
            steepest.append((xs, ys, 1.0 / s))
        else:
            steepest.append((ys, xs, s))
    lo, hi = device.plot_range()
    cx = np.linspace(lo, hi, 801)
    cv, ci = device.curve(cx)
    return CurveFeatures(control=device.control, ndr=regions, peaks=peaks, valleys=valleys, pvr=pvr,
                         steepest=steepest, curve_v=cv, curve_i=ci)
