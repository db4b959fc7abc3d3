"""For which values of a load parameter does a circuit stay stable?

The questions designers ask of a negative-impedance circuit ("which external inductance may the NIC see
and stay stable?") become one-line calls here:

- :func:`admissible_range` — the stable subset of ``[lo, hi]`` of one parameter, as a list of intervals
  whose edges are located to a relative tolerance, each edge saying *what* crosses the jω axis there
  (a real pole or a complex pair, and at which frequency);
- :func:`stability_table` — one admissible range per value of a second parameter (the paper's Tables
  2–3: columns of bias or stabilizing resistor, rows of probed external loads);
- :func:`stability_map` — two swept parameters → number of right-half-plane (RHP) natural frequencies;
- :func:`pole_locus` — the path of the natural frequencies as the parameter moves.

Everything rests on a pluggable *probe*: a picklable callable ``probe(x) -> Probe`` that says how many
natural frequencies lie in the RHP at parameter value ``x``. For lumped circuits it is the exact pencil
(:func:`stabkit.analysis.poles.poles`); for distributed circuits (transmission lines) the NDF encirclement
count (:mod:`stabkit.analysis.ndf`) when that module is available.

Edges are found in two stages: a coarse scan (geometric spacing when the range spans more than a decade,
so narrow windows are not lost across decades) followed by root-finding on the *stability margin*
``m(x)`` (Brent's method, bracket kept) or plain bisection on the verdict when no margin is
available (NDF path); the margin is ``max Re(s)/|s|``. Local extrema of the sampled margin that
approach zero without crossing it are refined too (golden-section search), which finds stable or unstable
windows narrower than the scan step.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from stabkit.analysis.poles import MARGIN_RTOL
from stabkit.circuit.graph import Circuit
from stabkit.errors import DistributedCircuitError, ParameterError

__all__ = ["DEFAULT_RTOL", "DEFAULT_POINTS", "LOCATE_METHODS", "CONTINUATION_RTOL", "Probe", "CircuitProbe", "Edge",
           "AdmissibleRange", "StabilityTable",
           "StabilityMap", "PoleLocus", "admissible_range", "stability_table", "stability_map", "pole_locus",
           "locate_edge", "classify_crossing", "scan_grid", "resolved_scale", "default_probes", "default_executor",
           "worker_setup", "single_threaded_blas"]

TWO_PI = 2.0 * np.pi
#: default relative tolerance on edge locations
DEFAULT_RTOL = 1e-4
#: default number of coarse-scan points
DEFAULT_POINTS = 41
#: a crossing pole with |Im s| below this fraction of |s| is called real
REAL_POLE_RTOL = 1e-6
#: how a bracketed edge is refined (:func:`admissible_range`'s ``locate``)
LOCATE_METHODS = ("continuation", "bisection")
#: continuation locates Re s = 0 to this relative tolerance (the verdicts either side then prove ``rtol``)
CONTINUATION_RTOL = 1e-10


# ---------------------------------------------------------------------------------------------- probes
@dataclass
class Probe:
    """The stability verdict at one parameter value.

    ``rhp_count`` counts natural frequencies with ``Re(s) > 0``; ``marginal`` those on the jω axis (within
    a relative margin); ``margin`` is ``max Re(s)/|s|`` when poles are known (``None`` on the NDF
    path); ``poles`` the natural frequencies in rad/s (``None`` on the NDF path).
    """

    value: float
    rhp_count: int
    marginal: int = 0
    margin: float | None = None
    poles: np.ndarray | None = None
    method: str = "poles"
    #: numerical doubt reported by the stability test (e.g. a non-integer NDF count)
    warnings: list[str] = field(default_factory=list)
    #: NDF path: the frequency (Hz) where |NDF(jω)| is smallest — near an edge, where the zero crosses
    nearest_zero_hz: float | None = None
    #: the verdict at this value (:mod:`stabkit.analysis.verdict`); ``uncertain`` counts as not stable
    verdict: str | None = None
    #: why the verdict is uncertain
    reasons: list[str] = field(default_factory=list)
    #: re-biased probes (the swept value moves the DC point): the bias there (:func:`~stabkit.analysis.points.bias_summary`)
    bias: dict | None = None

    @property
    def stable(self) -> bool:
        if self.verdict is not None:
            return self.verdict == "stable"
        return self.rhp_count == 0 and self.marginal == 0

    @property
    def uncertain(self) -> bool:
        return self.verdict == "uncertain"


def _margin_of(poles_rad: np.ndarray) -> float:
    """Stability margin ``max Re(s)/|s|`` (−1 … 1): negative iff every pole is in the left half-plane.

    Relative, so the slow real poles of bias networks (``Re s`` tiny but ``Re s/|s| = −1``) do not mask
    the lightly damped pair that is about to cross; continuous through a complex-pair crossing."""
    if poles_rad.size == 0:
        return -1.0
    return float(np.max(poles_rad.real / np.maximum(np.abs(poles_rad), 1e-300)))


class CircuitProbe:
    """Stability of ``circuit`` with ``param = x`` (plus fixed ``params``). Picklable, so it can be sent to a
    process pool.

    ``param`` may name a ``.param`` of the circuit or an element (its main value). ``method`` is
    ``"auto"`` (pencil for lumped circuits, NDF otherwise), ``"poles"`` or ``"ndf"``; ``fmin``/``fmax`` (Hz) the
    NDF's band (default from the circuit, :func:`~stabkit.analysis.ndf.default_band`), passed to
    :func:`~stabkit.analysis.verdict.decide_linear`.

    A circuit with nonlinear devices (transistors, diodes, NDR devices) is re-biased and re-linearized at every
    value (for a swept supply or bias resistor); Newton starts from the DC solution of the nearest value probed
    before (continuation), and with several operating points the one nearest that neighbour is followed
    (``point`` picks the first one). Each :class:`Probe` then carries its ``bias``. Linearize first
    (:func:`~stabkit.analysis.points.sweep_circuit`) when the swept value leaves the bias alone: that is faster.
    """

    def __init__(self, circuit: Circuit, param: str, params: Mapping[str, float] | None = None,
                 method: str = "auto", point: int | None = None, *, fmin: float | None = None,
                 fmax: float | None = None):
        from stabkit.analysis.verdict import check_band

        if method not in ("auto", "poles", "ndf"):
            raise ValueError(f"method must be 'auto', 'poles' or 'ndf', got {method!r}")
        check_band(fmin, fmax)
        self.fmin, self.fmax = fmin, fmax
        self.param = param.lower()
        self.fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
        self.is_param = self.param in circuit.params
        if not self.is_param and self.param not in circuit:
            raise ParameterError(f"cannot sweep {param!r}: it is neither a parameter nor an element of the circuit "
                                 f"(parameters: {', '.join(circuit.params) or 'none'})")
        element_overrides = {k: v for k, v in self.fixed.items() if k not in circuit.params}
        self.circuit = circuit.with_values(element_overrides) if element_overrides else circuit
        self.fixed = {k: v for k, v in self.fixed.items() if k in circuit.params}
        if not self.is_param:
            # turn the element value into a private parameter so a sweep only changes the parameter table
            self.circuit = self.circuit.copy()
            key = f"_sweep_{self.param}"
            self.circuit.params[key] = float(self.circuit.element(self.param).values["value"]) \
                if not isinstance(self.circuit.element(self.param).values["value"], str) else \
                self.circuit.element(self.param).values["value"]
            self.circuit.element(self.param).values["value"] = key
            self.key = key
        else:
            self.key = self.param
        from stabkit.analysis.points import nonlinear_kinds

        self.rebias = any(nonlinear_kinds(self.circuit))
        self.point = point
        self._pencil_validated = False
        self._solutions: list[tuple[float, object]] = []  # (x, LinearPoint) seen by this probe
        lumped = self.circuit.is_lumped
        if method == "auto":
            method = "poles" if lumped else "ndf"
        if method == "poles" and not lumped:
            raise DistributedCircuitError("the circuit has transmission lines: the exact pencil does not apply; "
                                          "use method='ndf'")
        self.method = method

    def overrides(self, x: float) -> dict[str, float]:
        out = dict(self.fixed)
        out[self.key] = float(x)
        return out

    def linearized(self, x: float):
        """The :class:`~stabkit.analysis.points.LinearPoint` at ``x`` (re-biased circuits only), continued
        from the DC solution of the nearest value this probe has seen."""
        from stabkit.analysis.points import linear_point_near

        near = min(self._solutions, key=lambda s: abs(s[0] - x))[1] if self._solutions else None
        pt = linear_point_near(self.circuit, self.overrides(x), near=near, point=self.point)
        self._solutions.append((float(x), pt))
        return pt

    @property
    def has_pencil(self) -> bool:
        """True when :meth:`pencil` applies: the exact pencil is the stability test (lumped circuit) and the swept
        value leaves the bias alone (the circuit is linear, or linearized once)."""
        return self.method == "poles" and not self.rebias

    def pencil(self, x: float) -> tuple:
        """``(G, C)``: the MNA pencil (sparse, active elements on) at ``param = x``, for pole continuation
        (:mod:`stabkit.analysis.continuation`). Circuits re-biased per value have none (``ValueError``)."""
        from stabkit.analysis.mna import assemble

        if not self.has_pencil:
            raise ValueError("the pencil along the sweep needs a lumped circuit whose bias the swept value leaves "
                             "alone (method 'poles', no re-biasing)")
        # the topology does not change along the sweep: validated once
        system = assemble(self.circuit, self.overrides(x), validate=not self._pencil_validated)
        self._pencil_validated = True
        return system.G, system.C

    def __call__(self, x: float) -> Probe:
        from stabkit.analysis.points import bias_summary
        from stabkit.analysis.verdict import decide_linear

        params = self.overrides(x)
        bias = None
        if self.rebias:
            pt = self.linearized(x)
            judged = decide_linear(pt.circuit, method=self.method, point=pt, fmin=self.fmin, fmax=self.fmax)
            bias = bias_summary(pt)
        else:
            judged = decide_linear(self.circuit, params, method=self.method, fmin=self.fmin, fmax=self.fmax)
        where = f"{self.param}={x:g}: "
        notes = [where + w for w in judged.warnings]
        if self.method == "poles":
            pr = judged.poles
            ev = pr.poles
            return Probe(value=float(x), rhp_count=pr.rhp_count, marginal=int(pr.marginal.size),
                         margin=_margin_of(ev), poles=ev, method="poles", warnings=notes,
                         verdict=judged.verdict, reasons=[where + r for r in judged.reasons], bias=bias)
        res = judged.ndf
        nearest = None
        if np.size(res.log_values):
            nearest = float(abs(res.freq_hz[int(np.argmin(np.real(res.log_values)))]))
        return Probe(value=float(x), rhp_count=int(res.encirclements), marginal=int(res.marginal), margin=None,
                     poles=None, method="ndf", warnings=notes, nearest_zero_hz=nearest,
                     verdict=judged.verdict, reasons=[where + r for r in judged.reasons], bias=bias)


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Edge:
    """One end of a stable interval.

    ``value`` is the located edge (inside ``bracket``, whose width is within the tolerance);
    ``side`` is ``"lower"`` (stable above it) or ``"upper"`` (stable below it). ``crossing`` says what
    leaves the left half-plane on the unstable side: ``"complex pair"``, ``"real pole"`` or ``None`` (NDF
    path: poles unknown); ``freq_hz`` is ``|Im s|/2π`` of that pole (0 for a real pole), ``pole_hz`` the
    pole itself (s/2π) just past the edge; ``via`` is ``"jω axis"``, ``"origin"`` or ``"infinity"``
    for real poles that enter through s = 0 or through |s| = ∞ (the pencil changes degree).
    """

    value: float
    side: str
    bracket: tuple[float, float]
    evaluations: int
    rhp_change: int
    crossing: str | None = None
    freq_hz: float | None = None
    pole_hz: complex | None = None
    via: str | None = None
    #: re-biased sweeps: the bias on the stable side of the edge
    bias: dict | None = None
    #: how the edge was located: ``"continuation"`` (the crossing pole followed along the sweep to Re s = 0,
    #: then the verdict either side of it) or ``"bisection"`` (verdicts only: Brent on the margin, bisection)
    located_by: str = "bisection"
    #: the oscillation frequency at the edge (Hz): ``|Im s|/2π`` of the crossing pole *at* the edge (continuation),
    #: else of the pole just past it (``freq_hz``); 0 for a real pole, ``None`` when unknown
    f_osc: float | None = None
    #: pencil evaluations continuation spent locating this edge (0 when bisection located it)
    pencils: int = 0

    def to_dict(self) -> dict:
        out = {
            "value": self.value, "side": self.side, "bracket": list(self.bracket), "evaluations": self.evaluations,
            "rhp_change": self.rhp_change, "crossing": self.crossing, "freq_hz": self.freq_hz,
            "pole_hz": None if self.pole_hz is None else [float(self.pole_hz.real), float(self.pole_hz.imag)],
            "via": self.via, "located_by": self.located_by, "f_osc": self.f_osc, "pencils": self.pencils,
        }
        if self.bias is not None:
            out["bias"] = self.bias
        return out


@dataclass
class AdmissibleRange:
    """The stable subset of ``[lo, hi]`` for parameter ``param``.

    ``intervals`` are closed intervals ``(a, b)``; an end equal to ``lo`` or ``hi`` means "stable up to the
    sweep limit", not an edge. ``edges`` hold the located edges with what crosses there; ``samples`` the
    coarse scan (values and RHP counts) and ``evaluations`` the total number of stability evaluations.
    """

    param: str
    lo: float
    hi: float
    intervals: list[tuple[float, float]]
    edges: list[Edge]
    sample_values: np.ndarray
    sample_rhp: np.ndarray
    evaluations: int
    rtol: float
    method: str
    fixed: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: values whose verdict was ``uncertain`` (counted as not stable), with the reason
    uncertain: list[tuple[float, str]] = field(default_factory=list)
    #: circuits with nonlinear devices: the DC bias the sweep was linearized at (per column of a table), or
    #: with ``rebias == "point"`` the bias at the sweep's lower end (each edge carries its own)
    bias: dict | None = None
    #: ``None`` (linear, or linearized once), ``"column"`` (re-biased for this column) or ``"point"`` (per value)
    rebias: str | None = None

    @property
    def verdict(self) -> str:
        """``uncertain`` when some evaluated value could not be decided (the intervals may then be too narrow),
        else ``stable`` when a stable interval exists, else ``unstable``."""
        if self.uncertain:
            return "uncertain"
        return "stable" if self.intervals else "unstable"

    @property
    def stable_anywhere(self) -> bool:
        return bool(self.intervals)

    def contains(self, a: float, b: float) -> bool:
        """True when ``[a, b]`` lies inside one stable interval."""
        return any(lo <= a and b <= hi for lo, hi in self.intervals)

    def is_stable_at(self, x: float) -> bool:
        """Stable per the located intervals (no new evaluation)."""
        return any(lo <= x <= hi for lo, hi in self.intervals)

    def to_dict(self) -> dict:
        return {
            "param": self.param, "from": self.lo, "to": self.hi,
            "intervals": [[float(a), float(b)] for a, b in self.intervals],
            "edges": [e.to_dict() for e in self.edges],
            "rtol": self.rtol, "method": self.method, "evaluations": self.evaluations,
            "fixed": dict(self.fixed),
            "samples": [[float(x), int(n)] for x, n in zip(self.sample_values, self.sample_rhp)],
            "verdict": self.verdict,
            "uncertain": [[float(x), r] for x, r in self.uncertain],
            "warnings": list(self.warnings),
            **({"bias": self.bias} if self.bias is not None else {}),
            **({"rebias": self.rebias} if self.rebias is not None else {}),
        }

    def plot(self, ax=None, unit: str = ""):
        """RHP count over the sweep, stable intervals shaded, edges marked; ``unit`` of the parameter (``H``)."""
        from stabkit.report.plots import plot_admissible

        return plot_admissible(self.sample_values, self.sample_rhp, self.intervals,
                               [e.value for e in self.edges], param=self.param, ax=ax, unit=unit)


# ---------------------------------------------------------------------------------------------- maths
def resolved_scale(lo: float, hi: float, scale: str = "auto") -> str:
    """``'log'`` or ``'lin'``: ``'auto'`` is geometric when ``0 < lo`` and ``hi/lo ≥ 10``."""
    if scale == "auto":
        return "log" if lo > 0 and hi / lo >= 10 else "lin"
    return scale


def scan_grid(lo: float, hi: float, points: int, scale: str = "auto") -> np.ndarray:
    """Coarse-scan values: geometric when ``scale == 'log'`` (or ``'auto'`` with ``0 < lo`` and
    ``hi/lo ≥ 10``), linear otherwise. Both ends included."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"the sweep needs finite lo < hi, got [{lo}, {hi}]")
    if points < 2:
        raise ValueError("a scan needs at least 2 points")
    scale = resolved_scale(lo, hi, scale)
    if scale == "log":
        if lo <= 0:
            raise ValueError(f"a log-spaced sweep needs lo > 0, got {lo}")
        return np.geomspace(lo, hi, points)
    if scale == "lin":
        return np.linspace(lo, hi, points)
    raise ValueError(f"scale must be 'auto', 'log' or 'lin', got {scale!r}")


def _to_u(x: float, log: bool) -> float:
    return math.log(x) if log else x


def _from_u(u: float, log: bool) -> float:
    return math.exp(u) if log else u


def _close(a: float, b: float, rtol: float, abs_floor: float) -> bool:
    return abs(b - a) <= rtol * max(abs(a), abs(b), abs_floor)


def locate_edge(probe: Callable[[float], Probe], stable_side: Probe, unstable_side: Probe, *, rtol: float,
                abs_floor: float, log: bool, max_iter: int = 200) -> tuple[Probe, Probe, int]:
    """Shrink the bracket between a stable and an unstable probe to relative width ``rtol``.

    With margins (pencil path) Brent's method runs on the margin ``max Re(s)/|s|`` (its sign forced to agree
    with the verdict), in ``log x`` for geometric sweeps; the tightest pair of evaluated probes with
    opposite verdicts is then the bracket, bisected further if Brent stopped short of ``rtol``. Without
    margins (NDF path) it is plain bisection on the verdict. The result is always a (stable, unstable)
    pair of *evaluated* probes at most ``rtol`` apart, so the edge is proven, not interpolated. Returns
    the two probes and the number of evaluations spent.
    """
    seen: list[Probe] = [stable_side, unstable_side]
    n = 0

    def evaluate(x: float) -> Probe:
        nonlocal n
        p = probe(x)
        n += 1
        seen.append(p)
        return p

    use_margin = all(p.margin is not None and math.isfinite(p.margin) for p in (stable_side, unstable_side))
    if use_margin:
        from scipy.optimize import brentq

        def signed_margin(u: float) -> float:
            p = evaluate(_from_u(u, log))
            m = p.margin if p.margin is not None and math.isfinite(p.margin) else 0.0
            return min(m, -1e-300) if p.stable else max(m, 1e-300)

        ua, ub = _to_u(stable_side.value, log), _to_u(unstable_side.value, log)
        scale = 1.0 if log else max(abs(stable_side.value), abs(unstable_side.value), abs_floor)
        try:
            brentq(signed_margin, ua, ub, xtol=0.25 * rtol * scale, rtol=4 * np.finfo(float).eps,
                   maxiter=max_iter)
        except (ValueError, RuntimeError):
            pass  # fall back to bisection on whatever was evaluated
    # the tightest evaluated pair with opposite verdicts, adjacent in x
    ordered = sorted(seen, key=lambda p: p.value)
    a, b = stable_side, unstable_side
    best = abs(b.value - a.value)
    for p, q in zip(ordered, ordered[1:]):
        if p.stable != q.stable and abs(q.value - p.value) <= best:
            best = abs(q.value - p.value)
            a, b = (p, q) if p.stable else (q, p)
    for _ in range(max_iter):
        if _close(a.value, b.value, rtol, abs_floor):
            break
        p = evaluate(_from_u(0.5 * (_to_u(a.value, log) + _to_u(b.value, log)), log))
        if p.stable:
            a = p
        else:
            b = p
    return a, b, n


