"""One owner of "is it stable?".

Every command (``poles``, ``ndf``, ``zin``, ``oppoints``, ``loads``, ``report``, ``check``), the pytest fixture
and the plugin get their verdict here, by one path::

    netlist → operating point(s) of every nonlinear device → small-signal circuit (per point)
            → exact poles (lumped) + NDF → cross-check → Verdict

The verdict is one of three words:

``stable``
    every method that ran is sure the circuit has no natural frequency with ``Re s ≥ 0``
    (structural zero modes — charge on a capacitor island, flux in an inductor loop — are conserved
    quantities of the ideal circuit, reported but not counted);
``unstable``
    a method is sure of a natural frequency with ``Re s > 0`` and no method is sure of the opposite;
``uncertain``
    numerical doubt (a non-integer or unsettled NDF count, a pole that cannot be told from the jω axis,
    a finite/infinite split the data cannot decide), a natural frequency on the jω axis (marginal), or
    the exact poles and the NDF disagree. The reason is always given.

A circuit with several operating points (a bistable tunnel-diode switch) is judged at each of them; the
circuit is ``unstable`` if any point is, ``uncertain`` if any point is and none is unstable. Exit codes:
``stable`` 0, ``unstable`` 1, ``uncertain`` 3 (bad input is 2, raised as :class:`~stabkit.errors.StabkitError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from stabkit.analysis.points import LinearPoint, linear_points
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError
from stabkit.units import format_eng

__all__ = ["STABLE", "UNSTABLE", "UNCERTAIN", "EXIT_CODES", "METHODS", "POLES_MAX_UNKNOWNS", "Verdict",
           "PointVerdict", "VALUE_LIMIT", "EXACT_POLES_MAX_UNKNOWNS", "decide", "decide_linear", "judge", "format_pole",
           "worst", "dense_poles_fit", "check_value_range", "check_band", "BAND_LIMITS"]

STABLE, UNSTABLE, UNCERTAIN = "stable", "unstable", "uncertain"
#: process exit code of each verdict (bad input is 2)
EXIT_CODES = {STABLE: 0, UNSTABLE: 1, UNCERTAIN: 3}
#: ``auto``: exact poles and the NDF for lumped circuits, the NDF alone for distributed ones
METHODS = ("auto", "poles", "ndf")
TWO_PI = 2.0 * np.pi
#: above this many MNA unknowns the exact poles (a dense eigen-solution: O(n³) time, about
#: ``DENSE_BYTES_PER_ENTRY·n²`` bytes; minutes at 5000) are left out of ``method="auto"`` and the NDF (sparse,
#: one factorization per frequency) decides alone; ``method="poles"`` refuses such a circuit
POLES_MAX_UNKNOWNS = 5000
#: above this many MNA unknowns the exact full spectrum gives way to the rightmost natural frequencies by
#: shift-invert Arnoldi (:mod:`stabkit.analysis.rightmost`), cross-checked with the NDF count
EXACT_POLES_MAX_UNKNOWNS = 1500
#: peak memory of the dense pole solution per matrix entry (bytes; measured: ~90 at n = 2000)
DENSE_BYTES_PER_ENTRY = 100
#: largest magnitude (SI) of a matrix entry (1/R, C, L, a gain) the analyses take: far beyond any circuit
#: (1 fF..1 F, 1 µΩ..1 TΩ), far inside double precision (whose squares and products overflow beyond ~1e154).
#: Tiny entries are not refused: a reverse-biased junction's 1e-130 S is legitimately negligible.
VALUE_LIMIT = 1e100


def format_pole(p_hz: complex) -> str:
    """``s/2π = 1.2 MHz ± j3.4 GHz (oscillates at 3.4 GHz)`` style text for one pole given in Hz."""
    re = format_eng(p_hz.real, "Hz")
    if abs(p_hz.imag) > 0:
        return f"s/2π = {re} ± j{format_eng(abs(p_hz.imag), 'Hz')} (oscillates at {format_eng(abs(p_hz.imag), 'Hz')})"
    return f"s/2π = {re} (real)"


def worst(verdicts) -> str:
    """The verdict of a set: ``unstable`` if any is, else ``uncertain`` if any is, else ``stable``."""
    verdicts = list(verdicts)
    if UNSTABLE in verdicts:
        return UNSTABLE
    if UNCERTAIN in verdicts:
        return UNCERTAIN
    return STABLE


def judge(pole_result=None, ndf_result=None) -> tuple[str, list[str], list[str]]:
    """Cross-check the exact poles and the NDF: ``(verdict, reasons, warnings)``.

    Both ran: ``stable`` needs both sure of it; two sure answers that differ are ``uncertain``; ``unstable``
    when one is sure of it and the other is not sure of the opposite. One ran: its own verdict. Poles that
    are a part of the spectrum (``complete == False``: shift-invert Arnoldi on large circuits) are complete
    only when the NDF count agrees: an NDF count of unstable modes they did not find is ``uncertain`` (not
    ``unstable`` on the NDF's word alone), and alone they are never ``stable``. ``reasons``
    say why the verdict is ``uncertain`` (empty otherwise); ``warnings`` carry the doubts of a method that was
    overruled and count mismatches."""
    opinions = []
    if pole_result is not None:
        opinions.append(("exact poles", pole_result.verdict, _pole_doubts(pole_result)))
    if ndf_result is not None:
        opinions.append(("NDF", ndf_result.verdict, _ndf_doubts(ndf_result)))
    if not opinions:
        raise ValueError("judge: give the exact poles, the NDF or both")
    verdicts = [v for _, v, _ in opinions]
    doubts = [f"{name}: {d}" for name, v, ds in opinions if v == UNCERTAIN for d in ds]
    partial = pole_result is not None and not getattr(pole_result, "complete", True)
    if len(opinions) == 1:
        verdict = verdicts[0]
        if partial and verdict == STABLE:
            return UNCERTAIN, [f"only the rightmost natural frequencies were computed ({pole_result.method}) and none "
                               "is in the right half-plane; without the NDF count a mode further right may be "
                               "missing"], []
        return verdict, (doubts if verdict == UNCERTAIN else []), []
    if verdicts == [STABLE, STABLE]:
        return STABLE, [], []
    if partial and verdicts[1] == UNSTABLE and verdicts[0] != UNSTABLE:
        # the NDF counts unstable modes the shift-invert search did not find: its completeness fails
        return UNCERTAIN, [f"the NDF counts {ndf_result.encirclements} right-half-plane natural frequenc"
                           f"{'y' if ndf_result.encirclements == 1 else 'ies'} but {pole_result.method} found "
                           f"{pole_result.rhp_count}: a mode was missed (or the count is wrong), so neither is "
                           "confirmed", *doubts], []
    if STABLE in verdicts and UNSTABLE in verdicts:
        return UNCERTAIN, [
            f"the exact poles and the NDF disagree: {_pole_words(pole_result)}, but {_ndf_words(ndf_result)}"], []
    if verdicts == [UNSTABLE, UNSTABLE]:
        warn = []
        if partial and pole_result.rhp_count != ndf_result.encirclements:
            warn.append(f"{pole_result.method} found {pole_result.rhp_count} of the {ndf_result.encirclements} "
                        "right-half-plane natural frequencies the NDF counts (the count is the NDF's)")
        elif pole_result.rhp_count != ndf_result.encirclements:
            warn.append(f"the counts differ: {pole_result.rhp_count} right-half-plane pole(s) but "
                        f"{ndf_result.encirclements} NDF encirclement(s)")
        return UNSTABLE, [], warn
    if UNSTABLE in verdicts:  # the other method is unsure: an instability it could not rule out stands
        return UNSTABLE, [], doubts
    return UNCERTAIN, doubts, []


def _pole_doubts(res) -> list[str]:
    out = list(res.doubts)
    if res.marginal.size:
        shown = "; ".join(format_pole(p) for p in res.marginal / TWO_PI if p.imag >= 0)
        out.append(f"natural frequency on the jω axis (marginal): {shown}")
    return out or ["uncertain"]


def _ndf_doubts(res) -> list[str]:
    out = list(res.doubts)
    if res.marginal:
        out.append("|NDF| vanishes on the jω axis: a natural frequency on (or extremely close to) the axis (marginal)")
    return out or ["uncertain"]


def _pole_words(res) -> str:
    if res.rhp_count:
        return f"the exact poles put {res.rhp_count} in the right half-plane"
    return "the exact poles are all in the left half-plane"


def _ndf_words(res) -> str:
    n = res.encirclements
    return f"the NDF encircles the origin {n} time{'s' if n != 1 else ''}" if n else "the NDF does not encircle the origin"


@dataclass
class PointVerdict:
    """The verdict at one operating point, with its evidence: the exact poles (lumped circuits) and the NDF."""

    point: LinearPoint
    verdict: str
    poles: object | None = None  # PoleResult
    ndf: object | None = None  # NDFResult
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        return self.verdict == STABLE

    @property
    def circuit(self) -> Circuit:
        return self.point.circuit

    @property
    def rhp_count(self) -> int | None:
        """Unstable natural frequencies: the exact count where all poles are known, else the NDF's."""
        if self.poles is not None and (self.poles.complete or self.ndf is None):
            return int(self.poles.rhp_count)
        return None if self.ndf is None else int(self.ndf.encirclements)

    @property
    def encirclements(self) -> int | None:
        return None if self.ndf is None else int(self.ndf.encirclements)

    def evidence(self) -> list[str]:
        """Lines with the numbers behind the verdict."""
        lines = []
        if self.point.kind != "linear" and self.point.count > 1:
            lines.append(f"{self.point.label}: " + ", ".join(
                f"{d['name']} at {format_eng(d['v'], 'V')}, {format_eng(d['i'], 'A')}" for d in self.point.devices))
        if self.ndf is not None:
            per = ", ".join(f"{s.name}: {s.encirclements}" for s in self.ndf.sources) or "none"
            lines.append(f"NDF: {self.ndf.encirclements} clockwise encirclement(s) of the origin; per source: {per}")
        if self.poles is not None:
            p = self.poles
            rhp = p.poles_hz[p.rhp_mask]
            if rhp.size:
                lines.append(f"{p.rhp_count} right-half-plane pole(s): "
                             + "; ".join(format_pole(z) for z in rhp if z.imag >= 0))
            elif p.marginal.size:
                lines.append(f"{p.marginal.size} pole(s) on the jω axis: "
                             + "; ".join(format_pole(z) for z in p.marginal / TWO_PI if z.imag >= 0))
            elif not p.complete:
                lines.append(f"the {p.poles.size} rightmost natural frequencies found ({p.method}) are in the left "
                             "half-plane")
            else:
                lines.append(f"all {p.poles.size} natural frequencies in the left half-plane")
            if p.zero_modes:
                lines.append(f"{p.zero_modes} structural zero mode(s) at s = 0 (conserved charge/flux), not counted")
        if self.point.tangent:
            lines.append("the load line touches the device curve here (a tangent point)")
        lines += [f"uncertain: {r}" for r in self.reasons]
        return lines

    def to_dict(self) -> dict:
        out = {**self.point.to_dict(), "verdict": self.verdict, "stable": self.stable,
               "rhp_count": self.rhp_count, "encirclements": self.encirclements,
               "warnings": [*self.reasons, *self.warnings]}
        if self.poles is not None:
            out["poles"] = [[float(z.real), float(z.imag)] for z in self.poles.poles_hz]
        return out


@dataclass
class Verdict:
    """The stability verdict of a circuit: one :class:`PointVerdict` per operating point judged and the
    overall word. ``poles``, ``ndf``, ``circuit`` are those of the *deciding* point (the first unstable one,
    else the first uncertain one, else the first)."""

    verdict: str
    points: list[PointVerdict]
    method: str = "auto"
    title: str = ""
    params: dict[str, float] = field(default_factory=dict)

    @property
    def stable(self) -> bool:
        return self.verdict == STABLE

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def deciding(self) -> PointVerdict:
        for word in (UNSTABLE, UNCERTAIN):
            for p in self.points:
                if p.verdict == word:
                    return p
        return self.points[0]

    @property
    def poles(self):
        return self.deciding.poles

    @property
    def ndf(self):
        return self.deciding.ndf

    @property
    def circuit(self) -> Circuit:
        return self.deciding.circuit

    @property
    def rhp_count(self) -> int | None:
        return self.deciding.rhp_count

    @property
    def encirclements(self) -> int | None:
        return self.deciding.encirclements

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is ``uncertain`` (empty otherwise)."""
        if self.verdict != UNCERTAIN:
            return []
        out = []
        for p in self.points:
            if p.verdict == UNCERTAIN:
                prefix = f"{p.point.label}: " if len(self.points) > 1 else ""
                out += [prefix + r for r in p.reasons]
        return out

    @property
    def warnings(self) -> list[str]:
        out: list[str] = []
        for p in self.points:
            for w in [*p.point.warnings, *p.warnings, *p.reasons]:
                if w not in out:
                    out.append(w)
        return out

    def summary(self) -> str:
        """One line: ``STABLE``, ``UNSTABLE: …`` or ``UNCERTAIN: …``."""
        if self.verdict == STABLE:
            many = f" at all {len(self.points)} operating points" if len(self.points) > 1 else ""
            return f"STABLE{many}: no natural frequency in the right half-plane"
        d = self.deciding
        where = f" ({d.point.label})" if len(self.points) > 1 else ""
        if self.verdict == UNSTABLE:
            n = d.rhp_count
            what = (f"{n} unstable natural frequenc{'y' if n == 1 else 'ies'}" if n else "unstable")
            if d.poles is not None and d.poles.rhp_count:
                top = max(d.poles.poles_hz[d.poles.rhp_mask], key=lambda z: z.real)
                what += f", rightmost {format_pole(top)}"
            return f"UNSTABLE{where}: {what}"
        return f"UNCERTAIN{where}: {self.reasons[0] if self.reasons else 'numerical doubt'}"

    def evidence(self) -> list[str]:
        lines = []
        for p in self.points:
            lines += p.evidence()
        return lines

    def to_dict(self) -> dict:
        """The fields every analysis command's JSON carries: ``verdict``, ``stable``, ``warnings``, ``reasons``
        and, for circuits with more than one operating point or with nonlinear devices, ``points``."""
        out = {"verdict": self.verdict, "stable": self.stable, "warnings": self.warnings, "reasons": self.reasons,
               "method": self.method}
        if len(self.points) > 1 or self.points[0].point.kind != "linear":
            out["points"] = [p.to_dict() for p in self.points]
        return out

    def plot(self, ax=None):
        """The NDF of the deciding point (polar locus with the running count)."""
        if self.ndf is None:
            raise ValueError("no NDF was computed for this verdict (method='poles')")
        return self.ndf.plot(ax=ax)


def _available_memory() -> float | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return None


#: the frequencies (Hz) an NDF band may span: a period of 30 000 years to a zeptosecond, beyond any circuit and
#: inside double precision (the sweep's log-spaced grid and ω² stay finite)
BAND_LIMITS = (1e-12, 1e18)


def check_band(fmin: float | None, fmax: float | None) -> None:
    """Refuse an NDF band outside :data:`BAND_LIMITS` or upside down (``ValueError`` naming the value)."""
    lo, hi = BAND_LIMITS
    for name, f in (("fmin", fmin), ("fmax", fmax)):
        if f is not None and not (np.isfinite(f) and lo <= f <= hi):
            raise ValueError(f"{name} = {f:g} Hz is outside the band stabkit analyses ({lo:g} Hz … {hi:g} Hz)")
    if fmin is not None and fmax is not None and not fmin < fmax:
        raise ValueError(f"fmin = {fmin:g} Hz must be below fmax = {fmax:g} Hz")


def dense_poles_fit(n: int) -> tuple[bool, str]:
    """Can the exact poles of an ``n``-unknown system be computed here? ``(fits, why not)``: no when ``n`` exceeds
    :data:`POLES_MAX_UNKNOWNS` or the dense solution would need more than half the available memory."""
    need = DENSE_BYTES_PER_ENTRY * float(n) ** 2
    if n > POLES_MAX_UNKNOWNS:
        return False, (f"{n} unknowns: the exact poles (a dense eigen-solution, O(n³)) are computed up to "
                       f"{POLES_MAX_UNKNOWNS} unknowns")
    avail = _available_memory()
    if avail is not None and need > 0.5 * avail:
        return False, (f"{n} unknowns: the exact poles would need about {need / 1e9:.1f} GB of memory, "
                       f"{avail / 1e9:.1f} GB are available")
    return True, ""


def _beyond_limit(values) -> np.ndarray:
    mag = np.abs(np.asarray(values, dtype=float))
    return ~np.isfinite(mag) | (mag > VALUE_LIMIT)


def check_value_range(system) -> None:
    """Raise :class:`CircuitError` naming the element (file:line) when an entry of the assembled ``system`` is not
    finite or exceeds :data:`VALUE_LIMIT` (a resistance below 1/VALUE_LIMIT, an L, C or gain above it): the
    analyses would overflow."""
    entries = [system.G0.data, system.C0.data, system.a0, system.a1]
    if not any(_beyond_limit(x).any() for x in entries):
        return
    circuit, resolved = system.circuit, system.params
    for e in circuit:
        try:
            value = circuit.values(e, resolved).get("value")
        except Exception:  # noqa: BLE001 - assembly succeeded, so this cannot fail; keep looking elsewhere
            continue
        if not isinstance(value, float):
            continue
        if e.kind == "R" and value != 0 and (not np.isfinite(value) or abs(value) < 1.0 / VALUE_LIMIT):
            raise CircuitError(f"{e.where()}: {e.name} value = {value:g} is below the smallest resistance stabkit "
                               f"analyses ({1.0 / VALUE_LIMIT:g} Ω; 1/R would overflow)")
        if e.kind != "R" and _beyond_limit([value])[0]:
            raise CircuitError(f"{e.where()}: {e.name} value = {value:g} is beyond what stabkit analyses "
                               f"(|value| up to {VALUE_LIMIT:g} in SI units)")
    raise CircuitError(f"a matrix entry of the circuit is beyond what stabkit analyses ({VALUE_LIMIT:g}): an element "
                       "value (or the ratio of two) is extreme")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def decide_linear(circuit: Circuit, params: Mapping[str, float] | None = None, *, method: str = "auto",
                  fmin: float | None = None, fmax: float | None = None,
                  point: LinearPoint | None = None) -> PointVerdict:
    """The verdict of a *linear* circuit (``params``: ``.param`` overrides, applied at assembly)."""
    from stabkit.analysis.mna import assemble
    from stabkit.analysis.ndf import ndf
    from stabkit.analysis.poles import poles

    _check_method(method)
    point = point if point is not None else LinearPoint(index=1, count=1, circuit=circuit)
    check_band(fmin, fmax)
    system = assemble(circuit, params)
    check_value_range(system)
    use_poles = method in ("auto", "poles")
    if use_poles and not system.is_lumped:
        if method == "poles":
            from stabkit.errors import DistributedCircuitError

            names = sorted({d.element for d in system.distributed})
            raise DistributedCircuitError(f"the circuit has distributed elements ({', '.join(names)}): exact poles "
                                          "do not apply; use the NDF (method 'ndf' or 'auto')")
        use_poles = False
    size_note = []
    rightmost = False
    if use_poles:
        fits, why = dense_poles_fit(system.n)
        if system.n > EXACT_POLES_MAX_UNKNOWNS and fits:
            fits, why = False, (f"{system.n} unknowns: the exact poles (a dense eigen-solution, O(n³)) are computed up "
                                f"to {EXACT_POLES_MAX_UNKNOWNS} unknowns")
        if not fits:
            rightmost = True
            size_note = [f"{why}: the rightmost natural frequencies by shift-invert Arnoldi instead (sparse), "
                         + ("complete only where they match the NDF count" if method == "auto" else
                            "a part of the spectrum")]
    # the exact poles first, so that the NDF takes its band from them instead of solving the same pencil again;
    # a failure is raised where it always was, after the NDF
    pole_result, pole_failure = None, None
    if use_poles and not rightmost:
        try:
            pole_result = poles(system)
        except Exception as exc:  # noqa: BLE001 - re-raised below, unchanged
            pole_failure = exc
    ndf_result, ndf_refusal = None, None
    if method in ("auto", "ndf"):
        try:
            ndf_result = ndf(system, fmin=fmin, fmax=fmax, exact_poles=pole_result)
        except CircuitError as exc:  # a degenerate contour on a valid circuit: no count, so no sure answer
            if not str(exc).startswith("the return-difference matrix is singular on the contour"):
                raise
            ndf_refusal = f"NDF: no count: {exc}"
    if pole_failure is not None:
        raise pole_failure
    if use_poles and rightmost:
        from stabkit.analysis.rightmost import rightmost_poles

        # the shifts start where the NDF's contour starts (below the slowest natural frequencies it found)
        band = {} if ndf_result is None else {"fmin": ndf_result.fmin}
        if ndf_result is not None and fmax is not None:
            band["fmax"] = ndf_result.fmax
        pole_result = rightmost_poles(system, expected_rhp=None if ndf_result is None else ndf_result.encirclements,
                                      **band)
    if ndf_refusal is not None and pole_result is None:
        verdict, reasons, warn = UNCERTAIN, [ndf_refusal], []
    else:
        verdict, reasons, warn = judge(pole_result, ndf_result)
        if ndf_refusal is not None and verdict != UNSTABLE:  # a sure instability of the poles stands
            verdict, reasons = UNCERTAIN, [*reasons, ndf_refusal]
    if point.tangent and verdict != UNSTABLE:
        verdict = UNCERTAIN
        reasons = [*reasons, "the load line touches the device curve at this operating point (a tangent point): "
                             "marginal, any perturbation decides"]
    notes = [*size_note, *warn, *(pole_result.warnings if pole_result is not None else []),
             *([w for w in ndf_result.warnings if w not in ndf_result.doubts] if ndf_result is not None else [])]
    return PointVerdict(point=point, verdict=verdict, poles=pole_result, ndf=ndf_result, reasons=reasons,
                        warnings=notes)


def decide(circuit: Circuit, params: Mapping[str, float] | None = None, *, method: str = "auto",
           fmin: float | None = None, fmax: float | None = None, point: int | None = None, start=None) -> Verdict:
    """Is ``circuit`` stable? Solve its DC operating point(s), linearize every nonlinear device there, and judge
    each small-signal circuit by the exact poles (lumped) and the NDF.

    Parameters
    ----------
    circuit : Circuit
        Any circuit stabkit reads (linear, NDR devices, transistors, lines, S-parameter blocks).
    params : mapping, optional
        Overrides in SI units: ``.param`` names or element names, applied before the DC point is solved.
    method : {"auto", "poles", "ndf"}
        ``auto``: both methods where the circuit is lumped (cross-checked), the NDF where it is not.
    fmin, fmax : float, optional
        The NDF's band (Hz); default from the circuit.
    point : int, optional
        Judge only this operating point (1-based), for circuits with several.
    start : DCPoint, optional
        Circuits without NDR devices: start the DC Newton from this operating point of the same circuit (a warm
        start, used by ``stabkit yield`` from the nominal point); see :func:`~stabkit.nonlinear.dc.dc_points`.

    Returns
    -------
    Verdict
    """
    _check_method(method)
    check_band(fmin, fmax)
    pts = linear_points(circuit, params, start=start)
    if point is not None:
        if not 1 <= point <= len(pts):
            raise CircuitError(f"operating point {point} asked for, but the circuit has {len(pts)} "
                               f"(choose 1..{len(pts)})")
        pts = [pts[point - 1]]
    judged = [decide_linear(p.circuit, method=method, fmin=fmin, fmax=fmax, point=p) for p in pts]
    resolved = pts[0].circuit.resolve_params()
    return Verdict(verdict=worst(p.verdict for p in judged), points=judged, method=method,
                   title=circuit.title, params=resolved)
