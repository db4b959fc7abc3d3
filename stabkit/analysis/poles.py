"""Exact natural frequencies of a lumped circuit: the finite generalized eigenvalues of ``(G, −C)``.

``det(G + s·C) = 0``. ``C`` is singular in MNA (resistive nodes, voltage-source branches), so a plain QZ
solution carries infinite eigenvalues that rounding turns into huge finite ones, and every cutoff between
"large" and "infinite" is wrong for some circuit. Here the infinite eigenvalues are deflated from the
*structure* (:mod:`stabkit.analysis.structure`):

1. zeroed sources are contracted (V) or dropped (I); the node-space null space of ``C`` follows from the
   connected components of the capacitive graph, and an integer change of node coordinates built from the
   element stamps gives ``C`` exact zero rows and columns for every algebraic unknown. No singular value of
   a matrix holding farads beside henries is ever compared with a threshold;
2. structural zero modes (capacitor-only cut-sets, inductor-only loops) are found on the graph, divided
   out exactly and reported as ``zero_modes`` — conserved charge or flux, not poles;
3. the algebraic unknowns are eliminated by a Schur complement of their ``G`` block. Where that block is
   singular (inductor cut-sets, VCVS outputs driving capacitors, ideal NICs: index > 1) an index-reduction
   step combines its rows into a constraint on the dynamic unknowns and deflates one infinite eigenvalue
   with orthogonal/pivoted transformations; the only rank decisions left are on blocks of like units, and
   every decision that drops something is counted into the backward error;
4. the dynamic block (``C_DD`` nonsingular by construction) gives the finite eigenvalues by QZ, each with a
   first-order error bound: condition number (left/right eigenvectors of the full deflated pencil) times
   backward error (the residual of the lifted eigenvector, at least the rounding level and every dropped
   singular value).

A pole whose error disc crosses the jω axis is *doubtful* (marginal); a pole is surely unstable only when
its whole disc lies in the right half-plane. :class:`PoleResult.verdict` is built on that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import warnings

import numpy as np
import scipy.linalg as la

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError, DistributedCircuitError

__all__ = ["PoleResult", "poles", "finite_eigenvalues", "pencil_eigenvalues", "defaults", "MARGIN_RTOL"]

TWO_PI = 2.0 * np.pi
EPS = np.finfo(float).eps
#: kept for callers that classify raw eigenvalue arrays (stabkit.analysis.loads): a pole counts as
#: right-half-plane when Re(s) > MARGIN_RTOL·|s|
MARGIN_RTOL = 1e-9

#: tunables (python-control style: change them here rather than monkeypatching module constants)
defaults: dict[str, float] = {
    # a singular value below this × n × ε × the largest of its block is structurally zero (exact
    # cancellations of ideal gains, rank-deficient blocks of like units); anything larger is kept and
    # its consequences show up in the pole error bounds
    "poles.rank_rtol": 64.0,
    # safety factor on the first-order error bound of each pole
    "poles.error_safety": 10.0,
    # a pole whose bound exceeds this fraction of |s| cannot be told from a pole at infinity
    "poles.infinite_rtol": 0.5,
}


# ---------------------------------------------------------------------------------------------- maths
def _pow2(x: np.ndarray) -> np.ndarray:
    """Nearest powers of two (exact scalings)."""
    x = np.where(np.isfinite(x) & (x > 0), x, 1.0)
    return 2.0 ** np.round(np.log2(x))


def equilibrate(G: np.ndarray, C: np.ndarray, sweeps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Row and column scalings (powers of two, so zeros and exactness survive) that bring every row and
    column of ``|G| + |C|`` to unit maximum. Returns ``(r, c)``: use ``r[:, None] * M * c[None, :]``."""
    M = np.abs(G) + np.abs(C)
    r = np.ones(M.shape[0])
    c = np.ones(M.shape[1])
    for _ in range(sweeps):
        rowmax = np.max(r[:, None] * M * c[None, :], axis=1, initial=0.0)
        r = r / np.sqrt(_pow2(rowmax))
        colmax = np.max(r[:, None] * M * c[None, :], axis=0, initial=0.0)
        c = c / np.sqrt(_pow2(colmax))
    return r, c


