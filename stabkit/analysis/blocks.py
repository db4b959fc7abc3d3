"""S-parameter (Touchstone) blocks in the NDF: each block a return difference of its own.

A block ``b`` with ``k_b`` ports and reference impedances ``Z0`` (real, per port) is known by its scattering
matrix ``S_b(jω)`` on the measured band ``[f1, fN]`` only. Every measurable block is *stable in its
reference*: terminated in ``Z0`` on every port it has no natural frequency in the right half plane, i.e.
``S_b(s)`` is analytic there. Then (scattering-matrix Nyquist criterion, Ohtomo/Wing):

* the **embedding** is the circuit with every block replaced by its reference terminations (a resistor
  ``Z0`` from each port node to the port's reference node); its own active elements (dependent sources,
  negative R/L/C) give their return differences ``F_k`` exactly as in :mod:`stabkit.analysis.ndf`, with the
  passive reference ``M0`` of the embedding (lumped when nothing else is distributed);
* each block adds the return difference ``F_b(jω) = det(I − S_b Γ_b)``, ``Γ_b`` the reflection matrix that
  the rest of the circuit (the controllers before ``b`` switched on, the ones after it off — blocks off =
  terminated in ``Z0``) presents to ``b``'s ports, normalised to ``Z0``;

and the number of clockwise encirclements of the origin by ``Π F_k · Π F_b`` is the number of natural
frequencies of the whole circuit in the right half plane.

All of it comes from one solve per frequency with the embedding's ``M0``: put the block ports in as extra
"active" columns ``P`` (port incidences) with unit gain, then ``R' = I + [E P]ᵀ M0⁻¹ [U·diag(w) P]`` holds
``R = I + Eᵀ M0⁻¹ U w`` (the embedding's return-difference matrix), ``B = Eᵀ M0⁻¹ P``, ``C = Pᵀ M0⁻¹ U w``
and the port impedance matrix ``Z = Pᵀ M0⁻¹ P`` (ports terminated in ``Z0``). With ``g = Z0^{−1/2}``
(diagonal) the reflection of the passive embedding is ``Γ = 2 g Z g − I`` and, with ``β`` the waves the blocks
send into the circuit (a block port is a Norton source ``2 g β`` beside its ``Z0``)::

        ⎡ R        −2 B g  ⎤ ⎡y⎤
    Q = ⎢                  ⎥ ⎢ ⎥ = 0,     det Q = det R · det(I − S Γ_on),
        ⎣ S g C    I − S Γ ⎦ ⎣β⎦

``Γ_on`` being the reflection with every dependent source on (Schur complement). Ordered like the netlist
(a dependent source is a 1×1 pivot, a block a ``k_b × k_b`` block pivot), the unpivoted LU of ``Q`` gives
every controller's return difference with the controllers before it on — the same telescoping as for
dependent sources alone, so the per-source counts add up to the total.

Measured data (the limits, see ``docs/ndf.md``):

* inside ``[f1, fN]`` every entry is interpolated in magnitude and unwrapped phase, linearly in frequency
  (a rotating transmission coefficient rotates between samples instead of cutting a chord across the
  origin);
* below ``f1``: ``S(f) = Re S(f1) + j·Im S(f1)·f/f1`` (real at DC, as every real network's S is; even real
  part, odd imaginary part);
* above ``fN``: ``S(f) = S(fN)·exp(−ln²(f/fN) / (2σ²))``, ``σ = ln(10)/3`` (held phase, magnitude rolling off
  smoothly to the matched value: 1 % a decade above ``fN``). A block shrunk towards ``S = 0`` stays passive
  if it was;
* where the contour runs outside the data and the loop gain ``S_b Γ_b`` there has an eigenvalue on or
  outside the unit circle **and** the extrapolated part turns ``F_b`` by more than a quarter turn, the
  count depends on data the file does not have: a doubt (verdict ``uncertain``). With every eigenvalue of
  ``S_b Γ_b`` inside the unit circle, ``I − S_b Γ_b`` has its eigenvalues in the right half plane and no
  extrapolation of that kind can add an encirclement;
* off the jω axis (the small quarter circle at ``s = ε`` and indentations) the block is taken at
  ``j·Im s``; those pieces are tiny compared with the data's frequency scale.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError, NetlistError

TWO_PI = 2.0 * np.pi

__all__ = ["TouchstoneError", "TouchstoneData", "read_touchstone", "block_s", "port_nodes",
           "Block", "blocks_of", "network_z0", "embedding_circuit", "BlockEvaluator", "split_blocks", "extrapolation_doubts",
           "low_alternative", "band_of", "rational_fit", "unstable_in_reference", "check_reference_stability",
           "ROLL_OFF_SIGMA", "EXTRAPOLATION_TURN"]

#: width (natural log of frequency) of the Gaussian roll-off of S beyond the last measured frequency
ROLL_OFF_SIGMA = np.log(10.0) / 3.0
#: a turn of a block's return difference (rad) on extrapolated data beyond which the count is in doubt
EXTRAPOLATION_TURN = np.pi / 4
#: the file ends while the loop through a block can still close: the count is in doubt when, over the last
#: EDGE_SPAN of the data, the loop gain |S·Γ| (spectral radius) ends at EDGE_LOOP_GAIN or more without having
#: fallen to EDGE_FALL of its value, and the block's return difference still turns by more than EDGE_TURN
#: (the loop's dynamics are in progress where the data stop; a decaying continuation would hide them)
EDGE_LOOP_GAIN = 0.5
EDGE_FALL = 0.8
EDGE_SPAN = 1.5
EDGE_TURN = np.pi / 8
#: ... or, for data spanning less than NARROW_SPAN (f_N/f_1), when that loop gain is EDGE_NEAR_UNITY or more at the
#: end however little it turns there (too little data to tell a loop about to close from one that stays open)
NARROW_SPAN = 10.0
EDGE_NEAR_UNITY = 0.9


class TouchstoneError(NetlistError):
    """A Touchstone file could not be read; the message names the file and the line."""


# ---------------------------------------------------------------------------------------------- reading
@dataclass
class TouchstoneData:
    """S-parameters read from a Touchstone (v1) file: ``f`` (Hz, ``(nf,)``), ``s`` (``(nf, k, k)``), ``z0``
    (Ω, ``(k,)``, real)."""

    path: str
    f: np.ndarray
    s: np.ndarray
    z0: np.ndarray

    @property
    def nports(self) -> int:
        return int(self.s.shape[-1])

    @property
    def name(self) -> str:
        return Path(self.path).name


_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "thz": 1e12}


def read_touchstone(path: str | Path) -> TouchstoneData:
    """Read a Touchstone v1 file (``.s1p`` … ``.sNp``) as text.

    Option line ``# [Hz|kHz|MHz|GHz] [S] [MA|DB|RI] [R z0]`` (defaults GHz S MA R 50), ``!`` comments,
    records of ``1 + 2k²`` numbers (2-ports in the order S11 S21 S12 S22, larger blocks row by row, a
    record starting on a new line); the noise block after a 2-port's data (a frequency that does not
    increase) is skipped. Nothing is evaluated or executed.

    Raises
    ------
    TouchstoneError
        One line naming the file, the line and what was expected.
    """
    path = Path(path)
    name = path.name
    m = re.search(r"\.s(\d+)p$", name.lower())
    if not m:
        raise TouchstoneError("not a Touchstone file name (.s1p, .s2p, ...)", str(path))
    k = int(m.group(1))
    if k < 1:
        raise TouchstoneError("a Touchstone block needs at least one port", str(path))
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise TouchstoneError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    unit, fmt, z0 = 1e9, "ma", 50.0
    seen_option = False
    per_record = 1 + 2 * k * k
    records: list[list[float]] = []
    record_lines: list[int] = []
    current: list[float] = []
    noise = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("!", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            raise TouchstoneError(f"Touchstone 2.0 keyword {line.split()[0]!r}: only version 1 files are read",
                                  str(path), lineno)
        if line.startswith("#"):
            if seen_option:
                continue  # later option lines are ignored (as the format says)
            seen_option = True
            words = line[1:].lower().split()
            i = 0
            while i < len(words):
                w = words[i]
                if w in _UNITS:
                    unit = _UNITS[w]
                elif w in ("ma", "db", "ri"):
                    fmt = w
                elif w == "s":
                    pass
                elif w in ("y", "z", "g", "h"):
                    raise TouchstoneError(f"{w.upper()}-parameters: only S-parameter files are read", str(path), lineno)
                elif w == "r" and i + 1 < len(words):
                    try:
                        z0 = float(words[i + 1])
                    except ValueError:
                        raise TouchstoneError(f"expected a reference resistance after R, got {words[i + 1]!r}",
                                              str(path), lineno) from None
                    if not (np.isfinite(z0) and z0 > 0):
                        raise TouchstoneError(f"the reference resistance must be positive, got {z0:g}", str(path), lineno)
                    i += 1
                else:
                    raise TouchstoneError(f"unknown option {w!r} (expected a unit, S, MA/DB/RI or R z0)",
                                          str(path), lineno)
                i += 1
            continue
        if noise:
            continue
        numbers = []
        for tok in line.split():
            try:
                x = float(tok)
            except ValueError:
                raise TouchstoneError(f"expected a number, got {tok!r}", str(path), lineno) from None
            if not np.isfinite(x):
                raise TouchstoneError(f"expected a finite number, got {tok!r}", str(path), lineno)
            numbers.append(x)
        if not current:
            # a new record: for a 2-port a frequency that does not increase starts the noise parameters
            if k == 2 and records and numbers[0] * unit <= records[-1][0] and len(numbers) == 5:
                noise = True
                continue
            record_lines.append(lineno)
        current.extend(numbers)
        if len(current) > per_record:
            raise TouchstoneError(f"expected {per_record} numbers per frequency for a {k}-port "
                                  f"(frequency and {k * k} complex values), got {len(current)}", str(path), lineno)
        if len(current) == per_record:
            current[0] *= unit
            if records and current[0] <= records[-1][0]:
                raise TouchstoneError(f"frequencies must increase: {current[0]:g} Hz after {records[-1][0]:g} Hz",
                                      str(path), lineno)
            if current[0] < 0:
                raise TouchstoneError(f"negative frequency {current[0]:g} Hz", str(path), lineno)
            records.append(current)
            current = []
        elif k <= 2:
            raise TouchstoneError(f"expected {per_record} numbers on the line (frequency and {k * k} complex "
                                  f"values), got {len(current)}", str(path), lineno)
    if current:
        raise TouchstoneError(f"the last frequency has {len(current)} of its {per_record} numbers",
                              str(path), record_lines[-1])
    if len(records) < 2:
        raise TouchstoneError("needs data at two frequencies at least", str(path))
    data = np.array(records)
    f = data[:, 0]
    a, b = data[:, 1::2], data[:, 2::2]
    if fmt == "ri":
        vals = a + 1j * b
    elif fmt == "ma":
        vals = a * np.exp(1j * np.deg2rad(b))
    else:
        vals = 10.0 ** (a / 20.0) * np.exp(1j * np.deg2rad(b))
    s = vals.reshape(f.size, k, k)
    if k == 2:
        s = s.transpose(0, 2, 1)  # 2-port order S11 S21 S12 S22
    return TouchstoneData(path=str(path), f=f, s=s, z0=np.full(k, z0))


# ---------------------------------------------------------------------------------------------- S(jω)
def block_s(f_data: np.ndarray, s_data: np.ndarray, freqs_hz) -> np.ndarray:
    """The block's S at ``freqs_hz`` (any sign: ``S(−f) = S(f)*``), shape ``(len(freqs), k, k)``.

    Inside the data: magnitude and unwrapped phase interpolated linearly in frequency. Below the first
    sample: ``Re S(f1) + j·Im S(f1)·f/f1``. Above the last: ``S(fN)`` rolled off by
    ``exp(−ln²(f/fN)/(2σ²))``, ``σ = ROLL_OFF_SIGMA``.
    """
    f_data = np.asarray(f_data, dtype=float)
    s_data = np.asarray(s_data, dtype=complex)
    f = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    af = np.abs(f)
    nf, k = f_data.size, s_data.shape[-1]
    flat = s_data.reshape(nf, k * k)
    mag = np.abs(flat)
    phase = np.unwrap(np.angle(flat), axis=0)
    out = np.empty((af.size, k * k), dtype=complex)
    lo, hi = f_data[0], f_data[-1]
    inside = (af >= lo) & (af <= hi)
    if inside.any():
        for j in range(k * k):
            out[inside, j] = (np.interp(af[inside], f_data, mag[:, j])
                              * np.exp(1j * np.interp(af[inside], f_data, phase[:, j])))
    below = af < lo
    if below.any():
        out[below] = flat[0].real[None, :] + 1j * flat[0].imag[None, :] * (af[below] / lo)[:, None]
    above = af > hi
    if above.any():
        w = np.exp(-np.log(af[above] / hi) ** 2 / (2.0 * ROLL_OFF_SIGMA ** 2))
        out[above] = flat[-1][None, :] * w[:, None]
    out = np.where((f < 0)[:, None], np.conj(out), out)
    return out.reshape(af.size, k, k)


# ---------------------------------------------------------------------------------------------- blocks
def port_nodes(element, nports: int) -> list[tuple[str, str]]:
    """``[(node, reference), ...]`` of an ``N`` element: ``k`` port nodes to ground, or ``k`` port nodes and
    a common reference node (the block's own ground terminal, e.g. a transistor's emitter) as the last node."""
    nodes = list(element.nodes)
    ref = nodes[nports] if len(nodes) == nports + 1 else GROUND
    return [(nd, ref) for nd in nodes[:nports]]


@dataclass
class Block:
    """One S-parameter block as the NDF sees it."""

    name: str
    position: int  # index of the element in the circuit (netlist order)
    ports: list[tuple[str, str]]
    f: np.ndarray = field(repr=False)
    s: np.ndarray = field(repr=False)
    z0: np.ndarray = field(repr=False)
    source: str = ""
    network: object = field(default=None, repr=False)

    @property
    def nports(self) -> int:
        return len(self.ports)

    def s_at(self, omega: np.ndarray) -> np.ndarray:
        return block_s(self.f, self.s, np.asarray(omega, dtype=float) / TWO_PI)


def network_z0(network) -> np.ndarray:
    z0 = np.asarray(network.z0, dtype=complex)
    z0 = z0[0] if z0.ndim == 2 else z0
    if np.any(np.abs(z0.imag) > 1e-9 * np.abs(z0.real)) or np.any(z0.real <= 0):
        raise CircuitError("S-parameter blocks need real, positive reference impedances")
    return z0.real.astype(float)


def blocks_of(circuit: Circuit) -> list[Block]:
    """The circuit's ``N`` elements with their data, in netlist order."""
    out = []
    for pos, e in enumerate(circuit):
        if e.kind != "N":
            continue
        net = circuit.networks[e.model if e.model in circuit.networks else e.key]
        f = np.asarray(net.f, dtype=float)
        out.append(Block(name=e.name, position=pos, ports=port_nodes(e, net.nports), f=f,
                         s=np.asarray(net.s, dtype=complex), z0=network_z0(net),
                         source=str(getattr(net, "name", "") or ""), network=net))
    return out


def embedding_circuit(circuit: Circuit, blocks: list[Block]) -> Circuit:
    """The circuit with every block replaced by its reference terminations (``Z0`` on each port)."""
    emb = circuit.without([b.name for b in blocks])
    emb.title = circuit.title
    taken = {e.key for e in emb}
    for b in blocks:
        for i, ((node, ref), z0) in enumerate(zip(b.ports, b.z0), start=1):
            name = f"R{b.name}.z0.{i}"
            while name.lower() in taken:
                name += "_"
            taken.add(name.lower())
            emb.add_resistor(name, node, ref, float(z0))
    return emb


class BlockEvaluator:
    """Evaluates the controller matrix ``Q(s)`` (see the module docstring) in netlist order.

    Duck-types :class:`~stabkit.analysis.ndf.ReturnDifferenceEvaluator`: ``r`` columns (one per active element
    of the embedding and one per block port), ``__call__(s)`` and ``logdet(s)`` (of the embedding's ``M0``).
    ``groups`` lists ``(name, kind, columns)`` per controller: the unpivoted LU pivots of the columns of one
    group multiply to that controller's return difference."""

    def __init__(self, embedding, blocks: list[Block], positions: dict[str, int]):
        from stabkit.analysis.mna import ActiveElement
        from stabkit.analysis.ndf import ReturnDifferenceEvaluator

        self.system = embedding
        self.blocks = blocks
        n, r = embedding.n, embedding.r
        cols = []
        for b in blocks:
            for node, ref in b.ports:
                cols.append(embedding.incidence(node, ref))
        K = len(cols)
        P = sp.csc_matrix(np.array(cols).T if cols else np.zeros((n, 0)))
        augmented = dataclasses.replace(
            embedding, U=sp.hstack([embedding.U, P]).tocsc(), E=sp.hstack([embedding.E, P]).tocsc(),
            active=[*embedding.active, *[ActiveElement(name=f"port{i}", kind="N", a0=1.0) for i in range(K)]])
        self.inner = ReturnDifferenceEvaluator(augmented)
        self.r_embed, self.K = r, K
        self.r = r + K
        # the NDF's contour asks any evaluator for these: every controller column is followed (per source)
        self.per_source = True
        self.columns = self.r
        self.solver = self.inner.solver
        self.n = n
        self.g = np.concatenate([1.0 / np.sqrt(b.z0) for b in blocks]) if blocks else np.zeros(0)
        # controllers in netlist order: active elements of the embedding, then blocks, sorted by position
        controllers = [(positions.get(a.name.lower(), len(positions)), a.name, a.kind, [k])
                       for k, a in enumerate(embedding.active)]
        start = r
        for b in blocks:
            controllers.append((b.position, b.name, "N", list(range(start, start + b.nports))))
            start += b.nports
        controllers.sort(key=lambda c: c[0])
        self.perm = np.array([c for *_, cs in controllers for c in cs], dtype=int)
        self.groups = []
        at = 0
        for _, name, kind, cs in controllers:
            self.groups.append((name, kind, list(range(at, at + len(cs)))))
            at += len(cs)

    def block_s(self, s: np.ndarray) -> np.ndarray:
        """Block-diagonal ``S`` of all blocks at ``j·Im s``, shape ``(len(s), K, K)``."""
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        S = np.zeros((s.size, self.K, self.K), dtype=complex)
        at = 0
        for b in self.blocks:
            S[:, at:at + b.nports, at:at + b.nports] = b.s_at(s.imag)
            at += b.nports
        return S

    def parts(self, s: np.ndarray):
        """``(R, B, C, Γ, S)`` at ``s`` (see the module docstring)."""
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        Rp = self.inner(s)
        r = self.r_embed
        A = Rp[:, :r, :r]
        B = Rp[:, :r, r:]
        C = Rp[:, r:, :r]
        Z = Rp[:, r:, r:] - np.eye(self.K)[None]
        g = self.g
        gamma = 2.0 * g[None, :, None] * Z * g[None, None, :] - np.eye(self.K)[None]
        return A, B, C, gamma, self.block_s(s)

    def __call__(self, s: np.ndarray, S: np.ndarray | None = None) -> np.ndarray:
        """``Q(s)`` in netlist order; ``S`` (block-diagonal, ``(len(s), K, K)``) replaces the blocks' data."""
        s = np.atleast_1d(np.asarray(s, dtype=complex))
        A, B, C, gamma, S_data = self.parts(s)
        S = S_data if S is None else S
        g = self.g
        nf, r, K = s.size, self.r_embed, self.K
        Q = np.empty((nf, r + K, r + K), dtype=complex)
        Q[:, :r, :r] = A
        Q[:, :r, r:] = -2.0 * B * g[None, None, :]
        Q[:, r:, :r] = S @ (g[None, :, None] * C)
        Q[:, r:, r:] = np.eye(K)[None] - S @ gamma
        p = self.perm
        return Q[:, p][:, :, p]

    def logdet(self, s: np.ndarray) -> np.ndarray:
        return self.inner.logdet(s)

    def loop_radius(self, s: np.ndarray) -> np.ndarray:
        """Spectral radius of each block's loop gain ``S_b Γ_b`` (``Γ_b`` with the controllers before it on),
        shape ``(len(s), blocks)``."""
        Q = self(s)
        out = np.zeros((Q.shape[0], len(self.blocks)))
        j = 0
        for name, kind, cols in self.groups:
            if kind != "N":
                continue
            lead = cols[0]
            T = Q[:, lead:lead + len(cols), lead:lead + len(cols)]
            if lead:
                T = T - Q[:, lead:lead + len(cols), :lead] @ np.linalg.solve(Q[:, :lead, :lead],
                                                                             Q[:, :lead, lead:lead + len(cols)])
            loop = np.eye(len(cols))[None] - T
            out[:, j] = np.max(np.abs(np.linalg.eigvals(loop)), axis=1)
            j += 1
        return out


