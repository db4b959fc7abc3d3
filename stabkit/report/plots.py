"""Every stabkit figure: one plot function per kind of result. Each result object's ``.plot()`` delegates to
one of these and returns the axes it drew on.

Nothing here computes a result: the functions draw the arrays they are given (choosing only what to show —
tick formats, where frequency labels go, the window a caller asked for). Matplotlib is imported lazily.

House style, the same in every figure:

* SI units on every axis, with engineering prefixes on the ticks (``200 MHz``, ``5 nH``); a count (unstable
  natural frequencies, encirclements) is drawn on integer ticks;
* colourblind-safe colours (Okabe & Ito): stable blue, unstable vermillion, marginal orange, with a second cue
  (marker shape, hatching) wherever the colour carries a verdict;
* legends outside the data area, titles wrapped to the axes width.

Kinds: pole map (:func:`plot_pole_map`), NDF locus with its running count (:func:`plot_ndf`), return
differences (:func:`plot_return_differences`), port impedance (:func:`plot_impedance`), node voltages
(:func:`plot_node_voltages`), two-port factors (:func:`plot_stability_factors`), admissible range
(:func:`plot_admissible`), stability table (:func:`plot_table`), stability map (:func:`plot_stability_map`),
pole locus (:func:`plot_pole_locus`), admissible strips (:func:`plot_intervals`), device curve
(:func:`plot_curve_features`), load lines (:func:`plot_load_lines`), regions along a sweep
(:func:`plot_region_sweep`), pole paths (:func:`plot_pole_paths`), oscillator conditions
(:func:`plot_oscillator_conditions`), region map (:func:`plot_region_map`), oscillator steady state
(:func:`plot_oscillation`), one-port oscillator picture (:func:`plot_one_port`), pole sensitivities
(:func:`plot_sensitivities`), equivalent reactance over a band (:func:`plot_equivalent`), poles followed along a
sweep (:func:`plot_pole_track`).
"""

from __future__ import annotations

import textwrap

import numpy as np

from stabkit.units import format_eng

__all__ = [
    "BLUE", "ORANGE", "SKY", "GREEN", "YELLOW", "VERMILLION", "PURPLE", "SERIES", "STATE_COLOURS", "STATE_MARKERS",
    "REGION_COLOURS", "fit_title",
    "plot_pole_map", "plot_ndf", "plot_return_differences", "plot_impedance", "plot_node_voltages",
    "plot_stability_factors", "plot_admissible", "plot_table", "plot_stability_map", "plot_pole_locus",
    "plot_intervals", "plot_curve_features", "plot_load_lines", "plot_region_sweep", "plot_pole_paths",
    "plot_oscillator_conditions", "plot_region_map", "plot_oscillation", "plot_one_port",
    "plot_power_sweep", "plot_probe_sweep", "plot_sensitivities", "plot_equivalent", "plot_pole_track"]

# ----------------------------------------------------------------------------- colours (Okabe & Ito 2008)
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#595959"
#: colours of successive curves
SERIES = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, GREY, YELLOW]
#: line styles, changed each time the colours wrap around
LINESTYLES = ["-", "--", "-.", ":"]
STATE_COLOURS = {"stable": BLUE, "unstable": VERMILLION, "marginal": ORANGE}
STATE_MARKERS = {"stable": "o", "unstable": "X", "marginal": "D"}
REGION_COLOURS = {"amplifier": GREEN, "stable": BLUE, "oscillator": VERMILLION, "bistable": PURPLE,
                  "multistable": ORANGE, "marginal": YELLOW, "other": "0.6"}
#: the compressed image of NDF(∞) = 1
ONE = float(np.log1p(1.0))


# ----------------------------------------------------------------------------- shared helpers
def _axes(ax=None, figsize=(6.4, 4.4)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def fit_title(ax, text: str, lines: int = 2) -> str:
    """Set ``text`` as the title of ``ax``, wrapped to the axes width in at most ``lines`` lines (the rest
    shortened with an ellipsis). Returns the title as set."""
    fig = ax.figure
    size = ax.title.get_fontsize()
    width_in = ax.get_position().width * fig.get_figwidth()
    chars = max(int(width_in * 72.0 / (0.56 * size)), 16)
    wrapped = textwrap.wrap(" ".join(str(text).split()), chars) or [""]
    if len(wrapped) > lines:
        last = " ".join(wrapped[lines - 1:])
        wrapped = wrapped[: lines - 1] + [last[: chars - 1].rstrip() + "…"]
    title = "\n".join(wrapped)
    ax.set_title(title)
    return title


def _eng(axis, unit: str = "") -> None:
    """Engineering-prefix ticks with ``unit`` (``200 MHz``; a bare ``5 n`` when the unit is unknown). On a log
    axis at most about six decades are labelled, so the labels never run into each other."""
    from matplotlib.ticker import EngFormatter, LogLocator

    if axis.get_scale() == "log":
        axis.set_major_locator(LogLocator(base=10.0, numticks=6))
    axis.set_major_formatter(EngFormatter(unit=unit))


def _counts(axis) -> None:
    """Integer ticks only: the axis shows a count."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axis.set_major_formatter(StrMethodFormatter("{x:.0f}"))


def _legend_outside(ax, **kw):
    """A legend to the right of the axes, where it cannot cover data (nothing when no artist is labelled)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize="small", frameon=False, **kw)