class _Pencil:
    """Working copy of a pencil with masks ``alive``/``dyn`` for rows and columns; ``C`` is exactly zero
    outside the (alive, dyn) block. Operations keep ``det`` up to a nonzero constant."""

    def __init__(self, G, C, row_dyn, col_dyn):
        self.G = np.array(G, dtype=float)
        self.C = np.array(C, dtype=float)
        n = self.G.shape[0]
        self.row_alive = np.ones(n, bool)
        self.col_alive = np.ones(n, bool)
        self.row_dyn = np.array(row_dyn, bool)
        self.col_dyn = np.array(col_dyn, bool)
        self.dropped = 0.0  # largest relative perturbation introduced by a rank decision
        self.steps = 0      # numerical index-reduction steps

    def transpose(self) -> None:
        """Work on ``Gᵀ + s·Cᵀ`` (same determinant): column constraints become row constraints."""
        self.G, self.C = self.G.T.copy(), self.C.T.copy()
        self.row_alive, self.col_alive = self.col_alive, self.row_alive
        self.row_dyn, self.col_dyn = self.col_dyn, self.row_dyn

    def idx(self, rows: bool, dyn: bool) -> np.ndarray:
        alive = self.row_alive if rows else self.col_alive
        d = self.row_dyn if rows else self.col_dyn
        return np.flatnonzero(alive & (d if dyn else ~d))

    def eliminate_constraint(self, i: int) -> None:
        """Row ``i`` has ``G`` entries on dynamic columns only and no ``C``: make it a unit row by column
        operations on the dynamic columns (largest entry as pivot) and expand the determinant along it."""
        dc = self.idx(False, True)
        rho = self.G[i, dc]
        if dc.size == 0 or not np.any(rho):
            raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0): a "
                               "constraint of the circuit leaves nothing to determine")
        k = int(np.argmax(np.abs(rho)))
        j = dc[k]
        f = rho / rho[k]
        f[k] = 0.0
        others = dc[f != 0]
        if others.size:
            fo = f[f != 0]
            self.G[:, others] -= np.outer(self.G[:, j], fo)
            self.C[:, others] -= np.outer(self.C[:, j], fo)
            self.G[i, others] = 0.0
        self.row_alive[i] = False
        self.col_alive[j] = False

    def fix_dynamic_rank(self, tol: float) -> bool:
        """If ``C_DD`` is numerically singular, rotate its null space into the algebraic part. True if changed."""
        dr, dc = self.idx(True, True), self.idx(False, True)
        if dr.size == 0:
            return False
        r, c = equilibrate(np.zeros((dr.size, dc.size)), self.C[np.ix_(dr, dc)])
        block = r[:, None] * self.C[np.ix_(dr, dc)] * c[None, :]
        U, sig, Vt = la.svd(block)
        if sig[0] == 0 or sig[-1] > tol * sig[0]:
            return False
        k = int(np.sum(sig <= tol * sig[0]))
        self.dropped = max(self.dropped, float(sig[-k] / sig[0]) if k else 0.0)
        # rows: Uᵀ·diag(r)·(rows dr); columns: (cols dc)·diag(c)·V — nonsingular transformations
        self.G[dr, :] = U.T @ (r[:, None] * self.G[dr, :])
        self.C[dr, :] = U.T @ (r[:, None] * self.C[dr, :])
        V = Vt.T
        self.G[:, dc] = (self.G[:, dc] * c[None, :]) @ V
        self.C[:, dc] = (self.C[:, dc] * c[None, :]) @ V
        nullr, nullc = dr[dr.size - k:], dc[dc.size - k:]
        self.C[nullr, :] = 0.0
        self.C[:, nullc] = 0.0
        self.row_dyn[nullr] = False
        self.col_dyn[nullc] = False
        self.steps += 1
        return True

    def reduce_index(self, tol: float) -> tuple[bool, float]:
        """If ``G_AA`` is singular, deflate one infinite eigenvalue (index reduction). Returns ``(changed,
        smallest relative singular value of G_AA)``."""
        ar, ac = self.idx(True, False), self.idx(False, False)
        if ar.size != ac.size:
            raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0)")
        if ar.size == 0:
            return False, 1.0
        r, c = equilibrate(self.G[np.ix_(ar, ac)], np.zeros((ar.size, ac.size)))
        block = r[:, None] * self.G[np.ix_(ar, ac)] * c[None, :]
        U, sig, _ = la.svd(block)
        rel = float(sig[-1] / sig[0]) if sig[0] > 0 else 0.0
        if rel > tol:
            return False, rel
        self.dropped = max(self.dropped, rel)
        w = U[:, -1] * r
        p = int(np.argmax(np.abs(U[:, -1])))
        i = ar[p]
        self.G[i, :] = (w @ self.G[ar, :]) / w[p]
        self.G[i, ac] = 0.0
        dc = self.idx(False, True)
        scale = np.max(np.abs(self.G[ar, :]), initial=0.0)
        if dc.size == 0 or np.max(np.abs(self.G[i, dc]), initial=0.0) <= tol * scale:
            raise CircuitError("the circuit equations are singular for every frequency (det(G + sC) ≡ 0): the "
                               "algebraic part is undetermined — look for a floating subcircuit, a cut-set of "
                               "current sources or a loop of voltage sources")
        self.eliminate_constraint(i)
        # one dynamic row too many now: the left null vector of C[dr, dc] makes a new algebraic row
        dr, dc = self.idx(True, True), self.idx(False, True)
        Cb = self.C[np.ix_(dr, dc)]
        rr, cc = equilibrate(np.zeros_like(Cb), Cb)
        Uc, _, _ = la.svd(rr[:, None] * Cb * cc[None, :])
        z = Uc[:, -1] * rr
        q = int(np.argmax(np.abs(Uc[:, -1])))
        row = dr[q]
        self.G[row, :] = (z @ self.G[dr, :]) / z[q]
        self.C[row, :] = 0.0
        self.row_dyn[row] = False
        self.steps += 1
        return True, rel