def _nearest_axis_pole(poles_rad: np.ndarray) -> complex | None:
    """The pole with ``Re ≥ 0`` (within the margin) nearest the jω axis relative to its size."""
    mag = np.maximum(np.abs(poles_rad), 1e-300)
    candidates = poles_rad[poles_rad.real >= -MARGIN_RTOL * mag]
    if candidates.size == 0:
        return None
    return complex(candidates[np.argmin(np.abs(candidates.real) / np.maximum(np.abs(candidates), 1e-300))])


def classify_crossing(stable_side: Probe, unstable_side: Probe, far_unstable: Probe | None = None
                      ) -> tuple[str | None, float | None, complex | None, str | None]:
    """What left the left half-plane between the two (nearby) probes: ``(crossing, freq_hz, pole_hz, via)``.

    A real pole enters either through s = 0 or through |s| = ∞ (where the pencil's degree drops, as for an
    ideal NIC at L_ext = |L0|). ``far_unstable`` (a probe further into the unstable side) tells which: a pole
    that is larger near the edge than far from it came in from infinity.
    """
    if unstable_side.poles is None:
        # NDF path: the count change says real (1) or pair (2); |NDF(jω)| is smallest where the zero crosses
        change = unstable_side.rhp_count - stable_side.rhp_count
        freq = unstable_side.nearest_zero_hz
        if change == 2 and freq is not None:
            return "complex pair", freq, None, "jω axis"
        if change == 1:
            return "real pole", 0.0, None, None
        return None, None, None, None
    pick = _nearest_axis_pole(unstable_side.poles)
    if pick is None:
        return None, None, None, None
    is_real = abs(pick.imag) <= REAL_POLE_RTOL * abs(pick) or abs(pick.imag) <= 1e-12
    if not is_real:
        return "complex pair", float(abs(pick.imag) / TWO_PI), pick / TWO_PI, "jω axis"
    via = "origin"
    if stable_side.poles is not None and unstable_side.poles.size != stable_side.poles.size:
        via = "infinity"
    elif far_unstable is not None and far_unstable.poles is not None:
        real_far = far_unstable.poles[(far_unstable.poles.real > 0) & (np.abs(far_unstable.poles.imag) <=
                                                                       REAL_POLE_RTOL * np.abs(far_unstable.poles))]
        if real_far.size:
            via = "infinity" if abs(pick) > np.max(np.abs(real_far)) else "origin"
    return "real pole", 0.0, pick / TWO_PI, via


def _refine_extrema(probe, samples: list[Probe], log: bool, rtol: float, abs_floor: float,
                    max_evals: int = 24) -> list[Probe]:
    """Look for windows narrower than the scan step: where the sampled margin has a local extremum on one
    side of zero (a dip towards zero of an unstable run, or a bump of a stable run), search it with golden
    section; any probe whose verdict differs from its neighbours' becomes a new sample."""
    new: list[Probe] = []
    m = [p.margin for p in samples]
    if any(v is None or not math.isfinite(v) for v in m):
        return new
    golden = (math.sqrt(5) - 1) / 2
    for i in range(1, len(samples) - 1):
        left, mid, right = samples[i - 1], samples[i], samples[i + 1]
        if not (left.stable == mid.stable == right.stable):
            continue
        unstable_run = not mid.stable
        # minimise the margin in an unstable run (seek a stable dip), maximise it in a stable run
        sign = 1.0 if unstable_run else -1.0
        if not (sign * mid.margin <= sign * left.margin and sign * mid.margin <= sign * right.margin):
            continue
        # only dips that could reach zero between the samples: the extremum's distance from zero is not
        # larger than the margin's change towards it across the neighbouring samples
        depth = abs(left.margin - mid.margin) + abs(right.margin - mid.margin)
        if abs(mid.margin) > depth:
            continue
        a, b = _to_u(left.value, log), _to_u(right.value, log)
        c, d = b - golden * (b - a), a + golden * (b - a)
        pc, pd = probe(_from_u(c, log)), probe(_from_u(d, log))
        evals = 2
        found = None
        while evals < max_evals:
            for p in (pc, pd):
                if p.stable != mid.stable:
                    found = p
            if found is not None or _close(_from_u(a, log), _from_u(b, log), rtol, abs_floor):
                break
            if sign * pc.margin < sign * pd.margin:
                b, d, pd = d, c, pc
                c = b - golden * (b - a)
                pc = probe(_from_u(c, log))
            else:
                a, c, pc = c, d, pd
                d = a + golden * (b - a)
                pd = probe(_from_u(d, log))
            evals += 1
        if found is not None:
            new.append(found)
    return new


def _intervals_from(samples: list[Probe], edges: list[Edge], lo: float, hi: float) -> list[tuple[float, float]]:
    """Stable intervals from the sorted samples' verdict at ``lo`` and the ordered located edges."""
    out: list[tuple[float, float]] = []
    start = lo if samples[0].stable else None
    for e in edges:
        if e.side == "upper":
            out.append((start if start is not None else lo, e.value))
            start = None
        else:
            start = e.value
    if start is not None:
        out.append((start, hi))
    return out


class _Counter:
    """Wraps a probe and counts its calls."""

    def __init__(self, probe):
        self.probe = probe
        self.calls = 0
        self.seen: list[Probe] = []

    def __call__(self, x):
        self.calls += 1
        result = self.probe(x)
        self.seen.append(result)
        return result


class _Counted:
    """A probe that steps a progress bar at each evaluation (in this process)."""

    def __init__(self, probe, bar):
        self.probe, self.bar = probe, bar

    def __call__(self, x):
        out = self.probe(x)
        self.bar.update()
        return out


def _map(executor: Executor | None, fn, items: Sequence):
    if executor is None:
        return [fn(x) for x in items]
    return list(executor.map(fn, items))


