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


def plot_intervals(rows, ax, title: str = ""):
    """1-D stability map: one row per sweep ``(label, lo, hi, intervals, expected)``; stable spans green,
    the rest of the sweep red, the expected interval outlined. Log axis when the sweep spans > 1 decade."""
    log = all(lo > 0 and hi / lo > 10 for _, lo, hi, _, _ in rows)
    for y, (label, lo, hi, intervals, expected) in enumerate(rows):
        ax.barh(y, hi - lo, left=lo, height=0.5, color="tab:red", alpha=0.35)
        for a, b in intervals:
            ax.barh(y, b - a, left=a, height=0.5, color="tab:green", alpha=0.85)
        if expected is not None:
            a, b = expected
            ax.barh(y, b - a, left=a, height=0.7, fill=False, edgecolor="black", lw=1.2, ls="--")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows])
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("swept value (SI units); green = stable, red = unstable, dashed = expected")
    ax.set_title(title)
    return ax


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
