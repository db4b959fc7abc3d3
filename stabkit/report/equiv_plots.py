"""Plots of equivalent-reactance designs (:mod:`stabkit.analysis.equiv`); nothing here computes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_equivalent"]


def plot_equivalent(freq_hz, values, target: float, tol: float, kind: str = "L", ax=None):
    """``X_eq(f)`` (nH or pF) with the target and the ±tol lines."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.0))
    scale, unit = (1e9, "nH") if kind == "L" else (1e12, "pF")
    f = np.asarray(freq_hz, dtype=float)
    ax.semilogx(f / 1e9, np.asarray(values) * scale, label=f"{kind}_eq")
    ax.axhline(target * scale, color="k", lw=0.8)
    for k in (1 - tol, 1 + tol):
        ax.axhline(target * k * scale, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("f (GHz)")
    ax.set_ylabel(f"{kind}_eq ({unit})")
    ax.grid(True, which="both", alpha=0.3)
    return ax