def admissible_range(circuit: Circuit, param: str, lo: float, hi: float, *,
                     params: Mapping[str, float] | None = None, rtol: float = DEFAULT_RTOL,
                     points: int = DEFAULT_POINTS, scale: str = "auto", method: str = "auto",
                     refine_extrema: bool = True, executor: Executor | None = None,
                     probe: Callable[[float], Probe] | None = None, point: int | None = None,
                     progress: bool = False, fmin: float | None = None,
                     fmax: float | None = None, locate: str = "continuation") -> AdmissibleRange:
    """The stable subset of ``lo ≤ param ≤ hi`` as a list of intervals.

    ``params`` fixes other parameters (or element values). ``rtol`` is the relative tolerance of each edge
    (the returned edge lies within ``rtol·|edge|`` of the true one, the bracket proves it: the stable end
    was evaluated stable, the unstable end unstable). ``points`` coarse-scan values, geometric when the
    range spans a decade or more (``scale='auto'``). ``method`` 'auto' | 'poles' | 'ndf'. ``executor``
    runs the coarse scan (any :class:`concurrent.futures.Executor`); the edge searches are sequential.
    ``probe`` replaces the circuit probe (a callable ``x -> Probe``), for custom stability tests.
    A circuit with nonlinear devices is re-biased at every value (:class:`CircuitProbe`; ``point`` picks the
    operating point to start from when there are several); the edges then carry the bias.
    ``progress``: count the stability evaluations on a terminal (see :mod:`stabkit.report.progress`).
    ``fmin``/``fmax`` (Hz): the NDF's band at every value (default: from the circuit; see :class:`CircuitProbe`).

    ``locate`` says how an edge is refined once the scan has bracketed it. ``"continuation"`` (where the circuit's
    pencil applies: lumped, bias left alone): the right-half-plane poles of the unstable end are followed along
    the sweep to where the crossing one has ``Re s = 0``
    (:func:`stabkit.analysis.continuation.edge_by_continuation`, to :data:`CONTINUATION_RTOL`), and the verdict
    is evaluated at ``edge ∓ 0.45·rtol·|edge|``: the edge is kept if they are stable and not stable, else it is
    located by ``"bisection"`` (:func:`locate_edge`) and the result's ``warnings`` say why; bisection also where
    no pencil applies (NDF path, re-biased sweeps, custom probes) or a real pole leaves through infinity. Each
    :class:`Edge` says how it was located (``located_by``) and its oscillation frequency ``f_osc``.

    >>> # see docs/loads.md for worked examples
    """
    if not (rtol > 0):
        raise ValueError(f"rtol must be positive, got {rtol}")
    if locate not in LOCATE_METHODS:
        raise ValueError(f"locate must be one of {', '.join(LOCATE_METHODS)}, got {locate!r}")
    grid = scan_grid(float(lo), float(hi), int(points), scale)
    log = resolved_scale(float(lo), float(hi), scale) == "log"
    if probe is None:
        probe = CircuitProbe(circuit, param, params, method, point=point, fmin=fmin, fmax=fmax)
    method_used = getattr(probe, "method", "custom")
    pencil_at = probe.pencil if locate == "continuation" and isinstance(probe, CircuitProbe) and probe.has_pencil \
        else None
    abs_floor = max(abs(lo), abs(hi)) * 1e-12 or 1e-300
    from stabkit.report.progress import Progress

    with Progress(None, f"{param} sweep", enabled=None if progress else False) as bar:
        return _admissible_range(param, lo, hi, params, rtol, grid, log, probe, method_used, abs_floor,
                                 refine_extrema, executor, bar, pencil_at)


def _continued_edge(counter, pencil_at, s: Probe, u: Probe, rtol: float, abs_floor: float, param: str
                    ) -> tuple[Probe, Probe, object, str]:
    """Refine the bracket ``(s, u)`` by continuation of the crossing pole, then prove the edge with two verdicts.

    Returns ``(stable probe, unstable probe, EdgeLocation, "")`` when the verdicts either side of the continued
    edge differ as they must, else ``(tightest stable probe, tightest unstable probe, None, why)`` for bisection
    to start from (``why`` empty for a real pole through infinity: no ``Re s = 0`` to find, nothing to warn of)."""
    from stabkit.analysis.continuation import edge_by_continuation

    located = edge_by_continuation(pencil_at, s.value, u.value, u.poles, rtol=CONTINUATION_RTOL,
                                   atol=abs_floor, param=param)
    if not located.found:
        return s, u, None, "" if located.status == "infinity" else f"continuation did not locate it ({located.reason})"
    x = located.value
    half = 0.45 * rtol * max(abs(x), abs_floor)
    toward_u = 1.0 if u.value > s.value else -1.0
    xs, xu = x - toward_u * half, x + toward_u * half
    # the verdicts just either side (the coarse ends themselves where the edge is that close to them)
    ps = s if toward_u * (xs - s.value) <= 0 else counter(xs)
    pu = u if toward_u * (u.value - xu) <= 0 else counter(xu)
    if ps.stable and not pu.stable:
        crossing = classify_crossing(ps, pu, u)[0]
        if crossing is None or crossing == located.crossing:
            return ps, pu, located, ""
        return ps, pu, None, (f"continuation put it at {x:g} with a {located.crossing}, but a {crossing} crosses "
                              "there by the verdicts")
    tight_s = ps if ps.stable else s
    tight_u = pu if not pu.stable else u
    if not ps.stable and toward_u * (ps.value - s.value) > 0:
        tight_u = ps
    if pu.stable and toward_u * (u.value - pu.value) > 0:
        tight_s = pu
    return tight_s, tight_u, None, (f"continuation put it at {x:g} (f_osc = {located.f_osc:g} Hz), but the verdicts "
                                    f"at {ps.value:g} and {pu.value:g} are {ps.verdict or ps.stable} and "
                                    f"{pu.verdict or pu.stable}")