@dataclass
class PencilEigen:
    """Finite eigenvalues of a deflated pencil with first-order error bounds (rad/s)."""

    values: np.ndarray
    errors: np.ndarray
    steps: int = 0
    notes: list[str] = field(default_factory=list)


def pencil_eigenvalues(G: np.ndarray, C: np.ndarray, row_dyn: np.ndarray | None = None,
                       col_dyn: np.ndarray | None = None, constraints: list[int] | tuple = (),
                       col_constraints: list[int] | tuple = ()) -> PencilEigen:
    """Finite ``s`` with ``det(G + s·C) = 0`` and an error bound for each.

    Parameters
    ----------
    G, C : (n, n) real arrays
    row_dyn, col_dyn : (n,) bool, optional
        Rows/columns where ``C`` may be nonzero; ``C`` must be exactly zero elsewhere (default: its
        nonzero pattern).
    constraints : row indices whose ``G`` part lives on dynamic columns and whose ``C`` part is zero (zero
        modes already divided out, :mod:`stabkit.analysis.structure`).
    col_constraints : the same for columns (floating potentials).

    Returns
    -------
    PencilEigen
        ``values`` (complex, rad/s) and ``errors`` (absolute bounds, rad/s).
    """
    G = np.asarray(G, dtype=float)
    C = np.asarray(C, dtype=float)
    n = G.shape[0]
    if n == 0:
        return PencilEigen(np.zeros(0, complex), np.zeros(0))
    row_dyn = np.any(C != 0, axis=1) if row_dyn is None else np.asarray(row_dyn, bool)
    col_dyn = np.any(C != 0, axis=0) if col_dyn is None else np.asarray(col_dyn, bool)
    # time scale s = ŝ/τ and exact (power-of-two) equilibration
    gmax = np.max(np.abs(G)) if np.any(G) else 1.0
    cmax = np.max(np.abs(C)) if np.any(C) else 1.0
    tau = float(_pow2(np.array([cmax / gmax]))[0])
    r, c = equilibrate(G, C / tau)
    P = _Pencil(r[:, None] * G * c[None, :], r[:, None] * (C / tau) * c[None, :], row_dyn, col_dyn)
    tol = defaults["poles.rank_rtol"] * n * EPS
    for i in constraints:
        P.eliminate_constraint(int(i))
    if len(col_constraints):
        P.transpose()
        for j in col_constraints:
            P.eliminate_constraint(int(j))
        P.transpose()
    for _ in range(2 * n + 2):
        if P.fix_dynamic_rank(tol):
            continue
        changed, _rel = P.reduce_index(tol)
        if not changed:
            break
    ar, ac, dr, dc = P.idx(True, False), P.idx(False, False), P.idx(True, True), P.idx(False, True)
    notes = []
    if P.steps:
        notes.append(f"{P.steps} numerical index-reduction step(s) (higher-index pencil)")
    if dr.size == 0:
        return PencilEigen(np.zeros(0, complex), np.zeros(0), P.steps, notes)
    Gaa, Gad, Gda, Gdd = (P.G[np.ix_(a, b)] for a, b in ((ar, ac), (ar, dc), (dr, ac), (dr, dc)))
    Cdd = P.C[np.ix_(dr, dc)]
    if ar.size:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", la.LinAlgWarning)
            lu = la.lu_factor(Gaa)
            X = la.lu_solve(lu, Gad)            # G_AA⁻¹ G_AD
            Yt = la.lu_solve(lu, Gda.T, trans=1)  # (G_DA G_AA⁻¹)ᵀ
        Gred = Gdd - Gda @ X
    else:
        X = np.zeros((0, dc.size))
        Yt = np.zeros((0, dr.size))
        Gred = Gdd
    # equilibrate the reduced pencil too (exact scalings)
    rr, cc = equilibrate(Gred, Cdd)
    Gs, Cs = rr[:, None] * Gred * cc[None, :], rr[:, None] * Cdd * cc[None, :]
    w, vl, vr = la.eig(Gs, -Cs, left=True, right=True)
    finite = np.isfinite(w)
    # lift to the full deflated pencil (unscaled reduced coordinates) and bound the error
    xr = cc[:, None] * vr            # right vectors of (Gred, Cdd)
    yl = rr[:, None] * vl            # left vectors
    Gfull = P.G[np.ix_(np.r_[dr, ar], np.r_[dc, ac])]
    Cfull = P.C[np.ix_(np.r_[dr, ar], np.r_[dc, ac])]
    ng, ncn = la.norm(Gfull), la.norm(Cfull)  # Frobenius
    safety = defaults["poles.error_safety"]
    lam = np.where(finite, w, 0.0)
    Xf = np.vstack([xr, -X @ xr])    # (n, k) right vectors of the full deflated pencil
    Yf = np.vstack([yl, -Yt @ yl])   # left vectors
    scale = ng + np.abs(lam) * ncn
    nx_, ny_ = la.norm(Xf, axis=0), la.norm(Yf, axis=0)
    res_r = la.norm(Gfull @ Xf + (Cfull @ Xf) * lam[None, :], axis=0) / (scale * nx_)
    res_l = la.norm(Gfull.T @ Yf.conj() + (Cfull.T @ Yf.conj()) * lam[None, :], axis=0) / (scale * ny_)
    eta = np.maximum.reduce([res_r, res_l, np.full(lam.shape, n * EPS), np.full(lam.shape, P.dropped)])
    denom = np.abs(np.sum(Yf.conj() * (Cfull @ Xf), axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(denom > 0, nx_ * ny_ * scale / denom, np.inf)
    vals = lam.astype(complex)
    errs = safety * kappa * eta
    # near-multiple eigenvalues: the first-order bound (∝ 1/gap) overstates a cluster's error; a perturbation
    # η moves a k-fold cluster by about η^(1/k) relative, so cap the bound there for clustered eigenvalues
    if vals.size > 1:
        gaps = np.abs(vals[:, None] - vals[None, :]) + np.diag(np.full(vals.size, np.inf))
        for i in np.flatnonzero(errs > gaps.min(axis=1)):
            k = int(np.sum(gaps[i] <= errs[i])) + 1
            cap = safety * k * (eta[i] ** (1.0 / k)) * (abs(vals[i]) + ng / max(ncn, 1e-300) * eta[i])
            errs[i] = min(errs[i], max(cap, float(np.max(gaps[i][gaps[i] <= errs[i]]))))
    vals, errs = _pair_conjugates(vals[finite], errs[finite])
    return PencilEigen(vals / tau, errs / tau, P.steps, notes)


def _pair_conjugates(vals: np.ndarray, errs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make complex pairs of a real pencil exact conjugates (and real eigenvalues exactly real)."""
    vals = vals.copy()
    errs = errs.copy()
    upper = np.flatnonzero(vals.imag > 0)
    lower = list(np.flatnonzero(vals.imag < 0))
    for i in upper:
        if not lower:
            break
        j = min(lower, key=lambda k: abs(vals[k] - np.conj(vals[i])))
        lower.remove(j)
        m = 0.5 * (vals[i] + np.conj(vals[j]))
        vals[i], vals[j] = m, np.conj(m)
        errs[i] = errs[j] = max(errs[i], errs[j])
    return vals, errs


def finite_eigenvalues(G: np.ndarray, C: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Finite ``s`` with ``det(G + s·C) = 0`` for dense real ``G``, ``C`` (any size, ``C`` singular allowed).

    Works on the matrices alone (their exact zero pattern is the only structure used), so structural zero
    modes come out as eigenvalues at (rounding-level) zero; :func:`poles` finds and removes them from the
    circuit graph. Returns a complex array in rad/s, sorted by real part (descending) then imaginary part.
    """
    res = pencil_eigenvalues(G, C)
    ev = res.values
    order = np.lexsort((ev.imag, -ev.real))
    return ev[order]


# ---------------------------------------------------------------------------------------------- result
@dataclass
class PoleResult:
    """Natural frequencies of a lumped circuit.

    ``poles`` are complex frequencies ``s`` in rad/s, ``errors`` their first-order error bounds (rad/s);
    ``poles_hz`` the same divided by 2π (the contract's ``[re_hz, im_hz]``). Structural zero modes
    (conserved charge on a capacitor island, flux in an inductor loop) are *not* poles: they are counted in
    ``zero_modes`` and described in ``zero_mode_notes``, and do not make the circuit unstable.

    ``verdict`` is ``"unstable"`` when some pole is surely in the right half-plane (its error disc lies
    entirely right of the jω axis), else ``"uncertain"`` when anything is in doubt (a pole on the axis within
    its error — *marginal* —, a finite/infinite split the data cannot decide), else ``"stable"``.
    ``doubts`` hold the reasons (one line each); ``warnings`` informational notes."""

    poles: np.ndarray
    params: dict[str, float] = field(default_factory=dict)
    title: str = ""
    errors: np.ndarray | None = None
    zero_modes: int = 0
    zero_mode_notes: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.poles = np.asarray(self.poles, dtype=complex)
        if self.errors is None:
            self.errors = MARGIN_RTOL * np.abs(self.poles)
        self.errors = np.asarray(self.errors, dtype=float)

    @property
    def poles_hz(self) -> np.ndarray:
        return self.poles / TWO_PI

    @property
    def rhp_mask(self) -> np.ndarray:
        """True where a pole is surely in the right half-plane (``Re s`` beyond its error bound)."""
        return self.poles.real - self.errors > 0

    @property
    def marginal_mask(self) -> np.ndarray:
        """True where a pole's error disc crosses the jω axis (it may be on it, or on either side)."""
        return np.abs(self.poles.real) <= self.errors

    @property
    def rhp(self) -> np.ndarray:
        """Poles surely in the right half-plane."""
        return self.poles[self.rhp_mask]

    @property
    def marginal(self) -> np.ndarray:
        """Poles that cannot be told from the jω axis (structural zero modes are not among them)."""
        return self.poles[self.marginal_mask]

    @property
    def rhp_count(self) -> int:
        return int(np.sum(self.rhp_mask))

    @property
    def verdict(self) -> str:
        if self.rhp_count:
            return "unstable"
        if self.doubts or np.any(self.marginal_mask):
            return "uncertain"
        return "stable"

    @property
    def stable(self) -> bool:
        return self.verdict == "stable"

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "stable": self.stable,
            "rhp_count": self.rhp_count,
            "marginal_count": int(np.sum(self.marginal_mask)),
            "zero_modes": int(self.zero_modes),
            "poles": [[float(p.real), float(p.imag)] for p in self.poles_hz],
            "warnings": list(self.doubts) + list(self.warnings),
        }

    def plot(self, ax=None, **kwargs):
        """Pole map (s/2π in Hz), RHP poles in red."""
        from stabkit.report.plots import plot_pole_map

        return plot_pole_map(self.poles_hz, ax=ax, title=self.title, **kwargs)


def _fmt_hz(s: complex) -> str:
    return f"{s.real / TWO_PI:.4g}{s.imag / TWO_PI:+.4g}j Hz"


def pole_doubts(values: np.ndarray, errors: np.ndarray) -> list[str]:
    """One line per pole (conjugate pairs once) whose error disc crosses the jω axis."""
    out = []
    inf_rtol = defaults["poles.infinite_rtol"]
    for s, e in zip(values, errors):
        if s.imag < 0 or abs(s.real) > e:
            continue
        if not np.isfinite(e) or e >= inf_rtol * abs(s):
            out.append(f"a pole at {_fmt_hz(s)} cannot be resolved in double precision (error bound "
                       f"{e / TWO_PI:.2g} Hz): it may be spurious (an infinite eigenvalue perturbed by rounding) "
                       "or on either side of the jω axis")
        else:
            out.append(f"marginal: the pole at {_fmt_hz(s)} lies on the jω axis within its error bound "
                       f"({e / TWO_PI:.2g} Hz)")
    return out


def poles(circuit: Circuit | MNASystem, params: Mapping[str, float] | None = None) -> PoleResult:
    """Exact natural frequencies of a lumped circuit (all independent sources off), with error bounds,
    structural zero modes and a three-way verdict (see :class:`PoleResult` and the module doc).

    Raises :class:`DistributedCircuitError` when the circuit has transmission lines or N-port blocks:
    they have no finite pencil, use :func:`stabkit.ndf` there.
    """
    from stabkit.analysis.structure import pencil_structure

    system = circuit if isinstance(circuit, MNASystem) else assemble(circuit, params)
    if not system.is_lumped:
        names = sorted({d.element for d in system.distributed})
        raise DistributedCircuitError(
            f"the circuit has distributed elements ({', '.join(names)}): it has infinitely many natural "
            "frequencies and no finite pencil; use the NDF (stabkit ndf) to count its unstable ones")
    notes: list[str] = []
    if system.stamps or system.n == 0:
        st = pencil_structure(system)
        eig = pencil_eigenvalues(st.G, st.C, st.row_dyn, st.col_dyn, st.constraints, st.col_constraints)
        zero_notes = [z.describe() for z in st.zero_modes]
        nzero = len(st.zero_modes)
        if st.contracted:
            notes.append(f"zeroed source(s) {', '.join(st.contracted)} contracted (shorts for stability)")
    else:
        eig = pencil_eigenvalues(system.G.toarray(), system.C.toarray())
        zero_notes, nzero = [], 0
    notes.extend(eig.notes)
    ev, err = eig.values, eig.errors
    order = np.lexsort((ev.imag, -ev.real))
    ev, err = ev[order], err[order]
    return PoleResult(poles=ev, params=dict(system.params), title=system.circuit.title, errors=err,
                      zero_modes=nzero, zero_mode_notes=zero_notes, doubts=pole_doubts(ev, err), warnings=notes)