def _log_if_wide(ax, values, axis: str = "x") -> bool:
    v = np.asarray(values, dtype=float)
    wide = bool(v.size and np.all(v > 0) and v.max() / v.min() >= 10)
    if wide:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return wide


def _compress(z):
    """Radius compression ``z ↦ z/|z|·log(1+|z|)``: keeps angles and the origin, so encirclements are preserved."""
    z = np.asarray(z, dtype=complex)
    mag = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mag > 0, z / mag * np.log1p(mag), 0.0)
    return out


# ----------------------------------------------------------------------------- natural frequencies
def plot_pole_map(poles_hz, ax=None, title: str = "", marker_size: float = 40.0, window=None, unstable=None):
    """Natural frequencies on the s/2π plane (Hz): decaying ones as blue crosses, growing ones (right
    half-plane) as vermillion dots, the right half-plane shaded.

    ``window`` ``(re_min, re_max, im_max)`` (Hz) zooms to that box; the poles outside it are counted in the
    legend (a report lists them). ``unstable`` (a boolean mask) marks the right-half-plane poles when the
    caller judged them with a tolerance; by default ``Re > 0``."""
    ax = _axes(ax)
    p = np.asarray(poles_hz, dtype=complex).ravel()
    bad = (p.real > 0) if unstable is None else np.asarray(unstable, dtype=bool).ravel()
    shown = np.ones(p.size, dtype=bool)
    if window is not None:
        re_lo, re_hi, im_max = (float(x) for x in window)
        shown = (p.real >= re_lo) & (p.real <= re_hi) & (np.abs(p.imag) <= im_max)
    good_in, bad_in = shown & ~bad, shown & bad
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.axhline(0.0, color="0.6", lw=0.6)
    ax.scatter(p.real[good_in], p.imag[good_in], marker="x", s=marker_size, color=BLUE, linewidths=1.4,
               label="left half-plane (decays)", zorder=3)
    if bad.any():
        ax.scatter(p.real[bad_in], p.imag[bad_in], marker="o", s=marker_size, color=VERMILLION, edgecolors="black",
                   linewidths=0.6, label="right half-plane (grows)", zorder=4)
    if window is not None:
        ax.set_xlim(re_lo, re_hi)
        ax.set_ylim(-im_max, im_max)
        hidden = int((~shown).sum())
        if hidden:
            far = p[~shown]
            reach = format_eng(float(far.real.min()), "Hz", 3) if far.real.min() < re_lo else \
                format_eng(float(np.abs(far).max()), "Hz", 3)
            ax.plot([], [], ls="none", label=f"+{hidden} outside this view\n(reaching {reach})")
    elif p.size:  # every pole and the jω axis in view, none on the frame
        re_lo, re_hi = min(float(p.real.min()), 0.0), max(float(p.real.max()), 0.0)
        span = max(re_hi - re_lo, 1e-30)
        im_max = float(np.abs(p.imag).max())
        ax.set_xlim(re_lo - 0.08 * span, re_hi + 0.08 * span)
        ax.set_ylim(*((-1.12 * im_max, 1.12 * im_max) if im_max > 0 else (-0.5 * span, 0.5 * span)))
    lo, hi = ax.get_xlim()
    if hi > 0:
        ax.axvspan(0.0, hi, color=VERMILLION, alpha=0.07, lw=0, label="unstable region (Re s > 0)")
        ax.set_xlim(lo, hi)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, "Hz")
    ax.set_xlabel("Re s/2π (growth rate; < 0 decays)")
    ax.set_ylabel("Im s/2π (oscillation frequency)")
    fit_title(ax, title or "natural frequencies s/2π")
    _legend_outside(ax)
    return ax


def _frequency_marks(w: np.ndarray, f: np.ndarray, count: int) -> list[int]:
    """Indices of at most ``count`` samples to label with their frequency: decades (1-2-5 steps on a short
    sweep) that lie apart from each other and from the ω → ∞ end of the locus, farthest from it first."""
    pos = np.flatnonzero(f > 0)
    if pos.size < 3 or count <= 0:
        return []
    logf = np.log10(f[pos])
    lo, hi = float(logf.min()), float(logf.max())
    steps = [1.0] if hi - lo >= 3 else [1.0, 2.0, 5.0]
    targets = [m * 10.0 ** k for k in range(int(np.floor(lo)), int(np.ceil(hi)) + 1) for m in steps]
    targets = [t for t in targets if lo <= np.log10(t) <= hi]
    idx = sorted({int(pos[np.argmin(np.abs(logf - np.log10(t)))]) for t in targets})
    span = max(float(np.ptp(w.real)), float(np.ptp(w.imag)), 1e-12)
    picks: list[int] = []
    for i in sorted(idx, key=lambda i: -abs(w[i] - ONE)):
        if abs(w[i] - ONE) < 0.05 * span or abs(w[i]) < 0.04 * span:
            continue
        if all(abs(w[i] - w[j]) >= 0.14 * span for j in picks):
            picks.append(i)
        if len(picks) == count:
            break
    return sorted(picks)


def _split_below(ax, ratios=(3.2, 1.0)):
    """Turn ``ax`` into the upper part of its grid cell and return a new axes below it."""
    spec = ax.get_subplotspec()
    if spec is None:
        return ax.inset_axes([0.0, -0.55, 1.0, 0.28])
    grid = spec.subgridspec(2, 1, height_ratios=list(ratios), hspace=0.08)
    ax.set_subplotspec(grid[0])
    return ax.figure.add_subplot(grid[1])