def _admissible_range(param, lo, hi, params, rtol, grid, log, probe, method_used, abs_floor, refine_extrema,
                      executor, bar, pencil_at=None) -> AdmissibleRange:
    if bar.enabled and executor is None:  # (a probe sent to other processes cannot carry the bar)
        probe = _Counted(probe, bar)
    samples = _map(executor, probe, list(grid))
    counter = _Counter(probe)
    warnings_out: list[str] = []
    if refine_extrema and method_used != "ndf":
        extra = _refine_extrema(counter, samples, log, rtol, abs_floor)
        samples = sorted(samples + extra, key=lambda p: p.value)
    edges: list[Edge] = []
    for p, q in zip(samples, samples[1:]):
        if p.stable == q.stable:
            continue  # (an unstable run may change its RHP count: not an edge of the admissible set)
        s, u = (p, q) if p.stable else (q, p)
        a, b, located, before = s, u, None, counter.calls
        if pencil_at is not None and u.poles is not None:
            a, b, located, why = _continued_edge(counter, pencil_at, s, u, rtol, abs_floor, param)
            if why:
                warnings_out.append(f"edge between {param} = {s.value:g} and {u.value:g}: {why}; located by "
                                    "bisection instead")
        if located is None:  # (from the tightest bracket continuation's verdicts left, if any)
            a, b, _ = locate_edge(counter, a, b, rtol=rtol, abs_floor=abs_floor, log=log)
        n = counter.calls - before
        crossing, freq, pole_hz, via = classify_crossing(a, b, u)
        if located is not None:
            value, f_osc, how, pencils = located.value, located.f_osc, "continuation", located.pencils
        else:
            value = _from_u(0.5 * (_to_u(a.value, log) + _to_u(b.value, log)), log)
            f_osc, how, pencils = freq, "bisection", 0
        edges.append(Edge(value=value, side="upper" if p.stable else "lower",
                          bracket=(min(a.value, b.value), max(a.value, b.value)), evaluations=n,
                          rhp_change=u.rhp_count - s.rhp_count, crossing=crossing, freq_hz=freq,
                          pole_hz=pole_hz, via=via, bias=a.bias, located_by=how, f_osc=f_osc, pencils=pencils))
        warnings_out.extend(w for w in a.warnings + b.warnings if w not in warnings_out)
        if b.marginal and not b.rhp_count:
            warnings_out.append(f"edge near {value:g}: the unstable side is marginal (pole on the jω axis)")
    intervals = _intervals_from(samples, edges, float(lo), float(hi))
    evaluations = len(grid) + counter.calls
    # a value found marginal while an edge is being bracketed (within the edge tolerance of it) is the edge
    # itself, where a pole sits on the jω axis by definition: not a doubt about the intervals
    at_edge = [(e.bracket[0] - rtol * abs(e.value), e.bracket[1] + rtol * abs(e.value)) for e in edges]
    uncertain = [(p.value, p.reasons[0] if p.reasons else "uncertain") for p in [*samples, *counter.seen]
                 if p.uncertain and not (p.marginal and not p.rhp_count
                                         and any(a <= p.value <= b for a, b in at_edge))]
    uncertain = sorted(dict(uncertain).items())
    for p in samples:
        warnings_out.extend(w for w in p.warnings if w not in warnings_out)
    if any(p.marginal and not p.rhp_count for p in samples):
        warnings_out.append("some sampled values are marginal (natural frequency on the jω axis, e.g. at s = 0): "
                            "they are counted as not stable")
    fixed = {k: float(v) for k, v in (params or {}).items()}
    rebias = "point" if samples[0].bias is not None else None
    return AdmissibleRange(param=param, lo=float(lo), hi=float(hi), intervals=intervals, edges=edges,
                           sample_values=np.array([p.value for p in samples]),
                           sample_rhp=np.array([p.rhp_count for p in samples]),
                           evaluations=evaluations, rtol=rtol, method=method_used, fixed=fixed,
                           warnings=warnings_out, uncertain=uncertain, bias=samples[0].bias, rebias=rebias)


# ---------------------------------------------------------------------------------------------- parallel helpers
def default_executor(jobs: int, workers: int | None = None) -> Executor | None:
    """A process pool over the available cores when there is more than one job and more than one core,
    else ``None`` (run serially). The caller shuts it down."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or jobs <= 1:
        return None
    return ProcessPoolExecutor(max_workers=min(workers, jobs), initializer=worker_setup)


def worker_setup() -> None:
    """Initializer of a pool worker: Ctrl-C is the parent's to handle (it stops the pool; a worker that took the
    SIGINT sent to the whole process group would print its own traceback), and BLAS runs single-threaded."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    single_threaded_blas()


def single_threaded_blas() -> None:
    """Limit BLAS/OpenMP to one thread in this process: a worker of a process pool must not start a thread
    per core on top of the pool's one process per core (2–7× slower sweeps when it does)."""
    from threadpoolctl import threadpool_limits

    global _BLAS_LIMIT
    _BLAS_LIMIT = threadpool_limits(limits=1)


_BLAS_LIMIT = None


def _run_jobs(fn, items: Iterable, executor: Executor | None, workers: int | None, progress: bool, label: str,
              total: int | None = None) -> list:
    """``[fn(x) for x in items]``, in parallel when possible, in order, with progress (a bar on a terminal, see
    :mod:`stabkit.report.progress`).

    ``items`` may be a generator that does work of its own between items (``total`` then says how many it gives):
    each item goes to the pool as soon as it is made, so the workers run while the generator prepares the next."""
    from collections import deque

    from stabkit.report.progress import Progress

    if total is None:
        items = list(items)
        total = len(items)
    bar = Progress(total, label, enabled=None if progress else False)
    own = None
    if executor is None:
        own = executor = default_executor(total, workers)
    try:
        if executor is None:
            out = []
            for x in items:
                out.append(fn(x))
                bar.update()
            return out
        pending: deque = deque()
        out = []
        try:
            it = iter(items)
            for x in it:
                with _sigint_held():  # the first submit forks the workers
                    pending.append(executor.submit(fn, x))
                break
            for x in it:
                pending.append(executor.submit(fn, x))
                while pending and pending[0].done():  # results in order, as they come
                    out.append(pending.popleft().result())
                    bar.update()
            while pending:
                out.append(pending.popleft().result())
                bar.update()
        except BaseException:  # Ctrl-C or a failing job: do not wait for the rest
            if own is not None:
                _terminate(own)  # our pool: stop its processes (every pending future fails with it)
                own = None
            else:
                for f in pending:  # the caller's pool: drop what has not started
                    f.cancel()
            raise
        return out
    finally:
        bar.close()
        if own is not None:
            own.shutdown()


@contextlib.contextmanager
def _sigint_held():
    """Hold Ctrl-C while worker processes are forked and deliver it (KeyboardInterrupt) right after.

    A SIGINT that lands inside ``os.fork``'s bookkeeping (the ``register_at_fork`` hooks) is swallowed there
    ("Exception ignored in _releaseLock") and can leave the logging lock held, so that the next fork hangs for
    ever; the forked children inherit the holding handler until :func:`worker_setup` ignores SIGINT for good."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a process pool at once (its running jobs are abandoned). The futures are not cancelled one by one:
    the pool, broken by the terminated processes, fails them itself (cancelling them first races with that and
    the pool's manager thread prints an InvalidStateError traceback)."""
    processes = list(getattr(pool, "_processes", {}).values())
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=5.0)
    pool.shutdown(wait=False)


# ---------------------------------------------------------------------------------------------- tables
class _ColumnJob:
    """One column of a stability table (picklable). ``rebias``: ``None`` (the circuit is linear), ``"column"``
    (re-bias and linearize once for this column) or ``"point"`` (re-bias at every swept value)."""

    def __init__(self, circuit, param, lo, hi, by, fixed, kwargs, rebias=None, point=None):
        self.circuit, self.param, self.lo, self.hi, self.by, self.fixed, self.kwargs = \
            circuit, param, lo, hi, by, fixed, kwargs
        self.rebias, self.point = rebias, point

    def __call__(self, value):
        from stabkit.analysis.points import bias_summary, linear_point_near

        params = dict(self.fixed)
        params[self.by] = float(value)
        if self.rebias == "column":
            pt = linear_point_near(self.circuit, params, point=self.point)
            res = admissible_range(pt.circuit, self.param, self.lo, self.hi, params=params, **self.kwargs)
            res.bias, res.rebias = bias_summary(pt), "column"
            return res
        return admissible_range(self.circuit, self.param, self.lo, self.hi, params=params, point=self.point,
                                **self.kwargs)


