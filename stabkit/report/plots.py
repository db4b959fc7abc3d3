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


def _compress(z):
    """Radius compression ``z ↦ z/|z|·log(1+|z|)``: keeps angles and the origin, so encirclements are preserved."""
    z = np.asarray(z, dtype=complex)
    mag = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mag > 0, z / mag * np.log1p(mag), 0.0)
    return out


def plot_ndf(values, freq_hz, running_count, encirclements: int, ax=None, title: str = "NDF", marks: int = 8):
    """NDF locus in the compressed polar plane (radius log(1+|NDF|)) with frequency marks, plus the running
    count ``−Δarg/π`` versus frequency in an inset. Returns the main axes."""
    ax = _axes(ax, figsize=(5.5, 5.0))
    w = _compress(values)
    f = np.asarray(freq_hz, dtype=float)
    ax.plot(w.real, w.imag, color="tab:blue", lw=1.2, label="NDF(jω), ω ≥ 0")
    ax.plot(w.real, -w.imag, color="tab:blue", lw=0.8, ls="--", alpha=0.6, label="ω ≤ 0 (mirror)")
    ax.plot([0], [0], marker="+", color="tab:red", ms=12, mew=2)
    ax.plot([np.log1p(1.0)], [0], marker="o", color="0.3", ms=4)
    pos = f > 0
    if pos.sum() > 2:
        idx = np.flatnonzero(pos)
        picks = idx[np.unique(np.linspace(0, idx.size - 1, marks).astype(int))]
        for i in picks:
            ax.annotate(f"{f[i]:.3g} Hz", (w.real[i], w.imag[i]), fontsize="x-small", color="0.3")
            ax.plot(w.real[i], w.imag[i], marker=".", color="tab:orange")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re (radius log(1+|NDF|))")
    ax.set_ylabel("Im")
    ax.set_title(f"{title}: {encirclements} clockwise encirclement(s)")
    ax.legend(loc="upper left", fontsize="x-small")
    inset = ax.inset_axes([0.62, 0.06, 0.35, 0.25])
    fc = np.maximum(f, np.min(f[pos]) if pos.any() else 1.0)
    inset.semilogx(fc, np.asarray(running_count), color="tab:green", lw=1.0)
    inset.set_title("running −Δarg/π", fontsize="x-small")
    inset.tick_params(labelsize="xx-small")
    return ax


def plot_return_differences(loci, labels, ax=None, title: str = "return differences F_k"):
    """Loci of the per-source return differences in the compressed polar plane, one colour each."""
    ax = _axes(ax, figsize=(5.5, 5.0))
    for z, label in zip(loci, labels):
        w = _compress(z)
        (line,) = ax.plot(w.real, w.imag, lw=1.0, label=label)
        ax.plot(w.real, -w.imag, lw=0.6, ls="--", color=line.get_color(), alpha=0.5)
    ax.plot([0], [0], marker="+", color="tab:red", ms=12, mew=2)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re (radius log(1+|F|))")
    ax.set_ylabel("Im")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="x-small")
    return ax


def plot_stability_factors(freq_hz, k, delta_mag, mu, ax=None, title: str = "two-port stability factors"):
    """Rollett K, |Δ| and μ versus frequency, with the K = 1 / μ = 1 line."""
    ax = _axes(ax)
    f = np.asarray(freq_hz)
    ax.semilogx(f, k, label="K")
    ax.semilogx(f, delta_mag, label="|Δ|")
    ax.semilogx(f, mu, label="μ")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("frequency [Hz]")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax
