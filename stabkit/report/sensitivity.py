"""Presenting pole sensitivities (:mod:`stabkit.analysis.sensitivity`): a bar chart and a report section.

Nothing here computes; matplotlib is imported lazily. The report calls :func:`section_sensitivities` with the
result of :func:`stabkit.analysis.sensitivity.sensitivities`.
"""

from __future__ import annotations

__all__ = ["plot_sensitivities", "section_sensitivities", "sensitivity_rows"]


def _axes(ax=None, figsize=(6.4, 4.0)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_sensitivities(mode, ax=None, top: int = 10):
    """Horizontal bars: the shift of ``Re s/2π`` (MHz) for +100 % of each of the ``top`` elements and parameters
    (linearized); green bars damp the mode, red ones destabilize it."""
    ax = _axes(ax)
    items = [s for s in [*mode.elements, *mode.parameters] if s.value != 0]
    items = sorted(items, key=lambda s: -abs(s.re_hz_relative))[:top][::-1]
    vals = [s.re_hz_relative / 1e6 for s in items]
    labels = [s.name + (" (param)" if s.kind == "param" else "") for s in items]
    ax.barh(range(len(items)), vals, color=["tab:green" if v < 0 else "tab:red" for v in vals])
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("shift of Re s/2π for +100 % (MHz, linearized)")
    ax.set_title(f"mode s/2π = {mode.pole_hz.real / 1e9:+.3g} ± j{abs(mode.pole_hz.imag) / 1e9:.3g} GHz")
    return ax


def sensitivity_rows(mode, top: int = 10) -> list[list[str]]:
    """Table rows ``[name, kind, value, dRe/2π per +100 %, dIm/2π per +100 %]`` of the ``top`` entries."""
    from stabkit.units import format_eng

    items = [s for s in [*mode.elements, *mode.parameters] if s.value != 0]
    items = sorted(items, key=lambda s: -abs(s.re_hz_relative))[:top]
    return [[s.name, "param" if s.kind == "param" else s.kind, format_eng(s.value),
             format_eng(s.re_hz_relative, "Hz"), format_eng(s.im_hz_relative, "Hz")] for s in items]


def section_sensitivities(rep, result, top: int = 10) -> None:
    """Add a "Which element damps the mode" section to a :class:`stabkit.report.render.Report`: per mode, the
    one-sentence diagnosis, the ranked table and the bar chart."""
    if not result.modes:
        return
    rep.h2("Which element damps the mode (pole sensitivities)")
    rep.p("First-order sensitivity of each unstable (or least-damped) natural frequency to every element of the "
          "small-signal circuit and every .param of the netlist, from the left and right null vectors of G + sC: "
          "the shift of Re s/2π for +100 % of the value, linearized. Negative: increasing the value damps the mode.")
    for k, mode in enumerate(result.modes):
        rep.p(mode.describe())
        rep.table(["element / parameter", "kind", "value", "ΔRe s/2π per +100 %", "ΔIm s/2π per +100 %"],
                  sensitivity_rows(mode, top))
        rep.draw(lambda ax, m=mode: plot_sensitivities(m, ax=ax, top=top), "pole sensitivities (green damps)",
                 f"sensitivity-{k}")
    for w in result.warnings:
        rep.note(w)
