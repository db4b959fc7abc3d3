"""Plotting helpers. Matplotlib is imported lazily, and nothing here computes: it draws arrays it is given."""

from __future__ import annotations

import numpy as np


def _axes(ax=None, figsize=(5.0, 4.0)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_pole_map(poles_hz, ax=None, title: str = "", marker_size: float = 40.0):
    """Poles as [Re, Im] in Hz on the s/2π plane; right-half-plane poles red, the rest blue."""
    ax = _axes(ax)
    p = np.asarray(poles_hz, dtype=complex)
    rhp = p.real > 0
    ax.scatter(p.real[~rhp], p.imag[~rhp], marker="x", s=marker_size, color="tab:blue", label="LHP")
    if rhp.any():
        ax.scatter(p.real[rhp], p.imag[rhp], marker="x", s=marker_size, color="tab:red", label="RHP (unstable)")
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel("Re(s)/2π [Hz]")
    ax.set_ylabel("Im(s)/2π [Hz]")
    ax.set_title(title or "natural frequencies")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_impedance(freq_hz, z, ax=None, title: str = ""):
    """Re and Im of an impedance versus frequency (log f)."""
    ax = _axes(ax)
    f = np.asarray(freq_hz)
    z = np.asarray(z)
    ax.semilogx(f, z.real, label="Re Z")
    ax.semilogx(f, z.imag, label="Im Z")
    ax.set_xlabel("frequency [Hz]")
    ax.set_ylabel("Ω")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_node_voltages(voltages, ax=None, title: str = ""):
    """Horizontal bars of node voltages (a ``{node: volts}`` mapping), in the mapping's order."""
    ax = _axes(ax, figsize=(5.0, 0.3 * max(len(voltages), 4) + 1.0))
    names = list(voltages)
    ax.barh(range(len(names)), [voltages[n] for n in names], color="tab:blue")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("V")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return ax
