"""Two-port stability factors from the circuit's S-parameters: Rollett ``K``, ``|Δ|``, Edwards–Sinsky ``μ``.

The two-port is computed from the MNA with every element on: a unit test current into port ``j`` gives the
column ``Z[:, j]`` of the open-circuit impedance matrix (independent sources off), and
``S = (Z − Z0)(Z + Z0)⁻¹`` for a common reference ``Z0`` (50 Ω by default).

These factors only speak about the two ports: ``K > 1`` with ``|Δ| < 1`` (equivalently ``μ > 1``) says
that no passive source/load makes the two-port oscillate, *provided the two-port has no unstable natural
frequency of its own*. A mode that the ports cannot see (a hidden mode) passes the test unnoticed; the NDF
(:func:`stabkit.analysis.ndf.ndf`) counts it. See ``docs/ndf.md`` and ``cases/hidden_mode.cir``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as spla

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.analysis.ports import port_pair
from stabkit.circuit.graph import Circuit
from stabkit.errors import CircuitError

TWO_PI = 2.0 * np.pi


def z_parameters(system: MNASystem, ports: Sequence[tuple[str, str]], freqs_hz) -> np.ndarray:
    """Open-circuit impedance matrix ``Z`` (shape ``(len(freqs), p, p)``, ohms) between the given node pairs."""
    inc = np.array([system.incidence(a, b) for a, b in ports]).T.astype(complex)  # (n, p)
    if np.any(~inc.any(axis=0)):
        raise CircuitError("a port has both terminals on the same node")
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    out = np.empty((freqs.size, len(ports), len(ports)), dtype=complex)
    for i, f in enumerate(freqs):
        try:
            x = spla.splu(system.M(1j * TWO_PI * f)).solve(inc)
        except RuntimeError:
            out[i] = np.nan
            continue
        out[i] = inc.T @ x
    return out


def s_from_z(Z: np.ndarray, z0: float = 50.0) -> np.ndarray:
    """``S = (Z − Z0·I)(Z + Z0·I)⁻¹`` for a stack of square matrices and a real common reference ``z0``."""
    Z = np.asarray(Z, dtype=complex)
    eye = np.eye(Z.shape[-1])
    return np.linalg.solve((Z + z0 * eye).swapaxes(-1, -2), (Z - z0 * eye).swapaxes(-1, -2)).swapaxes(-1, -2)


def determinant_s(S: np.ndarray) -> np.ndarray:
    """``Δ = S11·S22 − S12·S21``."""
    return S[..., 0, 0] * S[..., 1, 1] - S[..., 0, 1] * S[..., 1, 0]


def rollett_k(S: np.ndarray) -> np.ndarray:
    """Rollett stability factor ``K = (1 − |S11|² − |S22|² + |Δ|²) / (2·|S12·S21|)``."""
    d = determinant_s(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1 - np.abs(S[..., 0, 0]) ** 2 - np.abs(S[..., 1, 1]) ** 2 + np.abs(d) ** 2) / (
            2 * np.abs(S[..., 0, 1] * S[..., 1, 0]))


def mu_factor(S: np.ndarray) -> np.ndarray:
    """Edwards–Sinsky ``μ = (1 − |S11|²) / (|S22 − Δ·S11*| + |S12·S21|)``: ``μ > 1`` iff unconditionally stable."""
    d = determinant_s(S)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1 - np.abs(S[..., 0, 0]) ** 2) / (np.abs(S[..., 1, 1] - d * np.conj(S[..., 0, 0]))
                                                  + np.abs(S[..., 0, 1] * S[..., 1, 0]))


def mu_prime_factor(S: np.ndarray) -> np.ndarray:
    """The output-side ``μ' = (1 − |S22|²) / (|S11 − Δ·S22*| + |S12·S21|)``."""
    return mu_factor(S[..., ::-1, ::-1])


@dataclass
class TwoPortResult:
    """S-parameters (reference ``z0``) and stability factors versus frequency."""

    freq_hz: np.ndarray
    s: np.ndarray = field(repr=False)
    z0: float
    ports: tuple[tuple[str, str], tuple[str, str]]
    params: dict[str, float] = field(default_factory=dict)

    @property
    def k(self) -> np.ndarray:
        return rollett_k(self.s)

    @property
    def delta_mag(self) -> np.ndarray:
        return np.abs(determinant_s(self.s))

    @property
    def mu(self) -> np.ndarray:
        return mu_factor(self.s)

    @property
    def mu_prime(self) -> np.ndarray:
        return mu_prime_factor(self.s)

    @property
    def unconditionally_stable(self) -> bool:
        """``K > 1`` and ``|Δ| < 1`` at every frequency (says nothing about hidden modes)."""
        return bool(np.all(self.k > 1) and np.all(self.delta_mag < 1))

    def network(self):
        """The S-parameters as a :class:`skrf.Network` (scikit-rf imported lazily)."""
        import skrf

        return skrf.Network(frequency=skrf.Frequency.from_f(self.freq_hz, unit="hz"), s=self.s, z0=self.z0)

    def to_dict(self) -> dict:
        return {"ports": [list(p) for p in self.ports], "z0": self.z0,
                "freq_hz": [float(f) for f in self.freq_hz], "k": [float(x) for x in self.k],
                "delta_mag": [float(x) for x in self.delta_mag], "mu": [float(x) for x in self.mu],
                "unconditionally_stable": self.unconditionally_stable}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_stability_factors

        return plot_stability_factors(self.freq_hz, self.k, self.delta_mag, self.mu, ax=ax)


def two_port(circuit: Circuit | MNASystem, port1, port2, freqs_hz, params: Mapping[str, float] | None = None, *,
             z0: float = 50.0) -> TwoPortResult:
    """S-parameters and stability factors of the two-port between ``port1`` and ``port2`` (a node, or
    ``"n+,n-"``) at ``freqs_hz``; reference impedance ``z0`` (Ω) at both ports."""
    system = circuit if isinstance(circuit, MNASystem) else assemble(circuit, params)
    ports = (port_pair(port1), port_pair(port2))
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if np.any(freqs <= 0):
        raise CircuitError("two-port frequencies must be positive (Hz)")
    S = s_from_z(z_parameters(system, ports, freqs), z0)
    return TwoPortResult(freq_hz=freqs, s=S, z0=float(z0), ports=ports, params=dict(system.params))
