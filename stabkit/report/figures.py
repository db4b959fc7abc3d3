"""Report figures not covered by :mod:`stabkit.report.plots`. They draw arrays they are given; no computing."""

from __future__ import annotations

import numpy as np


def plot_nyquist(values, ax, title: str = "", label: str = "F(jω)"):
    """Polar (Nyquist) plot of a complex function sampled for ω ≥ 0, mirrored for ω < 0, with the origin marked."""
    v = np.asarray(values, dtype=complex)
    ax.plot(v.real, v.imag, color="tab:blue", lw=1.2, label=f"{label}, ω ≥ 0")
    ax.plot(v.real, -v.imag, color="tab:blue", lw=0.8, ls="--", alpha=0.6, label="ω < 0 (mirror)")
    ax.plot([0.0], [0.0], marker="+", color="tab:red", ms=12, mew=2, ls="none", label="origin")
    ax.plot([1.0], [0.0], marker="o", color="0.3", ms=4, ls="none", label="1 (ω → ∞)")
    ax.axhline(0.0, color="0.7", lw=0.6)
    ax.axvline(0.0, color="0.7", lw=0.6)
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="x-small")
    return ax


def plot_intervals(rows, axes, title: str = ""):
    """1-D stability strips, one axes per sweep ``(label, lo, hi, intervals, expected)``: stable spans green,
    the rest of the sweep red, the expected interval outlined. Log axis where the sweep spans > 1 decade."""
    from matplotlib.ticker import EngFormatter

    for ax, (label, lo, hi, intervals, expected) in zip(axes, rows):
        ax.axvspan(lo, hi, color="tab:red", alpha=0.35, lw=0)
        for a, b in intervals:
            ax.axvspan(a, b, color="tab:green", alpha=0.85, lw=0)
        if expected is not None:
            ax.axvspan(expected[0], expected[1], ymin=0.15, ymax=0.85, fill=False, edgecolor="black", lw=1.2, ls="--")
        if lo > 0 and hi / lo > 10:
            ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(False)
    if len(axes):
        axes[0].set_title(title or "green: stable, red: unstable, dashed: expected")
    return axes


def plot_map(x, y, stable, ax, xlabel: str, ylabel: str, title: str = ""):
    """2-D stability map: ``stable[j, i]`` for ``x[i]``, ``y[j]`` (True = stable)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = np.asarray(stable, dtype=float)
    from matplotlib.colors import ListedColormap

    ax.pcolormesh(x, y, z, cmap=ListedColormap(["#e57373", "#81c784"]), vmin=0, vmax=1, shading="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "stability map (green = stable)")
    return ax


def plot_twoport_factors(freq_hz, k, delta_abs, mu, mu_prime, ax=None, title: str = ""):
    """K, |Δ|, μ, μ' versus frequency (log f), with the stability line at 1."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.0))
    from matplotlib.ticker import EngFormatter

    f = np.asarray(freq_hz, dtype=float)
    ax.semilogx(f, np.clip(k, None, 10.0), label="K (clipped at 10)")
    ax.semilogx(f, delta_abs, label="|Δ|")
    ax.semilogx(f, mu, label="μ (source)")
    ax.semilogx(f, mu_prime, ls="--", label="μ' (load)")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.xaxis.set_major_formatter(EngFormatter(unit="Hz"))
    ax.set_xlabel("frequency")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax
