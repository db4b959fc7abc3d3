"""Two-port stability factors from S-parameters: Rollett's ``K`` with ``|Δ|``, and Edwards–Sinsky ``μ``, ``μ'``.

For a two-port with ``S = [[S11, S12], [S21, S22]]`` and ``Δ = S11·S22 − S12·S21``::

    K  = (1 − |S11|² − |S22|² + |Δ|²) / (2·|S12·S21|)
    μ  = (1 − |S11|²) / (|S22 − Δ·S11*| + |S12·S21|)       (source side)
    μ' = (1 − |S22|²) / (|S11 − Δ·S22*| + |S12·S21|)       (load side)

``μ > 1`` (equivalently ``K > 1`` and ``|Δ| < 1``) means *unconditionally stable* for passive terminations —
provided the two-port itself has no unstable natural frequencies with its ports terminated in the reference
impedance. That proviso is exactly what fails for circuits with NICs or negative-resistance devices, so
stabkit reports these factors beside the NDF verdict, never instead of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def s_delta(s: np.ndarray) -> np.ndarray:
    """``Δ = S11·S22 − S12·S21`` for ``s`` of shape ``(..., 2, 2)``."""
    s = np.asarray(s, dtype=complex)
    return s[..., 0, 0] * s[..., 1, 1] - s[..., 0, 1] * s[..., 1, 0]


def rollett_k(s: np.ndarray) -> np.ndarray:
    """Rollett's stability factor ``K`` (``inf`` where ``S12·S21 = 0``: a unilateral two-port)."""
    s = np.asarray(s, dtype=complex)
    num = 1 - np.abs(s[..., 0, 0]) ** 2 - np.abs(s[..., 1, 1]) ** 2 + np.abs(s_delta(s)) ** 2
    den = 2 * np.abs(s[..., 0, 1] * s[..., 1, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)


def edwards_sinsky_mu(s: np.ndarray, side: str = "source") -> np.ndarray:
    """Edwards–Sinsky ``μ`` (``side='source'``) or ``μ'`` (``side='load'``): the distance from the centre of the
    Smith chart to the nearest unstable point of the load (resp. source) plane."""
    s = np.asarray(s, dtype=complex)
    d = s_delta(s)
    s11, s22 = s[..., 0, 0], s[..., 1, 1]
    cross = np.abs(s[..., 0, 1] * s[..., 1, 0])
    if side == "source":
        return (1 - np.abs(s11) ** 2) / (np.abs(s22 - d * np.conj(s11)) + cross)
    if side == "load":
        return (1 - np.abs(s22) ** 2) / (np.abs(s11 - d * np.conj(s22)) + cross)
    raise ValueError(f"side must be 'source' or 'load', got {side!r}")


@dataclass
class TwoPortFactors:
    """Stability factors of a two-port over frequency (``freq_hz`` in Hz)."""

    name: str
    freq_hz: np.ndarray
    k: np.ndarray
    delta_abs: np.ndarray
    mu: np.ndarray
    mu_prime: np.ndarray

    @property
    def unconditionally_stable(self) -> np.ndarray:
        """``μ > 1`` at each frequency (for passive terminations, given a stable two-port)."""
        return self.mu > 1

    def potentially_unstable_bands(self) -> list[tuple[float, float]]:
        """Frequency spans (Hz, sampled ends) where ``μ ≤ 1``."""
        bad = ~self.unconditionally_stable
        out = []
        start = None
        for f, b in zip(self.freq_hz, bad):
            if b and start is None:
                start = f
            if not b and start is not None:
                out.append((float(start), float(prev)))
                start = None
            prev = f
        if start is not None:
            out.append((float(start), float(self.freq_hz[-1])))
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "freq_hz": self.freq_hz.tolist(), "k": self.k.tolist(),
                "delta_abs": self.delta_abs.tolist(), "mu": self.mu.tolist(), "mu_prime": self.mu_prime.tolist(),
                "potentially_unstable_bands_hz": [list(b) for b in self.potentially_unstable_bands()]}

    def plot(self, ax=None):
        """K, |Δ|, μ and μ' versus frequency, with the line at 1."""
        from stabkit.report.figures import plot_twoport_factors

        return plot_twoport_factors(self.freq_hz, self.k, self.delta_abs, self.mu, self.mu_prime, ax=ax,
                                    title=f"two-port factors of {self.name}")


def twoport_factors(s: np.ndarray, freq_hz: np.ndarray, name: str = "two-port") -> TwoPortFactors:
    """Factors of S-parameters ``s`` (shape ``(F, 2, 2)``) sampled at ``freq_hz``."""
    s = np.asarray(s, dtype=complex)
    if s.ndim != 3 or s.shape[1:] != (2, 2):
        raise ValueError(f"expected S-parameters of shape (F, 2, 2), got {s.shape}")
    return TwoPortFactors(name=name, freq_hz=np.asarray(freq_hz, dtype=float), k=rollett_k(s),
                          delta_abs=np.abs(s_delta(s)), mu=edwards_sinsky_mu(s, "source"),
                          mu_prime=edwards_sinsky_mu(s, "load"))


def network_factors(network, name: str = "two-port") -> TwoPortFactors:
    """Factors of a 2-port ``skrf.Network``."""
    if network.nports != 2:
        raise ValueError(f"{name}: two-port factors need 2 ports, the network has {network.nports}")
    return twoport_factors(network.s, network.f, name)
