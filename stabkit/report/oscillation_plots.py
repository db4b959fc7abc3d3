"""Plots of oscillator steady states (harmonic balance). Matplotlib is imported lazily; nothing here computes
beyond arranging the arrays it is given."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_oscillation", "plot_one_port"]


def plot_oscillation(time_s, waveforms, harmonic_v, frequency_hz, probe, ax=None):
    """Node waveforms over one period (left) and the harmonic amplitudes at the probe node (right, log scale).
    ``ax``: a pair of axes, or None for a new figure. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    else:
        fig = ax[0].figure
    t_ns = np.asarray(time_s) * 1e9
    for node, wave in waveforms.items():
        ax[0].plot(t_ns, wave, lw=2.0 if node == probe else 1.0, label=f"v({node})")
    ax[0].set_xlabel("time (ns)")
    ax[0].set_ylabel("V")
    ax[0].set_title(f"one period at {frequency_hz / 1e6:.6g} MHz")
    ax[0].legend(fontsize=7)
    amps = np.asarray(harmonic_v[probe])
    k = np.arange(1, amps.size + 1)
    ax[1].semilogy(k, np.maximum(amps, 1e-18), "o-")
    ax[1].set_xlabel("harmonic")
    ax[1].set_ylabel(f"|V| at {probe} (V peak)")
    ax[1].set_title("spectrum")
    fig.tight_layout()
    return fig


def plot_one_port(device_z, load_z, amplitudes, freqs_hz, crossing=None, ax=None):
    """The oscillator designer's picture: the device line ``−Z_N(A)`` (amplitude rising along it) and the load
    locus ``Z_L(f)``; they meet at the steady state (``crossing`` = complex Z marked). Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    dz = -np.asarray(device_z)
    lz = np.asarray(load_z)
    ax.plot(dz.real, dz.imag, "r.-", label="device line −Z_N(A)")
    ax.plot(lz.real, lz.imag, "b-", label="load locus Z_L(f)")
    ax.annotate(f"A = {amplitudes[0]:.3g} V", (dz.real[0], dz.imag[0]), fontsize=7)
    ax.annotate(f"A = {amplitudes[-1]:.3g} V", (dz.real[-1], dz.imag[-1]), fontsize=7)
    if crossing is not None:
        ax.plot([crossing.real], [crossing.imag], "ko", ms=8, mfc="none", label="steady state")
    ax.set_xlabel("R (Ω)")
    ax.set_ylabel("X (Ω)")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.legend(fontsize=7)
    return ax
