"""Plots of admissible-load results (matplotlib imported lazily; nothing here computes)."""

from __future__ import annotations

import numpy as np


def _axes(ax=None, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_admissible(values, rhp_counts, intervals, edges, param: str = "", ax=None):
    """RHP count of the coarse scan versus the parameter, stable intervals shaded green, edges dashed."""
    ax = _axes(ax)
    v = np.asarray(values, dtype=float)
    ax.step(v, rhp_counts, where="mid", color="tab:red", label="RHP natural frequencies")
    for a, b in intervals:
        ax.axvspan(a, b, color="tab:green", alpha=0.2)
    for e in edges:
        ax.axvline(e, color="k", ls="--", lw=0.8)
    if v.size and v[0] > 0 and v[-1] / v[0] >= 10:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("# RHP poles")
    ax.set_title(f"admissible {param} (green)")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_table(by_values, intervals_per_column, probes, probe_stable, param: str = "", by: str = "", ax=None):
    """One vertical bar per column spanning its stable intervals; probed values as dots (green stable,
    red unstable)."""
    ax = _axes(ax)
    xs = np.arange(len(by_values))
    for x, intervals in zip(xs, intervals_per_column):
        for a, b in intervals:
            ax.plot([x, x], [a, b], color="tab:green", lw=8, alpha=0.5, solid_capstyle="butt")
    stable = np.asarray(probe_stable, dtype=bool)
    for i, pv in enumerate(probes):
        for j, x in enumerate(xs):
            ax.plot(x, pv, "o", ms=4, color="tab:green" if stable[i, j] else "tab:red")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{v:g}" for v in by_values])
    ax.set_xlabel(by)
    ax.set_ylabel(param)
    ax.set_title(f"admissible {param} per {by}")
    return ax


def plot_stability_map(x_values, y_values, rhp_count, stable, x_param: str = "", y_param: str = "", ax=None):
    """Number of RHP natural frequencies on the (x, y) grid; the stable region outlined."""
    ax = _axes(ax)
    x = np.asarray(x_values, dtype=float)
    y = np.asarray(y_values, dtype=float)
    mesh = ax.pcolormesh(x, y, np.asarray(rhp_count), shading="nearest", cmap="Reds")
    ax.figure.colorbar(mesh, ax=ax, label="# RHP poles")
    st = np.asarray(stable, dtype=float)
    if 0 < st.sum() < st.size and len(x) > 1 and len(y) > 1:
        ax.contour(x, y, st, levels=[0.5], colors="tab:green", linewidths=1.5)
    if x.size and x[0] > 0 and x[-1] / x[0] >= 10:
        ax.set_xscale("log")
    if y.size and y[0] > 0 and y[-1] / y[0] >= 10:
        ax.set_yscale("log")
    ax.set_xlabel(x_param)
    ax.set_ylabel(y_param)
    ax.set_title("stability map (white: stable)")
    return ax


def plot_pole_locus(values, poles_hz, crossings_hz, param: str = "", fmax_hz: float | None = None, ax=None):
    """Natural frequencies (s/2π) for each parameter value, coloured by the value; crossings as stars."""
    ax = _axes(ax, figsize=(6.0, 5.0))
    import matplotlib as mpl

    vals = np.asarray(values, dtype=float)
    norm = mpl.colors.LogNorm(vals.min(), vals.max()) if vals.min() > 0 and vals.max() / vals.min() >= 10 \
        else mpl.colors.Normalize(vals.min(), vals.max())
    cmap = mpl.colormaps["viridis"]
    for v, p in zip(vals, poles_hz):
        p = np.asarray(p)
        if fmax_hz is not None:
            p = p[np.abs(p) <= fmax_hz]
        ax.plot(p.real, p.imag, ".", ms=3, color=cmap(norm(v)))
    for c in crossings_hz:
        ax.plot([c.real], [c.imag], "*", ms=12, color="tab:red")
        ax.plot([c.real], [-c.imag], "*", ms=12, color="tab:red")
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.figure.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=param)
    ax.set_xlabel("Re(s)/2π [Hz]")
    ax.set_ylabel("Im(s)/2π [Hz]")
    ax.set_title(f"pole locus over {param} (stars: jω-axis crossings)")
    return ax
