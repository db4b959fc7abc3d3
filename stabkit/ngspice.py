"""ngspice in batch mode: the peer stabkit is checked against, and the engine behind the devices it does not
model itself.

ngspice is an optional runtime dependency. Circuits made of stabkit's own devices never start it; a netlist
with a BSIM/PSP MOSFET, a JFET or a VBIC/HICUM bipolar card needs it for its operating point
(:mod:`stabkit.nonlinear.ngspice_devices`). :func:`available` says whether the ``ngspice`` executable is on the
PATH; every other function raises :class:`NgspiceMissing` (one line: what needs it and how to install it) when
it is not, and :class:`NgspiceError` when ngspice fails.

Why a batch subprocess and not the shared library (``libngspice``): one run per operating point costs
~50 ms of start-up, small beside the analyses that follow, and buys what the shared library cannot give:
a crash, an ``exit()`` inside a model or a hung Newton iteration ends a child process (killed at the timeout)
instead of the Python process; no global simulator state survives between runs (runs are independent and
deterministic, and parallel workers — ``stabkit yield`` — need no lock); it works with the plain ``ngspice``
executable every distribution ships (the shared library is a separate package, often absent). Output is read
as text — ASCII raw files written by ``write`` (16 significant digits) and ``name = value`` lines — and
nothing of it is evaluated. Every run happens in a fresh temporary directory that is removed afterwards.
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

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


__all__ = ["NgspiceError", "NgspiceMissing", "executable", "available", "require", "run", "run_batch",
           "RawPlot", "parse_raw", "pz_poles", "operating_point", "ac_vector", "transient", "INSTALL_HINT",
           "DEFAULT_TIMEOUT"]

#: how to get ngspice, quoted in the one-line message when it is missing
INSTALL_HINT = "install ngspice (Debian/Ubuntu: apt-get install ngspice; conda: conda install -c conda-forge ngspice)"
#: seconds one ngspice run may take before it is killed
DEFAULT_TIMEOUT = 120.0


class NgspiceError(StabkitError, RuntimeError):
    """ngspice is absent, timed out, or reported an error."""


class NgspiceMissing(NgspiceError):
    """The ``ngspice`` executable is not on the PATH."""


def require(what: str = "this analysis") -> str:
    """The path of the ``ngspice`` executable, or :class:`NgspiceMissing` naming ``what`` needs it."""
    exe = executable()
    if exe is None:
        raise NgspiceMissing(f"ngspice is needed for {what} but is not installed: {INSTALL_HINT}")
    return exe


def executable() -> str | None:
    return shutil.which("ngspice")


def available() -> bool:
    return executable() is not None


def _execute(netlist: str, control: Sequence[str], read: str | None = None, timeout: float = 300.0) -> tuple[str, str]:
    """Run ngspice in batch mode; return (stdout+stderr, contents of the file ``read`` it wrote, or "")."""
    exe = require("this comparison")
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


# ---------------------------------------------------------------------------------------------------------
# batch runs that write raw files, and the raw-file reader


def _error_lines(output: str) -> list[str]:
    out = []
    for line in output.splitlines():
        low = line.lower()
        if re.search(r"\berror\b", low) and "no error" not in low:
            out.append(line.strip())
        elif "fatal" in low or "no convergence" in low or "singular matrix" in low or "timestep too small" in low:
            out.append(line.strip())
    return out


def run_batch(netlist: str, control: Sequence[str], *, read: Sequence[str] = (), cwd: str | None = None,
              timeout: float = DEFAULT_TIMEOUT, what: str = "this circuit") -> tuple[str, dict[str, str]]:
    """Run ``netlist`` (title line first, no ``.control`` block and no ``.end``) with the ``.control`` lines
    ``control`` in a fresh temporary directory and return ``(stdout + stderr, {name: text})`` for the files
    ``read`` that the run wrote there. In ``control``, ``{dir}`` stands for that directory.

    Raises :class:`NgspiceMissing` without ngspice (naming ``what`` needs it), :class:`NgspiceError` with
    ngspice's first error line when it reports an error, exits non-zero, times out or does not write a file
    asked for. ``cwd`` (default: the temporary directory) is where relative ``.include`` paths resolve."""
    exe = require(what)
    with tempfile.TemporaryDirectory(prefix="stabkit-ngspice-") as tmp:
        lines = [c.replace("{dir}", tmp) for c in control]
        text = netlist.rstrip() + "\n.control\n" + "\n".join(lines) + "\nquit\n.endc\n.end\n"
        path = os.path.join(tmp, "circuit.cir")
        with open(path, "w") as fh:
            fh.write(text)
        try:
            proc = subprocess.run([exe, "-b", path], capture_output=True, text=True, timeout=timeout,
                                  cwd=cwd or tmp, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise NgspiceError(f"ngspice did not finish within {timeout:g} s on {what}") from None
        out = proc.stdout + proc.stderr
        errors = _error_lines(out)
        missing = [name for name in read if not os.path.exists(os.path.join(tmp, name))]
        if proc.returncode != 0 or errors or missing:
            first = (errors or [ln for ln in out.strip().splitlines() if ln.strip()][-1:] or ["no output"])[0]
            raise NgspiceError(f"ngspice failed on {what} (exit {proc.returncode}): {first}")
        files = {}
        for name in read:
            with open(os.path.join(tmp, name)) as fh:
                files[name] = fh.read()
    return out, files


class RawPlot:
    """One plot of an ASCII raw file: ``name`` (``Operating Point``, ``AC Analysis`` ...) and its vectors by
    lower-case name (``v(out)``, ``i(v1)``, ``frequency``), real or complex arrays of one value per point."""

    def __init__(self, name: str, vectors: dict[str, np.ndarray]):
        self.name = name
        self.vectors = vectors

    def __getitem__(self, key: str) -> np.ndarray:
        return self.vectors[key.lower()]

    def __contains__(self, key: str) -> bool:
        return key.lower() in self.vectors


def parse_raw(text: str) -> list[RawPlot]:
    """The plots of an ngspice ASCII raw file (``set filetype=ascii`` then ``write``), read as text."""
    plots: list[RawPlot] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if not lines[k].startswith("Title:"):
            k += 1
            continue
        header: dict[str, str] = {}
        k += 1
        while k < len(lines) and not lines[k].startswith("Variables:"):
            key, _, value = lines[k].partition(":")
            header[key.strip().lower()] = value.strip()
            k += 1
        try:
            n_vars = int(header["no. variables"])
            n_points = int(header["no. points"])
        except (KeyError, ValueError):
            raise NgspiceError("ngspice wrote a raw file without its variable and point counts") from None
        complex_data = "complex" in header.get("flags", "")
        names = []
        for j in range(n_vars):
            parts = lines[k + 1 + j].split()
            if len(parts) < 2:
                raise NgspiceError(f"unreadable variable line in an ngspice raw file: {lines[k + 1 + j]!r}")
            names.append(parts[1].lower())
        k += 1 + n_vars
        if k >= len(lines) or not lines[k].startswith("Values:"):
            raise NgspiceError("ngspice raw file: 'Values:' expected after the variables")
        k += 1
        tokens: list[str] = []
        needed = n_points * (n_vars + 1)
        while k < len(lines) and len(tokens) < needed and not lines[k].startswith("Title:"):
            tokens.extend(lines[k].split())
            k += 1
        if len(tokens) < needed:
            raise NgspiceError("ngspice raw file ends before all its values")
        data = np.zeros((n_points, n_vars), dtype=complex if complex_data else float)
        for p in range(n_points):
            row = tokens[p * (n_vars + 1) + 1:(p + 1) * (n_vars + 1)]
            for j, tok in enumerate(row):
                try:
                    if complex_data:
                        re_, im_ = tok.split(",")
                        data[p, j] = complex(float(re_), float(im_))
                    else:
                        data[p, j] = float(tok)
                except ValueError:
                    raise NgspiceError(f"ngspice raw file: {tok!r} is not a number") from None
        plots.append(RawPlot(header.get("plotname", ""), {n: data[:, j] for j, n in enumerate(names)}))
    return plots