def plot_ndf(values, freq_hz, running_count, encirclements: int, ax=None, title: str = "NDF", marks: int = 6,
             count_ax=None):
    """NDF(jω) in the compressed polar plane (radius log(1+|NDF|): angles, and so encirclements, are kept)
    with frequency labels, and below it the running count −Δarg/π versus frequency (integer ticks).

    ``count_ax`` is the axes for the running count; by default the lower part of ``ax``'s grid cell.
    Returns the polar-plane axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, (ax, count_ax) = plt.subplots(2, 1, figsize=(6.4, 6.4), height_ratios=[3.2, 1.0])
    elif count_ax is None:
        count_ax = _split_below(ax)
    w = _compress(values)
    f = np.asarray(freq_hz, dtype=float)
    ax.plot(w.real, w.imag, color=BLUE, lw=1.3, label="NDF(jω), ω ≥ 0")
    ax.plot(w.real, -w.imag, color=SKY, lw=0.9, ls="--", label="ω ≤ 0 (mirror image)")
    ax.plot([0.0], [0.0], marker="+", color=VERMILLION, ms=13, mew=2.2, ls="none", label="origin")
    ax.plot([ONE], [0.0], marker="o", color="0.25", ms=4, ls="none", label="NDF(∞) = 1")
    for k, i in enumerate(_frequency_marks(w, f, marks)):
        ax.plot(w.real[i], w.imag[i], marker="o", ms=4.5, color=ORANGE, mec="black", mew=0.5, ls="none",
                label="frequency marks" if k == 0 else None, zorder=4)
        ax.annotate(format_eng(f[i], "Hz", 3), (w.real[i], w.imag[i]), xytext=(5, 5), textcoords="offset points",
                    fontsize="x-small", color="0.15",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.axhline(0.0, color="0.75", lw=0.6)
    ax.axvline(0.0, color="0.75", lw=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re NDF (radius compressed to log(1+|NDF|))")
    ax.set_ylabel("Im NDF (compressed)")
    n = int(encirclements)
    fit_title(ax, f"{title}: {n} clockwise encirclement{'' if n == 1 else 's'}")
    _legend_outside(ax)
    pos = f > 0
    count = np.asarray(running_count, dtype=float)
    count_ax.semilogx(f[pos], count[pos], color=GREEN, lw=1.3)
    count_ax.axhline(n, color="0.3", lw=0.8, ls=":")
    top, bottom = max(float(np.nanmax(count[pos])) if pos.any() else 0.0, n, 1), \
        min(float(np.nanmin(count[pos])) if pos.any() else 0.0, 0)
    count_ax.set_ylim(bottom - 0.3, top + 0.3)
    _eng(count_ax.xaxis, "Hz")
    _counts(count_ax.yaxis)
    count_ax.set_xlabel("frequency")
    count_ax.set_ylabel("count\n−Δarg/π")
    count_ax.set_title("running count of clockwise encirclements, ω from 0 up (dotted: the total)", fontsize="small")
    count_ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_return_differences(loci, labels, ax=None, title: str = "return differences F_k"):
    """Loci of the per-source return differences F_k(jω) in the compressed polar plane, one colour (and,
    past eight sources, one line style) each; the origin and F(∞) = 1 marked."""
    ax = _axes(ax, figsize=(6.4, 5.0))
    for k, (z, label) in enumerate(zip(loci, labels)):
        w = _compress(z)
        colour, style = SERIES[k % len(SERIES)], LINESTYLES[(k // len(SERIES)) % len(LINESTYLES)]
        ax.plot(w.real, w.imag, lw=1.2, color=colour, ls=style, label=label)
        ax.plot(w.real, -w.imag, lw=0.6, ls="--", color=colour, alpha=0.45)
    ax.plot([0.0], [0.0], marker="+", color=VERMILLION, ms=13, mew=2.2, ls="none", label="origin")
    ax.plot([ONE], [0.0], marker="o", color="0.25", ms=4, ls="none", label="F(∞) = 1")
    ax.axhline(0.0, color="0.75", lw=0.6)
    ax.axvline(0.0, color="0.75", lw=0.6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re F_k (radius compressed to log(1+|F|))")
    ax.set_ylabel("Im F_k (compressed)")
    fit_title(ax, title)
    _legend_outside(ax)
    return ax


# ----------------------------------------------------------------------------- ports and two-ports
def plot_impedance(freq_hz, z, ax=None, title: str = ""):
    """Re and Im of an impedance (Ω) versus frequency (log f)."""
    ax = _axes(ax)
    f = np.asarray(freq_hz, dtype=float)
    z = np.asarray(z, dtype=complex)
    ax.semilogx(f, z.real, color=BLUE, label="Re Z (resistance)")
    ax.semilogx(f, z.imag, color=ORANGE, ls="--", label="Im Z (reactance)")
    ax.axhline(0.0, color="0.5", lw=0.7)
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, "Ω")
    ax.set_xlabel("frequency")
    ax.set_ylabel("impedance")
    ax.grid(True, which="both", alpha=0.3)
    fit_title(ax, title or "port impedance")
    _legend_outside(ax)
    return ax


def plot_node_voltages(voltages, ax=None, title: str = ""):
    """Horizontal bars of node voltages (a ``{node: volts}`` mapping), in the mapping's order."""
    ax = _axes(ax, figsize=(5.0, 0.3 * max(len(voltages), 4) + 1.0))
    names = list(voltages)
    ax.barh(range(len(names)), [voltages[n] for n in names], color=BLUE)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize="small")
    ax.invert_yaxis()
    _eng(ax.xaxis, "V")
    ax.set_xlabel("node voltage")
    fit_title(ax, title or "node voltages")
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_stability_factors(freq_hz, k, delta_mag, mu, ax=None, title: str = "two-port stability factors",
                           mu_prime=None, k_clip: float = 10.0):
    """Rollett K (clipped at ``k_clip``), |Δ|, μ (and μ′ when given) versus frequency, with the line at 1
    (K > 1 with |Δ| < 1, or μ > 1: unconditionally stable between passive terminations)."""
    ax = _axes(ax)
    f = np.asarray(freq_hz, dtype=float)
    ax.semilogx(f, np.clip(np.asarray(k, dtype=float), None, k_clip), color=BLUE, label=f"K (clipped at {k_clip:g})")
    ax.semilogx(f, delta_mag, color=ORANGE, ls="--", label="|Δ|")
    ax.semilogx(f, mu, color=GREEN, ls="-.", label="μ (source side)")
    if mu_prime is not None:
        ax.semilogx(f, mu_prime, color=VERMILLION, ls=":", lw=1.6, label="μ′ (load side)")
    ax.axhline(1.0, color="black", lw=0.8)
    _eng(ax.xaxis, "Hz")
    ax.set_xlabel("frequency")
    ax.set_ylabel("factor (dimensionless)")
    ax.grid(True, which="both", alpha=0.3)
    fit_title(ax, title)
    _legend_outside(ax)
    return ax


# ----------------------------------------------------------------------------- admissible loads
def plot_admissible(values, rhp_counts, intervals, edges, param: str = "", ax=None, unit: str = ""):
    """Number of unstable natural frequencies at each scanned value of ``param`` (integer ticks), the stable
    intervals shaded blue, the located edges dashed. ``unit`` labels the parameter axis."""
    ax = _axes(ax)
    v = np.asarray(values, dtype=float)
    n = np.asarray(rhp_counts, dtype=float)
    for k, (a, b) in enumerate(intervals):
        ax.axvspan(a, b, color=BLUE, alpha=0.18, lw=0, label="stable interval" if k == 0 else None)
    ax.step(v, n, where="mid", color=VERMILLION, lw=1.4, label="unstable natural frequencies")
    ax.plot(v, n, ls="none", marker=".", ms=3, color=VERMILLION)
    for k, e in enumerate(edges):
        ax.axvline(e, color="black", ls="--", lw=0.9, label="edge" if k == 0 else None)
    _log_if_wide(ax, v)
    _eng(ax.xaxis, unit)
    _counts(ax.yaxis)
    ax.set_ylim(-0.3, max(float(n.max()) if n.size else 0.0, 1.0) + 0.3)
    ax.set_xlabel(param)
    ax.set_ylabel("unstable natural\nfrequencies (count)")
    ax.grid(True, alpha=0.3)
    fit_title(ax, f"admissible {param}" if param else "admissible range")
    _legend_outside(ax)
    return ax


def plot_table(by_values, intervals_per_column, probes, probe_stable, param: str = "", by: str = "", ax=None,
               unit: str = "", by_unit: str = ""):
    """One vertical bar per column (value of ``by``) spanning its stable intervals of ``param``; probed values
    as markers (blue dot stable, vermillion cross unstable)."""
    ax = _axes(ax)
    xs = np.arange(len(by_values))
    for k, (x, intervals) in enumerate(zip(xs, intervals_per_column)):
        for j, (a, b) in enumerate(intervals):
            ax.plot([x, x], [a, b], color=BLUE, lw=9, alpha=0.45, solid_capstyle="butt",
                    label="stable interval" if k == j == 0 else None)
    stable = np.asarray(probe_stable, dtype=bool).reshape(len(probes), len(xs)) if len(probes) else \
        np.zeros((0, len(xs)), bool)
    shown = set()
    for i, pv in enumerate(probes):
        for j, x in enumerate(xs):
            state = "stable" if stable[i, j] else "unstable"
            ax.plot(x, pv, STATE_MARKERS[state], ms=5, color=STATE_COLOURS[state], mec="black", mew=0.4,
                    label=f"probe: {state}" if state not in shown else None)
            shown.add(state)
    ax.set_xticks(xs)
    ax.set_xticklabels([format_eng(float(v), by_unit, 3) for v in by_values])
    values = [v for col in intervals_per_column for ab in col for v in ab] + [float(p) for p in probes]
    _log_if_wide(ax, values, "y")
    _eng(ax.yaxis, unit)
    ax.set_xlabel(by)
    ax.set_ylabel(param)
    ax.grid(True, axis="y", alpha=0.3)
    fit_title(ax, f"admissible {param} for each {by}")
    _legend_outside(ax)
    return ax


def _count_colours(top: int) -> list:
    """Colours for counts 0..top: a pale blue for 0 (stable), then light to dark oranges/reds."""
    import matplotlib as mpl

    if top <= 0:
        return ["#DCEBF7"]
    ramp = mpl.colormaps["OrRd"](np.linspace(0.35, 0.95, top))
    return ["#DCEBF7", *[tuple(c) for c in ramp]]


def plot_stability_map(x_values, y_values, rhp_count, stable, x_param: str = "", y_param: str = "", ax=None,
                       x_unit: str = "", y_unit: str = ""):
    """Number of unstable natural frequencies on the (x, y) grid, one colour per count (pale blue: stable;
    the colour bar has integer ticks), the edge of the stable region drawn in black."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    ax = _axes(ax)
    x = np.asarray(x_values, dtype=float)
    y = np.asarray(y_values, dtype=float)
    counts = np.asarray(rhp_count, dtype=int)
    top = int(counts.max()) if counts.size else 0
    cmap = ListedColormap(_count_colours(top))
    norm = BoundaryNorm(np.arange(-0.5, top + 1.5), cmap.N)
    mesh = ax.pcolormesh(x, y, counts, cmap=cmap, norm=norm, shading="nearest")
    bar = ax.figure.colorbar(mesh, ax=ax, ticks=np.arange(top + 1))
    bar.set_label("unstable natural frequencies (count)")
    st = np.asarray(stable, dtype=float)
    if 0 < st.sum() < st.size and len(x) > 1 and len(y) > 1:
        ax.contour(x, y, st, levels=[0.5], colors="black", linewidths=1.4)
    _log_if_wide(ax, x, "x")
    _log_if_wide(ax, y, "y")
    _eng(ax.xaxis, x_unit)
    _eng(ax.yaxis, y_unit)
    ax.set_xlabel(x_param)
    ax.set_ylabel(y_param)
    ax.grid(False)
    fit_title(ax, "stability map (pale blue: stable)")
    return ax


def plot_pole_locus(values, poles_hz, crossings_hz, param: str = "", fmax_hz: float | None = None, ax=None,
                    unit: str = ""):
    """Natural frequencies (s/2π) for each parameter value, coloured by the value (viridis); the jω-axis
    crossings as vermillion stars."""
    import matplotlib as mpl

    ax = _axes(ax, figsize=(6.4, 5.0))
    vals = np.asarray(values, dtype=float)
    norm = mpl.colors.LogNorm(vals.min(), vals.max()) if vals.min() > 0 and vals.max() / vals.min() >= 10 \
        else mpl.colors.Normalize(vals.min(), vals.max())
    cmap = mpl.colormaps["viridis"]
    for v, p in zip(vals, poles_hz):
        p = np.asarray(p)
        if fmax_hz is not None:
            p = p[np.abs(p) <= fmax_hz]
        ax.plot(p.real, p.imag, ".", ms=3, color=cmap(norm(v)))
    for k, c in enumerate(crossings_hz):
        ax.plot([c.real, c.real], [c.imag, -c.imag], "*", ms=12, color=VERMILLION, mec="black", mew=0.5, ls="none",
                label="jω-axis crossing" if k == 0 else None)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.axhline(0.0, color="0.6", lw=0.6)
    bar = ax.figure.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label(param)
    _eng(bar.ax.yaxis, unit)
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, "Hz")
    ax.set_xlabel("Re s/2π")
    ax.set_ylabel("Im s/2π")
    fit_title(ax, f"pole locus over {param}")
    if crossings_hz:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_intervals(rows, axes, title: str = ""):
    """1-D stability strips, one axes per sweep ``(label, lo, hi, intervals, expected[, unit])``: stable spans
    sky blue, the rest of the sweep hatched vermillion, the expected interval outlined (dashed). Log axis
    where the sweep spans a decade or more."""
    for ax, row in zip(axes, rows):
        label, lo, hi, intervals, expected = row[:5]
        unit = row[5] if len(row) > 5 else ""
        start = lo
        for a, b in sorted(intervals) + [(hi, hi)]:
            if a > start:
                ax.axvspan(start, a, facecolor="#FBE3D6", edgecolor=VERMILLION, hatch="///", lw=0)
            if b > a:
                ax.axvspan(a, b, color=SKY, lw=0)
            start = max(start, b)
        if expected is not None:
            ax.axvspan(expected[0], expected[1], ymin=0.15, ymax=0.85, fill=False, edgecolor="black", lw=1.3, ls="--")
        if lo > 0 and hi / lo >= 10:
            ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
        ax.set_xlabel(label, labelpad=1)
        _eng(ax.xaxis, unit)
        ax.grid(False)
    if len(axes):
        fit_title(axes[0], title or "blue: stable · hatched: unstable · dashed: expected stable")
    return axes


# ----------------------------------------------------------------------------- negative-resistance devices
def plot_curve_features(v, i, peaks, valleys, ndr, control: str, ax=None):
    """I–V curve (mA vs V) with the peak and valley points; the negative-resistance span shaded."""
    ax = _axes(ax)
    v = np.asarray(v)
    i = np.asarray(i)
    ax.plot(v, 1e3 * i, color="black", lw=1.2, label=f"{control}-type curve")
    for k, (vp, ip) in enumerate(peaks):
        ax.plot(vp, 1e3 * ip, "^", color=VERMILLION, ms=7, label="peak" if k == 0 else None)
    for k, (vv, iv) in enumerate(valleys):
        ax.plot(vv, 1e3 * iv, "v", color=BLUE, ms=7, label="valley" if k == 0 else None)
    for k, (lo, hi) in enumerate(ndr):
        span = ax.axvspan if control == "N" else ax.axhspan
        scale = 1.0 if control == "N" else 1e3
        span(scale * lo, scale * hi, color=VERMILLION, alpha=0.08, label="negative resistance" if k == 0 else None)
    ax.set_xlabel("v [V]")
    ax.set_ylabel("i [mA]")
    ax.grid(True, alpha=0.3)
    fit_title(ax, "device curve")
    _legend_outside(ax)
    return ax


def plot_load_lines(v, i, a: float | None, b: float | None, c: float | None, points, ac_resistance: float | None = None,
                    title: str = "", ax=None):
    """Device curve, the DC load line ``a·v + b·i = c``, optional AC load lines of slope ``−1/ac_resistance``
    through each point, and the operating points ``[(v, i, state), ...]`` (blue dot stable, vermillion cross
    unstable, orange diamond marginal), numbered in order."""
    ax = _axes(ax)
    v = np.asarray(v)
    i = np.asarray(i)
    ax.plot(v, 1e3 * i, color="black", lw=1.2, label="device")
    if a is None:
        pass  # several devices: no single load line
    elif b != 0:
        ax.plot(v, 1e3 * (c - a * v) / b, color=SKY, lw=1.2, label="DC load line")
    else:
        ax.axvline(c / a, color=SKY, lw=1.2, label="DC load line")
    if ac_resistance is not None and points:
        for k, (vq, iq, _) in enumerate(points):
            ax.plot(v, 1e3 * (iq - (v - vq) / ac_resistance), color=GREY, lw=0.8, ls="--",
                    label="AC load line" if k == 0 else None)
    seen = set()
    for k, (vq, iq, state) in enumerate(points, start=1):
        ax.plot(vq, 1e3 * iq, STATE_MARKERS[state], ms=8, color=STATE_COLOURS[state], mec="black", mew=0.6,
                label=state if state not in seen else None, zorder=4)
        if len(points) > 1:
            ax.annotate(str(k), (vq, 1e3 * iq), xytext=(6, 6), textcoords="offset points", fontsize="small")
        seen.add(state)
    span = float(np.max(i) - np.min(i)) or 1.0
    ax.set_ylim(1e3 * (np.min(i) - 0.1 * span), 1e3 * (np.max(i) + 0.1 * span))
    ax.set_xlabel("v [V]")
    ax.set_ylabel("i [mA]")
    ax.grid(True, alpha=0.3)
    fit_title(ax, title or "operating points")
    _legend_outside(ax)
    return ax


def plot_region_sweep(values, regions, points, param: str, title: str = "", ax=None, unit: str = ""):
    """Operating-point voltages versus the swept parameter (blue dot stable, vermillion cross unstable),
    over a band coloured by the region of operation."""
    ax = _axes(ax)
    values = np.asarray(values)
    for k, (x, region) in enumerate(zip(values, regions)):
        for v, _, stable in points[k]:
            state = "stable" if stable else "unstable"
            ax.plot(x, v, STATE_MARKERS[state], color=STATE_COLOURS[state], ms=4)
    edges = np.concatenate([[values[0]], 0.5 * (values[1:] + values[:-1]), [values[-1]]]) if values.size > 1 else values
    labelled = set()
    for k, region in enumerate(regions):
        if values.size > 1:
            ax.axvspan(edges[k], edges[k + 1], color=REGION_COLOURS.get(region, "0.6"), alpha=0.18,
                       label=region if region not in labelled else None, lw=0)
            labelled.add(region)
    _eng(ax.xaxis, unit)
    ax.set_xlabel(param)
    ax.set_ylabel("operating-point voltage [V]")
    ax.grid(True, alpha=0.3)
    fit_title(ax, title or "regions of operation")
    _legend_outside(ax)
    return ax


def plot_pole_track(values, poles_hz, requested, param: str = "p", unit: str = "", edges=(), ax=None):
    """Poles followed along a sweep (:class:`~stabkit.analysis.continuation.PoleTrack`): ``Re s/2π`` of each one
    versus the parameter on ``ax``, ``Im s/2π`` on a second axes below it; the requested values as markers (the
    steps step control inserted as the line between them), ``edges`` (parameter values) as dashed vertical lines,
    the jω axis (``Re s = 0``) as a horizontal line. Returns the upper axes."""
    ax = _axes(ax, figsize=(6.4, 5.6))
    below = _split_below(ax, ratios=(1.0, 1.0))
    values = np.asarray(values, dtype=float)
    poles = np.asarray(poles_hz, dtype=complex).reshape(len(values), -1)
    requested = np.asarray(requested, dtype=bool)
    order = np.argsort(values)
    for k in range(poles.shape[1]):
        colour = SERIES[k % len(SERIES)]
        style = LINESTYLES[(k // len(SERIES)) % len(LINESTYLES)]
        for axis, part in ((ax, poles[:, k].real), (below, poles[:, k].imag)):
            axis.plot(values[order], part[order], color=colour, ls=style, lw=1.2, label=f"pole {k + 1}")
            axis.plot(values[requested], part[requested], "o", ms=3.5, color=colour, ls="none")
    ax.axhline(0.0, color="0.3", lw=0.8)
    for x in edges:
        for axis in (ax, below):
            axis.axvline(float(x), color=VERMILLION, ls="--", lw=1.0)
    for axis in (ax, below):
        _log_if_wide(axis, values)
        _eng(axis.xaxis, unit)
        axis.grid(True, alpha=0.3)
    _eng(ax.yaxis, "Hz")
    _eng(below.yaxis, "Hz")
    ax.set_ylabel("Re s/2π")
    below.set_ylabel("Im s/2π")
    below.set_xlabel(param)
    ax.tick_params(labelbottom=False)
    fit_title(ax, f"poles followed along {param}")
    if poles.shape[1] > 1:
        _legend_outside(ax)
    return ax


def plot_pole_paths(values, rows, param: str, title: str = "", ax=None):
    """Poles (s/2π) of every operating point for each swept value; colour (viridis) runs with the value,
    crosses for stable points and dots for unstable ones. Zoomed on the rightmost poles, which decide."""
    import matplotlib as mpl

    ax = _axes(ax)
    values = np.asarray(values, dtype=float)
    cmap = mpl.colormaps["viridis"]
    lo, hi = float(np.min(values)), float(np.max(values))
    for x, row in zip(values, rows):
        colour = cmap(0.0 if hi == lo else (x - lo) / (hi - lo))
        for p in row:
            z = np.asarray(p["poles_hz"])
            ax.scatter(z.real, z.imag, s=12, color=colour, marker="x" if p["stable"] else "o")
    rightmost = [max(np.asarray(p["poles_hz"]).real) for row in rows for p in row if len(p["poles_hz"])]
    if rightmost:
        r_lo, r_hi = min(rightmost), max(rightmost)
        pad = 0.15 * max(r_hi - r_lo, abs(r_lo), abs(r_hi), 1e-30)
        ax.set_xlim(min(r_lo, 0.0) - pad, max(r_hi, 0.0) + pad)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.axhline(0.0, color="0.6", lw=0.6)
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, "Hz")
    ax.set_xlabel("Re s/2π")
    ax.set_ylabel("Im s/2π")
    ax.grid(True, alpha=0.3)
    fit_title(ax, title or f"pole paths versus {param} ({lo:g} → {hi:g})")
    return ax


def plot_oscillator_conditions(freq_hz, z_device, z_load, balance_hz, ax=None):
    """``R_N + R_L`` and ``X_N + X_L`` (Ω) versus frequency, with the reactance-balance frequencies marked."""
    ax = _axes(ax)
    f = np.asarray(freq_hz)
    total = np.asarray(z_device) + np.asarray(z_load)
    ax.semilogx(f, total.real, color=BLUE, label="R_N + R_L")
    ax.semilogx(f, total.imag, color=ORANGE, ls="--", label="X_N + X_L")
    for k, fb in enumerate(balance_hz):
        ax.axvline(fb, color=VERMILLION, lw=0.8, ls=":", label="X balance" if k == 0 else None)
    ax.axhline(0.0, color="0.5", lw=0.8)
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, "Ω")
    ax.set_xlabel("frequency")
    ax.set_ylabel("impedance")
    ax.grid(True, which="both", alpha=0.3)
    fit_title(ax, "oscillation conditions")
    _legend_outside(ax)
    return ax


def plot_region_map(x, y, regions, x_param: str, y_param: str, title: str = "", ax=None, x_unit: str = "",
                    y_unit: str = ""):
    """Regions of operation on a grid of two parameters, one colour per region."""
    from matplotlib.colors import ListedColormap

    ax = _axes(ax)
    names = [r for r in REGION_COLOURS if any(r in row for row in regions)] or ["other"]
    code = np.array([[names.index(r) if r in names else 0 for r in row] for row in regions])
    cmap = ListedColormap([REGION_COLOURS[n] for n in names])
    ax.pcolormesh(np.asarray(x), np.asarray(y), code, cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5, shading="nearest")
    for name in names:
        ax.plot([], [], "s", color=REGION_COLOURS[name], label=name)
    _eng(ax.xaxis, x_unit)
    _eng(ax.yaxis, y_unit)
    ax.set_xlabel(x_param)
    ax.set_ylabel(y_param)
    fit_title(ax, title or "regions of operation")
    _legend_outside(ax)
    return ax


# ----------------------------------------------------------------------------- oscillators (harmonic balance)
def plot_oscillation(time_s, waveforms, harmonic_v, frequency_hz, probe, ax=None):
    """Node waveforms over one period (left; the probe node drawn thicker) and the harmonic amplitudes at the
    probe node (right, log scale, integer harmonic numbers). ``ax``: a pair of axes, or None for a new figure.
    Returns the figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    else:
        fig = ax[0].figure
    t = np.asarray(time_s, dtype=float)
    for k, (node, wave) in enumerate(waveforms.items()):
        ax[0].plot(t, wave, color=SERIES[k % len(SERIES)], ls=LINESTYLES[(k // len(SERIES)) % len(LINESTYLES)],
                   lw=2.0 if node == probe else 1.0, label=f"v({node})")
    _eng(ax[0].xaxis, "s")
    _eng(ax[0].yaxis, "V")
    ax[0].set_xlabel("time")
    ax[0].set_ylabel("node voltage")
    fit_title(ax[0], f"one period at {format_eng(frequency_hz, 'Hz')}")
    _legend_outside(ax[0])
    amps = np.asarray(harmonic_v[probe], dtype=float)
    k = np.arange(1, amps.size + 1)
    ax[1].semilogy(k, np.maximum(amps, 1e-18), "o-", color=BLUE)
    _counts(ax[1].xaxis)
    _eng(ax[1].yaxis, "V")
    ax[1].set_xlabel("harmonic number")
    ax[1].set_ylabel(f"|V| at {probe} (peak)")
    fit_title(ax[1], "spectrum")
    return fig


def plot_one_port(device_z, load_z, amplitudes, freqs_hz, crossing=None, ax=None):
    """The oscillator designer's picture: the device line ``−Z_N(A)`` (amplitude rising along it) and the load
    locus ``Z_L(f)`` in the impedance plane (Ω); they meet at the steady state (``crossing``, a complex Z,
    marked). Returns the axes."""
    ax = _axes(ax, figsize=(5.5, 4.5))
    dz = -np.asarray(device_z)
    lz = np.asarray(load_z)
    ax.plot(dz.real, dz.imag, ".-", color=VERMILLION, label="device line −Z_N(A)")
    ax.plot(lz.real, lz.imag, "-", color=BLUE, label="load locus Z_L(f)")
    ax.annotate(f"A = {format_eng(amplitudes[0], 'V', 3)}", (dz.real[0], dz.imag[0]), fontsize="x-small")
    ax.annotate(f"A = {format_eng(amplitudes[-1], 'V', 3)}", (dz.real[-1], dz.imag[-1]), fontsize="x-small")
    if crossing is not None:
        ax.plot([crossing.real], [crossing.imag], "o", ms=8, mfc="none", color="black", label="steady state")
    ax.axhline(0, color="0.7", lw=0.5)
    _eng(ax.xaxis, "Ω")
    _eng(ax.yaxis, "Ω")
    ax.set_xlabel("resistance R")
    ax.set_ylabel("reactance X")
    fit_title(ax, "device line and load locus")
    _legend_outside(ax)
    return ax


def plot_power_sweep(values, power_w, optimum, rule, resistor, ax=None):
    """Fundamental output power versus load resistance, with the computed optimum and the ``|r|/3`` rule."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(values, np.asarray(power_w) * 1e6, "o-", label="harmonic balance")
    ax.axvline(optimum, color="g", ls="--", label=f"maximum at {optimum:.3g} Ω")
    ax.axvline(rule, color="r", ls=":", label=f"|r|/3 = {rule:.3g} Ω")
    ax.set_xlabel(f"{resistor} (Ω)")
    ax.set_ylabel("output power (µW)")
    ax.legend(fontsize=7)
    return ax


def plot_probe_sweep(sweep, orbits, probe, ax=None):
    """The whole circuit's describing function along the probe sweep: ``G(A) = Re Y`` where ``Im Y = 0``, against
    the probe amplitude; its zeros are the periodic orbits (``orbits``: ``[(A, stable), ...]``, marked)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    data = np.asarray(sweep, dtype=float)
    ax.semilogx(data[:, 0], data[:, 2] * 1e3, ".-", label="G(A) at the balancing frequency")
    ax.axhline(0.0, color="0.5", lw=0.8)
    for amplitude, stable in orbits:
        ax.plot([amplitude], [0.0], "o", ms=8, mfc="g" if stable else "w", mec="g" if stable else "r",
                label="stable orbit" if stable else "unstable orbit (start threshold)")
    ax.set_xlabel(f"fundamental at node {probe} (V peak)")
    ax.set_ylabel("G = Re Y (mS)")
    ax.legend(fontsize=7)
    return ax


# ----------------------------------------------------------------------------- design: sensitivities, L_eq
def plot_sensitivities(labels, shifts_hz, pole_hz: complex, ax=None):
    """Horizontal bars: the linearized shift of ``Re s/2π`` (Hz) for +100 % of each named element or
    parameter (``labels``, ``shifts_hz`` in the order to draw, largest first). Bars that damp the mode
    (negative) are blue, the others vermillion and hatched."""
    labels = list(labels)
    vals = np.asarray(shifts_hz, dtype=float)
    ax = _axes(ax, figsize=(6.4, 0.32 * max(len(labels), 4) + 1.4))
    damps = vals < 0
    ax.barh(range(len(labels)), vals, color=[BLUE if d else VERMILLION for d in damps],
            hatch=[None if d else "//" for d in damps] if len(labels) else None)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize="small")
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", lw=0.8)
    _eng(ax.xaxis, "Hz")
    ax.set_xlabel("shift of Re s/2π for +100 % of the value (linearized; negative damps)")
    ax.grid(True, axis="x", alpha=0.3)
    pole = complex(pole_hz)
    fit_title(ax, f"mode s/2π = {format_eng(pole.real, 'Hz')} ± j{format_eng(abs(pole.imag), 'Hz')}")
    return ax


def plot_equivalent(freq_hz, values, target: float, tol: float, kind: str = "L", ax=None, tol_band_hz=None):
    """``X_eq(f)`` (H or F) with the target, the ±``tol`` lines and, when given, the ±tol band shaded."""
    ax = _axes(ax)
    f = np.asarray(freq_hz, dtype=float)
    unit = "H" if kind == "L" else "F"
    if tol_band_hz is not None:
        ax.axvspan(tol_band_hz[0], tol_band_hz[1], color=BLUE, alpha=0.12, lw=0, label=f"±{tol * 100:g} % band")
    ax.semilogx(f, np.asarray(values, dtype=float), color=BLUE, label=f"{kind}_eq = Im Z/ω" if kind == "L"
                else f"{kind}_eq = −1/(ω Im Z)")
    ax.axhline(target, color="black", lw=0.8, label="target")
    for k, m in enumerate((1 - tol, 1 + tol)):
        ax.axhline(target * m, color=GREY, lw=0.8, ls="--", label=f"target ±{tol * 100:g} %" if k == 0 else None)
    _eng(ax.xaxis, "Hz")
    _eng(ax.yaxis, unit)
    ax.set_xlabel("frequency")
    ax.set_ylabel(f"equivalent {'inductance' if kind == 'L' else 'capacitance'}")
    ax.grid(True, which="both", alpha=0.3)
    fit_title(ax, f"{kind}_eq over the band, target {format_eng(target, unit)}")
    _legend_outside(ax)
    return ax
