"""Port impedance ``Z(f)`` seen between two nodes, with every element (active ones included) on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as spla

from stabkit.analysis.mna import MNASystem, assemble
from stabkit.circuit.graph import GROUND, Circuit
from stabkit.errors import CircuitError

TWO_PI = 2.0 * np.pi


def impedance(system: MNASystem, freqs_hz: np.ndarray, node_plus: str, node_minus: str = GROUND) -> np.ndarray:
    """``Z(jω)`` between ``node_plus`` and ``node_minus``: a 1 A test current in at ``node_plus`` and out at
    ``node_minus``, ``Z = v(+) − v(−)``. Shape ``(len(freqs_hz),)`` complex. Independent sources are off."""
    inc = system.incidence(node_plus, node_minus)
    if not inc.any():
        raise CircuitError(f"port {node_plus},{node_minus}: the two nodes are the same")
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    out = np.empty(freqs.shape, dtype=complex)
    for i, f in enumerate(freqs):
        m = system.M(1j * TWO_PI * f)
        try:
            x = spla.splu(m).solve(inc.astype(complex))
        except RuntimeError:
            out[i] = np.inf  # the port sees a pole exactly at this frequency (or is open)
            continue
        out[i] = inc @ x
    return out


@dataclass
class ImpedanceResult:
    """Port impedance over frequency; ``z`` complex ohms, ``freq_hz`` in Hz (same length)."""

    freq_hz: np.ndarray
    z: np.ndarray
    port: tuple[str, str]
    params: dict[str, float] = field(default_factory=dict)

    @property
    def inductance(self) -> np.ndarray:
        """Equivalent series inductance ``Im Z / ω`` (H); negative for a negative inductor."""
        return self.z.imag / (TWO_PI * self.freq_hz)

    @property
    def capacitance(self) -> np.ndarray:
        """Equivalent series capacitance ``−1/(ω Im Z)`` (F)."""
        return -1.0 / (TWO_PI * self.freq_hz * self.z.imag)

    def to_dict(self) -> dict:
        return {"port": list(self.port), "freq_hz": [float(f) for f in self.freq_hz],
                "z": [[float(v.real), float(v.imag)] for v in self.z]}

    def plot(self, ax=None):
        from stabkit.report.plots import plot_impedance

        return plot_impedance(self.freq_hz, self.z, ax=ax, title=f"Z({self.port[0]},{self.port[1]})")


def port_pair(port: str | Sequence[str]) -> tuple[str, str]:
    """``"a"``, ``"a,b"``, ``["a"]`` or ``["a", "b"]`` as a ``(node+, node−)`` pair (ground by default)."""
    if isinstance(port, str):
        port = [p for p in port.split(",") if p]
    port = list(port)
    if len(port) == 1:
        port.append(GROUND)
    if len(port) != 2:
        raise CircuitError(f"a port is one node or two nodes, got {port}")
    return port[0], port[1]


def zin(circuit: Circuit, port: Sequence[str] | str, freqs_hz, params: Mapping[str, float] | None = None) -> ImpedanceResult:
    """Impedance looking into ``port`` (a node, or a pair of nodes) at ``freqs_hz``."""
    port = port_pair(port)
    system = assemble(circuit, params)
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if np.any(freqs <= 0):
        raise CircuitError("port impedance frequencies must be positive (Hz)")
    return ImpedanceResult(freq_hz=freqs, z=impedance(system, freqs, port[0], port[1]),
                           port=(port[0], port[1]), params=dict(system.params))