def split_blocks(system):
    """``(embedding system, BlockEvaluator)`` for a system whose circuit has S-parameter blocks, else
    ``(system, None)``."""
    from stabkit.analysis.mna import assemble

    circuit = system.circuit
    blocks = blocks_of(circuit)
    if not blocks:
        return system, None
    for b in blocks:
        check_reference_stability(b, b.network)
    emb = assemble(embedding_circuit(circuit, blocks), system.params)
    positions = {e.key: i for i, e in enumerate(circuit)}
    return emb, BlockEvaluator(emb, blocks, positions)


def band_of(evaluator: BlockEvaluator) -> tuple[float, float]:
    """Lowest first and highest last measured frequency (Hz) of the blocks."""
    return (min(float(b.f[0]) for b in evaluator.blocks), max(float(b.f[-1]) for b in evaluator.blocks))


def low_alternative(f_data: np.ndarray, s_data: np.ndarray, freqs_hz) -> np.ndarray:
    """A second continuation below the first sample: every entry keeps the first sample's magnitude and its
    phase moves linearly in frequency to the nearest multiple of π at DC (real at DC too)."""
    first = np.asarray(s_data, dtype=complex)[0]
    phi = np.angle(first)
    phi0 = np.pi * np.round(phi / np.pi)
    x = np.clip(np.abs(np.asarray(freqs_hz, dtype=float)) / float(f_data[0]), 0.0, 1.0)
    return np.abs(first)[None] * np.exp(1j * (phi0[None] + (phi - phi0)[None] * x[:, None, None]))


