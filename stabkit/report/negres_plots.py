"""Plots for negative-resistance circuits. Matplotlib is imported lazily; nothing here computes beyond
drawing the arrays and straight lines it is given."""

from __future__ import annotations

import numpy as np

from stabkit.report.plots import _axes

STATE_COLOURS = {"stable": "tab:green", "unstable": "tab:red", "marginal": "tab:orange"}
REGION_COLOURS = {"amplifier": "tab:green", "stable": "tab:blue", "oscillator": "tab:red", "bistable": "tab:purple",
                  "multistable": "tab:brown", "marginal": "tab:orange", "other": "0.5"}


def plot_curve_features(v, i, peaks, valleys, ndr, control: str, ax=None):
    """I–V curve (mA vs V) with the peak and valley points; the NDR span shaded."""
    ax = _axes(ax)
    v = np.asarray(v)
    i = np.asarray(i)
    ax.plot(v, 1e3 * i, color="k", lw=1.2, label=f"{control}-type curve")
    for k, (vp, ip) in enumerate(peaks):
        ax.plot(vp, 1e3 * ip, "^", color="tab:red", label="peak" if k == 0 else None)
    for k, (vv, iv) in enumerate(valleys):
        ax.plot(vv, 1e3 * iv, "v", color="tab:blue", label="valley" if k == 0 else None)
    for lo, hi in ndr:
        if control == "N":
            ax.axvspan(lo, hi, color="tab:red", alpha=0.08)
        else:
            ax.axhspan(1e3 * lo, 1e3 * hi, color="tab:red", alpha=0.08)
    ax.set_xlabel("v [V]")
    ax.set_ylabel("i [mA]")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_load_lines(v, i, a: float | None, b: float | None, c: float | None, points, ac_resistance: float | None = None,
                    title: str = "", ax=None):
    """Device curve, the DC load line ``a·v + b·i = c``, optional AC load lines of slope ``−1/ac_resistance``
    through each point, and the operating points ``[(v, i, state), ...]`` coloured by state."""
    ax = _axes(ax)
    v = np.asarray(v)
    i = np.asarray(i)
    ax.plot(v, 1e3 * i, color="k", lw=1.2, label="device")
    if a is None:
        pass  # several devices: no single load line
    elif b != 0:
        ax.plot(v, 1e3 * (c - a * v) / b, color="tab:blue", lw=1.0, label="DC load line")
    else:
        ax.axvline(c / a, color="tab:blue", lw=1.0, label="DC load line")
    if ac_resistance is not None and points:
        for k, (vq, iq, _) in enumerate(points):
            ax.plot(v, 1e3 * (iq - (v - vq) / ac_resistance), color="tab:cyan", lw=0.8, ls="--",
                    label="AC load line" if k == 0 else None)
    seen = set()
    for vq, iq, state in points:
        ax.plot(vq, 1e3 * iq, "o", ms=7, color=STATE_COLOURS[state], label=state if state not in seen else None)
        seen.add(state)
    span = float(np.max(i) - np.min(i)) or 1.0
    ax.set_ylim(1e3 * (np.min(i) - 0.1 * span), 1e3 * (np.max(i) + 0.1 * span))
    ax.set_xlabel("v [V]")
    ax.set_ylabel("i [mA]")
    ax.set_title(title or "operating points")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_region_sweep(values, regions, points, param: str, title: str = "", ax=None):
    """Operating-point voltages versus the swept parameter, coloured by stability, over a band per region."""
    ax = _axes(ax)
    values = np.asarray(values)
    for k, (x, region) in enumerate(zip(values, regions)):
        for v, _, stable in points[k]:
            ax.plot(x, v, ".", color=STATE_COLOURS["stable" if stable else "unstable"], ms=4)
    edges = np.concatenate([[values[0]], 0.5 * (values[1:] + values[:-1]), [values[-1]]]) if values.size > 1 else values
    labelled = set()
    for k, region in enumerate(regions):
        if values.size > 1:
            ax.axvspan(edges[k], edges[k + 1], color=REGION_COLOURS.get(region, "0.5"), alpha=0.12,
                       label=region if region not in labelled else None, lw=0)
            labelled.add(region)
    ax.set_xlabel(param)
    ax.set_ylabel("operating-point voltage [V]")
    ax.set_title(title or "regions of operation")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_pole_paths(values, rows, param: str, title: str = "", ax=None):
    """Poles (s/2π) of every operating point for each swept value; colour runs with the value."""
    import matplotlib.pyplot as plt

    ax = _axes(ax)
    values = np.asarray(values, dtype=float)
    cmap = plt.get_cmap("viridis")
    lo, hi = float(np.min(values)), float(np.max(values))
    for x, row in zip(values, rows):
        colour = cmap(0.0 if hi == lo else (x - lo) / (hi - lo))
        for p in row:
            z = np.asarray(p["poles_hz"])
            ax.scatter(z.real, z.imag, s=10, color=colour, marker="x" if p["stable"] else "o")
    # zoom on the dominant (rightmost) poles, which decide stability; far-left poles may fall outside
    rightmost = [max(np.asarray(p["poles_hz"]).real) for row in rows for p in row if len(p["poles_hz"])]
    if rightmost:
        r_lo, r_hi = min(rightmost), max(rightmost)
        pad = 0.15 * max(r_hi - r_lo, abs(r_lo), abs(r_hi), 1e-30)
        ax.set_xlim(min(r_lo, 0.0) - pad, max(r_hi, 0.0) + pad)
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel("Re(s)/2π [Hz]")
    ax.set_ylabel("Im(s)/2π [Hz]")
    ax.set_title(title or f"pole paths versus {param} ({lo:g} → {hi:g})")
    ax.grid(True, alpha=0.3)
    return ax


def plot_oscillator_conditions(freq_hz, z_device, z_load, balance_hz, ax=None):
    """``R_N + R_L`` and ``X_N + X_L`` versus frequency, with the reactance-balance frequencies marked."""
    ax = _axes(ax)
    f = np.asarray(freq_hz)
    total = np.asarray(z_device) + np.asarray(z_load)
    ax.semilogx(f, total.real, label="R_N + R_L")
    ax.semilogx(f, total.imag, label="X_N + X_L")
    for k, fb in enumerate(balance_hz):
        ax.axvline(fb, color="tab:red", lw=0.8, ls="--", label="X balance" if k == 0 else None)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel("frequency [Hz]")
    ax.set_ylabel("Ω")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_region_map(x, y, regions, x_param: str, y_param: str, title: str = "", ax=None):
    """Regions of operation on a grid of two parameters, one colour per region."""
    from matplotlib.colors import ListedColormap

    ax = _axes(ax)
    names = [r for r in REGION_COLOURS if any(r in row for row in regions)] or ["other"]
    code = np.array([[names.index(r) if r in names else 0 for r in row] for row in regions])
    cmap = ListedColormap([REGION_COLOURS[n] for n in names])
    ax.pcolormesh(np.asarray(x), np.asarray(y), code, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, shading="nearest")
    for k, name in enumerate(names):
        ax.plot([], [], "s", color=REGION_COLOURS[name], label=name)
    ax.set_xlabel(x_param)
    ax.set_ylabel(y_param)
    ax.set_title(title or "regions of operation")
    ax.legend(loc="best", fontsize="small")
    return ax
