"""Tolerance and yield: Monte-Carlo over component tolerances and model parameters.

What fraction of manufactured circuits is stable when every resistor is ±5 %, the transistor's ``BF``
spreads ±30 % and the supply moves by ±0.3 V? :func:`yield_analysis` draws ``N`` samples of the varied
quantities, judges each sampled circuit with the one verdict of stabkit (:func:`~stabkit.analysis.verdict.decide`:
a nonlinear circuit is re-biased and re-linearized at every sample, since the bias moves with the
tolerances; :func:`~stabkit.analysis.verdict.decide_linear` for linear circuits, which needs no copy of the
circuit per sample) and reports

* the counts of ``stable``, ``unstable`` and ``uncertain`` samples (an uncertain sample is never counted
  as stable);
* the stable fraction ``k/N`` and a 95 % confidence interval for the true stable probability
  (:func:`yield_interval`: the Wilson score interval, widened to cover every way the uncertain samples
  could have gone);
* the least-damped natural frequency of every sample (the pole with the largest ``Re s/|s|``; positive
  for an unstable sample), so the worst samples can be ranked, written out as netlists
  (:func:`flat_netlist`) and histogrammed (:meth:`YieldResult.plot`).

Samples are drawn up front in the calling process from ``numpy.random.default_rng(seed)`` (row by row, so
the first ``n`` samples of a run of ``N > n`` are those of a run of ``n``), then judged in chunks: in this
process, in a local process pool (one BLAS thread per worker, set by stabkit) or on a Dask
(``dask.distributed``) cluster. The result depends only on the seed and ``N``, never on where the samples
ran or in which order the chunks came back.

Distributions (``--vary NAME=SPEC`` on the command line, :func:`parse_distribution` here):

``uniform:LO:HI``
    uniform on ``[LO, HI]`` (absolute values, SPICE suffixes allowed);
``normal:MU:SIGMA``
    normal with mean ``MU`` and standard deviation ``SIGMA`` (absolute; not truncated, so keep ``SIGMA``
    small against ``MU`` for quantities that must stay positive);
``tol:P%``
    uniform on ``nominal·(1 ± P/100)``, the nominal value read from the circuit.

``NAME`` is a ``.param``, an element (its value; the DC value of a V or I source) or a model-card
parameter ``MODEL.PARAM`` (``x1.m_bfr840l3rhesd.bf``: model cards inside a subcircuit have one copy per
instance, named ``INSTANCE.MODEL``).
"""

from __future__ import annotations

import math
import os
import secrets
import signal
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import ndtri

from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, ParameterError, StabkitError
from stabkit.units import format_eng, parse_value

__all__ = ["DISTRIBUTIONS", "CONFIDENCE", "Distribution", "Variation", "SampleOutcomes", "YieldResult",
           "parse_distribution", "parse_vary", "bind_variations", "draw_samples", "wilson_interval",
           "yield_interval", "least_damped", "evaluate_samples", "yield_analysis", "sample_circuit", "flat_netlist",
           "write_worst", "plot_yield", "SchedulerError"]

#: distribution kinds accepted by :func:`parse_distribution`
DISTRIBUTIONS = ("uniform", "normal", "tol")
#: confidence level of :attr:`YieldResult.ci95`
CONFIDENCE = 0.95
#: verdict codes of :class:`SampleOutcomes` (int8 arrays travel cheaply between processes)
STABLE_CODE, UNSTABLE_CODE, UNCERTAIN_CODE = 0, 1, 2
VERDICT_WORDS = ("stable", "unstable", "uncertain")
#: at most this many samples per chunk (a chunk is one task of the pool or of the Dask cluster)
MAX_CHUNK = 64
#: chunks per worker aimed at, for load balance and a live progress bar
CHUNKS_PER_WORKER = 8
#: distinct per-sample warnings (and uncertain reasons) listed in the JSON; the rest are counted
MAX_LISTED = 10
#: a progress bar appears only for runs longer than this (seconds)
PROGRESS_AFTER_S = 1.0
#: how long to wait for a Dask scheduler to answer (seconds)
DASK_CONNECT_TIMEOUT_S = 10.0
#: how long to wait for a reachable scheduler to have at least one worker (seconds)
DASK_TIMEOUT_S = 30.0
TWO_PI = 2.0 * np.pi


class SchedulerError(StabkitError, ConnectionError):
    """The Dask scheduler cannot be reached, has no workers, or dask.distributed is not installed."""


# ---------------------------------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class Distribution:
    """A distribution as written: ``kind`` in :data:`DISTRIBUTIONS`, its two numbers ``a``, ``b``
    (``uniform``: LO, HI; ``normal``: MU, SIGMA; ``tol``: the relative half-width P/100 and 0) and the text."""

    kind: str
    a: float
    b: float = 0.0
    text: str = ""


def parse_distribution(spec: str) -> Distribution:
    """Read ``uniform:LO:HI``, ``normal:MU:SIGMA`` or ``tol:P%``.

    Raises
    ------
    ParameterError
        When the text is none of these, or LO ≥ HI, SIGMA ≤ 0, P ≤ 0.
    """
    text = spec.strip()
    parts = [p.strip() for p in text.split(":")]
    kind = parts[0].lower()
    usage = "uniform:LO:HI, normal:MU:SIGMA or tol:P% (e.g. uniform:1n:5n, normal:50:2.5, tol:5%)"
    if kind not in DISTRIBUTIONS:
        raise ParameterError(f"distribution {spec!r}: expected {usage}")
    if kind == "tol":
        if len(parts) != 2 or not parts[1].endswith("%"):
            raise ParameterError(f"distribution {spec!r}: expected tol:P% with a percent sign, e.g. tol:5%")
        try:
            percent = float(parts[1][:-1])
        except ValueError:
            raise ParameterError(f"distribution {spec!r}: {parts[1]!r} is not a percentage such as 5%") from None
        if not 0 < percent < 100 or not math.isfinite(percent):
            raise ParameterError(f"distribution {spec!r}: the tolerance must be between 0 and 100 %, got {parts[1]}")
        return Distribution("tol", percent / 100.0, 0.0, text)
    if len(parts) != 3:
        raise ParameterError(f"distribution {spec!r}: {kind} takes two numbers; expected {usage}")
    try:
        a, b = parse_value(parts[1]), parse_value(parts[2])
    except ValueError as exc:
        raise ParameterError(f"distribution {spec!r}: {exc}") from None
    if kind == "uniform" and not a < b:
        raise ParameterError(f"distribution {spec!r}: uniform:LO:HI needs LO < HI")
    if kind == "normal" and not b > 0:
        raise ParameterError(f"distribution {spec!r}: normal:MU:SIGMA needs SIGMA > 0")
    return Distribution(kind, a, b, text)


def parse_vary(item: str) -> tuple[str, Distribution]:
    """``NAME=SPEC`` (the ``--vary`` option) → ``(name, distribution)``; the name in lower case."""
    name, sep, spec = item.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise ParameterError(f"--vary {item!r}: expected NAME=DIST, e.g. --vary rl=tol:5% or "
                             "--vary x1.m_bfr840l3rhesd.bf=uniform:500:900")
    return name.strip().lower(), parse_distribution(spec)