def _group_phase(evaluator: BlockEvaluator, s: np.ndarray, cols: list[int], S: np.ndarray) -> np.ndarray:
    from stabkit.analysis.ndf import unpivoted_lu_pivots

    piv = unpivoted_lu_pivots(evaluator(s, S))[:, cols]
    return np.angle(np.prod(piv, axis=1))


def _low_end_spread(evaluator: BlockEvaluator, j: int, cols: list[int], s: np.ndarray,
                    max_points: int = 4000) -> float | None:
    """Difference (rad) between the phase changes of block ``j``'s return difference along the path ``s``
    (from the top of the extrapolated segment down to the contour's start) with the two continuations of
    its data below the first sample; ``None`` when the path cannot be resolved."""
    b = evaluator.blocks[j]
    at = sum(x.nports for x in evaluator.blocks[:j])
    path = np.asarray(s, dtype=complex)
    for _ in range(14):
        S_main = evaluator.block_s(path)
        S_alt = S_main.copy()
        below = np.abs(path.imag) / TWO_PI < b.f[0]
        S_alt[below, at:at + b.nports, at:at + b.nports] = low_alternative(b.f, b.s, path.imag[below] / TWO_PI)
        steps = [np.angle(np.exp(1j * np.diff(_group_phase(evaluator, path, cols, S)))) for S in (S_main, S_alt)]
        bad = (np.abs(steps[0]) > np.pi / 4) | (np.abs(steps[1]) > np.pi / 4)
        if not bad.any():
            return float(abs(np.sum(steps[0]) - np.sum(steps[1])))
        if path.size > max_points:
            return None
        mid = 0.5 * (path[:-1][bad] + path[1:][bad])
        order = np.argsort(np.concatenate([np.arange(path.size), np.flatnonzero(bad) + 0.5]))
        path = np.concatenate([path, mid])[order]
    return None


