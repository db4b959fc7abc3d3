"""Normalized determinant function (NDF) and per-source return differences.

``NDF(s) = det M(s) / det M0(s)``: ``M`` the full MNA matrix, ``M0`` the same with every active element
(dependent source G/E/F/H, negative R/L/C) switched off. ``M0`` is passive, so it has no zeros in the
right half plane, and the number of clockwise encirclements of the origin by ``NDF(jω)`` equals the number
of unstable natural frequencies (hidden modes included).

With ``M = M0 + U·diag(w(s))·Eᵀ`` (``w = a0 + a1·s``, one column per active element, see
:mod:`stabkit.analysis.mna`) the determinant lemma gives::

    NDF(s) = det R(s),   R(s) = I_r + Eᵀ·M0(s)⁻¹·U·diag(w(s))        (r × r, the return-difference matrix)

so one sparse factorisation of ``M0`` per frequency and ``r`` solves are all it takes; no ``n × n``
determinant is ever formed. The *unpivoted* LU pivots of ``R`` are the return differences::

    F_k = det R[:k, :k] / det R[:k-1, :k-1] = Δ(sources 1..k on) / Δ(sources 1..k-1 on)

i.e. **the return difference of source k with sources 1..k−1 ON and k+1..r OFF** (netlist order). Their
product is the NDF. ``F_k`` has the zeros of ``Δ_{1..k}`` and the poles of ``Δ_{1..k−1}``, so its clockwise
encirclement count is ``Z_RHP(Δ_{1..k}) − Z_RHP(Δ_{1..k−1})``: the number of unstable modes that *appear*
when source ``k`` is switched on (negative when switching it on stabilises a mode). The counts telescope
to the total.

Everything is handled in logarithms: ``log NDF = Σ_k log F_k`` (``log|F_k|`` plus an unwrapped phase), so
neither a huge nor a tiny NDF over- or underflows.

The contour (positive half; conjugate symmetry gives the rest) starts on the positive real axis at
``s = ε``, goes round a quarter circle ``ε·e^{jθ}`` to ``jε`` (this indents any zero of ``det M0`` at
``s = 0``: series capacitors, loops of inductors), then climbs the jω axis, detouring to the right on a
small semicircle around points where ``M0`` (or an intermediate circuit) is singular on the axis. With
``F_k ≈ c_k·s^{m_k}`` for large ``|s|``, the count of each factor is::

    N_k = −Δarg F_k / π + m_k / 2       (Δarg over the upper half of the contour, from s = ε to s = j∞)

which for the common case ``F_k → 1`` is the familiar ``−Δarg/π``. Zeros with ``|s| < ε`` are not
counted (``ε`` is far below every time constant of the circuit by default; see :func:`default_band`).
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

TWO_PI = 2.0 * np.pi

__all__ = ["NDFResult", "SourceResult", "ndf", "ndf_on_axis", "default_band", "element_frequency_band",
           "passive_natural_frequencies", "numerical_limit", "return_difference_matrix", "unpivoted_lu_pivots",
           "python_control_count", "defaults", "PatternSolver", "StaticPivotLU", "per_source_fits"]

#: tunables, python-control style (``stabkit.analysis.ndf.defaults["ndf.points_per_decade"] = 40``)
defaults: dict[str, float] = {
    # a phase step larger than this between neighbouring samples (any factor, or the product) is refined
    "ndf.max_phase_step": np.pi / 4,
    # a change of log|F| larger than this between neighbours is refined (|NDF| dips and peaks)
    "ndf.max_log_mag_step": 1.0,
    # lossy lines (O): wherever any return difference is further than this from 1 (|log F_k| summed), the
    # samples on the jω axis also follow each line's phase θ, at most max_phase_step apart (the round trips the
    # line makes with an active termination are the loops a coarser grid would step over)
    "ndf.line_active": 1e-6,
    # initial samples per decade on the jω axis
    "ndf.points_per_decade": 20,
    # relative ω-width below which a segment that still turns too fast is treated as a singularity on the axis
    "ndf.singular_rel_width": 1e-11,
    # relative ω-width below which a magnitude-only violation is accepted (a steep but resolved slope)
    "ndf.mag_rel_width": 1e-7,
    # at most this many indentations around singularities found on the axis (beyond: reported as a doubt)
    "ndf.max_detours": 20,
    # number of interior samples on an indentation semicircle
    "ndf.detour_points": 33,
    # the tail is settled when the last decade's log-log slope is within this of an integer ...
    "ndf.slope_tol": 0.05,
    # ... and the remaining phase to the asymptote (radians) is below this
    "ndf.tail_phase_tol": 0.05,
    # default band: this factor below the slowest and above the fastest natural frequency (lumped circuits)
    "ndf.pole_margin": 100.0,
    # default band of distributed circuits: this factor above the fastest element time scale ...
    "ndf.top_factor": 300.0,
    # ... and this factor below the slowest
    "ndf.bottom_factor": 1e4,
    # refinement stops (with a doubt) beyond this many samples
    "ndf.max_points": 20000,
    # each sample on the jω axis also gets the slope d log F / d ln ω (a second evaluation at ω·(1 + h)): a step
    # whose wrapped phase change differs from the slopes' prediction by more than alias_tol (rad) turned by a
    # whole turn more than it shows (many far zeros and poles, as in long ladders, turn the phase fast without a
    # feature in |F|) and is refined, down to a relative width of alias_min_rel
    "ndf.slope_step": 1e-7,
    "ndf.alias_tol": np.pi / 2,
    "ndf.alias_min_rel": 1e-5,
    # ... for circuits above this many unknowns (below, too few far zeros and poles to turn a whole turn in one
    # step without |F| or a sampled near-axis natural frequency showing it; the check would double the cost of
    # every small circuit's NDF, e.g. each sample of a yield run)
    "ndf.slope_min_n": 80,
    # the tail is extended by at most this factor beyond f_max (then: a doubt, not a silent cut)
    "ndf.max_tail_extension": 1e6,
    # a count further than this from an integer is a doubt
    "ndf.integer_tol": 0.1,
    # per-source return differences by default up to this many active elements; beyond, the total count only
    "ndf.per_source_max": 64,
    # exact (dense) poles of the circuit and its passive reference for the default band up to this many unknowns
    "ndf.exact_poles_max_n": 1500,
    # dense batched solves are used up to this many unknowns; banded or sparse LU above
    "ndf.dense_max_n": 80,
    # banded LU (after reverse Cuthill–McKee) when the half-bandwidth is at most this; general sparse LU beyond
    "ndf.max_band": 24,
    # dense-size lumped systems of at least this many unknowns, at this many frequencies or more in one batch, are
    # solved by a sparse LU with pivots fixed per batch (StaticPivotLU, vectorised over the frequencies) instead of
    # one dense LAPACK LU per frequency; every frequency's factorization is checked (static_lu_growth) and the
    # frequencies it fails at get another pivot order or LAPACK's LU, as before
    "ndf.static_lu_min_n": 24,
    "ndf.static_lu_min_batch": 16,
    # largest growth ρ = ‖|L|·|U|‖∞ / ‖K‖∞ a static-pivot factorization may have at a frequency (its normwise
    # backward error is at most γ₃ₙ·ρ, about 2e-14·ρ at n = 65; partial pivoting's growth factor is typically
    # 1–10): beyond it that frequency is solved by LAPACK
    "ndf.static_lu_growth": 64.0,
    # pivot orders tried per batch (each chosen by partial pivoting at a frequency the previous ones failed at)
    "ndf.static_lu_plans": 3,
    # |NDF| below this on the contour means a natural frequency on or next to the jω axis
    "ndf.marginal_abs": 1e-9,
    # product of the return differences vs det R: a mismatch (log) above this is a doubt (below it no count
    # can move by a tenth of an encirclement)
    "ndf.det_check_tol": 1e-2,
    # used by numerical_limit() only (informational)
    "ndf.numerical_span": 1e9,
}


def _d(key: str):
    return defaults[f"ndf.{key}"]


# ---------------------------------------------------------------------------------------------- maths
def wrap_phase(x: np.ndarray) -> np.ndarray:
    """Map angles to ``(−π, π]``."""
    return np.pi - np.mod(np.pi - np.asarray(x, dtype=float), TWO_PI)


def unpivoted_lu_pivots(R: np.ndarray) -> np.ndarray:
    """Pivots of the LU factorisation *without* pivoting of a stack of square matrices.

    ``R`` has shape ``(..., r, r)``; returns ``(..., r)`` with ``pivots[..., k] = det R[:k+1,:k+1] /
    det R[:k,:k]``. A zero pivot (a leading minor that vanishes at that point) gives ``nan`` from there on.

    Computed by recursive halving: the pivots of ``[[A, B], [C, D]]`` are those of ``A`` followed by those of
    the Schur complement ``D − C·A⁻¹·B`` (leading minors of the complement are ratios of leading minors of the
    whole). ``A⁻¹·B`` is a LAPACK solve (with partial pivoting inside ``A``) and the update a batched matrix
    product, so the work is ``O(r³)`` per matrix in BLAS/LAPACK, not ``r`` Python-level sweeps.
    """
    A = np.asarray(R, dtype=complex)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        piv = _pivots_recursive(A)
    piv = np.array(piv, dtype=complex, copy=True)
    piv[~np.isfinite(piv)] = np.nan
    return piv


def _pivots_small(A: np.ndarray) -> np.ndarray:
    A = np.array(A, dtype=complex, copy=True)
    r = A.shape[-1]
    piv = np.empty(A.shape[:-1], dtype=complex)
    for k in range(r):
        p = A[..., k, k].copy()
        piv[..., k] = p
        if k + 1 < r:
            col = A[..., k + 1:, k] / p[..., None]
            A[..., k + 1:, k + 1:] -= col[..., :, None] * A[..., k, None, k + 1:]
    return piv


def _pivots_recursive(A: np.ndarray) -> np.ndarray:
    r = A.shape[-1]
    if r <= 16:
        return _pivots_small(A)
    h = r // 2
    top = _pivots_recursive(A[..., :h, :h])
    lead, upper, lower, rest = A[..., :h, :h], A[..., :h, h:], A[..., h:, :h], A[..., h:, h:]
    batch = lead.shape[:-2]
    flat_lead = lead.reshape((-1, h, h))
    flat_upper = upper.reshape((-1, h, r - h))
    ok = np.all(np.isfinite(top.reshape((-1, h))), axis=1) & np.all(top.reshape((-1, h)) != 0, axis=1)
    X = np.full(flat_upper.shape, np.nan, dtype=complex)
    if ok.any():
        X[ok] = np.linalg.solve(flat_lead[ok], flat_upper[ok])
    schur = rest - lower @ X.reshape(batch + (h, r - h))
    return np.concatenate([top, _pivots_recursive(schur)], axis=-1)


def log_pivots(pivots: np.ndarray) -> np.ndarray:
    """Complex logarithm ``log|F| + j·arg F`` (phase wrapped to (−π, π])."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.abs(pivots)) + 1j * np.angle(pivots)


#: pattern analyses (orderings, band layout, column ordering) by sparsity pattern, shared across solvers
_PLANS: dict = {}

#: bytes one frequency chunk of the dense batched path may use (M and its solve)
CHUNK_BYTES = 64 * 2 ** 20