class _ProbeJob:
    """Verdict of ``circuit`` at fixed parameters (picklable); returns ``(rhp_count, stable)``."""

    def __init__(self, circuit, param, fixed, method, point=None):
        self.circuit, self.param, self.fixed, self.method, self.point = circuit, param, fixed, method, point

    def __call__(self, point):
        by_values, x = point
        params = dict(self.fixed)
        params.update(by_values)
        p = CircuitProbe(self.circuit, self.param, params, self.method, point=self.point)(x)
        return p.rhp_count, p.verdict


@dataclass
class StabilityTable:
    """Admissible ranges of ``param`` for each value of ``by`` (one column each), and the verdict at probed
    values of ``param`` (the rows of the paper's Tables 2–3), every cell evaluated, not inferred."""

    param: str
    by: str
    by_values: list[float]
    columns: list[AdmissibleRange]
    probes: list[float]
    probe_stable: np.ndarray  # (len(probes), len(by_values)) bool
    probe_rhp: np.ndarray
    probe_verdict: np.ndarray | None = None  # (len(probes), len(by_values)) "stable" | "unstable" | "uncertain"

    @property
    def verdict(self) -> str:
        """``uncertain`` if a column or a probed cell is, else ``stable`` if a column has a stable interval."""
        if any(c.verdict == "uncertain" for c in self.columns) or (
                self.probe_verdict is not None and np.any(self.probe_verdict == "uncertain")):
            return "uncertain"
        return "stable" if any(c.intervals for c in self.columns) else "unstable"

    def to_dict(self) -> dict:
        return {
            "param": self.param, "by": self.by,
            "columns": [{self.by: float(v), "intervals": [[float(a), float(b)] for a, b in col.intervals],
                         "edges": [e.to_dict() for e in col.edges], "evaluations": col.evaluations,
                         "warnings": col.warnings,
                         **({"bias": col.bias} if col.bias is not None else {}),
                         **({"rebias": col.rebias} if col.rebias is not None else {})}
                        for v, col in zip(self.by_values, self.columns)],
            "probes": [{"value": float(x), "stable": [bool(s) for s in row], "rhp_count": [int(n) for n in nrow]}
                       for x, row, nrow in zip(self.probes, self.probe_stable, self.probe_rhp)],
            "verdict": self.verdict,
        }

    def text(self, unit: str = "", by_unit: str = "") -> str:
        """The table as text: a header of ``by`` values, a row per probed value (``stable`` / ``-``
        with the RHP count), and a last row with the intervals."""
        from stabkit.units import format_eng

        head = [f"{self.param} \\ {self.by}"] + [format_eng(v, by_unit) for v in self.by_values]
        rows = []
        for x, srow, nrow in zip(self.probes, self.probe_stable, self.probe_rhp):
            words = self.probe_verdict[len(rows)] if self.probe_verdict is not None else [None] * len(srow)
            rows.append([format_eng(x, unit)] + ["stable" if s else "?" if w == "uncertain" else
                                                 f"x ({n} RHP)" if n else "x (marginal)"
                                                 for s, n, w in zip(srow, nrow, words)])
        rows.append(["admissible"] + ["; ".join(f"[{format_eng(a, unit)}, {format_eng(b, unit)}]"
                                                for a, b in col.intervals) or "none" for col in self.columns])
        for device in (self.columns[0].bias or {}) if self.columns else ():
            if "ic" in self.columns[0].bias[device]:
                rows.append([f"bias {device}"] + [
                    f"{format_eng(c.bias[device]['ic'], 'A')}, {format_eng(c.bias[device]['vce'], 'V')}"
                    if c.bias and device in c.bias else "-" for c in self.columns])
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def plot(self, ax=None, unit: str = "", by_unit: str = ""):
        """Stable intervals per column as bars, probed values marked; ``unit``/``by_unit`` of the parameters."""
        from stabkit.report.plots import plot_table

        return plot_table(self.by_values, [c.intervals for c in self.columns], self.probes, self.probe_stable,
                          param=self.param, by=self.by, ax=ax, unit=unit, by_unit=by_unit)


def default_probes(columns: Sequence[AdmissibleRange], digits: int = 4, offset: float = 2e-3) -> list[float]:
    """Probe rows like the paper's: just either side of every located edge (``edge·(1 ± offset)``, rounded to
    ``digits`` significant digits), sorted and unique. The offset is far above the edge tolerance, so each
    probe's verdict is definite."""
    out: set[float] = set()
    for col in columns:
        for e in col.edges:
            for v in (e.value * (1 - offset), e.value * (1 + offset)):
                if col.lo <= v <= col.hi:
                    out.add(float(f"{v:.{digits}g}"))
    return sorted(out)


def stability_table(circuit: Circuit, param: str, lo: float, hi: float, by: str, values: Iterable[float], *,
                    params: Mapping[str, float] | None = None, probes: Sequence[float] | None = None,
                    rtol: float = DEFAULT_RTOL, points: int = DEFAULT_POINTS, scale: str = "auto",
                    method: str = "auto", executor: Executor | None = None, workers: int | None = None,
                    progress: bool = False, rebias: str = "auto", point: int | None = None,
                    locate: str = "continuation") -> StabilityTable:
    """One :func:`admissible_range` of ``param`` per value of ``by`` (columns run in parallel), and the
    verdict at each probed value of ``param`` in each column (``probes`` default to values around the
    located edges, as in the paper's tables).

    A circuit with nonlinear devices (transistors, diodes) is re-biased and re-linearized per column
    (``rebias="column"``: ``by`` may be a supply or a bias resistor), and at every swept value when ``param``
    itself moves the DC point (``rebias="point"``, with continuation from the neighbouring solution);
    ``"auto"`` decides by solving the DC point at the ends of the sweep (:func:`~stabkit.analysis.points.bias_movers`).
    Each column then carries its ``bias``. Linearize first (``sweep_circuit``) to analyse one frozen bias.
    ``locate``: how edges are refined (:func:`admissible_range`)."""
    from stabkit.analysis.points import bias_movers, nonlinear_kinds

    by = by.lower()
    by_values = [float(v) for v in values]
    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    if rebias not in ("auto", "column", "point"):
        raise ValueError(f"rebias must be 'auto', 'column' or 'point', got {rebias!r}")
    mode = None
    if any(nonlinear_kinds(circuit)):
        mode = rebias
        if rebias == "auto":
            moving = bias_movers(circuit, {param: [lo, hi]}, {**fixed, by: by_values[0]}, point)
            mode = "point" if moving else "column"
    kwargs = dict(rtol=rtol, points=points, scale=scale, method=method, locate=locate)
    job = _ColumnJob(circuit, param, lo, hi, by, fixed, kwargs, rebias=mode, point=point)
    columns = _run_jobs(job, by_values, executor, workers, progress, f"{param} ranges over {by}")
    probe_values = list(probes) if probes is not None else default_probes(columns)
    points_list = [({by: v}, x) for x in probe_values for v in by_values]
    verdicts = _run_jobs(_ProbeJob(circuit, param, fixed, method, point), points_list, executor,
                         workers if len(points_list) > 16 else 1, progress, "probes")
    shape = (len(probe_values), len(by_values))
    rhp = np.array([v[0] for v in verdicts], dtype=int).reshape(shape)
    words = np.array([v[1] for v in verdicts], dtype=object).reshape(shape)
    return StabilityTable(param=param, by=by, by_values=by_values, columns=columns, probes=probe_values,
                          probe_stable=words == "stable", probe_rhp=rhp, probe_verdict=words)


