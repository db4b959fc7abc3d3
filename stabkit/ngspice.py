"""ngspice as a *peer*: run it in batch mode to compare against stabkit (tests, benchmarks).

ngspice is not a dependency of the library. :func:`available` says whether the ``ngspice`` executable is
on the PATH; every other function raises :class:`NgspiceError` when it is not, or when ngspice fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

from stabkit.errors import StabkitError

__all__ = ["NgspiceError", "executable", "available", "run", "pz_poles", "operating_point", "ac_vector", "transient"]

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class NgspiceError(StabkitError, RuntimeError):
    """ngspice is absent, timed out, or reported an error."""


def executable() -> str | None:
    return shutil.which("ngspice")


def available() -> bool:
    return executable() is not None


def _execute(netlist: str, control: Sequence[str], read: str | None = None, timeout: float = 300.0) -> tuple[str, str]:
    """Run ngspice in batch mode; return (stdout+stderr, contents of the file ``read`` it wrote, or "")."""
    exe = executable()
    if exe is None:
        raise NgspiceError("ngspice is not installed (Debian: apt-get install ngspice)")
    body = re.sub(r"^\s*\.end\s*$", "", netlist.rstrip(), flags=re.IGNORECASE | re.MULTILINE).rstrip()
    text = (body + "\n.control\nset numdgt=15\nset wr_singlescale\n" + "\n".join(control)
            + "\nquit\n.endc\n.end\n")
    with tempfile.TemporaryDirectory(prefix="stabkit-ngspice-") as tmp:
        path = os.path.join(tmp, "circuit.cir")
        with open(path, "w") as fh:
            fh.write(text)
        try:
            proc = subprocess.run([exe, "-b", path], capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise NgspiceError(f"ngspice did not finish within {timeout:g} s") from None
        out = proc.stdout + proc.stderr
        errors = [ln for ln in out.splitlines()
                  if re.search(r"\berror\b", ln, re.IGNORECASE) and "no error" not in ln.lower()]
        target = os.path.join(tmp, read) if read else None
        if proc.returncode != 0 or errors or (target and not os.path.exists(target)):
            first = (errors or out.strip().splitlines()[-1:] or ["?"])[0].strip()
            raise NgspiceError(f"ngspice failed (exit {proc.returncode}): {first}")
        content = ""
        if target:
            with open(target) as fh:
                content = fh.read()
    return out, content


def run(netlist: str, control: Sequence[str], timeout: float = 120.0) -> str:
    """Run ``netlist`` (title line first) with a ``.control`` block made of ``control`` lines; return stdout.

    Numbers are printed with 15 significant digits (``set numdgt=15``)."""
    return _execute(netlist, control, timeout=timeout)[0]


def pz_poles(netlist: str, in_plus: str, in_minus: str, out_plus: str, out_minus: str, kind: str = "vol") -> np.ndarray:
    """Poles (rad/s, complex) from ngspice's ``pz ... pol`` analysis of a transfer function."""
    out = run(netlist, [f"pz {in_plus} {in_minus} {out_plus} {out_minus} {kind} pol", "print all"])
    found = re.findall(rf"pole\(\d+\)\s*=\s*({_NUM})\s*,\s*({_NUM})", out)
    return np.array([complex(float(a), float(b)) for a, b in found])


def operating_point(netlist: str) -> dict[str, float]:
    """Node voltages and branch currents (lower-case names) from ``op``."""
    out = run(netlist, ["op", "print all"])
    values: dict[str, float] = {}
    for name, val in re.findall(rf"^\s*([\w#.:()\[\]-]+)\s*=\s*({_NUM})\s*$", out, flags=re.MULTILINE):
        values[name.lower()] = float(val)
    if not values:
        raise NgspiceError("ngspice printed no operating point")
    return values


def ac_vector(netlist: str, freqs_hz: Sequence[float], expression: str) -> np.ndarray:
    """Complex ``expression`` (e.g. ``v(in)``) at ``freqs_hz`` via ``ac``: log-spaced frequencies run as
    ``ac dec``, anything else must be linearly spaced (``ac lin``)."""
    f = np.asarray(freqs_hz, dtype=float)
    if f.size >= 2 and np.allclose(np.diff(np.log10(f)), np.log10(f[1] / f[0]), rtol=1e-9):
        per_decade = 1.0 / np.log10(f[1] / f[0])
        cmds = [f"ac dec {per_decade:.12g} {f[0]:.15g} {f[-1]:.15g}"]
    else:
        cmds = [f"ac lin {f.size} {f[0]:.15g} {f[-1]:.15g}"]
    cmds += [f"let zz = {expression}", "wrdata stabkit_ac.txt real(zz) imag(zz)"]
    text = _execute(netlist, cmds, read="stabkit_ac.txt")[1]
    data = np.atleast_2d(np.loadtxt(text.splitlines()))
    freq, val = data[:, 0], data[:, 1] + 1j * data[:, 2]
    if freq.size != f.size or not np.allclose(freq, f, rtol=1e-6):
        raise NgspiceError(f"ngspice returned {freq.size} frequencies, expected {f.size}")
    return val


def transient(netlist: str, nodes: Sequence[str], tstep: float, tstop: float, tstart: float = 0.0, *,
              uic: bool = False, timeout: float = 900.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``tran tstep tstop tstart tstep`` (the maximum step is ``tstep``), the node voltages resampled on the uniform
    grid ``tstep`` by ngspice's ``linearize``. Returns ``(t, {node: v})``. Set tolerances with ``.options`` in the
    netlist (ngspice's defaults, ``reltol=1e-3``, are loose for a steady-state comparison)."""
    vectors = " ".join(f"v({n})" for n in nodes)
    cmds = [f"tran {tstep:.15g} {tstop:.15g} {tstart:.15g} {tstep:.15g}{' uic' if uic else ''}",
            f"linearize {vectors}", f"wrdata stabkit_tran.txt {vectors}"]
    data = np.atleast_2d(np.loadtxt(_execute(netlist, cmds, read="stabkit_tran.txt", timeout=timeout)[1].splitlines()))
    return data[:, 0], {n: data[:, k + 1] for k, n in enumerate(nodes)}