def extrapolation_doubts(evaluator: BlockEvaluator, s: np.ndarray, log_factors: np.ndarray) -> list[str]:
    """Doubts where a block's count rests on extrapolated S-parameters (``s``: the contour's samples,
    ``log_factors``: the log pivots there, columns in netlist order).

    Above the data: the loop gain ``S_b Γ_b`` reaches the unit circle and the return difference turns by more
    than :data:`EXTRAPOLATION_TURN` there (below the unit circle no continuation that shrinks the last sample
    can change the count). Below the data: the two continuations (:func:`block_s`, :func:`low_alternative`)
    give counts that differ, or the path cannot be resolved."""
    out = []
    s = np.asarray(s, dtype=complex)
    freq = np.abs(s.imag) / TWO_PI
    j = 0
    for name, kind, cols in evaluator.groups:
        if kind != "N":
            continue
        b = evaluator.blocks[j]
        phase = np.sum(np.unwrap(log_factors[:, cols].imag, axis=0), axis=1)
        low = np.flatnonzero(freq < b.f[0])
        if low.size:
            seg = np.arange(0, min(low[-1] + 2, s.size))
            spread = _low_end_spread(evaluator, j, cols, s[seg])
            if spread is None or spread > np.pi / 2:
                what = ("cannot be resolved" if spread is None
                        else f"changes by {spread / np.pi:.2g} half-turns between two continuations")
                out.append(f"block {name}: below its data ({b.f[0]:.4g} Hz) the phase of its return difference "
                           f"{what}: the count depends on data the file does not have")
        high = np.flatnonzero(freq > b.f[-1])
        if high.size:
            # the data end where the loop through the block is still strong: whatever the file does not show
            # (the device's gain just above its last sample) could close the loop; the decaying continuation
            # would hide that, so the count is in doubt however little the extrapolated part turns
            f_ref = max(float(b.f[0]), float(b.f[-1]) / EDGE_SPAN)
            before, edge = evaluator.loop_radius(1j * TWO_PI * np.array([f_ref, b.f[-1]]))[:, j]
            if not edge < EDGE_LOOP_GAIN and not edge <= EDGE_FALL * before:
                last = 1j * TWO_PI * np.geomspace(f_ref, float(b.f[-1]), 64)
                steps = np.diff(np.unwrap(_group_phase(evaluator, last, cols, evaluator.block_s(last))))
                turning = float(abs(np.sum(steps)))
                narrow = float(b.f[-1]) < NARROW_SPAN * float(b.f[0])
                if turning > EDGE_TURN or (narrow and not edge < EDGE_NEAR_UNITY):
                    out.append(f"block {name}: its data end at {b.f[-1]:.4g} Hz while the loop through it is "
                               f"still strong (|S·Γ| = {edge:.3g}, {before:.3g} at {f_ref:.4g} Hz; its return "
                               f"difference turns {turning:.2f} rad there): the circuit may oscillate above the measured "
                               "band; the count depends on data the file does not have (measure further up)")
                    j += 1
                    continue
            seg = np.arange(max(high[0] - 1, 0), high[-1] + 1)
            turn = float(np.max(phase[seg]) - np.min(phase[seg]))
            if turn > EXTRAPOLATION_TURN:
                radius = evaluator.loop_radius(s[high])[:, j]
                if np.max(radius) >= 1.0:
                    out.append(f"block {name}: above its data ({b.f[-1]:.4g} Hz) the loop gain S·Γ reaches "
                               f"{np.max(radius):.3g} and its return difference turns by {turn:.2f} rad on "
                               "extrapolated S-parameters: the count depends on data the file does not have")
        j += 1
    return out


# ---------------------------------------------------------------------------------------------- own stability
def rational_fit(z: np.ndarray, values: np.ndarray, *, rtol: float = 1e-6, max_degree: int = 40):
    """Barycentric rational approximation (the AAA algorithm of Nakatsukasa, Sète and Trefethen, written here
    from its description) of the vector-valued samples ``values`` (``(M, q)``) at the points ``z``: a common
    denominator for all ``q`` entries. Returns ``(poles, residue_norms, relative_error)``: the finite poles of
    the fit, the 2-norm over the entries of the residue at each pole, and the largest fitting error relative
    to the largest sample."""
    z = np.asarray(z, dtype=complex)
    F = np.asarray(values, dtype=complex).reshape(z.size, -1)
    scale = float(np.max(np.abs(F))) or 1.0
    remaining = np.ones(z.size, dtype=bool)
    support: list[int] = []
    R = np.broadcast_to(F.mean(axis=0), F.shape).copy()
    weights = np.zeros(0, dtype=complex)
    err = np.inf
    for _ in range(min(max_degree, z.size - 1)):
        j = int(np.argmax(np.where(remaining, np.max(np.abs(F - R), axis=1), -1.0)))
        support.append(j)
        remaining[j] = False
        zs, fs = z[support], F[support]
        with np.errstate(divide="ignore", invalid="ignore"):
            cauchy = 1.0 / (z[remaining, None] - zs[None, :])
        loewner = np.concatenate([F[remaining, k, None] * cauchy - cauchy * fs[None, :, k] for k in range(F.shape[1])])
        # the right singular vector of the smallest singular value, from the small triangular factor
        weights = np.linalg.svd(np.linalg.qr(loewner, mode="r"))[2][-1].conj()
        num = cauchy @ (weights[:, None] * fs)
        den = cauchy @ weights
        R = F.copy()
        R[remaining] = num / den[:, None]
        err = float(np.max(np.abs(F - R))) / scale
        if err <= rtol:
            break
    zs, fs = z[support], F[support]
    m = len(support)
    pencil_a = np.zeros((m + 1, m + 1), dtype=complex)
    pencil_a[0, 1:] = weights
    pencil_a[1:, 0] = 1.0
    pencil_a[1:, 1:] = np.diag(zs)
    pencil_b = np.eye(m + 1, dtype=complex)
    pencil_b[0, 0] = 0.0
    import scipy.linalg

    poles = scipy.linalg.eigvals(pencil_a, pencil_b)
    poles = poles[np.isfinite(poles)]
    residues = np.zeros(poles.size)
    for i, p in enumerate(poles):  # residue ≈ δ·r(p + δ) on a small circle
        delta = 1e-7 * max(abs(p), 1.0) * np.exp(1j * np.array([0.0, 2.0, 4.0]))
        pts = p + delta
        with np.errstate(divide="ignore", invalid="ignore"):
            c = 1.0 / (pts[:, None] - zs[None, :])
            vals = (c @ (weights[:, None] * fs)) / (c @ weights)[:, None]
        residues[i] = float(np.mean(np.linalg.norm(vals * delta[:, None], axis=1)))
    return poles, residues, err


