"""ngspice ``.tran`` as the time-domain reference for oscillators: run a deck to steady state and extract the
frequency, the fundamental and the mean of a node voltage over an integer number of periods."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from stabkit import ngspice

NGSPICE = shutil.which("ngspice")
#: ngspice tolerances for a steady-state comparison (its defaults, reltol 1e-3, are too loose)
OPTIONS = "reltol=1e-6 abstol=1e-12 vntol=1e-9"


def run_tran(deck: str, nodes: list[str], tstep: float, tstop: float, tstart: float, *, uic: bool = False
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`stabkit.ngspice.transient` with tight tolerances."""
    return ngspice.transient(deck + f"\n.options {OPTIONS}\n", nodes, tstep, tstop, tstart, uic=uic)


@dataclass
class SteadyState:
    """Frequency (Hz), fundamental peak (V), mean (V) over ``periods`` whole periods, and how much each changed
    between the first and second half of the window (relative): the run is settled when both are small."""

    frequency_hz: float
    amplitude: float
    mean: float
    periods: int
    drift_frequency: float
    drift_amplitude: float


def crossings(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Times where ``v`` rises through its mean (linear interpolation between samples)."""
    s = v - v.mean()
    k = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    return t[k] - s[k] * (t[k + 1] - t[k]) / (s[k + 1] - s[k])


def _window(t, v, tc, points_per_period: int = 256) -> tuple[float, float, float, int]:
    periods = len(tc) - 1
    if periods < 4:
        raise ValueError("fewer than four periods in the window: not an oscillation (or too short a run)")
    f = periods / (tc[-1] - tc[0])
    # resample exactly `points_per_period` points per period over the whole periods: the FFT bins are the harmonics
    grid = tc[0] + np.arange(periods * points_per_period) / (points_per_period * f)
    spectrum = np.fft.rfft(CubicSpline(t, v)(grid)) / grid.size
    return f, 2.0 * abs(spectrum[periods]), float(spectrum[0].real), periods


def steady_state(t: np.ndarray, v: np.ndarray, reference: np.ndarray | None = None) -> SteadyState:
    """Frequency and fundamental of ``v(t)`` over the whole periods in the window, with the drift between its two
    halves. The periods are counted on ``reference`` (default ``v``): a node whose waveform crosses its mean more
    than twice a period (an emitter's current pulses) is measured on the periods of a sinusoidal one."""
    tc = crossings(t, v if reference is None else reference)
    f, amp, mean, periods = _window(t, v, tc)
    half = len(tc) // 2
    f1, a1, _, _ = _window(t, v, tc[: half + 1])
    f2, a2, _, _ = _window(t, v, tc[half:])
    return SteadyState(f, amp, mean, periods, abs(f2 - f1) / f, abs(a2 - a1) / amp)


def ngspice_deck(path: Path) -> str:
    """A stabkit netlist as ngspice reads it: ``.lib FILE`` of a model file given as an include, paths absolute."""
    lines = []
    for line in path.read_text().splitlines():
        low = line.strip().lower()
        if low.startswith((".lib", ".include")):
            target = line.split(None, 1)[1].strip().strip("'\"")
            full = (path.parent / target).resolve()
            lines.append(f".include '{full}'")
        elif low == ".end":
            continue
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


__all__ = ["NGSPICE", "run_tran", "SteadyState", "crossings", "steady_state", "ngspice_deck"]