def _chunks(nf: int, per_point: int) -> list[slice]:
    """Index slices over ``nf`` frequencies of at most :data:`CHUNK_BYTES` for ``per_point`` bytes each."""
    size = max(1, int(CHUNK_BYTES // max(per_point, 1)))
    return [slice(i, min(i + size, nf)) for i in range(0, nf, size)]


_WORK = threading.local()


def _work(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A work array of ``shape`` kept per thread under ``name`` (grown when too small; contents undefined). It is
    the same memory at the next call with that name: use it before calling again."""
    need = int(np.prod(shape))
    store = getattr(_WORK, "arrays", None)
    if store is None:
        store = _WORK.arrays = {}
    buf = store.get(name)
    if buf is None or buf.size < need or buf.dtype != np.dtype(dtype):
        buf = store[name] = np.empty(max(need, 1), dtype=dtype)
    return buf[:need].reshape(shape)


#: symbolic plans of :class:`StaticPivotLU` by (pattern, pivot order): a sweep or a yield run over element values
#: keeps its pivot order, so the symbolic work is done once
_STATIC_PLANS: dict = {}


class StaticPivotLU:
    """Partial sparse LU of a matrix at many frequencies at once, with the pivot order fixed.

    ``rows``/``cols`` are the pattern of an ``N × N`` matrix ``K``; ``row_pos``/``col_pos`` put row ``i`` and
    column ``j`` of ``K`` at ``(row_pos[i], col_pos[j])`` of ``B``, and the first ``steps`` pivots of ``B`` are
    eliminated *without* pivoting, every elimination step one vectorised operation over all frequencies (the
    frequencies are the contiguous axis). What is left in the trailing block is the Schur complement: with
    ``K = [[M0, U], [Eᵀ, 0]]`` and ``steps = n`` it is ``−Eᵀ·M0⁻¹·U``, so no solve is needed at all. The fill
    pattern is computed once per pivot order.

    Fixed pivots can be poor away from the frequency they were chosen at. :meth:`factor` therefore also returns
    each frequency's growth ``ρ = ‖|L|·|U|‖∞ / ‖K‖∞`` (the row sums of ``|L|·|U|``, from one product with
    a vector): the computed factors are exact for ``K + ΔK`` with ``|ΔK| ≤ γ₃ₙ·|L|·|U|`` (Higham, *Accuracy
    and Stability of Numerical Algorithms*, Thm. 9.3), so ``ρ`` bounds the normwise backward error by
    ``γ₃ₙ·ρ``, as the growth factor does for partial pivoting.
    """

    def __init__(self, size: int, rows: np.ndarray, cols: np.ndarray, row_pos: np.ndarray, col_pos: np.ndarray,
                 steps: int):
        self.n, self.steps_count = size, steps
        self.row_pos, self.col_pos = np.asarray(row_pos, dtype=np.intp), np.asarray(col_pos, dtype=np.intp)
        br, bc = self.row_pos[rows].tolist(), self.col_pos[cols].tolist()
        if len(set(zip(br, bc))) != len(br):
            raise ValueError("StaticPivotLU: the pattern has an entry twice")
        by_row = [set() for _ in range(size)]  # filled pattern of B, row by row and column by column
        by_col = [set() for _ in range(size)]
        for i, j in zip(br, bc):
            by_row[i].add(j)
            by_col[j].add(i)
        for k in range(steps):  # symbolic elimination (no pivoting): row i gains row k's upper part
            by_row[k].add(k)
            by_col[k].add(k)
            upper = {j for j in by_row[k] if j > k}
            for i in [i for i in by_col[k] if i > k]:
                for j in upper - by_row[i]:
                    by_row[i].add(j)
                    by_col[j].add(i)
        index = {}
        for i in range(size):
            for j in sorted(by_row[i]):
                index[(i, j)] = len(index)
        self.size = len(index)
        self.index = index
        self.entry_pos = np.array([index[ij] for ij in zip(br, bc)], dtype=np.intp)
        self.fill_pos = np.setdiff1d(np.arange(self.size), self.entry_pos)  # entries that start at 0
        self.steps = []
        for k in range(steps):
            lower = sorted(i for i in by_col[k] if i > k)
            upper = sorted(j for j in by_row[k] if j > k)
            self.steps.append((index[(k, k)],
                               np.array([index[(i, k)] for i in lower], dtype=np.intp),
                               np.array([index[(k, j)] for j in upper], dtype=np.intp),
                               np.array([index[(i, j)] for i in lower for j in upper], dtype=np.intp)))
        # the growth check: row sums of |K|, of the upper part |U| (and the trailing block), and |L|·(|U|·1)
        ij = np.array(list(index), dtype=np.intp).reshape(-1, 2)
        is_lower = (ij[:, 1] < steps) & (ij[:, 0] > ij[:, 1])
        self.lower_entries, self.upper_entries = np.flatnonzero(is_lower), np.flatnonzero(~is_lower)
        self.lower_pivot_row = ij[self.lower_entries, 1]
        self.row_sum_upper = sp.csr_matrix((np.ones(self.upper_entries.size), (ij[self.upper_entries, 0],
                                            np.arange(self.upper_entries.size))), shape=(size, self.upper_entries.size))
        self.row_sum_lower = sp.csr_matrix((np.ones(self.lower_entries.size), (ij[self.lower_entries, 0],
                                            np.arange(self.lower_entries.size))), shape=(size, self.lower_entries.size))
        self.row_sum_k = sp.csr_matrix((np.ones(len(br)), (br, np.arange(len(br)))), shape=(size, len(br)))

    def positions(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Positions in the factor array of the entries ``(i, j)`` of ``K`` (e.g. its trailing block)."""
        return np.array([self.index[(int(self.row_pos[a]), int(self.col_pos[b]))] for a, b in zip(i, j)],
                        dtype=np.intp)

    @classmethod
    def at(cls, size: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray, steps: int) -> "StaticPivotLU | None":
        """The plan whose first ``steps`` pivots are those SuperLU's partial pivoting (COLAMD column order) picks
        for the leading ``steps × steps`` block with the entries ``values`` (the trailing rows and columns stay
        last); ``None`` when that block is exactly singular."""
        lead = (rows < steps) & (cols < steps)
        A = sp.csc_matrix((values[lead], (rows[lead], cols[lead])), shape=(steps, steps))
        try:
            lu = spla.splu(A, permc_spec="COLAMD", diag_pivot_thresh=1.0)
        except RuntimeError:
            return None
        tail = np.arange(steps, size)
        row_pos, col_pos = np.concatenate([lu.perm_r, tail]), np.concatenate([lu.perm_c, tail])
        key = (size, steps, rows.tobytes(), cols.tobytes(), row_pos.tobytes(), col_pos.tobytes())
        plan = _STATIC_PLANS.get(key)
        if plan is None:
            plan = cls(size, rows, cols, row_pos, col_pos, steps)
            if len(_STATIC_PLANS) >= 32:
                _STATIC_PLANS.pop(next(iter(_STATIC_PLANS)))
            _STATIC_PLANS[key] = plan
        return plan

    def factor(self, entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eliminate the first ``steps`` pivots at every frequency: ``entries`` are the pattern's values, shape
        ``(m, nf)``. Returns the factor array ``(size, nf)`` (multipliers in the lower part, the Schur complement
        in the trailing block) and the growth ``ρ`` of each frequency (``nan`` where a pivot vanished)."""
        nf = entries.shape[1]
        # the big arrays live in per-thread work space: fresh multi-megabyte arrays at every call cost more in page
        # faults than the elimination itself (they are handed back to the system and mapped in again)
        V = _work("static_lu.V", (self.size, nf), complex)
        V[self.fill_pos] = 0.0
        V[self.entry_pos] = entries
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for piv, l_idx, u_idx, target in self.steps:
                if l_idx.size:
                    mult = V[l_idx] * (1.0 / V[piv])  # one complex division per frequency, not per entry
                    V[l_idx] = mult
                    if u_idx.size:
                        V[target] -= (mult[:, None, :] * V[u_idx][None, :, :]).reshape(-1, nf)
            nu, nl, m = self.upper_entries.size, self.lower_entries.size, entries.shape[0]
            gathered = _work("static_lu.gathered", (max(nu, nl), nf), complex)
            size = _work("static_lu.abs", (max(nu, nl, m), nf), float)
            upper = self.row_sum_upper @ np.abs(np.take(V, self.upper_entries, axis=0, out=gathered[:nu]),
                                                out=size[:nu])
            lower = np.abs(np.take(V, self.lower_entries, axis=0, out=gathered[:nl]), out=size[:nl])
            lower *= upper[self.lower_pivot_row]
            lu_rows = upper + self.row_sum_lower @ lower
            k_norm = np.max(self.row_sum_k @ np.abs(entries, out=size[:m]), axis=0)
            growth = np.max(lu_rows, axis=0) / k_norm
        growth[~np.isfinite(growth)] = np.nan
        return V, growth


class PatternSolver:
    """Factorizations of ``A(s) = Σ entries`` on a fixed sparsity pattern, one frequency at a time.

    The pattern (``rows``, ``cols``, ``n × n``) is analysed once: systems of up to ``defaults["ndf.dense_max_n"]``
    unknowns are solved as batched dense problems (frequencies in chunks of :data:`CHUNK_BYTES`); larger ones
    are reordered once by reverse Cuthill–McKee and, when the half-bandwidth is at most
    ``defaults["ndf.max_band"]``, factored by LAPACK's banded LU (``zgbtrf``); otherwise by SuperLU with a
    column ordering computed once (COLAMD on the first frequency) and reused for every later one (the matrix
    is pre-permuted and SuperLU told ``NATURAL``). ``kind`` says which path runs.
    """

    def __init__(self, n: int, rows: np.ndarray, cols: np.ndarray, values, g: np.ndarray | None = None,
                 c: np.ndarray | None = None):
        self.n = n
        self.rows, self.cols = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
        self.values = values  # callable: s (nf,) -> entries (nf, m)
        # lumped matrices: entries g + s·c (made row by row where that saves memory); None: use `values`
        self.g, self.c = g, c
        m = self.rows.size
        key = (n, m, _d("dense_max_n"), _d("max_band"), hash(self.rows.tobytes()), hash(self.cols.tobytes()))
        plan = _PLANS.get(key)
        if plan is None or not (np.array_equal(plan["rows"], self.rows) and np.array_equal(plan["cols"], self.cols)):
            plan = self._analyse(n, m)
            if len(_PLANS) >= 16:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[key] = plan
        #: the pattern analysis (orderings) is shared by every solver on the same pattern: a sweep over
        #: element values (loads, yield) orders once
        self.plan = plan
        self.__dict__.update({k: v for k, v in plan.items() if k not in ("rows", "cols", "column_order")})

    @property
    def column_order(self):
        return self.plan.get("column_order")

    def _analyse(self, n: int, m: int) -> dict:
        plan = {"rows": self.rows, "cols": self.cols, "kind": "dense" if n <= _d("dense_max_n") else "sparse"}
        if plan["kind"] == "sparse" and m:
            from scipy.sparse.csgraph import reverse_cuthill_mckee

            pattern = sp.csr_matrix((np.ones(m), (self.rows, self.cols)), shape=(n, n))
            perm = np.asarray(reverse_cuthill_mckee((pattern + pattern.T).tocsr(), symmetric_mode=True))
            where = np.empty(n, dtype=int)
            where[perm] = np.arange(n)
            pr, pc = where[self.rows], where[self.cols]
            lower, upper = int(max(0, np.max(pr - pc))), int(max(0, np.max(pc - pr)))
            if max(lower, upper) <= _d("max_band"):
                plan.update(kind="banded", band=(lower, upper), band_rows=lower + upper + pr - pc, band_cols=pc,
                            perm=perm, where=where)  # band_rows: row in gbtrf storage (kl extra rows on top)
        if plan["kind"] == "sparse":
            base = sp.csc_matrix((np.arange(1, m + 1, dtype=float), (self.rows, self.cols)), shape=(n, n))
            plan.update(csc_order=base.data.astype(int) - 1, csc_indices=base.indices, csc_indptr=base.indptr,
                        column_order=None)  # the column ordering is fixed by the first factorization
        return plan

    # ---- one frequency
    def _banded(self, vals: np.ndarray):
        from scipy.linalg.lapack import zgbtrf

        lower, upper = self.band
        ab = np.zeros((2 * lower + upper + 1, self.n), dtype=complex, order="F")
        ab[self.band_rows, self.band_cols] = vals
        lu, ipiv, info = zgbtrf(ab, lower, upper)
        return None if info != 0 else (lu, ipiv)

    def _sparse(self, vals: np.ndarray):
        A = sp.csc_matrix((vals[self.csc_order], self.csc_indices, self.csc_indptr), shape=(self.n, self.n))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                if self.column_order is None:
                    lu = spla.splu(A, permc_spec="COLAMD")
                    # SuperLU factors Pr·A·Pc: column i of A goes to position perm_c[i]
                    self.plan["column_order"] = np.argsort(lu.perm_c)
                    self.plan["column_parity"] = _parity(self.plan["column_order"])
                lu = spla.splu(A[:, self.column_order], permc_spec="NATURAL")
        except RuntimeError:  # exactly singular
            return None
        return lu

    def factor(self, s: complex):
        """Factorization at one ``s`` (``None`` where ``A(s)`` is exactly singular); use with
        :meth:`solve_with` and :meth:`logdet_of`."""
        vals = self.values(np.array([s], dtype=complex))[0]
        return self._banded(vals) if self.kind == "banded" else self._sparse(vals)

    def solve_with(self, fac, B: np.ndarray) -> np.ndarray:
        """``A⁻¹·B`` from a factorization of :meth:`factor` (``B``: ``(n, k)``)."""
        if self.kind == "banded":
            from scipy.linalg.lapack import zgbtrs

            lower, upper = self.band
            x, _ = zgbtrs(fac[0], lower, upper, np.asarray(B, dtype=complex)[self.perm], fac[1])
            return x[self.where]
        y = fac.solve(np.asarray(B, dtype=complex))
        x = np.empty_like(y)
        x[self.column_order] = y
        return x

    def logdet_of(self, fac) -> complex:
        """``log|det A| + j·arg det A`` from a factorization (``nan`` for ``None``)."""
        if fac is None:
            return complex(np.nan, np.nan)
        if self.kind == "banded":
            lu, ipiv = fac
            lower, upper = self.band
            d = lu[lower + upper]
            swaps = int(np.count_nonzero(ipiv != np.arange(ipiv.size)))
            parity = swaps & 1
        else:
            d = fac.U.diagonal()
            parity = _parity(fac.perm_r) + _parity(fac.perm_c) + self.plan["column_parity"]
        with np.errstate(divide="ignore"):
            return complex(np.sum(np.log(np.abs(d))), np.sum(np.angle(d)) + np.pi * (parity % 2))

    # ---- arrays of frequencies
    @staticmethod
    def chunks(nf: int, per_point: int):
        """Index slices of at most :data:`CHUNK_BYTES` for ``per_point`` bytes a frequency."""
        return _chunks(nf, per_point)

    def _dense_stack(self, s: np.ndarray) -> np.ndarray:
        M = np.zeros((s.size, self.n, self.n), dtype=complex)
        M[:, self.rows, self.cols] = self.values(s)
        return M

    def selected_solves(self, s: np.ndarray, U: np.ndarray, Et: sp.csr_matrix) -> np.ndarray:
        """``Eᵀ·A(s)⁻¹·U`` for each ``s``: shape ``(len(s), r, r)``, ``nan`` where ``A`` is singular. ``Eᵀ``
        (sparse, ``r × n``) only selects and combines a few entries of each solution column; no
        ``(len(s), n, r)`` array is ever held."""
        nf, r = s.size, U.shape[1]
        out = np.full((nf, Et.shape[0], r), np.nan, dtype=complex)
        if self.kind == "dense":
            todo = np.arange(nf)
            if (r and self.g is not None and self.n >= _d("static_lu_min_n") and nf >= _d("static_lu_min_batch")):
                todo = self._static_selected_solves(s, U, Et, out)
            for part in self.chunks(todo.size, 16 * self.n * (self.n + 2 * r)):
                where = todo[part]
                M = self._dense_stack(s[where])
                X = np.full((M.shape[0], self.n, r), np.nan, dtype=complex)
                try:
                    X = np.linalg.solve(M, np.broadcast_to(U, (M.shape[0], self.n, r)))
                except np.linalg.LinAlgError:
                    for i in range(M.shape[0]):
                        try:
                            X[i] = np.linalg.solve(M[i], U)
                        except np.linalg.LinAlgError:
                            pass
                out[where] = np.einsum("ij,fjk->fik", Et.toarray(), X) if r else out[where]
            return out
        for i in range(nf):
            fac = self.factor(s[i])
            if fac is not None:
                out[i] = Et @ self.solve_with(fac, U)
        return out

    def _static_selected_solves(self, s: np.ndarray, U: np.ndarray, Et: sp.csr_matrix, out: np.ndarray) -> np.ndarray:
        """:meth:`selected_solves` of a lumped system by :class:`StaticPivotLU` on the bordered matrix
        ``[[A(s), U], [Eᵀ, 0]]``, whose Schur complement is ``−Eᵀ·A⁻¹·U``: fills ``out`` at the frequencies whose
        growth ``ρ`` is at most ``defaults["ndf.static_lu_growth"]`` and returns the indices of the others (pivots
        that do not suit them, or ``A`` singular there) for LAPACK. Up to ``defaults["ndf.static_lu_plans"]`` pivot
        orders are tried, each chosen by partial pivoting at one of the frequencies still left (the slowest, then
        the fastest, then the middle one)."""
        n, m = self.n, self.rows.size
        Uc, Ec = sp.coo_matrix(U), sp.coo_matrix(Et)
        Uc.sum_duplicates()  # one entry per position: the factor array is filled by assignment
        Ec.sum_duplicates()
        p, r = Ec.shape[0], Uc.shape[1]
        big = n + max(p, r)
        sch_i, sch_j = np.repeat(np.arange(p), r), np.tile(np.arange(r), p)
        rows = np.concatenate([self.rows, Uc.row, n + Ec.row, n + sch_i])
        cols = np.concatenate([self.cols, n + Uc.col, Ec.col, n + sch_j])
        fixed = np.concatenate([Uc.data, Ec.data, np.zeros(sch_i.size)]).astype(complex)
        limit = _d("static_lu_growth")
        g, c = self.g.astype(complex), self.c.astype(complex)  # complex × complex: numpy's fast loop
        todo = np.arange(s.size)
        for attempt in range(int(_d("static_lu_plans"))):
            if todo.size < _d("static_lu_min_batch"):
                break
            # pivots chosen where G dominates suit the low frequencies, where C dominates the high ones: the
            # slowest frequency first, then the fastest of those left, then the middle one
            mags = np.abs(s[todo])
            ref = s[todo[(np.argmin(mags), np.argmax(mags))[attempt] if attempt < 2 else np.argsort(mags)[mags.size // 2]]]
            values = np.concatenate([self.g + ref * self.c, fixed])
            plan = StaticPivotLU.at(big, rows, cols, values, n)
            if plan is None:
                break
            schur = plan.positions(n + sch_i, n + sch_j)
            left = []
            for part in self.chunks(todo.size, 16 * (2 * plan.size + rows.size)):
                where = todo[part]
                sw = s[where]
                entries = _work("static_lu.entries", (rows.size, sw.size), complex)
                np.multiply(c[:, None], sw[None, :], out=entries[:m])
                entries[:m] += g[:, None]
                entries[m:] = fixed[:, None]
                V, growth = plan.factor(entries)
                good = growth <= limit  # nan (a vanishing pivot) fails
                if good.any():
                    out[where[good]] = -V[schur][:, good].T.reshape(-1, p, r)
                left.append(where[~good])
            todo = np.concatenate(left)
            if not todo.size:
                break
        return todo

    def logdet(self, s: np.ndarray) -> np.ndarray:
        """``log det A(s)`` (``log|det| + j·arg det``) for each ``s``; ``nan`` where ``A`` is singular."""
        out = np.full(s.size, np.nan, dtype=complex)
        if self.n == 0:
            return np.zeros(s.size, dtype=complex)
        if self.kind == "dense":
            for part in self.chunks(s.size, 16 * self.n * self.n):
                sign, logabs = np.linalg.slogdet(self._dense_stack(s[part]))
                ok = sign != 0
                chunk = np.full(sign.shape, np.nan, dtype=complex)
                chunk[ok] = logabs[ok] + 1j * np.angle(sign[ok])
                out[part] = chunk
            return out
        todo = np.arange(s.size)
        if self.kind == "banded":
            for part in self.chunks(s.size, 16 * 4 * (sum(self.band) + 1) ** 2 + 16 * self.rows.size // max(self.n, 1)):
                vals, ok = self._banded_logdet_unpivoted(s[part])
                out[part] = vals
                todo = todo[~np.isin(todo, np.arange(s.size)[part][ok])]
        for i in todo:  # general sparse LU, or frequencies whose pivot-free elimination was not safe
            out[i] = self.logdet_of(self.factor(s[i]))
        return out

    def _banded_logdet_unpivoted(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log det`` of the banded matrix at every ``s`` at once: Gaussian elimination *without* pivoting,
        vectorised over the frequencies, row by row through a window of ``kl + 1`` rows (entries are made as
        rows enter, so memory is ``O(len(s)·band²)``). A frequency is accepted (``ok``) only when no pivot is
        below ``1e-8`` of its row's original size and no entry grew beyond ``1e8`` times the largest original
        entry (the elimination is then backward stable to about ``1e8·ε``); the others go to LAPACK's pivoted
        banded LU."""
        lower, upper = self.band
        width = lower + upper + 1
        nf, n = s.size, self.n
        if "row_index" not in self.plan:
            # per permuted row: its pattern entries and their position in the row's band window
            prow = self.where[self.rows]
            pcol = self.where[self.cols]
            order = np.argsort(prow, kind="stable")
            self.plan.update(row_ptr=np.searchsorted(prow[order], np.arange(n + 1)), row_index=order,
                             row_pos=(pcol - prow + lower)[order])
        ptr, index, pos = self.plan["row_ptr"], self.plan["row_index"], self.plan["row_pos"]
        lumped = self.g is not None
        entries = None if lumped else self.values(s).T  # (m, nf)

        # frequencies run along the last (contiguous) axis: every step is a few vector operations
        def row_values(i):
            idx = index[ptr[i]:ptr[i + 1]]
            if lumped:
                return self.g[idx][:, None] + self.c[idx][:, None] * s[None, :]
            return entries[idx]

        window = np.zeros((lower + 1, width, nf), dtype=complex)
        scale = np.zeros((lower + 1, nf))
        for i in range(min(lower + 1, n)):
            row = row_values(i)
            window[i, pos[ptr[i]:ptr[i + 1]]] = row
            scale[i] = np.max(np.abs(row), axis=0, initial=0.0)
        biggest = np.max(scale, axis=0)
        logabs = np.zeros(nf)
        unit = np.ones(nf, dtype=complex)  # product of the pivots' phases
        ok = np.ones(nf, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for k in range(n):
                pivot = window[0, lower]
                absp = np.abs(pivot)
                ok &= absp > 1e-8 * scale[0]
                logabs += np.log(absp)
                unit *= pivot / absp
                top = window[0, lower + 1:]
                for di in range(1, min(lower, n - 1 - k) + 1):
                    factor = window[di, lower - di] / pivot
                    window[di, lower - di + 1:lower - di + 1 + upper] -= factor[None, :] * top
                # shift the window one row down and bring in row k + lower + 1
                window[:-1] = window[1:]
                scale[:-1] = scale[1:]
                window[-1] = 0.0
                scale[-1] = 0.0
                nxt = k + lower + 1
                if nxt < n:
                    row = row_values(nxt)
                    window[-1, pos[ptr[nxt]:ptr[nxt + 1]]] = row
                    scale[-1] = np.max(np.abs(row), axis=0, initial=0.0)
                    np.maximum(biggest, scale[-1], out=biggest)
                if lower and k % 64 == 63:  # growth check, now and then (cheap)
                    ok &= np.max(np.abs(window), axis=(0, 1)) <= 1e8 * biggest
        ok &= np.max(np.abs(window), axis=(0, 1)) <= 1e8 * biggest
        ok &= np.isfinite(logabs) & np.isfinite(unit)
        return logabs + 1j * np.angle(unit), ok


class ReturnDifferenceEvaluator:
    """Evaluates ``R(s) = I + Eᵀ M0(s)⁻¹ U diag(w(s))`` for arrays of ``s`` (rad/s, complex), and the total
    ``log NDF(s) = log det M(s) − log det M0(s)`` from two factorizations (:meth:`log_ndf`).

    ``M0`` (and ``M``) are factored by :class:`PatternSolver` (batched dense for small systems, banded LU after
    a reverse Cuthill–McKee ordering, or SuperLU with a column ordering reused across frequencies). ``Eᵀ·X`` is
    a sparse selection. Points where ``M0`` is exactly singular come back as ``nan``.

    ``per_source``: the contour follows the ``r`` return differences (``r`` solves and an ``r × r``
    factorization per frequency); without it only the total ``log NDF`` (one determinant ratio, cost
    independent of ``r``). ``columns`` is the number of logarithms the contour tracks (``r`` or 1).
    """

    def __init__(self, system: MNASystem, *, per_source: bool = True):
        self.system = system
        n, r = system.n, system.r
        self.n, self.r = n, r
        self.per_source = bool(per_source)
        self.columns = r if self.per_source else min(r, 1)
        if self.per_source and r:
            fits, why = per_source_fits(n, r)
            if not fits:
                raise CircuitError(why)
        self.U = system.U.toarray().astype(complex) if self.per_source else None
        self.Et = sp.csr_matrix(system.E.T, dtype=complex)
        G0 = sp.coo_matrix(system.G0)
        C0 = sp.coo_matrix(system.C0)
        dist = system.distributed
        rows = np.concatenate([G0.row, C0.row, np.array([d.row for d in dist], dtype=int)])
        cols = np.concatenate([G0.col, C0.col, np.array([d.col for d in dist], dtype=int)])
        self.g, self.c, self.dist_pos, pr, pc = _merge_pattern(n, rows, cols, G0.data, C0.data, len(dist))
        self.pattern_rows, self.pattern_cols = pr, pc
        lumped = not dist
        self.passive = PatternSolver(n, pr, pc, self.entries, *((self.g, self.c) if lumped else (None, None)))
        self._full = None

    @property
    def dense(self) -> bool:
        return self.passive.kind == "dense"

    @property
    def banded(self) -> bool:
        return self.passive.kind == "banded"

    @property
    def solver(self) -> str:
        """The linear-algebra path: ``"dense"``, ``"banded"`` or ``"sparse"`` (of ``M0``)."""
        return self.passive.kind

    def entries(self, s: np.ndarray) -> np.ndarray:
        """Non-zero entries of ``M0(s)`` on the common pattern, shape ``(len(s), m)``."""
        vals = self.g[None, :] + s[:, None] * self.c[None, :]
        for pos, d in zip(self.dist_pos, self.system.distributed):
            vals[:, pos] += d.fn(s)
        return vals

    def __call__(self, s: np.ndarray) -> np.ndarray:
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        nf, r = s.size, self.r
        if r == 0:
            return np.zeros((nf, 0, 0), dtype=complex)
        w = self.system.weights(s).reshape(nf, r)
        T = self.passive.selected_solves(s, self.U, self.Et)  # (nf, r, r): Eᵀ M0⁻¹ U
        return np.eye(r)[None, :, :] + T * w[:, None, :]

    def logdet(self, s: np.ndarray) -> np.ndarray:
        """``log det M0(s)`` (``log|det| + j·arg det``) for an array of ``s``; ``nan`` where ``M0`` is singular.

        With lossy lines (``O``) the factor ``e^θ`` of each (``θ = ℓ·√(z·y)``, :func:`~stabkit.analysis.mna.line_theta`)
        is divided out: analytic and free of zeros in the closed right half-plane (its branch points lie at
        ``s = −r/l``, ``−g/c``, or ``0`` where θ is continuous), so every winding number is unchanged, while the
        phase no longer turns once per ``1/τ`` of the line up to the top of a wide band."""
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        out = self.passive.logdet(s)
        for theta in self._line_thetas:
            out = out - theta(s)
        return out

    @functools.cached_property
    def _line_thetas(self) -> list:
        from stabkit.analysis.mna import line_theta

        circuit, params = self.system.circuit, self.system.params
        return [line_theta(e, circuit.values(e, params)) for e in circuit if e.kind == "O"]

    # ---- the full matrix M = M0 + U diag(w) Eᵀ (total count from one determinant ratio)
    def _full_solver(self) -> PatternSolver:
        if self._full is None:
            sysm = self.system
            UE = sp.coo_matrix(abs(sysm.U) @ abs(sysm.E).T)
            rows = np.concatenate([self.pattern_rows, UE.row])
            cols = np.concatenate([self.pattern_cols, UE.col])
            keys = np.unique(rows.astype(np.int64) * max(self.n, 1) + cols)
            pr, pc = (keys // max(self.n, 1)).astype(int), (keys % max(self.n, 1)).astype(int)
            passive_pos = np.searchsorted(keys, self.pattern_rows.astype(np.int64) * max(self.n, 1) + self.pattern_cols)
            U, E = sp.csc_matrix(sysm.U), sp.csc_matrix(sysm.E)
            # every product term u_ik · e_jk of column k lands on one pattern entry
            terms_pos, terms_k, terms_v = [], [], []
            for k in range(self.r):
                ui = U.indices[U.indptr[k]:U.indptr[k + 1]]
                uv = U.data[U.indptr[k]:U.indptr[k + 1]]
                ej = E.indices[E.indptr[k]:E.indptr[k + 1]]
                ev = E.data[E.indptr[k]:E.indptr[k + 1]]
                for i, a in zip(ui, uv):
                    for j, b in zip(ej, ev):
                        terms_pos.append(np.searchsorted(keys, i * max(self.n, 1) + j))
                        terms_k.append(k)
                        terms_v.append(a * b)
            terms_pos, terms_k, terms_v = np.array(terms_pos, int), np.array(terms_k, int), np.array(terms_v, float)
            size = pr.size
            g_full, c_full = np.zeros(size), np.zeros(size)
            g_full[passive_pos] = self.g
            c_full[passive_pos] = self.c
            a0, a1 = sysm.a0, sysm.a1
            if terms_pos.size:
                np.add.at(g_full, terms_pos, a0[terms_k] * terms_v)
                np.add.at(c_full, terms_pos, a1[terms_k] * terms_v)

            def values(s, passive_pos=passive_pos, size=size):
                out = np.zeros((s.size, size), dtype=complex)
                out[:, passive_pos] = self.entries(s)
                if terms_pos.size:
                    w = self.system.weights(s).reshape(s.size, self.r)
                    np.add.at(out, (slice(None), terms_pos), w[:, terms_k] * terms_v)
                return out

            lumped = not sysm.distributed
            self._full = PatternSolver(self.n, pr, pc, values, *((g_full, c_full) if lumped else (None, None)))
        return self._full

    def log_ndf(self, s: np.ndarray) -> np.ndarray:
        """``log NDF(s) = log det M(s) − log det M0(s)`` (phase wrapped to (−π, π]) for an array of ``s``;
        ``nan`` where either is singular. Per-source mode: ``log det R`` from LAPACK's LU of ``R``."""
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        if self.r == 0:
            return np.zeros(s.size, dtype=complex)
        if self.per_source:
            R = self(s)
            out = np.full(s.size, np.nan, dtype=complex)
            ok = np.all(np.isfinite(R), axis=(1, 2))
            if ok.any():
                sign, logabs = np.linalg.slogdet(R[ok])
                good = sign != 0
                vals = np.full(sign.shape, np.nan, dtype=complex)
                vals[good] = logabs[good] + 1j * np.angle(sign[good])
                out[ok] = vals
            return out
        full = self._full_solver()
        d = full.logdet(s) - self.passive.logdet(s)
        return d.real + 1j * wrap_phase(d.imag)


def per_source_fits(n: int, r: int) -> tuple[bool, str]:
    """Can the per-source return differences of ``r`` active elements over ``n`` unknowns be evaluated here?
    ``(fits, why not)``: the ``n × r`` block ``M0⁻¹U`` of one frequency (and its copies, 48·n·r bytes) must
    take at most half the available memory."""
    from stabkit.analysis.verdict import _available_memory

    need = 48.0 * n * r
    avail = _available_memory()
    if avail is not None and need > 0.5 * avail:
        return False, (f"per-source return differences of {r} active elements over {n} unknowns need about "
                       f"{need / 1e9:.1g} GB per frequency, {avail / 1e9:.1f} GB are available: use the total count "
                       "(per_source=False, det M / det M0)")
    return True, ""


def _merge_pattern(n, rows, cols, g_data, c_data, n_dist):
    """Union pattern of G0, C0 and the distributed entries (``rows``/``cols`` in that order): summed ``g``,
    ``c`` per pattern entry, the pattern position of each distributed entry, and the pattern itself (sorted
    row-major)."""
    keys = np.asarray(rows, dtype=np.int64) * max(n, 1) + np.asarray(cols, dtype=np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    m = uniq.size
    g, c = np.zeros(m), np.zeros(m)
    ng, nc = len(g_data), len(c_data)
    np.add.at(g, inverse[:ng], g_data)
    np.add.at(c, inverse[ng:ng + nc], c_data)
    dist_pos = inverse[ng + nc:ng + nc + n_dist]
    return g, c, dist_pos, (uniq // max(n, 1)).astype(int), (uniq % max(n, 1)).astype(int)


def _parity(perm: np.ndarray) -> int:
    """Parity (0 or 1) of a permutation given as an index array (cycle decomposition, vectorised per step)."""
    perm = np.asarray(perm)
    n = perm.size
    if n == 0:
        return 0
    # follow all cycles at once: label every element with the smallest index on its cycle
    label = np.arange(n)
    cur = perm.copy()
    for _ in range(int(np.ceil(np.log2(n))) + 1):
        label = np.minimum(label, label[cur])
        cur = cur[cur]
    cycles = np.unique(label).size
    return int((n - cycles) & 1)


def return_difference_matrix(system: MNASystem, s) -> np.ndarray:
    """``R(s) = I + Eᵀ M0(s)⁻¹ U diag(w(s))`` for an array of ``s``; shape ``(len(s), r, r)``."""
    return ReturnDifferenceEvaluator(system)(np.atleast_1d(np.asarray(s, dtype=complex)))


def element_frequency_band(system: MNASystem) -> tuple[float, float]:
    """Lowest and highest characteristic angular frequency (rad/s) built from element values:
    ``1/RC``, ``R/L``, ``1/√(LC)``, ``1/τ`` of lines, with ``1/|gm|`` and CCVS gains counted as resistances."""
    circuit, params = system.circuit, system.params
    res, caps, inds, delays = [], [], [], []
    for e in circuit:
        if e.kind in ("V", "I", "K", "E", "F"):
            continue
        vals = circuit.values(e, params)
        if e.kind in ("T", "O"):
            from stabkit.analysis.mna import line_scales

            line_res, line_times = line_scales(e, vals)
            res += line_res
            delays += line_times
            continue
        v = abs(vals.get("value", 0.0))
        if v == 0:
            continue
        if e.kind == "R" or e.kind == "H":
            res.append(v)
        elif e.kind == "G":
            res.append(1.0 / v)
        elif e.kind == "C":
            caps.append(v)
        elif e.kind == "L":
            inds.append(v)
    cands: list[float] = []
    if res and caps:
        cands += [1.0 / (max(res) * max(caps)), 1.0 / (min(res) * min(caps))]
    if res and inds:
        cands += [min(res) / max(inds), max(res) / min(inds)]
    if inds and caps:
        cands += [1.0 / np.sqrt(max(inds) * max(caps)), 1.0 / np.sqrt(min(inds) * min(caps))]
    cands += [1.0 / d for d in delays]
    cands = [c for c in cands if np.isfinite(c) and c > 0]
    if not cands:
        return 1.0, 1.0
    return float(min(cands)), float(max(cands))


def passive_natural_frequencies(system: MNASystem) -> np.ndarray:
    """Zeros of ``det M0`` (the passive circuit's natural frequencies, rad/s) for a lumped circuit; these are
    the NDF's poles and are used to place samples around sharp resonances. Empty for distributed circuits
    or when the passive pencil cannot be solved."""
    res = _passive_pole_result(system)
    return np.zeros(0, dtype=complex) if res is None else res.poles


def _passive_system(system: MNASystem) -> MNASystem:
    import dataclasses

    return dataclasses.replace(system, active=[dataclasses.replace(a, a0=0.0, a1=0.0) for a in system.active])


def _passive_pole_result(system: MNASystem):
    if not system.is_lumped or system.n == 0 or system.n > _d("exact_poles_max_n"):
        return None
    return _pole_result(_passive_system(system))


def _pole_result(system: MNASystem):
    """:class:`~stabkit.analysis.poles.PoleResult` of a lumped system (structural zero modes excluded, error
    bounds included), or ``None`` when the pencil cannot be solved."""
    from stabkit.analysis.poles import poles

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return poles(system)
    except (CircuitError, np.linalg.LinAlgError, ValueError):
        return None


def _slowest_band_floor(system: MNASystem, f_lo: float) -> float:
    """Low end of the default band (Hz) of a lumped circuit too large for the exact poles: ``f_lo`` (from the
    element values), lowered to ``defaults["ndf.pole_margin"]`` below the slowest natural frequency of the
    circuit and of its passive reference found by shift-invert Arnoldi near ``s = 0`` (structural zero modes,
    ``|s|`` at the rounding level, left aside)."""
    from stabkit.analysis.rightmost import slowest_modes

    floor = TWO_PI * f_lo
    slow = []
    for G, C in ((system.G, system.C), (system.G0, system.C0)):
        vals = slowest_modes(G, C, 1e-3 * floor)
        slow.extend(np.abs(vals[np.abs(vals) > 1e-6 * floor]))
    if slow:
        return min(f_lo, float(min(slow)) / TWO_PI / _d("pole_margin"))
    return f_lo


def _lumped_poles(system: MNASystem) -> np.ndarray:
    """Natural frequencies (rad/s, structural zero modes excluded) of a lumped system, or empty."""
    res = _pole_result(system)
    return np.zeros(0, dtype=complex) if res is None else res.poles


def numerical_limit(system: MNASystem) -> float:
    """Angular frequency above which ``s·C0`` outweighs ``G0`` by ``defaults["ndf.numerical_span"]`` (entry-wise maxima):
    beyond it ``M0(s)`` no longer carries its static part in double precision and the NDF is round-off."""
    gmax = float(np.max(np.abs(system.G0.data))) if system.G0.nnz else 1.0
    cmax = float(np.max(np.abs(system.C0.data))) if system.C0.nnz else 0.0
    return _d("numerical_span") * gmax / cmax if cmax > 0 else np.inf


def default_band(system: MNASystem, passive_poles: np.ndarray | None = None,
                 poles: np.ndarray | None = None, *, passive_errors: np.ndarray | None = None,
                 errors: np.ndarray | None = None) -> tuple[float, float]:
    """Default ``(fmin, fmax)`` in Hz.

    Lumped circuits: the natural frequencies are known (``poles`` of the circuit and ``passive_poles`` of
    the passive reference, rad/s, structural zero modes excluded, with their error bounds ``errors`` and
    ``passive_errors``): the band covers all of them with a margin ``defaults["ndf.pole_margin"]`` (100×)
    on either side, so the contour starts below the slowest mode and the dense sweep ends above the
    fastest. Every natural frequency counts, however far from the others: a slow RHP pole beside a fast
    one is still counted. Distributed circuits: element time scales (:func:`element_frequency_band`),
    ``bottom_factor`` below and ``top_factor`` above. Never capped at a "numerical limit": the tail is
    extended until it settles, or the result says it did not."""
    lo, hi = element_frequency_band(system)
    low, high = [], []
    for p, e in ((poles, errors), (passive_poles, passive_errors)):
        if p is None or not np.size(p):
            continue
        p = np.asarray(p, dtype=complex)
        e = np.zeros(p.shape) if e is None else np.asarray(e, dtype=float)
        mag = np.abs(p)
        ok = np.isfinite(mag) & np.isfinite(e)
        low.append(np.maximum(mag - e, 0.0)[ok])
        high.append((mag + e)[ok])
    low = np.concatenate(low) if low else np.zeros(0)
    high = np.concatenate(high) if high else np.zeros(0)
    low = low[low > 0]
    if system.is_lumped and high.size:
        margin = _d("pole_margin")
        slow = float(low.min()) if low.size else lo
        return slow / TWO_PI / margin, float(high.max()) / TWO_PI * margin
    if high.size:
        lo, hi = min(lo, float(low.min()) if low.size else lo), max(hi, float(high.max()))
    return lo / TWO_PI / _d("bottom_factor"), hi / TWO_PI * _d("top_factor")


# ---------------------------------------------------------------------------------------------- contour
class _Contour:
    """Samples along the upper half of the indented Nyquist contour, kept sorted by a path parameter ``t``:
    ``t ∈ [0, 1]`` is the quarter circle ``ε·e^{jπt/2}``; ``t ≥ 1`` the jω axis with ``ω = ε·10^{t−1}``.
    Detour points (on indentation semicircles) carry intermediate ``t`` and are never refined."""

    def __init__(self, evaluator: ReturnDifferenceEvaluator, eps: float, track_det: bool = False):
        self.ev = evaluator
        self.eps = eps
        self.t = np.zeros(0)
        self.s = np.zeros(0, dtype=complex)
        self.L = np.zeros((0, evaluator.columns), dtype=complex)
        #: track ``log det M0`` too (distributed circuits: its jumps reveal passive natural frequencies on
        #: the jω axis, which the NDF itself does not show when the active elements leave them in place)
        self.track_det = track_det
        self.P = np.zeros(0, dtype=complex)
        #: d log F / d ln ω at samples on the jω axis (nan elsewhere): the alias check of the phase steps
        self.D = np.zeros((0, evaluator.columns), dtype=complex)
        self.indentations: list[tuple[float, float]] = []
        self.detour = np.zeros(0, dtype=bool)
        self.det_check: list[float] = []
        self.detours = 0
        self.notes: list[str] = []

    def s_of_t(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        arc = self.eps * np.exp(1j * np.pi / 2 * np.clip(t, 0, 1))
        axis = 1j * self.eps * 10.0 ** np.maximum(t - 1.0, 0.0)
        return np.where(t <= 1.0, arc, axis)

    def t_of_omega(self, omega: np.ndarray) -> np.ndarray:
        return 1.0 + np.log10(np.asarray(omega, dtype=float) / self.eps)

    def evaluate(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log return differences (or the total log NDF) at ``s``; points where ``M0`` is singular are nudged
        to the right."""
        s = np.array(s, dtype=complex)
        if not self.ev.per_source:
            return self._evaluate_total(s)
        r = self.ev.r
        # frequencies in chunks: at most CHUNK_BYTES of r × r matrices (and their pivots) at a time
        L = np.zeros((s.size, r), dtype=complex)
        for part in _chunks(s.size, 64 * max(r, 1) ** 2):
            s[part], L[part] = self._evaluate_sources(s[part])
        return s, L

    def _evaluate_sources(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = self.ev(s)
        piv = unpivoted_lu_pivots(R)
        bad = ~np.all(np.isfinite(piv), axis=1) | (np.abs(piv) == 0).any(axis=1) if self.ev.r else np.zeros(s.size, bool)
        for _ in range(3):
            if not bad.any():
                break
            s[bad] = s[bad] + 1e-9 * np.maximum(np.abs(s[bad]), self.eps)
            Rb = self.ev(s[bad])
            R[bad] = Rb
            piv[bad] = unpivoted_lu_pivots(Rb)
            bad = ~np.all(np.isfinite(piv), axis=1) | (np.abs(piv) == 0).any(axis=1)
        if bad.any():
            raise CircuitError("the return-difference matrix is singular on the contour (a leading minor "
                               f"vanishes identically near s = {s[bad][0]:.6g} rad/s): a subset of the active "
                               "elements makes the circuit degenerate")
        # the product of the unpivoted pivots must be det R (pivoted): a cheap check on the factor split
        if self.ev.r:
            sign, logdet = np.linalg.slogdet(R)
            logprod = np.sum(np.log(np.abs(piv)), axis=1)
            phase_err = np.abs(wrap_phase(np.angle(sign) - np.sum(np.angle(piv), axis=1)))
            mismatch = np.abs(logprod - logdet) + phase_err
            self.det_check.append(float(np.max(mismatch)) if mismatch.size else 0.0)
        return s, log_pivots(piv)

    def _evaluate_total(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.ev.r == 0:
            return s, np.zeros((s.size, 0), dtype=complex)
        L = self.ev.log_ndf(s)
        bad = ~np.isfinite(L)
        for _ in range(3):
            if not bad.any():
                break
            s[bad] = s[bad] + 1e-9 * np.maximum(np.abs(s[bad]), self.eps)
            L[bad] = self.ev.log_ndf(s[bad])
            bad = ~np.isfinite(L)
        if bad.any():
            raise CircuitError(f"the circuit matrix is singular on the contour near s = {s[bad][0]:.6g} rad/s")
        return s, L[:, None]

    def insert(self, t: np.ndarray, detour: np.ndarray | None = None, s: np.ndarray | None = None) -> None:
        t = np.asarray(t, dtype=float)
        if t.size == 0:
            return
        s = self.s_of_t(t) if s is None else np.asarray(s, dtype=complex)
        s_used, L = self.evaluate(s)
        P = self.ev.logdet(s_used) if self.track_det else np.zeros(s_used.size, dtype=complex)
        detour = np.zeros(t.size, bool) if detour is None else np.asarray(detour, bool)
        D = self._slopes(t, s_used, L, detour)
        self.t = np.concatenate([self.t, t])
        self.s = np.concatenate([self.s, s_used])
        self.L = np.concatenate([self.L, L])
        self.P = np.concatenate([self.P, P])
        self.D = np.concatenate([self.D, D])
        self.detour = np.concatenate([self.detour, detour])
        order = np.argsort(self.t, kind="stable")
        self.t, self.s, self.L, self.P, self.D, self.detour = (self.t[order], self.s[order], self.L[order],
                                                               self.P[order], self.D[order], self.detour[order])

    def _slopes(self, t: np.ndarray, s: np.ndarray, L: np.ndarray, detour: np.ndarray) -> np.ndarray:
        """``d log F / d ln ω`` of every column at the samples on the jω axis (a forward difference over a
        relative step ``defaults["ndf.slope_step"]``); ``nan`` elsewhere and where the second point fails."""
        D = np.full(L.shape, np.nan, dtype=complex)
        on_axis = (t >= 1.0) & ~detour & (s.real == 0.0)
        if not on_axis.any() or L.shape[1] == 0 or getattr(self.ev, "n", 0) <= _d("slope_min_n"):
            return D
        h = _d("slope_step")
        try:
            s_h, L_h = self.evaluate(s[on_axis] * (1.0 + h))
        except CircuitError:
            return D
        moved = np.abs(s_h - s[on_axis] * (1.0 + h)) > 1e-3 * h * np.abs(s[on_axis])  # nudged off a singular point
        dL = L_h - L[on_axis]
        slope = (dL.real + 1j * wrap_phase(dL.imag)) / np.log1p(h)
        slope[moved] = np.nan
        D[on_axis] = slope
        return D

    def add_detour(self, omega_center: float, radius: float, record: bool = True) -> None:
        """Indent the axis around ``j·omega_center`` with a semicircle of ``radius`` to the right."""
        w1, w2 = omega_center - radius, omega_center + radius
        if w1 <= self.eps:
            return
        t1, t2 = self.t_of_omega([w1, w2])
        theta = np.linspace(-np.pi / 2, np.pi / 2, _d("detour_points") + 2)[1:-1]
        s_arc = 1j * omega_center + radius * np.exp(1j * theta)
        t_arc = t1 + (t2 - t1) * (np.arange(1, _d("detour_points") + 1) / (_d("detour_points") + 1))
        # drop regular samples that fall inside the indentation
        keep = ~((self.t > t1) & (self.t < t2))
        self.t, self.s, self.L, self.P, self.D, self.detour = (self.t[keep], self.s[keep], self.L[keep],
                                                               self.P[keep], self.D[keep], self.detour[keep])
        if record:  # indentations the refinement makes are checked for what hides inside them
            self.indentations.append((omega_center, radius))
        self.insert(np.array([t1, t2]))
        self.insert(t_arc, detour=np.ones(_d("detour_points"), bool), s=s_arc)

    # ---- refinement
    def violations(self) -> tuple[np.ndarray, np.ndarray]:
        """Per segment: does it turn too fast (phase) / change too much in magnitude?"""
        if self.t.size < 2:
            return np.zeros(0, bool), np.zeros(0, bool)
        ph = self.L.imag
        dphi = np.abs(wrap_phase(np.diff(ph, axis=0)))
        dtot = np.abs(wrap_phase(np.diff(ph.sum(axis=1))))
        phase_bad = (dphi.max(axis=1, initial=0.0) > _d("max_phase_step")) | (dtot > _d("max_phase_step"))
        phase_bad |= self._aliased()
        if self.track_det:
            dp = np.abs(wrap_phase(np.diff(self.P.imag)))
            phase_bad |= ~np.isfinite(dp) | (dp > _d("max_phase_step"))
        thetas = getattr(self.ev, "_line_thetas", []) if self.track_det else []
        if thetas:  # lossy lines: their rotation is out of P (logdet), so follow their phase where it can matter
            dth = np.max([np.abs(np.diff(theta(self.s).imag)) for theta in thetas], axis=0)
            strength = np.abs(self.L).sum(axis=1)
            active = np.maximum(strength[:-1], strength[1:]) > _d("line_active")
            phase_bad |= active & (dth > _d("max_phase_step"))
        mag = self.L.real
        dmag = np.abs(np.diff(mag, axis=0)).max(axis=1, initial=0.0)
        tot = mag.sum(axis=1)
        dmag_tot = np.abs(np.diff(tot))
        mag_bad = (dmag > _d("max_log_mag_step")) | (dmag_tot > _d("max_log_mag_step"))
        # local dips of |NDF| (a near pass of the origin): refine both sides
        if tot.size >= 3:
            dip = (tot[1:-1] < tot[:-2] - 0.5) & (tot[1:-1] < tot[2:] - 0.5)
            idx = np.flatnonzero(dip)
            mag_bad[idx] = True
            mag_bad[idx + 1] = True
        return phase_bad, mag_bad

    def _aliased(self) -> np.ndarray:
        """Per segment on the jω axis: does its wrapped phase change (any column, or the total) disagree with
        the change its end slopes predict (trapezoid in ``ln ω``) by more than ``defaults["ndf.alias_tol"]``?
        Then it turned a whole turn more than it shows."""
        w = np.abs(self.s.imag)
        seg = ((self.t[:-1] >= 1.0) & ~self.detour[:-1] & ~self.detour[1:] & (w[:-1] > 0)
               & np.all(np.isfinite(self.D[:-1]), axis=1) & np.all(np.isfinite(self.D[1:]), axis=1))
        if not seg.any():
            return np.zeros(self.t.size - 1, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            lnr = np.log(w[1:] / w[:-1])
            seg &= np.isfinite(lnr) & (lnr > _d("alias_min_rel"))
            pred = 0.5 * (self.D[:-1].imag + self.D[1:].imag) * lnr[:, None]
        obs = wrap_phase(np.diff(self.L.imag, axis=0))
        off = np.abs(pred - obs)
        off_tot = np.abs(pred.sum(axis=1) - wrap_phase(np.diff(self.L.imag.sum(axis=1))))
        bad = (np.max(off, axis=1, initial=0.0) > _d("alias_tol")) | (off_tot > _d("alias_tol"))
        return seg & np.nan_to_num(bad, nan=False).astype(bool)

    def refine(self, max_levels: int = 90) -> None:
        for _ in range(max_levels):
            if self.t.size > _d("max_points"):
                self.notes.append(f"refinement stopped at {_d('max_points')} samples: some phase steps may be unresolved")
                return
            phase_bad, mag_bad = self.violations()
            if phase_bad.size == 0:
                return
            regular = ~(self.detour[:-1] | self.detour[1:])
            t0, t1 = self.t[:-1], self.t[1:]
            on_axis = t0 >= 1.0
            w0 = np.abs(self.s[:-1].imag)
            w1 = np.abs(self.s[1:].imag)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                rel = np.where(on_axis, (w1 - w0) / np.maximum(w0, 1e-300), t1 - t0)
            split = regular & ((phase_bad & (rel > _d("singular_rel_width"))) | (mag_bad & (rel > _d("mag_rel_width"))))
            stuck = regular & phase_bad & on_axis & (rel <= _d("singular_rel_width"))
            if self.detours >= _d("max_detours"):
                stuck[:] = False
            for i in np.flatnonzero(stuck)[::-1][:max(_d("max_detours") - self.detours, 0)]:
                self.detours += 1
                center = 0.5 * (w0[i] + w1[i])
                self.notes.append(f"indented the contour around a singularity on the jω axis at "
                                  f"{center / TWO_PI:.6g} Hz")
                self.add_detour(center, max(1e-7 * center, (w1[i] - w0[i])))
            if not split.any():
                if not stuck.any():
                    return
                continue
            self.insert(0.5 * (t0[split] + t1[split]))
        self.notes.append("refinement stopped at its level limit: some phase steps may be unresolved")

    def unresolved_steps(self) -> int:
        phase_bad, _ = self.violations()
        return int(np.sum(phase_bad))


# ---------------------------------------------------------------------------------------------- counting
def phase_change(log_values: np.ndarray) -> np.ndarray:
    """Total (unwrapped) change of ``arg`` along axis 0 of a log-sample array, summed step by step."""
    return np.sum(wrap_phase(np.diff(np.asarray(log_values).imag, axis=0)), axis=0)


def tail_exponent(log_top: np.ndarray, log_below: np.ndarray, decades: float) -> np.ndarray:
    """Log-log slope ``d log|F| / d log ω`` between two samples ``decades`` apart."""
    return (np.asarray(log_top).real - np.asarray(log_below).real) / (decades * np.log(10.0))


def encirclement_counts(log_values: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Raw clockwise encirclement counts of each column, ``−Δarg/π + m/2`` with ``m`` the nearest
    integer to the asymptotic slope (``F ≈ c·s^m``)."""
    m = np.round(np.asarray(slope, dtype=float))
    return -phase_change(log_values) / np.pi + m / 2.0


def tail_residual(log_top: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Phase (rad) still to turn after the last sample to reach the asymptote ``c·(jω)^m`` with real ``c``."""
    m = np.round(np.asarray(slope, dtype=float))
    rel = np.asarray(log_top).imag - m * np.pi / 2
    return rel - np.pi * np.round(rel / np.pi)


# ---------------------------------------------------------------------------------------------- results
@dataclass
class SourceResult:
    """Return difference ``F_k`` of one active element (sources ``1..k−1`` on, ``k+1..r`` off).

    ``encirclements`` is the number of unstable natural frequencies that appear when this element is
    switched on after the ones before it (it can be negative: switching it on stabilised a mode)."""

    name: str
    kind: str
    encirclements: int
    raw_count: float
    values: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "encirclements": int(self.encirclements),
                "raw_count": float(self.raw_count)}


@dataclass
class NDFResult:
    """The NDF along the contour and its verdict.

    ``s`` is the sampled contour (rad/s; the first samples are the small quarter circle and any detours leave
    the axis), ``freq_hz = Im(s)/2π``, ``values`` the NDF there, ``log_values`` its complex logarithm with an
    unwrapped phase (safe where ``values`` would over- or underflow), ``factors`` the ``F_k`` (columns in
    netlist order). ``encirclements`` is the rounded total of ``raw_count``.

    ``doubts`` say why the count may be wrong (non-integer count, unsettled tail, unresolved phase steps,
    product of the factors ≠ det R, a natural frequency on the axis); ``warnings`` are informational
    (indentations, S-parameter blocks: their measured band and the assumption that each is stable in its
    reference impedances). ``axis_doubts`` (a subset of ``doubts``) are the
    ones that only say a natural frequency may sit on the jω axis (or inside an indentation next to it):
    they cannot remove an encirclement that was counted.

    ``verdict``: ``"unstable"`` when the NDF encircles the origin and no doubt other than an axis doubt
    stands (with axis doubts the count is then a lower bound, :attr:`count_is_lower_bound`); else
    ``"uncertain"`` with any doubt or a marginal locus; else ``"stable"`` (no encirclement); ``stable``
    means ``verdict == "stable"``."""

    s: np.ndarray = field(repr=False)
    log_values: np.ndarray = field(repr=False)
    factors: np.ndarray = field(repr=False)
    sources: list[SourceResult]
    encirclements: int
    raw_count: float
    marginal: bool
    warnings: list[str]
    fmin: float
    fmax: float
    params: dict[str, float] = field(default_factory=dict)
    title: str = ""
    doubts: list[str] = field(default_factory=list)
    axis_doubts: list[str] = field(default_factory=list)
    #: how it was evaluated: the factorization of ``M0`` (``dense`` batched for small systems, ``banded``,
    #: ``sparse``) and whether per-source return differences or the total ``det M / det M0`` were followed
    solver: str = ""

    @property
    def verdict(self) -> str:
        count_doubts = [d for d in self.doubts if d not in self.axis_doubts]
        if not count_doubts and self.encirclements > 0:
            return "unstable"
        if self.doubts or self.marginal:
            return "uncertain"
        return "stable" if self.encirclements == 0 else "uncertain"

    @property
    def count_is_lower_bound(self) -> bool:
        """An unstable verdict whose count may miss natural frequencies on or right next to the jω axis."""
        return self.verdict == "unstable" and bool(self.doubts or self.marginal)

    @property
    def stable(self) -> bool:
        return self.verdict == "stable"

    @property
    def freq_hz(self) -> np.ndarray:
        return self.s.imag / TWO_PI

    @property
    def values(self) -> np.ndarray:
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_values)

    @property
    def running_count(self) -> np.ndarray:
        """``−(arg NDF − arg NDF(ε))/π`` along the contour (the count before the tail term ``m/2``)."""
        steps = wrap_phase(np.diff(self.log_values.imag))
        return -np.concatenate([[0.0], np.cumsum(steps)]) / np.pi

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "stable": self.stable,
            "encirclements": int(self.encirclements),
            "raw_count": float(self.raw_count),
            "marginal": bool(self.marginal),
            "lower_bound": bool(self.count_is_lower_bound),
            "sources": [src.to_dict() for src in self.sources],
            "warnings": list(self.doubts) + list(self.warnings),
            "fmin_hz": float(self.fmin),
            "fmax_hz": float(self.fmax),
            "points": int(self.s.size),
            "solver": self.solver,
        }

    def plot(self, ax=None):
        """Polar NDF locus (radius compressed as log(1+|NDF|), angles and encirclements preserved) with
        frequency marks, and the running count versus frequency."""
        from stabkit.report.plots import plot_ndf

        return plot_ndf(self.values, self.freq_hz, self.running_count, self.encirclements,
                        ax=ax, title=self.title or "NDF")

    def plot_sources(self, ax=None):
        """Loci of the return differences ``F_k`` (same radius compression), one colour per source."""
        from stabkit.report.plots import plot_return_differences

        return plot_return_differences([src.values for src in self.sources],
                                       [f"{src.name} ({src.encirclements})" for src in self.sources], ax=ax)


def ndf_on_axis(circuit_or_system: Circuit | MNASystem, freqs_hz, params: Mapping[str, float] | None = None, *,
                per_source: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """NDF and return differences at fixed frequencies on the jω axis (no counting, no refinement).

    Returns ``(ndf, factors)`` with shapes ``(len(freqs),)`` and ``(len(freqs), r)``; a frequency where
    ``M0`` is exactly singular gives ``nan``. With ``per_source=False`` only the NDF, as ``det M / det M0``
    from two sparse factorizations per frequency (cost independent of the number of active elements), and
    ``factors`` of shape ``(len(freqs), 0)``."""
    system = circuit_or_system if isinstance(circuit_or_system, MNASystem) else assemble(circuit_or_system, params)
    s = 1j * TWO_PI * np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    from stabkit.analysis.blocks import split_blocks  # hook: S-parameter blocks as return differences

    system, block_ev = split_blocks(system)
    if block_ev is not None:
        piv = unpivoted_lu_pivots(block_ev(s))
        factors = np.stack([np.prod(piv[:, cols], axis=1) for _, _, cols in block_ev.groups], axis=1)
        return np.prod(factors, axis=1), factors
    if not per_source:
        log_ndf = ReturnDifferenceEvaluator(system, per_source=False).log_ndf(s)
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(log_ndf), np.ones((s.size, 0))
    factors = unpivoted_lu_pivots(ReturnDifferenceEvaluator(system)(s)) if system.r else np.ones((s.size, 0))
    return np.prod(factors, axis=1), factors


def python_control_count(result: "NDFResult") -> int:
    """Second opinion: hand the sampled jω-axis locus to python-control (``frd`` + ``nyquist_response``)
    as the loop ``NDF − 1`` and return its count of encirclements of −1 (python-control mirrors ω < 0
    itself). Only meaningful when the NDF tends to a constant at infinity and the contour needed no
    indentation beyond the small quarter circle at the origin."""
    import control

    on_axis = (result.s.real == 0) & (result.s.imag > 0)
    if np.any((result.s.real != 0) & (np.abs(result.s) > 2 * TWO_PI * result.fmin)):
        raise ValueError("the contour was indented around a singularity on the jω axis: python-control's "
                         "frequency-response count does not apply")
    loop = control.frd(result.values[on_axis] - 1.0, result.s.imag[on_axis])
    response = control.nyquist_response(loop, omega=result.s.imag[on_axis], warn_encirclements=False,
                                        warn_nyquist=False)
    return int(response.count)


def _passive_axis_modes(passive: np.ndarray, errors: np.ndarray) -> list[tuple[float, float, int, bool]]:
    """Natural frequencies of the passive reference that cannot be told from the jω axis (their error disc
    crosses it), upper half only: ``(ω0, radius, k0, clean)`` with an indentation radius well beyond their
    error, the number ``k0`` of passive natural frequencies inside that disc, and whether none straddles its
    edge (then ``k0`` is exact)."""
    out = []
    upper = [(p, e) for p, e in zip(passive, errors) if p.imag > 0 and abs(p.real) <= e]
    done: list[float] = []
    for p, e in sorted(upper, key=lambda pe: pe[0].imag):
        w = float(p.imag)
        if any(abs(w - d) <= 1e-9 * w for d in done):
            continue
        done.append(w)
        radius = max(1e-6 * w, 16.0 * (abs(p.real) + e))
        dist = np.abs(passive - 1j * w)
        inside = dist + errors < radius
        straddle = (dist + errors >= radius) & (dist - errors <= radius)
        out.append((w, radius, int(np.sum(inside)), not bool(np.any(straddle)) and radius < 0.1 * w))
    return out


def _hidden_axis_zeros(evaluator: "ReturnDifferenceEvaluator", omega: float, radius: float, k0: int | None,
                       max_points: int = 4096) -> int | None:
    """Natural frequencies of the circuit inside the disc of ``radius`` around ``jω``: the winding number of
    ``NDF = det R`` around the full circle plus the number ``k0`` of natural frequencies of the passive
    reference inside it (``None``: counted here too, as the winding number of ``det M0``, an entire function).
    The circle is refined until no step of either phase turns more than π/4. ``None`` when it cannot be
    resolved (a zero or pole on it)."""
    theta = np.linspace(0.0, TWO_PI, 65)
    for _ in range(12):
        s = 1j * omega + radius * np.exp(1j * theta)
        phases = []
        if evaluator.r:
            log_ndf = evaluator.log_ndf(s)
            if not np.all(np.isfinite(log_ndf)):
                return None
            phases.append(log_ndf.imag)
        if k0 is None:
            ld = evaluator.logdet(s)
            if not np.all(np.isfinite(ld)):
                return None
            phases.append(ld.imag)
        if not phases:
            return k0
        steps = [wrap_phase(np.diff(ph)) for ph in phases]
        bad = np.any([np.abs(st) > np.pi / 4 for st in steps], axis=0)
        if not bad.any():
            windings = [float(np.sum(st)) / TWO_PI for st in steps]
            if any(abs(w - round(w)) > 0.1 for w in windings):
                return None
            total = sum(int(round(w)) for w in windings)
            return total + (k0 or 0)
        if theta.size > max_points:
            return None
        theta = np.sort(np.concatenate([theta, 0.5 * (theta[:-1][bad] + theta[1:][bad])]))
    return None


# ---------------------------------------------------------------------------------------------- driver
def ndf(circuit_or_system: Circuit | MNASystem, params: Mapping[str, float] | None = None, *,
        fmin: float | None = None, fmax: float | None = None, per_source: bool | None = None,
        exact_poles=None) -> NDFResult:
    """NDF of a circuit, its encirclement count and the per-source return differences.

    ``fmin``/``fmax`` (Hz) bound the dense sweep: the contour starts at ``s = 2π·fmin`` on the real axis
    (natural frequencies with ``|s| < 2π·fmin`` are not counted) and the tail beyond ``fmax`` is extended
    decade by decade until every ``F_k`` has settled onto its asymptote (at most ``10⁶·fmax``). Defaults
    come from the circuit (:func:`default_band`).

    ``per_source``: follow the ``r`` return differences ``F_k`` (per-source counts in ``sources``; ``r``
    solves and an ``r × r`` factorization per frequency) or only the total ``NDF = det M / det M0`` (two
    sparse factorizations per frequency, whatever ``r``; ``sources`` is then empty). Default: per source up
    to ``defaults["ndf.per_source_max"]`` active elements. Where an exact pole solution is too large
    (``n > defaults["ndf.exact_poles_max_n"]``) the band's low end also comes from the slowest natural
    frequencies found by shift-invert Arnoldi (:func:`stabkit.analysis.rightmost.slowest_modes`).

    ``exact_poles``: the :class:`~stabkit.analysis.poles.PoleResult` of this very system (``poles(system)``), when
    the caller has it already (:func:`~stabkit.analysis.verdict.decide_linear`): used for the default band
    instead of being computed a second time (the same function on the same system, so the same numbers).
    """
    system = circuit_or_system if isinstance(circuit_or_system, MNASystem) else assemble(circuit_or_system, params)
    # --- hook (stabkit.analysis.blocks): S-parameter blocks are replaced by their reference terminations in
    # the embedding (whose M0 this function uses) and come back as return differences of their own
    from stabkit.analysis.blocks import band_of, extrapolation_doubts, split_blocks

    system, block_ev = split_blocks(system)
    # --- end hook
    if per_source is None:
        per_source = system.r <= _d("per_source_max") and per_source_fits(system.n, system.r)[0]
    if block_ev is not None:  # a block's ports are columns of its own: counted per controller
        per_source = True
    passive_res = _passive_pole_result(system)
    exact_size = system.is_lumped and system.n <= _d("exact_poles_max_n")
    if exact_poles is not None and block_ev is None and exact_size:
        full_res = exact_poles
    else:
        full_res = _pole_result(system) if exact_size else None
    passive, passive_err = ((passive_res.poles, passive_res.errors) if passive_res is not None
                            else (np.zeros(0, complex), np.zeros(0)))
    full, full_err = (full_res.poles, full_res.errors) if full_res is not None else (np.zeros(0, complex), np.zeros(0))
    from stabkit.analysis.poles import defaults as pole_defaults

    resolved_full = full_err < pole_defaults["poles.infinite_rtol"] * np.abs(full)
    resolved_passive = passive_err < pole_defaults["poles.infinite_rtol"] * np.abs(passive)
    dflt_lo, dflt_hi = default_band(system, passive[resolved_passive], full[resolved_full],
                                    passive_errors=passive_err[resolved_passive], errors=full_err[resolved_full])
    if block_ev is not None:  # hook: the contour covers the blocks' data, a decade beyond on either side
        data_lo, data_hi = band_of(block_ev)
        dflt_lo, dflt_hi = min(dflt_lo, data_lo / 10.0), max(dflt_hi, 10.0 * data_hi)
    if system.is_lumped and system.n > _d("exact_poles_max_n") and fmin is None and system.n:
        dflt_lo = _slowest_band_floor(system, dflt_lo)
    f_lo = float(fmin) if fmin is not None else dflt_lo
    f_hi = float(fmax) if fmax is not None else dflt_hi
    if not (f_lo > 0 and f_hi > f_lo and np.isfinite(f_hi)):
        raise CircuitError(f"NDF band: need 0 < fmin < fmax, got fmin={f_lo:g} Hz, fmax={f_hi:g} Hz")
    eps = TWO_PI * f_lo
    w_top = TWO_PI * f_hi
    evaluator = ReturnDifferenceEvaluator(system, per_source=per_source) if block_ev is None else block_ev
    contour = _Contour(evaluator, eps, track_det=not system.is_lumped)
    warn: list[str] = []
    doubts: list[str] = []
    axis_doubts: list[str] = []
    if full_res is not None and (fmin is None or fmax is None):
        # natural frequencies the exact solver cannot resolve (bound ≥ poles.infinite_rtol × size) are beyond
        # what double precision tells apart; the NDF evaluates the same numbers, so they are a doubt here too
        for p in full[full_res.unresolved_mask & (full.imag >= 0)]:
            whose = "" if block_ev is None else " of the embedding (S-parameter blocks replaced by Z0)"  # hook
            doubts.append(f"a natural frequency{whose} near {abs(p) / TWO_PI:.3g} Hz cannot be resolved in double "
                          "precision (stabkit.poles): the NDF cannot count it reliably either")
    if block_ev is not None:  # hook
        warn.append(f"S-parameter block(s) {', '.join(b.name for b in block_ev.blocks)} enter as return differences "
                    "det(I − S·Γ): the count assumes each block stable in its reference impedances; S is measured "
                    f"from {data_lo:.4g} Hz to {data_hi:.4g} Hz and extrapolated outside (see docs/ndf.md)")

    decades = np.log10(w_top / eps)
    n_axis = max(int(np.ceil(decades * _d("points_per_decade"))), 2)
    t_axis = 1.0 + np.linspace(0.0, decades, n_axis + 1)
    t_arc = np.linspace(0.0, 1.0, 9)[:-1]
    # samples around the passive circuit's resonances (the NDF's poles): sharp features a plain grid misses
    extra = []
    for p in full:  # and around the circuit's own natural frequencies near the axis (the NDF's zeros)
        if p.imag > 0 and abs(p.real) < 0.3 * p.imag:
            for m in (-4, -2, -1, -0.5, 0, 0.5, 1, 2, 4):
                extra.append(p.imag + m * max(abs(p.real), 1e-9 * p.imag))
    axis_modes = _passive_axis_modes(passive, passive_err)
    for p, e in zip(passive, passive_err):
        if p.imag <= 0 or abs(p.real) <= e:
            continue
        if abs(p.real) < 0.3 * p.imag:
            for m in (-8, -4, -2, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 2, 4, 8):
                extra.append(p.imag + m * abs(p.real))
    extra = np.array([w for w in extra if eps < w < w_top])
    t_init = np.concatenate([t_arc, t_axis, contour.t_of_omega(extra) if extra.size else []])
    contour.insert(np.unique(t_init))
    for w, radius, k0, clean in axis_modes:
        if eps < w - radius and w + radius < w_top:
            contour.add_detour(w, radius, record=False)
        hidden = _hidden_axis_zeros(evaluator, w, radius, k0) if clean else None
        if hidden == 0:
            warn.append(f"the passive reference has a natural frequency on the jω axis at {w / TWO_PI:.6g} Hz; the "
                        "active elements move it (no natural frequency of the circuit within "
                        f"{radius / TWO_PI:.3g} Hz of it): indented")
        else:
            axis_doubts.append(f"marginal: the passive reference has a natural frequency on the jω axis at "
                               f"{w / TWO_PI:.6g} Hz and the circuit has {'one' if hidden is None else hidden} within "
                               f"{radius / TWO_PI:.3g} Hz of it: a mode the active elements do not move is invisible "
                               "to the NDF")
    contour.refine()

    # extend the tail until every factor has settled on c·(jω)^m
    # (hook) controllers and their columns: one per active element, or a block's ports (blocks.BlockEvaluator);
    # none when only the total det M / det M0 is followed
    if block_ev is not None:
        groups = block_ev.groups
    elif per_source:
        groups = [(a.name, a.kind, [k]) for k, a in enumerate(system.active)]
    else:
        groups = []
    column_names = [name for name, _, cols in groups for _ in cols]
    r = evaluator.r if block_ev is not None else evaluator.columns
    settled = r == 0
    while not settled:
        top = contour.t[-1]
        below = int(np.argmin(np.abs(contour.t - (top - 1.0))))
        span = top - contour.t[below]
        slope = tail_exponent(contour.L[-1], contour.L[below], span) if span > 0 else np.zeros(r)
        resid = tail_residual(contour.L[-1], slope)
        slope_ok = np.abs(slope - np.round(slope)) < _d("slope_tol")
        settled = bool(np.all(slope_ok) and np.all(np.abs(resid) < _d("tail_phase_tol")))
        if settled or contour.s[-1].imag >= w_top * _d("max_tail_extension"):
            break
        contour.insert(top + np.linspace(0.0, 1.0, _d("points_per_decade") + 1)[1:])
        contour.refine()

    # every indentation the refinement made (a jump it could not resolve) excludes a half-disc from the count:
    # the winding numbers of det M0 and of the NDF round its full circle say how many natural frequencies of
    # the circuit sit inside (on the axis, or right next to it on either side)
    for w, radius in contour.indentations:
        hidden = _hidden_axis_zeros(evaluator, w, radius, None)
        if hidden == 0:
            continue
        axis_doubts.append(f"marginal: the circuit has {'a' if hidden is None else hidden} natural frequenc"
                           f"{'y' if hidden in (None, 1) else 'ies'} within {radius / TWO_PI:.3g} Hz of "
                           f"{w / TWO_PI:.6g} Hz on the jω axis, inside an indentation of the contour (not counted)")
    if r:
        top = contour.t[-1]
        below = int(np.argmin(np.abs(contour.t - (top - 1.0))))
        slope = tail_exponent(contour.L[-1], contour.L[below], top - contour.t[below])
        resid = tail_residual(contour.L[-1], slope)
        raw = encirclement_counts(contour.L, slope)
        if not settled:
            names = list(dict.fromkeys(a for a, ok in zip(column_names, np.abs(resid) < _d("tail_phase_tol"))
                                       if not ok))
            doubts.append(f"the NDF has not settled at {contour.s[-1].imag / TWO_PI:.4g} Hz (log-log slope "
                        f"{', '.join(f'{x:.3g}' for x in slope)}; phase still to turn "
                        f"{np.max(np.abs(resid)):.3g} rad{'; sources ' + ', '.join(names) if names else ''}): "
                        "the count may be wrong")
    else:
        raw = np.zeros(0)
    if block_ev is not None and r:  # hook: a block's count is the sum over its columns
        raw = np.array([float(np.sum(raw[cols])) for _, _, cols in groups])
        doubts += extrapolation_doubts(block_ev, contour.s, contour.L)
    counts = np.round(raw).astype(int)
    total_raw = float(np.sum(raw))
    total = int(round(total_raw))
    if abs(total_raw - total) > _d("integer_tol") or np.any(np.abs(raw - counts) > _d("integer_tol")):
        doubts.append(f"non-integer encirclement count {total_raw:.3f} (per source: "
                    f"{', '.join(f'{x:.3f}' for x in raw)}): the locus is not fully resolved")
    if int(np.sum(counts)) != total:
        doubts.append(f"per-source counts {counts.tolist()} do not sum to the total {total}")
    unresolved = contour.unresolved_steps()
    if unresolved:
        doubts.append(f"{unresolved} phase step(s) larger than {_d('max_phase_step'):.2f} rad remain unresolved")
    if contour.det_check and max(contour.det_check) > _d("det_check_tol"):
        doubts.append(f"the product of the return differences differs from det R by up to "
                    f"{max(contour.det_check):.2g} (log): an intermediate circuit is nearly singular")
    for note in dict.fromkeys(contour.notes):
        (doubts if ("unresolved" in note or "stopped" in note) else warn).append(note)
    if contour.detours >= _d("max_detours"):
        doubts.append(f"the contour needed more than {_d('max_detours')} indentations around singularities on the "
                      "jω axis: some were left out")
    log_ndf = np.sum(contour.L.real, axis=1) + 1j * (
        np.concatenate([[0.0], np.cumsum(wrap_phase(np.diff(contour.L.imag.sum(axis=1))))])
        + (contour.L[0].imag.sum() if r else 0.0))
    marginal = bool(np.min(log_ndf.real) < np.log(_d("marginal_abs"))) if r else False
    if marginal:
        i = int(np.argmin(log_ndf.real))
        axis_doubts.append(f"marginal: |NDF| falls to {np.exp(log_ndf.real[i]):.3g} at {contour.s[i].imag / TWO_PI:.6g} "
                           "Hz: a natural frequency on (or extremely close to) the jω axis; the circuit is at best "
                           "marginally stable")
    sources = []
    if block_ev is None and not per_source and system.r:
        warn.append(f"{system.r} active elements: the total count from det M / det M0 (no per-source return "
                    "differences; ask for them with per_source=True)")
    group_logs = np.stack([contour.L[:, cols].sum(axis=1) for _, _, cols in groups], axis=1) if groups else \
        np.zeros((contour.s.size, 0), dtype=complex)
    for k, (name, kind, _) in enumerate(groups):
        Lk = group_logs[:, k]
        phase = np.concatenate([[0.0], np.cumsum(wrap_phase(np.diff(Lk.imag)))]) + Lk[0].imag
        with np.errstate(over="ignore", under="ignore"):
            vals = np.exp(Lk.real + 1j * phase)
        sources.append(SourceResult(name=name, kind=kind, encirclements=int(counts[k]), raw_count=float(raw[k]),
                                    values=vals))
    with np.errstate(over="ignore", under="ignore"):
        factors = np.exp(group_logs)
    return NDFResult(s=contour.s, log_values=log_ndf, factors=factors,
                     sources=sources, encirclements=total, raw_count=total_raw, marginal=marginal, warnings=warn,
                     doubts=list(dict.fromkeys(doubts + axis_doubts)), axis_doubts=list(dict.fromkeys(axis_doubts)),
                     fmin=f_lo, fmax=f_hi, params=dict(system.params), title=system.circuit.title,
                     solver=f"{evaluator.solver} LU, " + ("per-source return differences" if per_source else
                                                          "total det M / det M0"))