def unstable_in_reference(block: Block) -> complex | None:
    """A natural frequency (rad/s) of the block terminated in its reference impedances that the data show in
    the right half plane, or ``None``.

    The samples (mirrored to negative frequencies as complex conjugates) are fitted by a rational function
    (:func:`rational_fit`); a pole counts as *visible* only where the fit is close (1e-3 of the largest entry),
    the pole lies clearly right of the axis (``Re p > 0.05·|p|``) inside the measured band (within a factor 2),
    and it shows on the axis (its residue over ``Re p`` above 5 % of the largest entry). Anything subtler —
    a pole outside the band, a weak one, noisy data that cannot be fitted — is not refused: the premise of the
    block formulation stays an assumption there (docs/ndf.md)."""
    pick = np.unique(np.linspace(0, block.f.size - 1, min(block.f.size, 160)).round().astype(int))
    w = TWO_PI * block.f[pick]
    z = np.concatenate([1j * w, -1j * w])
    k = block.nports
    s = block.s[pick].reshape(-1, k * k)
    vals = np.concatenate([s, np.conj(s)])
    keep = np.abs(z) > 0
    poles, residues, err = rational_fit(z[keep], vals[keep], rtol=1e-7, max_degree=24)
    if err > 1e-3:
        return None
    scale = float(np.max(np.abs(block.s)))
    lo, hi = 0.5 * w[0], 2.0 * w[-1]
    for p, res in sorted(zip(poles, residues), key=lambda pr: -pr[0].real):
        if p.real > 0.05 * abs(p) and lo <= abs(p) <= hi and res / p.real > 0.05 * scale:
            return complex(p)
    return None


def check_reference_stability(block: Block, network=None) -> None:
    """Raise :class:`CircuitError` (one line, naming the block and its file) when the block is visibly not stable
    in its reference impedances (:func:`unstable_in_reference`); the answer is cached on ``network``."""
    cached = getattr(network, "_stabkit_reference_pole", "unknown") if network is not None else "unknown"
    pole = unstable_in_reference(block) if cached == "unknown" else cached
    if network is not None and cached == "unknown":
        try:
            network._stabkit_reference_pole = pole
        except AttributeError:  # pragma: no cover - a network object that takes no attributes
            pass
    if pole is not None:
        hz = pole / TWO_PI
        where = f" ({block.source})" if block.source else ""
        raise CircuitError(f"{block.name}{where}: the S-parameter block is not stable in its own reference impedances "
                           f"(its data fit a natural frequency at s/2π = {hz.real:.4g} {'+' if hz.imag >= 0 else '−'} "
                           f"j{abs(hz.imag):.4g} Hz, in the right half plane); a block must be stable terminated in "
                           "Z0 to be analysed (every measured block is)")