@dataclass(frozen=True)
class Variation:
    """One varied quantity bound to a circuit.

    ``target`` is ``"param"``, ``"element"`` or ``"model"``; ``element``/``model``/``key`` say where the value
    lives (``key``: the element's value key — ``value``, or ``dc`` for a source — or the model parameter);
    ``kind`` is ``"uniform"`` or ``"normal"`` with ``a``, ``b`` the absolute bounds or mean and deviation
    (``tol:P%`` becomes ``uniform`` around ``nominal``); ``spec`` is the distribution as written."""

    name: str
    target: str
    kind: str
    a: float
    b: float
    nominal: float
    spec: str
    element: str | None = None
    model: str | None = None
    key: str | None = None

    def describe(self) -> str:
        if self.kind == "uniform":
            span = f"uniform {format_eng(self.a)} … {format_eng(self.b)}"
        else:
            span = f"normal, mean {format_eng(self.a)}, σ {format_eng(self.b)}"
        return f"{self.name} ({self.target}, nominal {format_eng(self.nominal)}): {self.spec} → {span}"

    def to_dict(self) -> dict:
        out = {"name": self.name, "target": self.target, "spec": self.spec, "nominal": self.nominal,
               "distribution": self.kind}
        out.update({"lo": self.a, "hi": self.b} if self.kind == "uniform" else {"mu": self.a, "sigma": self.b})
        return out

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Map uniform numbers in ``[0, 1)`` to draws of this variation (inverse CDF)."""
        if self.kind == "uniform":
            return self.a + (self.b - self.a) * u
        # keep ndtri finite: u = 0 happens with probability 2**-53 per draw
        return self.a + self.b * ndtri(np.clip(u, 2.0 ** -54, 1.0 - 2.0 ** -54))


_SOURCE_KEYS = {"V": "dc", "I": "dc"}


def bind_variations(circuit: Circuit, items: Sequence[tuple[str, Distribution]]) -> list[Variation]:
    """Find each name in ``circuit`` (a ``.param``, then an element, then ``MODEL.PARAM``) and read its nominal
    value. Every unknown name is reported at once.

    Raises
    ------
    ParameterError
        Unknown names (all of them, with what the circuit has), a name varied twice, ``tol`` around a nominal
        value of 0, or an element without a value to vary.
    """
    resolved = circuit.resolve_params()
    seen: set[str] = set()
    out: list[Variation] = []
    unknown: list[str] = []
    for name, dist in items:
        if name in seen:
            raise ParameterError(f"--vary {name}: varied twice; give each name once")
        seen.add(name)
        found = _locate(circuit, name, resolved)
        if found is None:
            unknown.append(name)
            continue
        target, element, model, key, nominal = found
        if dist.kind == "tol":
            if nominal == 0:
                raise ParameterError(f"--vary {name}={dist.text}: the nominal value is 0, so a relative tolerance "
                                     "is empty; give uniform:LO:HI or normal:MU:SIGMA instead")
            half = abs(nominal) * dist.a
            kind, a, b = "uniform", nominal - half, nominal + half
        else:
            kind, a, b = dist.kind, dist.a, dist.b
        out.append(Variation(name=name, target=target, kind=kind, a=a, b=b, nominal=nominal, spec=dist.text,
                             element=element, model=model, key=key))
    if unknown:
        raise ParameterError(_unknown_message(circuit, unknown))
    return out


def _locate(circuit: Circuit, name: str, resolved: Mapping[str, float]):
    """``(target, element, model, key, nominal)`` for ``name``, or ``None``."""
    if name in circuit.params:
        return "param", None, None, None, float(resolved[name])
    if name in circuit:
        e = circuit.element(name)
        key = "value" if "value" in e.values else _SOURCE_KEYS.get(e.kind)
        if key is None:
            raise ParameterError(f"--vary {name}: {e.describe()} has no single value to vary (vary a parameter "
                                 "of its model card instead: MODEL.PARAM)")
        nominal = circuit.values(e, resolved).get(key, 0.0)
        return "element", e.key, None, key, float(nominal)
    model_name, dot, param = name.rpartition(".")
    if dot and model_name in circuit.models:
        model = circuit.models[model_name]
        if param not in model.params:
            return None  # named as unknown, with what the card gives
        raw = model.params[param]
        if isinstance(raw, str):
            from stabkit.circuit import expr

            try:
                raw = expr.evaluate(raw, resolved)
            except ParameterError:
                raise ParameterError(f"--vary {name}: model {model.name} parameter {param} is {raw!r}, not a "
                                     "number") from None
        return "model", None, model_name, param, float(raw)
    return None


def _unknown_message(circuit: Circuit, unknown: list[str]) -> str:
    hints = []
    for name in unknown:
        model_name, dot, _ = name.rpartition(".")
        if dot and model_name in circuit.models:
            model = circuit.models[model_name]
            hints.append(f"{name}: model {model.name} gives only {', '.join(model.params) or 'no parameters'} in its "
                         "card, and only parameters written in the .model card can be varied")
        elif dot and model_name:
            scoped = sorted(m for m in circuit.models if m.endswith("." + model_name))
            if scoped:
                hints.append(f"{name}: model cards inside subcircuits have one copy per instance: "
                             f"{', '.join(s + '.' + name.rpartition('.')[2] for s in scoped)}")
    params = ", ".join(circuit.params) or "none"
    models = ", ".join(sorted(circuit.models)) or "none"
    msg = (f"--vary: no parameter, element or model parameter named {', '.join(unknown)} "
           f"(parameters: {params}; model cards: {models}; elements by name, e.g. {circuit.elements[0].name.lower()})")
    return msg + ("; " + "; ".join(hints) if hints else "")


def draw_samples(variations: Sequence[Variation], n: int, seed: int) -> np.ndarray:
    """``(n, len(variations))`` draws from ``numpy.random.default_rng(seed)``.

    Uniform numbers are drawn row by row and mapped through each variation's inverse CDF, so sample ``i`` does
    not depend on ``n`` (the first 100 samples of a 10 000-sample run are those of a 100-sample run)."""
    if n < 1:
        raise ValueError(f"the number of samples must be at least 1, got {n}")
    u = np.random.default_rng(seed).random((n, len(variations)))
    out = np.empty_like(u)
    for j, v in enumerate(variations):
        out[:, j] = v.transform(u[:, j])
    return out


# ---------------------------------------------------------------------------------------------- statistics
def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion: ``k`` successes in ``n`` trials.

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference", JASA 22 (1927).
    """
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    z = float(ndtri(0.5 + confidence / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def yield_interval(stable: int, uncertain: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Confidence interval for the probability that a circuit is stable, with undecided samples.

    The lower end is Wilson's lower bound counting every uncertain sample as unstable (``k = stable``); the
    upper end is Wilson's upper bound counting every uncertain sample as stable (``k = stable + uncertain``).
    Whatever the uncertain samples really are, the interval contains the interval of the truth; with no
    uncertain sample it is the plain Wilson interval."""
    lo = wilson_interval(stable, n, confidence)[0]
    hi = wilson_interval(stable + uncertain, n, confidence)[1]
    return lo, hi


def least_damped(poles_rad: np.ndarray) -> tuple[complex, float]:
    """The least-damped natural frequency (largest ``Re s/|s|``, the upper one of a pair) and that ratio.

    The ratio is ``−ζ`` for a complex pair, −1 for a stable real pole and positive for every pole in the
    right half-plane; ``(nan, nan)`` when there is no finite pole."""
    poles_rad = np.asarray(poles_rad, dtype=complex)
    if poles_rad.size == 0:
        return complex(np.nan, np.nan), float("nan")
    ratio = poles_rad.real / np.maximum(np.abs(poles_rad), 1e-300)
    k = int(np.argmax(ratio))
    pole = poles_rad[k]
    return complex(pole.real, abs(pole.imag)), float(ratio[k])


# ---------------------------------------------------------------------------------------------- evaluation
@dataclass
class SampleOutcomes:
    """What the judged samples of one chunk (or of a whole run) came to, one entry per sample.

    ``codes``: 0 stable, 1 unstable, 2 uncertain; ``margin``: ``Re s/|s|`` of the least-damped pole (NaN where
    no pole is known: distributed circuits judged by the NDF alone, failed samples); ``pole_hz``: that pole,
    s/2π; ``reasons``: why each uncertain sample is uncertain; ``notes``: warnings of the analysis, by sample."""

    codes: np.ndarray
    margin: np.ndarray
    pole_hz: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> "SampleOutcomes":
        return cls(codes=np.full(n, UNCERTAIN_CODE, dtype=np.int8), margin=np.full(n, np.nan),
                   pole_hz=np.full(n, complex(np.nan, np.nan)))

    def place(self, start: int, chunk: "SampleOutcomes") -> None:
        """Copy ``chunk`` (samples ``start ...``) into this run-wide record."""
        stop = start + chunk.codes.size
        self.codes[start:stop] = chunk.codes
        self.margin[start:stop] = chunk.margin
        self.pole_hz[start:stop] = chunk.pole_hz
        self.reasons.update({start + i: r for i, r in chunk.reasons.items()})
        self.notes.update({start + i: r for i, r in chunk.notes.items()})


@dataclass
class _Job:
    """Everything a worker needs to judge samples (sent once per worker): the circuit with every varied
    quantity turned into a parameter, and the parameter key of each column of the sample matrix."""

    circuit: Circuit
    keys: tuple[str, ...]
    linear: bool
    method: str = "auto"
    fmin: float | None = None
    fmax: float | None = None
    #: circuits with transistors/junction diodes (no NDR device): start every sample's DC Newton from the
    #: nominal operating point, solved once per process (:meth:`start_point`; not sent between processes)
    warm_start: bool = False
    _start: object | None = field(default=None, repr=False, compare=False)
    _start_solved: bool = field(default=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_start"], state["_start_solved"] = None, False
        return state

    def start_point(self):
        """The nominal DC point (a :class:`~stabkit.nonlinear.dc.DCPoint`), or ``None`` (no warm start, or no
        nominal solution: then every sample starts from 0 V and says so if it fails)."""
        if self.warm_start and not self._start_solved:
            from stabkit.nonlinear.dc import dc_points

            self._start_solved = True
            try:
                self._start = dc_points(self.circuit)[0]
            except StabkitError:
                self._start = None
        return self._start


#: the exceptions that make one sample undecided (reported with the reason) instead of ending the run
_SAMPLE_FAILURES = (StabkitError, ArithmeticError, np.linalg.LinAlgError, ValueError)


def _prepare(circuit: Circuit, variations: Sequence[Variation], method: str, fmin, fmax,
             warm_start: bool = True) -> _Job:
    """The circuit with each varied element value and model parameter replaced by a private parameter
    (``_yield_k``), so a sample only changes the parameter table; for a transistor circuit (with
    ``warm_start``) also its nominal DC operating point, from which each sample's Newton starts."""
    from stabkit.analysis.points import nonlinear_kinds

    prepared = circuit.copy()
    keys = []
    for j, v in enumerate(variations):
        if v.target == "param":
            keys.append(v.name)
            continue
        key = f"_yield_{j}"
        prepared.params[key] = float(v.nominal)
        if v.target == "element":
            prepared.element(v.element).values[v.key] = key
        else:
            prepared.models[v.model].params[v.key] = key
        keys.append(key)
    ndr, other = nonlinear_kinds(circuit)
    return _Job(circuit=prepared, keys=tuple(keys), linear=not (ndr or other), method=method, fmin=fmin,
                fmax=fmax, warm_start=bool(warm_start and other and not ndr))


def evaluate_samples(job: _Job, values: np.ndarray) -> SampleOutcomes:
    """Judge each row of ``values`` (one sample: a value per column of ``job.keys``) with the verdict of
    stabkit. A sample whose analysis fails (no DC solution, a singular system …) is ``uncertain`` with the
    reason; warnings of the analysis are kept per sample."""
    from stabkit.analysis.verdict import decide, decide_linear

    values = np.atleast_2d(np.asarray(values, dtype=float))
    out = SampleOutcomes.empty(values.shape[0])
    for i, row in enumerate(values):
        params = {k: float(x) for k, x in zip(job.keys, row)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if job.linear:
                    judged = [decide_linear(job.circuit, params, method=job.method, fmin=job.fmin, fmax=job.fmax)]
                    word = judged[0].verdict
                else:
                    verdict = decide(job.circuit, params, method=job.method, fmin=job.fmin, fmax=job.fmax,
                                     start=job.start_point())
                    judged, word = verdict.points, verdict.verdict
            except _SAMPLE_FAILURES as exc:
                out.reasons[i] = f"the analysis failed: {exc}"
                judged, word = [], None
        notes = [str(w.message) for w in caught]
        if word is None:
            if notes:
                out.notes[i] = notes
            continue
        out.codes[i] = VERDICT_WORDS.index(word)
        best_pole, best_margin = complex(np.nan, np.nan), -np.inf
        for p in judged:
            if p.poles is not None:
                pole, margin = least_damped(p.poles.poles)
                if margin > best_margin:
                    best_pole, best_margin = pole, margin
            notes += [w for w in p.warnings if w not in notes]
            notes += [w for w in p.point.warnings if w not in notes]
        if np.isfinite(best_margin):
            out.margin[i], out.pole_hz[i] = best_margin, best_pole / TWO_PI
        if word == "uncertain":
            reasons = [r for p in judged for r in p.reasons]
            out.reasons[i] = reasons[0] if reasons else "numerical doubt"
        if notes:
            out.notes[i] = notes
    return out


# ---------------------------------------------------------------------------------------------- result
@dataclass
class YieldResult:
    """A yield run: the samples, what each came to, and the statistics.

    ``values`` is ``(N, V)``, one column per :class:`Variation`; ``outcomes`` the per-sample verdicts and
    least-damped poles. ``stable``/``unstable``/``uncertain`` count samples; :attr:`stable_fraction` is
    ``stable/N``; :attr:`ci95` the interval of :func:`yield_interval`."""

    variations: list[Variation]
    values: np.ndarray
    outcomes: SampleOutcomes
    seed: int
    method: str = "auto"
    backend: str = "serial"
    workers: int = 1
    elapsed_s: float = 0.0
    title: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return int(self.values.shape[0])

    def _count(self, code: int) -> int:
        return int(np.count_nonzero(self.outcomes.codes == code))

    @property
    def stable(self) -> int:
        return self._count(STABLE_CODE)

    @property
    def unstable(self) -> int:
        return self._count(UNSTABLE_CODE)

    @property
    def uncertain(self) -> int:
        return self._count(UNCERTAIN_CODE)

    @property
    def stable_fraction(self) -> float:
        return self.stable / self.samples

    @property
    def ci95(self) -> tuple[float, float]:
        return yield_interval(self.stable, self.uncertain, self.samples, CONFIDENCE)

    @property
    def verdicts(self) -> list[str]:
        return [VERDICT_WORDS[c] for c in self.outcomes.codes]

    def sample_set(self, index: int) -> dict[str, float]:
        """The sampled values of sample ``index`` by varied name (SI units)."""
        return {v.name: float(x) for v, x in zip(self.variations, self.values[index])}

    def worst(self, count: int = 5) -> list[int]:
        """Indices of the ``count`` worst samples: unstable before uncertain before stable, and within each the
        least damped (largest ``Re s/|s|``) first, then the fastest growing or slowest decaying (largest
        ``Re s``: real poles in the right half-plane all have ``Re s/|s| = 1``); ties keep sample order."""
        severity = np.array([0, 2, 1])[self.outcomes.codes]  # stable 0, uncertain 1, unstable 2
        known = np.isfinite(self.outcomes.margin)
        margin = np.where(known, self.outcomes.margin, -np.inf)
        growth = np.where(known, self.outcomes.pole_hz.real, -np.inf)
        order = np.lexsort((np.arange(self.samples), -growth, -margin, -severity))
        return [int(i) for i in order[:max(0, count)]]

    def uncertain_reasons(self) -> list[tuple[str, int]]:
        """Why samples are uncertain: ``(reason, number of samples)``, most frequent first."""
        return Counter(self.outcomes.reasons.values()).most_common()

    def sample_warnings(self) -> list[tuple[str, int]]:
        """Warnings of the per-sample analyses: ``(message, number of samples)``, most frequent first."""
        return Counter(m for notes in self.outcomes.notes.values() for m in dict.fromkeys(notes)).most_common()

    def worst_dict(self, index: int) -> dict:
        pole = self.outcomes.pole_hz[index]
        margin = self.outcomes.margin[index]
        out = {"index": index, "set": self.sample_set(index), "verdict": VERDICT_WORDS[self.outcomes.codes[index]],
               "rightmost_pole": [float(pole.real), float(pole.imag)] if np.isfinite(margin) else None,
               "margin": float(margin) if np.isfinite(margin) else None}
        if index in self.outcomes.reasons:
            out["reason"] = self.outcomes.reasons[index]
        return out

    def to_dict(self, worst: int = 5) -> dict:
        """The JSON of ``stabkit yield`` (without the written netlists, which the command adds)."""
        lo, hi = self.ci95
        return {
            "samples": self.samples, "stable": self.stable, "unstable": self.unstable, "uncertain": self.uncertain,
            "stable_fraction": self.stable_fraction, "ci95": [lo, hi], "confidence": CONFIDENCE,
            "ci_method": "Wilson score; uncertain samples counted unstable for the lower end, stable for the upper",
            "seed": self.seed, "method": self.method, "backend": self.backend, "workers": self.workers,
            "elapsed_s": self.elapsed_s, "varied": [v.to_dict() for v in self.variations],
            "worst": [self.worst_dict(i) for i in self.worst(worst)],
            "uncertain_reasons": [{"reason": r, "samples": n} for r, n in self.uncertain_reasons()[:MAX_LISTED]],
            "warnings": list(self.warnings) + _listed(self.sample_warnings(), "warning"),
        }

    def summary(self) -> str:
        lo, hi = self.ci95
        extra = f", {self.uncertain} uncertain" if self.uncertain else ""
        return (f"yield: {self.stable} of {self.samples} samples stable ({100 * self.stable_fraction:.2f} %), "
                f"{self.unstable} unstable{extra}; {100 * CONFIDENCE:.0f} % confidence interval "
                f"{100 * lo:.2f} % … {100 * hi:.2f} %")

    def plot(self, ax=None):
        """Histograms of the least-damped natural frequency of every sample: its damping ``Re s/|s|`` (the
        stability boundary at 0) and its frequency ``|Im s|/2π``, stable and unstable samples stacked.
        Returns the matplotlib figure."""
        return plot_yield(self, ax=ax)


def _listed(counted: list[tuple[str, int]], what: str) -> list[str]:
    """At most :data:`MAX_LISTED` messages with their sample counts, and a line for the rest."""
    lines = [f"{m} (in {n} sample{'s' if n != 1 else ''})" for m, n in counted[:MAX_LISTED]]
    rest = counted[MAX_LISTED:]
    if rest:
        lines.append(f"{len(rest)} more distinct {what}s of the per-sample analyses, in "
                     f"{sum(n for _, n in rest)} sample(s) (YieldResult.sample_warnings() lists them)")
    return lines


def plot_yield(result: YieldResult, ax=None):
    """The figure of :meth:`YieldResult.plot` (``ax``: a pair of axes, or ``None`` for a new figure)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    else:
        axes = list(ax)
        fig = axes[0].figure
    codes, margin, pole = result.outcomes.codes, result.outcomes.margin, result.outcomes.pole_hz
    known = np.isfinite(margin)
    groups = [(codes == c) & known for c in (STABLE_CODE, UNCERTAIN_CODE, UNSTABLE_CODE)]
    labels = ["stable", "uncertain", "unstable"]
    colors = ["tab:green", "tab:orange", "tab:red"]
    used = [(g, lab, col) for g, lab, col in zip(groups, labels, colors) if g.any()]
    if used:
        axes[0].hist([margin[g] for g, _, _ in used], bins=40, stacked=True, label=[u[1] for u in used],
                     color=[u[2] for u in used])
        freq = np.abs(pole.imag)
        axes[1].hist([freq[g] for g, _, _ in used], bins=40, stacked=True, label=[u[1] for u in used],
                     color=[u[2] for u in used])
        axes[0].legend()
    axes[0].axvline(0.0, color="k", lw=0.8)
    axes[0].set_xlabel("Re s / |s| of the least-damped pole (> 0: unstable)")
    axes[0].set_ylabel("samples")
    axes[1].set_xlabel("its frequency |Im s|/2π (Hz)")
    lo, hi = result.ci95
    axes[0].set_title(f"{result.stable}/{result.samples} stable, 95 % CI {100 * lo:.1f}–{100 * hi:.1f} %")
    if result.samples - int(known.sum()):
        axes[1].set_title(f"{result.samples - int(known.sum())} sample(s) without poles not shown")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- running
def yield_analysis(circuit: Circuit, vary: Mapping[str, str | Distribution] | Sequence[Variation], samples: int,
                   *, seed: int | None = None, method: str = "auto", fmin: float | None = None,
                   fmax: float | None = None, workers: int | None = None, scheduler=None,
                   progress: bool | None = None, warm_start: bool = True) -> YieldResult:
    """Monte-Carlo yield: the fraction of ``samples`` random circuits that is stable.

    Parameters
    ----------
    circuit : Circuit
        The nominal circuit (overrides already applied).
    vary : mapping or sequence
        ``{name: "tol:5%" | Distribution}``, or :class:`Variation` objects from :func:`bind_variations`.
    samples : int
        Number of samples ``N`` (≥ 1).
    seed : int, optional
        Seed of the sample stream; the same seed gives the same samples and the same counts wherever they
        run. ``None``: a fresh seed, reported in the result.
    method : {"auto", "poles", "ndf"}
        The verdict's method (:func:`~stabkit.analysis.verdict.decide`).
    fmin, fmax : float, optional
        The NDF's band (Hz).
    workers : int, optional
        Local worker processes (default: every core; 1 runs in this process). Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://host:8786``) or a connected ``distributed.Client``: the samples run
        on that cluster.
    progress : bool, optional
        Draw a progress bar on stderr (default: on a terminal, unless quiet).
    warm_start : bool
        Transistor circuits: start every sample's DC Newton from the nominal operating point (about 5
        iterations instead of 30; the usual continuation from 0 V when that fails). ``False``: from 0 V.

    Returns
    -------
    YieldResult

    Raises
    ------
    ParameterError
        Unknown names or bad distributions.
    SchedulerError
        The Dask scheduler cannot be reached or has no workers.
    """
    from stabkit.analysis.verdict import METHODS

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ParameterError(f"the number of samples must be a positive integer, got {samples!r}")
    if isinstance(vary, Mapping):
        items = [(str(k).lower(), d if isinstance(d, Distribution) else parse_distribution(str(d)))
                 for k, d in vary.items()]
        variations = bind_variations(circuit, items)
    else:
        variations = list(vary)
    if not variations:
        raise ParameterError("nothing to vary: give at least one NAME=DIST")
    seed = secrets.randbits(32) if seed is None else int(seed)
    values = draw_samples(variations, int(samples), seed)
    job = _prepare(circuit, variations, method, fmin, fmax, warm_start)
    outcomes = SampleOutcomes.empty(values.shape[0])
    bar = _DelayedProgress(values.shape[0], progress)
    start = time.monotonic()
    try:
        if scheduler is not None:
            backend, n_workers, notes = _run_dask(job, values, scheduler, outcomes, bar)
        else:
            n_workers = _default_workers() if workers is None else max(1, int(workers))
            backend, notes = _run_local(job, values, n_workers, outcomes, bar), []
            n_workers = 1 if backend == "serial" else n_workers
    finally:
        bar.close()
    return YieldResult(variations=variations, values=values, outcomes=outcomes, seed=seed, method=method,
                       backend=backend, workers=n_workers, elapsed_s=time.monotonic() - start,
                       title=circuit.title, warnings=notes)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, min(MAX_CHUNK, math.ceil(n / (max(1, workers) * CHUNKS_PER_WORKER))))
    return [(a, min(n, a + size)) for a in range(0, n, size)]


class _DelayedProgress:
    """A progress bar that appears only once a run has lasted :data:`PROGRESS_AFTER_S`."""

    def __init__(self, total: int, enabled: bool | None):
        from stabkit.report.progress import Progress

        self.bar = Progress(total=total, label="yield", enabled=enabled)
        self.start = time.monotonic()
        self.pending = 0

    def update(self, steps: int) -> None:
        self.pending += steps
        if time.monotonic() - self.start >= PROGRESS_AFTER_S:
            self.bar.update(self.pending)
            self.pending = 0

    def close(self) -> None:
        if self.bar.done:
            self.bar.update(self.pending)
        self.bar.close()


# local processes -------------------------------------------------------------------------------
_WORKER_JOB: _Job | None = None


def _local_init(job: _Job) -> None:
    """Process-pool initializer: one BLAS thread, Ctrl-C left to the parent, the job kept for every chunk."""
    from stabkit.analysis.loads import single_threaded_blas

    global _WORKER_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    single_threaded_blas()
    _WORKER_JOB = job


def _local_chunk(values: np.ndarray) -> SampleOutcomes:
    return evaluate_samples(_WORKER_JOB, values)


def _run_local(job: _Job, values: np.ndarray, workers: int, outcomes: SampleOutcomes, bar) -> str:
    n = values.shape[0]
    chunks = _chunks(n, workers)
    if workers <= 1 or len(chunks) <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            for a, b in chunks:
                outcomes.place(a, evaluate_samples(job, values[a:b]))
                bar.update(b - a)
        return "serial"
    # the platform's default start method (fork on Linux up to Python 3.13): scripts need no __main__ guard
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), initializer=_local_init, initargs=(job,))
    futures = {}
    try:
        from stabkit.analysis.loads import _sigint_held

        with _sigint_held():  # the first submit forks the workers (a SIGINT inside fork can hang the next one)
            futures = {pool.submit(_local_chunk, values[a:b]): (a, b) for a, b in chunks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                a, b = futures[f]
                outcomes.place(a, f.result())
                bar.update(b - a)
    except BaseException:  # Ctrl-C or a failing chunk: stop at once, abandon running chunks
        from stabkit.analysis.loads import _terminate

        # no per-future cancel: the broken pool fails its futures itself (cancelling them first races with its
        # manager thread, which then prints an InvalidStateError traceback after "stabkit: interrupted")
        _terminate(pool)
        raise
    pool.shutdown()
    return "processes"


# Dask -------------------------------------------------------------------------------------------
#: name of the worker plugin a yield run installs on a Dask cluster for its duration
DASK_PLUGIN = "stabkit-yield-worker-setup"


def _worker_plugin():
    """A Dask worker plugin for the duration of a run: one BLAS thread per worker process (present and joining
    workers), and the worker's statistical profiler paused — it samples the task thread's Python stack every
    10 ms, which costs these Python-bound samples 10–30 % more CPU. Teardown (when the run unregisters the
    plugin) restores both, so a shared cluster is left as it was found."""
    from distributed import WorkerPlugin

    class YieldWorkerSetup(WorkerPlugin):
        name = DASK_PLUGIN

        def setup(self, worker):
            from threadpoolctl import threadpool_limits

            self.limits = threadpool_limits(limits=1)
            self.paused = []
            for key in ("profile", "profile-cycle"):
                callback = getattr(worker, "periodic_callbacks", {}).get(key)
                if callback is not None and callback.is_running():
                    callback.stop()
                    self.paused.append(callback)

        def teardown(self, worker):
            self.limits.restore_original_limits()
            for callback in self.paused:
                callback.start()

    return YieldWorkerSetup()


def _probe_tcp(address: str) -> None:
    """Fail at once when nothing listens at a ``tcp://host:port`` address (Dask itself retries until its
    timeout); other protocols are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    if "://" in address and not address.startswith("tcp://"):
        return
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise SchedulerError(f"--scheduler {address!r}: expected an address such as tcp://10.0.0.5:8786") from None
    if not host or port is None:
        raise SchedulerError(f"--scheduler {address!r}: expected an address such as tcp://10.0.0.5:8786 "
                             "(host and port)")
    try:
        socket.create_connection((host, port), timeout=DASK_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None


def _run_dask(job: _Job, values: np.ndarray, scheduler, outcomes: SampleOutcomes, bar) -> tuple[str, int, list[str]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SchedulerError("--scheduler needs dask.distributed, which is not installed: "
                             "pip install 'stabkit[dask]'") from None
    own = not isinstance(scheduler, Client)
    if own:
        _probe_tcp(str(scheduler))
        try:
            client = Client(str(scheduler), timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    else:
        client = scheduler
    futures = []
    try:
        try:
            client.wait_for_workers(1, timeout=DASK_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"the Dask scheduler at {client.scheduler.address} has no workers "
                                 f"(waited {DASK_TIMEOUT_S:g} s): start some with 'dask worker ADDRESS "
                                 f"--nthreads 1' ({type(exc).__name__})") from None
        client.register_plugin(_worker_plugin())
        threads = client.nthreads()
        n_workers = len(threads)
        notes = []
        multi = sorted(w for w, t in threads.items() if t > 1)
        if multi:
            notes.append(f"{len(multi)} Dask worker(s) run {max(threads.values())} threads each: samples are "
                         "Python-bound, so threads of one worker share one interpreter lock; start workers with "
                         "'--nthreads 1' and one worker per core (BLAS is single-threaded in each worker already)")
        [job_future] = client.scatter([job], broadcast=True, hash=False)
        chunks = _chunks(values.shape[0], sum(threads.values()))
        futures = [client.submit(evaluate_samples, job_future, values[a:b], pure=False) for a, b in chunks]
        where = {f.key: (a, b) for f, (a, b) in zip(futures, chunks)}
        try:
            for f, chunk in as_completed(futures, loop=client.loop, with_results=True):
                a, b = where[f.key]
                outcomes.place(a, chunk)
                bar.update(b - a)
        except ImportError as exc:  # raised on a worker that has no (or another) stabkit
            raise SchedulerError(f"a Dask worker at {client.scheduler.address} cannot import what the samples need "
                                 f"({exc}): install the same stabkit on every worker") from None
        return "dask", n_workers, notes
    except BaseException:
        if futures:
            client.cancel(futures, force=True)
        raise
    finally:
        try:
            client.unregister_worker_plugin(DASK_PLUGIN)
        except Exception:  # noqa: BLE001 - never registered (no workers), or the connection is gone
            pass
        if own:
            client.close()


# ---------------------------------------------------------------------------------------------- netlists
def sample_circuit(circuit: Circuit, variations: Sequence[Variation], values: Sequence[float]) -> Circuit:
    """A copy of ``circuit`` with one sample's values written in (parameters, element values, model cards)."""
    c = circuit.copy()
    for v, x in zip(variations, values):
        if v.target == "param":
            c.params[v.name] = float(x)
        elif v.target == "element":
            c.element(v.element).values[v.key] = float(x)
        else:
            c.models[v.model].params[v.key] = float(x)
    return c


def flat_netlist(circuit: Circuit, comments: Sequence[str] = ()) -> str:
    """``circuit`` as one flat SPICE netlist that stabkit reads back to the same circuit.

    Subcircuit instances are already flattened in a :class:`Circuit`; their scoped names (``X1.Rcx``, node
    ``x1.bi``, model ``x1.m_d1``, parameter ``x1.p``) are written with ``_`` for ``.`` and, where the first
    letter no longer says the kind, the kind's letter in front (``RX1_Rcx``). Values are written exactly
    (shortest round-trip decimal); parameters keep their expressions. The first line is the title,
    ``comments`` follow as ``*`` lines.

    Raises
    ------
    CircuitError
        For what a flat netlist cannot say: an S-parameter block inside a subcircuit, a G element with a
        transcapacitance (API only), or two names that become one.
    """
    from stabkit.circuit import expr

    def flat(name: str) -> str:
        return name.replace(".", "_")

    pmap = {p: flat(p) for p in circuit.params if "." in p}
    if len(set(map(flat, circuit.params))) != len(circuit.params):
        raise CircuitError("flat netlist: two parameters differ only by '.' against '_'")

    def value(v) -> str:
        if isinstance(v, str):
            return "{" + (expr.rename(v, pmap) if pmap else v) + "}"
        return repr(float(v))

    names: dict[str, str] = {}
    for e in circuit:
        name = flat(e.name)
        if name[0].upper() != e.kind:
            name = e.kind + name
        if name.lower() in {n.lower() for n in names.values()}:
            raise CircuitError(f"flat netlist: {e.name} would be written as {name}, which another element uses")
        names[e.key] = name

    title = (circuit.title or "circuit").replace("\n", " ").lstrip("* ").strip()
    lines = [f"* {title}"]
    lines += [f"* {c}" if c else "*" for c in comments]
    if "temp" in circuit.options:
        lines.append(f".temp {circuit.options['temp']!r}")
    others = {k: v for k, v in circuit.options.items() if k != "temp"}
    if others:
        lines.append(".options " + " ".join(f"{k}={v!r}" for k, v in others.items()))
    for k, v in circuit.params.items():
        lines.append(f".param {flat(k)}={value(v)}")
    for key, m in circuit.models.items():
        cells = []
        for pk, pv in m.params.items():
            if pk == "file":
                cells.append(f'file="{pv}"')
            elif isinstance(pv, str) and not _is_expression_over(pv, circuit.params):
                cells.append(f"{pk}={pv}")  # a word (kept as text by the reader)
            else:
                cells.append(f"{pk}={value(pv)}")
        lines.append(f".model {flat(key)} {m.type}(" + " ".join(cells) + ")")
    for e in circuit:
        name, nodes = names[e.key], " ".join(flat(n) for n in e.nodes)
        vals = e.values
        if e.kind in "RLC":
            lines.append(f"{name} {nodes} {value(vals['value'])}")
        elif e.kind in "GE":
            if vals.get("c"):
                raise CircuitError(f"flat netlist: {e.name} has a transcapacitance, which a SPICE G element cannot say")
            lines.append(f"{name} {nodes} {value(vals['value'])}")
        elif e.kind in "FH":
            lines.append(f"{name} {nodes} {names[e.refs[0].lower()]} {value(vals['value'])}")
        elif e.kind == "K":
            lines.append(f"{name} {' '.join(names[r.lower()] for r in e.refs)} {value(vals['value'])}")
        elif e.kind in "VI":
            lines.append(f"{name} {nodes} dc {value(vals.get('dc', 0.0))} ac {value(vals.get('ac', 0.0))}")
        elif e.kind == "T":
            lines.append(f"{name} {nodes} " + " ".join(f"{k}={value(v)}" for k, v in vals.items() if v is not None))
        elif e.kind == "O":  # a card of its own with its (possibly parameter-dependent) values
            lines.append(f".model {name}_ltra ltra " + " ".join(f"{k}={value(vals[k])}" for k in ("r", "l", "g", "c", "len")))
            lines.append(f"{name} {nodes} {name}_ltra")
        elif e.kind in "DQ":
            extra = " ".join(f"{k}={value(vals[k])}" for k in ("m", "temp", "dtemp") if k in vals)
            area = f" {value(vals['area'])}" if "area" in vals else ""
            lines.append(f"{name} {nodes} {flat(e.model.lower())}{area}{(' ' + extra) if extra else ''}")
        elif e.kind == "N":
            if not Path(str(e.model)).is_file():
                raise CircuitError(f"flat netlist: the S-parameter block {e.name} sits inside a subcircuit; "
                                   "its Touchstone file name is not kept")
            lines.append(f'{name} {nodes} file="{Path(str(e.model)).resolve()}"')
        else:  # pragma: no cover - KINDS lists every kind above
            raise CircuitError(f"flat netlist: cannot write {e.describe()}")
    lines.append(".end")
    return "\n".join(lines) + "\n"


def _is_expression_over(text: str, params) -> bool:
    """Is ``text`` an expression whose names are all parameters (not a word such as a model level name)?"""
    from stabkit.circuit import expr

    try:
        return expr.names_in(text) <= set(params)
    except ParameterError:
        return False


def write_worst(result: YieldResult, circuit: Circuit, directory: str | os.PathLike, count: int = 5,
                source: str | None = None) -> list[Path]:
    """Write the ``count`` worst samples of ``result`` as runnable netlists ``worst-01-sample-….cir`` in
    ``directory`` (created); returns their paths, worst first."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    width = len(str(result.samples - 1))
    for rank, index in enumerate(result.worst(count), start=1):
        info = result.worst_dict(index)
        pole = info["rightmost_pole"]
        where = ("least-damped pole s/2π = " + format_eng(pole[0], "Hz") + " ± j" + format_eng(pole[1], "Hz")
                 + f" (Re s/|s| = {info['margin']:.4g})") if pole else "no poles known (NDF only)"
        comments = [f"stabkit yield: worst sample {rank} of {result.samples}: sample {index} (seed {result.seed}), "
                    f"{info['verdict']}; {where}"]
        if "reason" in info:
            comments.append(f"uncertain: {info['reason']}")
        comments += [f"from {source or 'the circuit'}; varied: " + ", ".join(
                        f"{k} = {format_eng(x, digits=6)}" for k, x in info["set"].items()),
                    "a flat copy: names inside subcircuits are written INSTANCE_NAME ('.' becomes '_')"]
        text = flat_netlist(sample_circuit(circuit, result.variations, result.values[index]), comments)
        path = folder / f"worst-{rank:02d}-sample-{index:0{width}d}.cir"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths

