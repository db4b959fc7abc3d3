"""Which element damps a mode? First-order sensitivity of a natural frequency to every element and parameter.

At a simple natural frequency ``s`` of the pencil ``G + s·C`` with right null vector ``x``
(``(G + sC) x = 0``) and left null vector ``y`` (``yᴴ (G + sC) = 0``), a change of one value ``p`` moves
the pole by

    ds/dp = − yᴴ (∂G/∂p + s·∂C/∂p) x / (yᴴ C x)

(differentiate ``(G + sC) x = 0`` and multiply by ``yᴴ`` from the left). Everything here is a free function
on the pencil:

- :func:`refine_eigentriple` — the left and right null vectors at a pole, by inverse iteration with a
  shift next to the pole (one LU of ``G + σC``, solved with it and with its conjugate transpose), and the
  pole itself refined by the two-sided Rayleigh quotient; the residual says whether the pole is a genuine
  eigenvalue of the pencil (it does not depend on how the pole was found);
- :func:`element_derivatives` — ``∂G/∂v`` and ``∂C/∂v`` of every element value ``v`` from its MNA stamp
  (exact: the stamps are linear in conductance, capacitance, inductance and gain);
- :func:`element_sensitivities` — ``ds/dv`` for every element of a linear circuit;
- :func:`parameter_sensitivities` — ``ds/dp`` for every ``.param`` of the *original* circuit, from
  ``∂G/∂p``, ``∂C/∂p`` by central differences of the re-assembled pencil; for transistor circuits the
  circuit is re-biased and re-linearized at ``p ± h``, so a parameter that moves the DC point (a supply,
  a bias resistor) is seen through its effect on ``gm``, ``Cπ`` …;
- :func:`sensitivities` — all of it for the right-half-plane (or least-damped) modes of a circuit, ranked;
- :func:`finite_difference_sensitivity` — the independent check: perturb, recompute the poles, difference.

Ranking uses the *relative* sensitivity ``v·∂Re(s)/∂v / 2π`` (Hz per unit relative change of ``v``, i.e. the
shift of ``Re s/2π`` for +100 %, linearized): it compares resistors with capacitors and gains. A negative
value means "increasing this element damps the mode". Values that are zero (a ``.param rc=0``) have no
relative sensitivity; their absolute one (Hz per SI unit) is reported and they are ranked after the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, ParameterError

__all__ = ["EigenTriple", "refine_eigentriple", "element_derivatives", "pole_derivative", "select_modes",
           "Sensitivity", "ModeSensitivity", "SensitivityResult", "element_sensitivities",
           "parameter_sensitivities", "sensitivities", "finite_difference_sensitivity", "mode_location",
           "RESIDUAL_RTOL"]

TWO_PI = 2.0 * np.pi
#: a refined pole whose relative residual ‖(G + sC)x‖/(‖G‖ + |s|‖C‖) exceeds this is not a genuine eigenvalue
RESIDUAL_RTOL = 1e-8
#: element kinds with a main value whose stamp is differentiated
_KINDS = frozenset("RLCGEFHK")


# ----------------------------------------------------------------------------------------- eigenvectors
@dataclass
class EigenTriple:
    """A natural frequency ``s`` (rad/s) with its right (``x``) and left (``y``) null vectors of ``G + sC``.

    ``residual`` is ``max(‖(G + sC)x‖, ‖yᴴ(G + sC)‖) / (‖G‖ + |s|·‖C‖)`` with unit vectors; ``shift`` the
    distance the inverse iteration moved the pole from where it started (relative to ``|s|``)."""

    s: complex
    right: np.ndarray
    left: np.ndarray
    residual: float
    shift: float

    @property
    def genuine(self) -> bool:
        """True when ``s`` is an eigenvalue of the pencil to rounding (residual below :data:`RESIDUAL_RTOL`)."""
        return bool(self.residual <= RESIDUAL_RTOL)


def refine_eigentriple(G, C, s0: complex, *, iterations: int = 6) -> EigenTriple:
    """Right and left null vectors of ``G + s·C`` at the eigenvalue nearest ``s0`` (rad/s), and that eigenvalue.

    Inverse iteration with the fixed shift ``σ = s0·(1 + 10⁻⁹ j)`` (one LU factorization; the left vector
    is iterated with the conjugate-transposed factors), then ``s`` from the two-sided Rayleigh quotient
    ``s = −yᴴGx / yᴴCx``. ``G``, ``C`` dense or sparse ``(n, n)``.

    Parameters
    ----------
    G, C : array_like or sparse matrix
        The pencil (real), as :func:`stabkit.analysis.mna.assemble` gives it (``system.G``, ``system.C``).
    s0 : complex
        A pole (rad/s), e.g. from :func:`stabkit.analysis.poles.poles`.
    iterations : int
        Inverse-iteration steps (convergence is fast: the shift sits next to the pole).

    Returns
    -------
    EigenTriple
    """
    G = G.toarray() if sp.issparse(G) else np.asarray(G, dtype=float)
    C = C.toarray() if sp.issparse(C) else np.asarray(C, dtype=float)
    n = G.shape[0]
    s0 = complex(s0)
    scale = max(abs(s0), 1.0)
    sigma = s0 + 1e-9j * scale if s0.imag == 0 else s0 * (1 + 1e-9j)
    with np.errstate(all="ignore"):
        lu = la.lu_factor(G + sigma * C, check_finite=False)
    rng = np.random.default_rng(12345)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    y = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    for _ in range(iterations):
        x = la.lu_solve(lu, C @ x, check_finite=False)
        y = la.lu_solve(lu, C.T @ y, trans=2, check_finite=False)
        x /= la.norm(x)
        y /= la.norm(y)
    denom = np.vdot(y, C @ x)
    s = complex(-np.vdot(y, G @ x) / denom) if denom != 0 else s0
    if s0.imag == 0 and abs(s.imag) <= 1e-9 * abs(s):
        s = complex(s.real, 0.0)
    norm = la.norm(G, 1) + abs(s) * la.norm(C, 1)
    res = max(la.norm((G + s * C) @ x), la.norm(y.conj() @ (G + s * C))) / max(norm, 1e-300)
    return EigenTriple(s=s, right=x, left=y, residual=float(res), shift=float(abs(s - s0) / max(abs(s0), 1e-300)))


# ----------------------------------------------------------------------------------------- stamps
def _vec(system: MNASystem, entries: Iterable[tuple[str, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for key, sign in entries:
        if key == GROUND:
            continue
        i = system.node_index[key]
        out[i] = out.get(i, 0.0) + sign
    return out


def _outer(u: dict[int, float], w: dict[int, float], factor: float, n: int) -> sp.csc_matrix:
    rows, cols, vals = [], [], []
    for i, a in u.items():
        for j, b in w.items():
            rows.append(i)
            cols.append(j)
            vals.append(a * b * factor)
    return sp.csc_matrix((vals, (rows, cols)), shape=(n, n))


def element_derivatives(system: MNASystem) -> dict[str, tuple[float, sp.csc_matrix | None, sp.csc_matrix | None]]:
    """``{element name: (value, ∂G/∂value, ∂C/∂value)}`` for every R, L, C, G, E, F, H and K of a lumped
    system, from the element stamps (``None`` where the derivative is zero).

    The derivatives are exact: resistors stamp ``1/R`` (so ``∂/∂R = −1/R²`` times the stamp), capacitors and
    inductors their value, dependent sources their gain, a coupling ``k`` the mutual inductance
    ``k·√(L1·L2)``. Elements whose value is an expression are differentiated with respect to the value itself."""
    circuit, params, n = system.circuit, system.params, system.n
    active = {a.name.lower(): k for k, a in enumerate(system.active)}
    out: dict[str, tuple[float, sp.csc_matrix | None, sp.csc_matrix | None]] = {}
    for e in circuit:
        if e.kind not in _KINDS:
            continue
        value = float(circuit.values(e, params)["value"])
        dG = dC = None
        if e.key in active:  # dependent sources, negative R/L/C: the U·diag(a)·Eᵀ column of the system
            k = active[e.key]
            col = (system.U[:, k] @ system.E[:, k].T).tocsc()
            if e.kind == "R":
                dG = col * (-1.0 / value ** 2)
            elif e.kind in ("C", "L"):
                dC = col
            else:  # the gain (a VCCS's transcapacitance "c" is a separate value, not differentiated)
                dG = col
        elif e.kind == "R":
            inc = _vec(system, [(e.nodes[0], 1.0), (e.nodes[1], -1.0)])
            dG = _outer(inc, inc, -1.0 / value ** 2, n)
        elif e.kind == "C":
            inc = _vec(system, [(e.nodes[0], 1.0), (e.nodes[1], -1.0)])
            dC = _outer(inc, inc, 1.0, n)
        elif e.kind == "L":
            br = system.branch_index[e.key]
            dC = sp.csc_matrix(([-1.0], ([br], [br])), shape=(n, n))
        elif e.kind == "K":
            l1, l2 = (circuit.element(r) for r in e.refs)
            v1, v2 = (float(circuit.values(x, params)["value"]) for x in (l1, l2))
            b1, b2 = system.branch_index[l1.key], system.branch_index[l2.key]
            m = -np.sqrt(v1 * v2)
            dC = sp.csc_matrix(([m, m], ([b1, b2], [b2, b1])), shape=(n, n))
        else:  # pragma: no cover - active kinds are all in `active`
            continue
        out[e.name] = (value, dG, dC)
    return out


def pole_derivative(triple: EigenTriple, C, dG=None, dC=None) -> complex:
    """``ds/dp = −yᴴ(∂G/∂p + s·∂C/∂p)x / (yᴴCx)`` (rad/s per unit of ``p``) at the pole of ``triple``."""
    x, y, s = triple.right, triple.left, triple.s
    denom = np.vdot(y, C @ x)
    num = 0j
    if dG is not None:
        num += np.vdot(y, dG @ x)
    if dC is not None:
        num += s * np.vdot(y, dC @ x)
    return complex(-num / denom)


# ----------------------------------------------------------------------------------------- results
@dataclass
class Sensitivity:
    """``ds/dp`` of one mode to one value: an element's (``kind`` its SPICE letter) or a ``.param``'s
    (``kind == "param"``). ``derivative`` in rad/s per SI unit."""

    name: str
    kind: str
    value: float
    derivative: complex

    @property
    def re_hz_per_unit(self) -> float:
        """``∂Re(s)/∂p / 2π`` (Hz per SI unit of ``p``)."""
        return float(self.derivative.real / TWO_PI)

    @property
    def im_hz_per_unit(self) -> float:
        return float(self.derivative.imag / TWO_PI)

    @property
    def re_hz_relative(self) -> float:
        """``p·∂Re(s)/∂p / 2π`` (Hz per unit relative change): negative = increasing ``p`` damps the mode."""
        return float(self.value * self.derivative.real / TWO_PI)

    @property
    def im_hz_relative(self) -> float:
        return float(self.value * self.derivative.imag / TWO_PI)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "value": self.value,
                "dre_hz_per_unit": self.re_hz_per_unit, "dim_hz_per_unit": self.im_hz_per_unit,
                "dre_hz_relative": self.re_hz_relative, "dim_hz_relative": self.im_hz_relative}


def _ranked(items: Sequence[Sensitivity]) -> list[Sensitivity]:
    with_value = sorted((s for s in items if s.value != 0), key=lambda s: -abs(s.re_hz_relative))
    zero = sorted((s for s in items if s.value == 0), key=lambda s: -abs(s.re_hz_per_unit))
    return with_value + zero


@dataclass
class ModeSensitivity:
    """One mode: its pole (``pole_hz = s/2π``), where it lives and its ranked sensitivities."""

    pole_hz: complex
    residual: float
    genuine: bool
    #: node voltages of the mode (right null vector), largest first: ``(node, |v|/max|v|)``
    location: list[tuple[str, float]]
    elements: list[Sensitivity]
    parameters: list[Sensitivity] = field(default_factory=list)
    #: the devices (subcircuit instances / transistors) whose internal nodes carry most of the mode, with their
    #: share of Σ|v|² over device-internal nodes, e.g. ``"X1 55 %, X2 45 %"``
    device: str | None = None

    @property
    def rhp(self) -> bool:
        return self.pole_hz.real > 0

    def damping(self, top: int = 3) -> list[Sensitivity]:
        """The ``top`` elements whose increase moves the pole left the most."""
        return [s for s in self.elements if s.re_hz_relative < 0][:top]

    def describe(self, top: int = 3) -> str:
        """One sentence: where the mode lives and which elements damp it most."""
        where = ", ".join(n for n, _ in self.location[:4])
        who = f" (device-internal share: {self.device})" if self.device else ""
        damp = ", then ".join(f"{s.name} ({_hz(s.re_hz_relative)} per +100 %)" for s in self.damping(top))
        what = "unstable" if self.rhp else "least-damped"
        text = (f"{what} mode s/2π = {_hz(self.pole_hz.real)} ± j{_hz(abs(self.pole_hz.imag))} "
                f"lives on {where}{who}")
        return text + (f"; increasing {damp} damps it most" if damp else "; no element's increase damps it")

    def ranked(self, top: int = 10) -> list[Sensitivity]:
        """The ``top`` elements and parameters with a nonzero value, by ``|re_hz_relative|``, largest first."""
        items = [x for x in [*self.elements, *self.parameters] if x.value != 0]
        return sorted(items, key=lambda x: -abs(x.re_hz_relative))[:top]

    def plot(self, ax=None, top: int = 10):
        """Bar chart of the ``top`` relative sensitivities (:func:`stabkit.report.plots.plot_sensitivities`)."""
        from stabkit.report.plots import plot_sensitivities

        items = self.ranked(top)
        labels = [x.name + (" (param)" if x.kind == "param" else "") for x in items]
        return plot_sensitivities(labels, [x.re_hz_relative for x in items], self.pole_hz, ax=ax)

    def to_dict(self) -> dict:
        return {"pole_hz": [float(self.pole_hz.real), float(self.pole_hz.imag)], "residual": self.residual,
                "genuine": self.genuine, "device": self.device,
                "location": [[n, float(w)] for n, w in self.location],
                "elements": [s.to_dict() for s in self.elements],
                "parameters": [s.to_dict() for s in self.parameters],
                "summary": self.describe()}


@dataclass
class SensitivityResult:
    """Sensitivities of the selected modes of one circuit (``which``: how they were selected)."""

    modes: list[ModeSensitivity]
    which: str
    params: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> list[dict]:
        return [m.to_dict() for m in self.modes]

    def text(self, top: int = 8) -> str:
        """A ranked table per mode (elements, then parameters)."""
        lines = []
        for m in self.modes:
            lines.append(m.describe())
            lines.append(f"  {'element':24s} {'value':>12s} {'dRe/2π per +100 %':>20s} {'dIm/2π per +100 %':>20s}")
            for s in m.elements[:top]:
                lines.append(f"  {s.name:24s} {s.value:12.4g} {_hz(s.re_hz_relative):>20s} {_hz(s.im_hz_relative):>20s}")
            if m.parameters:
                lines.append(f"  {'parameter':24s} {'value':>12s} {'dRe/2π per +100 %':>20s} {'dRe/2π per unit':>20s}")
                for s in m.parameters[:top]:
                    rel = _hz(s.re_hz_relative) if s.value else "-"
                    lines.append(f"  {s.name:24s} {s.value:12.4g} {rel:>20s} {s.re_hz_per_unit:>20.4g}")
        return "\n".join(lines)

    def plot(self, ax=None, top: int = 10, mode: int = 0):
        """Bar chart of the ``top`` relative sensitivities of mode ``mode`` (the first by default)."""
        return self.modes[mode].plot(ax=ax, top=top)


def _hz(x: float) -> str:
    from stabkit.units import format_eng

    return format_eng(x, "Hz")


# ----------------------------------------------------------------------------------------- selection
def select_modes(poles_rad: np.ndarray, which: str | int = "auto") -> np.ndarray:
    """The modes to analyse (one per conjugate pair, ``Im s ≥ 0``).

    ``"rhp"``: every right-half-plane pole; ``"least-damped"``: the pole with the largest ``Re s/|s|``;
    ``"auto"``: the RHP poles, or the least-damped one when there are none; an integer ``k``: the ``k``
    poles with the largest ``Re s/|s|``."""
    p = np.asarray(poles_rad, dtype=complex)
    p = p[p.imag >= 0]
    if p.size == 0:
        return p
    ratio = p.real / np.maximum(np.abs(p), 1e-300)
    order = np.argsort(-ratio)
    if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
        return p[order[: int(which)]]
    if which not in ("auto", "rhp", "least-damped"):
        raise ValueError(f"which must be 'auto', 'rhp', 'least-damped' or a count, got {which!r}")
    rhp = p[(p.real > 0) & (ratio > 1e-9)]
    if which == "rhp" or (which == "auto" and rhp.size):
        return rhp[np.argsort(-rhp.real)]
    return p[order[:1]]


def mode_location(system: MNASystem, right: np.ndarray, top: int = 8) -> tuple[list[tuple[str, float]], str | None]:
    """Node voltages of a mode, largest first, and the two devices (the first dotted part of node names such
    as ``x2.q1.ci``) with the largest shares of ``Σ|v|²`` over device-internal nodes, as text."""
    nodes = list(system.node_index.items())
    mags = np.array([abs(right[i]) for _, i in nodes])
    if mags.size == 0 or mags.max() == 0:
        return [], None
    mags = mags / mags.max()
    order = np.argsort(-mags)
    loc = [(nodes[i][0], float(mags[i])) for i in order[:top]]
    share: dict[str, float] = {}
    for (name, _), m in zip(nodes, mags):
        if "." in name:
            share[name.split(".")[0]] = share.get(name.split(".")[0], 0.0) + m * m
    if not share:
        return loc, None
    total = sum(share.values())
    ranked = sorted(share, key=share.get, reverse=True)[:2]
    return loc, ", ".join(f"{d.upper()} {100 * share[d] / total:.0f} %" for d in ranked)


# ----------------------------------------------------------------------------------------- analyses
def element_sensitivities(system: MNASystem, triple: EigenTriple) -> list[Sensitivity]:
    """``ds/dv`` of the mode ``triple`` to every element value of the linear ``system``, ranked."""
    C = system.C
    out = [Sensitivity(name, system.circuit.element(name).kind, value, pole_derivative(triple, C, dG, dC))
           for name, (value, dG, dC) in element_derivatives(system).items()]
    return _ranked(out)


def _linearized(circuit: Circuit, params: Mapping[str, float] | None, point: int | None):
    """(linear circuit, LinearPoint) at ``params``; ``point`` picks one of several DC points (1-based)."""
    from stabkit.analysis.points import linear_points

    pts = linear_points(circuit, params)
    k = (point or 1) - 1
    if not 0 <= k < len(pts):
        raise CircuitError(f"operating point {point} asked for, but the circuit has {len(pts)}")
    return pts[k].circuit, pts[k]


def parameter_sensitivities(circuit: Circuit, params: Mapping[str, float] | None, triple: EigenTriple,
                            base: MNASystem, *, names: Iterable[str] | None = None, rel_step: float = 1e-4,
                            bias_rel_step: float = 1e-3, abs_step: float = 1e-6,
                            point: int | None = None) -> list[Sensitivity]:
    """``ds/dp`` for ``.param`` entries of the *original* ``circuit`` (nonlinear devices included), ranked.

    ``∂G/∂p`` and ``∂C/∂p`` are central differences of the pencil re-assembled at ``p ± h``. A parameter that
    leaves the DC point alone changes the small-signal circuit only through element values: ``h = rel_step·|p|``
    on the circuit linearized once. One that moves the DC point (a supply, a bias resistor) is seen through its
    effect on ``gm``, ``Cπ`` …: the circuit is re-biased and re-linearized at ``p ± h`` with the larger
    ``h = bias_rel_step·|p|`` (the DC solution carries rounding noise that a tiny step would amplify). Where
    ``p = 0``, ``h = abs_step``. ``base`` is the assembled linear system at ``params`` (its unknowns fix the
    ordering); parameters whose perturbed systems have other unknowns are skipped."""
    from stabkit.analysis.points import _bias_shift, diode_held_nodes, linear_points, nonlinear_kinds

    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    resolved = circuit.resolve_params(fixed)
    nonlinear = any(nonlinear_kinds(circuit))
    ignore = diode_held_nodes(circuit) if nonlinear else set()
    base_point = linear_points(circuit, fixed)[(point or 1) - 1] if nonlinear else None
    wanted = list(names) if names is not None else list(circuit.params)
    out = []
    for name in wanted:
        key = name.lower()
        if key not in resolved:
            raise ParameterError(f"no parameter {name!r}; the circuit has: {', '.join(circuit.params) or 'none'}")
        if not _is_number(circuit.params[key]) and key not in fixed:
            continue  # an expression of other parameters: its effect is in theirs
        p0 = resolved[key]
        moves = False
        if nonlinear:
            h = rel_step * abs(p0) if p0 != 0 else abs_step
            trial = linear_points(circuit, {**fixed, key: p0 + h})[(point or 1) - 1]
            moves = _bias_shift(base_point, trial, ignore) is not None
        h = (bias_rel_step if moves else rel_step) * abs(p0) if p0 != 0 else abs_step
        systems = []
        for value in (p0 + h, p0 - h):
            over = {**fixed, key: value}
            if moves:
                lin, _ = _linearized(circuit, over, point)
                systems.append(assemble(lin))
            else:
                systems.append(assemble(base.circuit, {key: value} if key in base.circuit.params else None))
        if any(s.unknowns != base.unknowns for s in systems):
            continue
        dG = (systems[0].G - systems[1].G) / (2 * h)
        dC = (systems[0].C - systems[1].C) / (2 * h)
        out.append(Sensitivity(key, "param", p0, pole_derivative(triple, base.C, dG, dC)))
    return _ranked(out)


def _is_number(v) -> bool:
    return not isinstance(v, str)


def sensitivities(circuit: Circuit, params: Mapping[str, float] | None = None, *, which: str | int = "auto",
                  parameters: bool | Iterable[str] = True, point: int | None = None) -> SensitivityResult:
    """Rank every element and parameter by how much it moves the unstable (or least-damped) modes.

    Parameters
    ----------
    circuit : Circuit
        Any lumped circuit stabkit reads; transistors and diodes are linearized at their DC point first.
    params : mapping, optional
        ``.param`` (or element) overrides, SI units.
    which : {"auto", "rhp", "least-damped"} or int
        Modes to analyse (:func:`select_modes`).
    parameters : bool or iterable of str
        Also the ``.param`` entries of ``circuit`` (all, or these names); re-biased where they move the DC point.
    point : int, optional
        Circuits with several DC operating points: the one to analyse (1-based; default the first).

    Returns
    -------
    SensitivityResult
        One :class:`ModeSensitivity` per mode; element sensitivities refer to the *linearized* circuit's
        elements (``X2.Q1.gm``, ``X2.Q1.cpi`` …), parameter sensitivities to the netlist's ``.param``.
    """
    from stabkit.analysis.poles import poles

    lin, _ = _linearized(circuit, params, point)
    system = assemble(lin)  # the overrides are applied by the linearization
    if not system.is_lumped:
        raise CircuitError("sensitivities need the exact pencil: the circuit has distributed elements")
    modes = select_modes(poles(system).poles, which)
    out, warn = [], []
    for s0 in modes:
        triple = refine_eigentriple(system.G, system.C, s0)
        if not triple.genuine or triple.shift > 1e-6:
            warn.append(f"the pole s/2π = {s0 / TWO_PI:.6g} Hz is not a clean simple eigenvalue of G + sC "
                        f"(inverse iteration: residual {triple.residual:.2g}, moved {triple.shift:.2g} relative): "
                        "its sensitivities are not reliable")
        elems = element_sensitivities(system, triple)
        pars: list[Sensitivity] = []
        if parameters:
            names = None if parameters is True else list(parameters)
            pars = parameter_sensitivities(circuit, params, triple, system, names=names, point=point)
        loc, device = mode_location(system, triple.right)
        out.append(ModeSensitivity(pole_hz=triple.s / TWO_PI, residual=triple.residual, genuine=triple.genuine,
                                   location=loc, elements=elems, parameters=pars, device=device))
    return SensitivityResult(modes=out, which=str(which), params=dict(system.params), warnings=warn)


def finite_difference_sensitivity(circuit: Circuit, name: str, pole_hz: complex,
                                  params: Mapping[str, float] | None = None, *, rel_step: float = 1e-3,
                                  abs_step: float = 1e-6, point: int | None = None) -> complex:
    """``ds/dp / 2π`` (Hz per SI unit) by central differences, the independent check of :func:`sensitivities`:
    set ``name`` to ``p ± h``, recompute the poles and take the one nearest ``pole_hz`` each time.

    A ``.param`` is changed in the original circuit, which is re-biased and re-linearized (as
    :func:`parameter_sensitivities` does); an element is changed in the small-signal circuit at the frozen
    bias (as :func:`element_sensitivities` does)."""
    from stabkit.analysis.poles import poles

    fixed = {k.lower(): float(v) for k, v in (params or {}).items()}
    key = name.lower()
    lin0, _ = _linearized(circuit, fixed, point)
    if key in circuit.params:
        p0 = circuit.resolve_params(fixed)[key]
    else:
        p0 = float(lin0.values(lin0.element(key), lin0.resolve_params())["value"])
    h = rel_step * abs(p0) if p0 != 0 else abs_step
    found = []
    for value in (p0 + h, p0 - h):
        if key in circuit.params:
            lin, _ = _linearized(circuit, {**fixed, key: value}, point)
        else:
            lin = lin0.with_values({key: value})
        ev = poles(lin).poles / TWO_PI
        found.append(ev[np.argmin(np.abs(ev - pole_hz))])
    return complex((found[0] - found[1]) / (2 * h))
