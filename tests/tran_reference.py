"""ngspice ``.tran`` as the time-domain reference for oscillators: run a deck to steady state and extract the
frequency, the fundamental and the mean of a node voltage over an integer number of periods."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

NGSPICE = shutil.which("ngspice")


def run_tran(deck: str, nodes: list[str], tstep: float, tstop: float, tstart: float, *,
             options: str = "reltol=1e-6 abstol=1e-12 vntol=1e-9", uic: bool = False,
             timeout: float = 900.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ngspice batch ``tran tstep tstop tstart`` (maximum step ``tstep``), the saved nodes resampled on the
    uniform grid ``tstep`` by ngspice's ``linearize``. Returns ``(t, {node: v})``."""
    vectors = " ".join(f"v({n})" for n in nodes)
    body = (deck.rstrip() + f"\n.options {options}\n.control\nset wr_singlescale\nset wr_vecnames\n"
            f"tran {tstep:g} {tstop:g} {tstart:g} {tstep:g}{' uic' if uic else ''}\nlinearize {vectors}\n"
            f"wrdata out.txt {vectors}\nquit\n.endc\n.end\n")
    with tempfile.TemporaryDirectory(prefix="stabkit-tran-") as d:
        Path(d, "c.cir").write_text(body)
        proc = subprocess.run([NGSPICE, "-b", "c.cir"], cwd=d, capture_output=True, text=True, timeout=timeout)
        out = Path(d, "out.txt")
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"ngspice failed: {(proc.stdout + proc.stderr)[-2000:]}")
        data = np.loadtxt(out, skiprows=1)
    return data[:, 0], {n: data[:, k + 1] for k, n in enumerate(nodes)}


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


def _window(t: np.ndarray, v: np.ndarray, points_per_period: int = 256) -> tuple[float, float, float, int]:
    s = v - v.mean()
    k = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))
    tc = t[k] - s[k] * (t[k + 1] - t[k]) / (s[k + 1] - s[k])  # rising crossings of the mean
    periods = len(tc) - 1
    if periods < 4:
        raise ValueError("fewer than four periods in the window: not an oscillation (or too short a run)")
    f = periods / (tc[-1] - tc[0])
    # resample exactly `points_per_period` points per period over the whole periods: the FFT bins are the harmonics
    grid = tc[0] + np.arange(periods * points_per_period) / (points_per_period * f)
    spectrum = np.fft.rfft(CubicSpline(t, v)(grid)) / grid.size
    return f, 2.0 * abs(spectrum[periods]), float(spectrum[0].real), periods


def steady_state(t: np.ndarray, v: np.ndarray) -> SteadyState:
    """Frequency and fundamental of ``v(t)`` (uniform or not) over the whole periods in the window, with the drift
    between its two halves."""
    f, amp, mean, periods = _window(t, v)
    half = t[0] + 0.5 * (t[-1] - t[0])
    f1, a1, _, _ = _window(t[t <= half], v[t <= half])
    f2, a2, _, _ = _window(t[t >= half], v[t >= half])
    return SteadyState(f, amp, mean, periods, abs(f2 - f1) / f, abs(a2 - a1) / amp)


def ngspice_deck(path: Path, models: Path) -> str:
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


__all__ = ["NGSPICE", "run_tran", "SteadyState", "steady_state", "ngspice_deck"]