# ---------------------------------------------------------------------------------------------- maps
@dataclass
class StabilityMap:
    """RHP count on a grid of two parameters: ``rhp_count[i, j]`` at ``y_values[i]``, ``x_values[j]``."""

    x_param: str
    x_values: np.ndarray
    y_param: str
    y_values: np.ndarray
    rhp_count: np.ndarray
    stable: np.ndarray

    def to_dict(self) -> dict:
        return {"x_param": self.x_param, "x_values": [float(v) for v in self.x_values],
                "y_param": self.y_param, "y_values": [float(v) for v in self.y_values],
                "rhp_count": self.rhp_count.astype(int).tolist(), "stable": self.stable.astype(bool).tolist()}

    def plot(self, ax=None, x_unit: str = "", y_unit: str = ""):
        """Count of RHP natural frequencies on the grid, the stable region outlined; units of the parameters."""
        from stabkit.report.plots import plot_stability_map

        return plot_stability_map(self.x_values, self.y_values, self.rhp_count, self.stable,
                                  x_param=self.x_param, y_param=self.y_param, ax=ax, x_unit=x_unit, y_unit=y_unit)


def stability_map(circuit: Circuit, x_param: str, x_values: Iterable[float], y_param: str,
                  y_values: Iterable[float], *, params: Mapping[str, float] | None = None, method: str = "auto",
                  executor: Executor | None = None, workers: int | None = None,
                  progress: bool = False) -> StabilityMap:
    """Number of RHP natural frequencies at every ``(x, y)`` of the grid (evaluated in parallel)."""
    xs = np.asarray(list(x_values), dtype=float)
    ys = np.asarray(list(y_values), dtype=float)
    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    items = [({y_param.lower(): float(y)}, float(x)) for y in ys for x in xs]
    res = _run_jobs(_ProbeJob(circuit, x_param, fixed, method), items, executor, workers, progress,
                    "stability map")
    rhp = np.array([r[0] for r in res], dtype=int).reshape(len(ys), len(xs))
    stable = np.array([r[1] == "stable" for r in res], dtype=bool).reshape(len(ys), len(xs))
    return StabilityMap(x_param=x_param, x_values=xs, y_param=y_param, y_values=ys, rhp_count=rhp, stable=stable)


# ---------------------------------------------------------------------------------------------- loci
@dataclass
class PoleLocus:
    """Natural frequencies (rad/s) at each parameter value, and the located jω-axis crossings."""

    param: str
    values: np.ndarray
    poles: list[np.ndarray]
    crossings: list[Edge]

    def to_dict(self) -> dict:
        return {"param": self.param, "values": [float(v) for v in self.values],
                "poles_hz": [[[float(p.real), float(p.imag)] for p in ev / TWO_PI] for ev in self.poles],
                "crossings": [e.to_dict() for e in self.crossings]}

    def plot(self, ax=None, fmax_hz: float | None = None, unit: str = ""):
        """Poles on the s/2π plane coloured by parameter value; crossing points marked."""
        from stabkit.report.plots import plot_pole_locus

        return plot_pole_locus(self.values, [ev / TWO_PI for ev in self.poles],
                               [e.pole_hz for e in self.crossings if e.pole_hz is not None],
                               param=self.param, fmax_hz=fmax_hz, ax=ax, unit=unit)


def pole_locus(circuit: Circuit, param: str, values: Iterable[float], *,
               params: Mapping[str, float] | None = None, rtol: float = DEFAULT_RTOL) -> PoleLocus:
    """Natural frequencies at each of ``values`` (lumped circuits) and the points where they cross the jω
    axis, located between samples whose RHP count differs."""
    probe = CircuitProbe(circuit, param, params, "poles")
    vals = np.asarray(sorted(float(v) for v in values))
    samples = [probe(v) for v in vals]
    log = bool(vals[0] > 0 and vals[-1] / vals[0] >= 10)
    crossings: list[Edge] = []
    abs_floor = float(np.max(np.abs(vals))) * 1e-12 or 1e-300
    for p, q in zip(samples, samples[1:]):
        if p.rhp_count == q.rhp_count and p.stable == q.stable:
            continue
        # orient: "stable side" = fewer RHP poles; bracket on the count, not just the verdict
        lo_side, hi_side = (p, q) if p.rhp_count + p.marginal < q.rhp_count + q.marginal else (q, p)
        target = lo_side.rhp_count

        def fewer(x, _t=target):
            pr = probe(x)
            return Probe(value=pr.value, rhp_count=pr.rhp_count, marginal=pr.marginal, margin=None,
                         poles=pr.poles) if pr.rhp_count > _t or pr.marginal else \
                Probe(value=pr.value, rhp_count=0, marginal=0, margin=None, poles=pr.poles)

        a = Probe(value=lo_side.value, rhp_count=0, poles=lo_side.poles)
        b = Probe(value=hi_side.value, rhp_count=1, poles=hi_side.poles)
        a, b, n = locate_edge(fewer, a, b, rtol=rtol, abs_floor=abs_floor, log=log)
        crossing, freq, pole_hz, via = classify_crossing(a, b, hi_side)
        value = _from_u(0.5 * (_to_u(a.value, log) + _to_u(b.value, log)), log)
        crossings.append(Edge(value=value, side="upper" if lo_side is p else "lower",
                              bracket=(min(a.value, b.value), max(a.value, b.value)), evaluations=n,
                              rhp_change=hi_side.rhp_count - lo_side.rhp_count, crossing=crossing,
                              freq_hz=freq, pole_hz=pole_hz, via=via, f_osc=freq))
    return PoleLocus(param=param, values=vals, poles=[s.poles for s in samples], crossings=crossings)
