"""The CLI contract for `stabkit poles` and `stabkit zin` (DESIGN.md §3), run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NTYPE = str(REPO / "cases" / "ntype_smallsignal.cir")
STYPE = str(REPO / "cases" / "stype_smallsignal.cir")


def stabkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stabkit", *args], capture_output=True, text=True, cwd=REPO)


def ntype_roots(rneg=58.9, cj=25e-12, rser=30.0, lser=30e-9):
    g = 1 / rneg
    return np.roots([lser * cj, rser * cj - g * lser, 1 - g * rser])


@pytest.mark.parametrize("sets, stable", [([], True), (["--set", "lser=60n"], False), (["--set", "rser=70"], False)])
def test_poles_json(sets, stable):
    proc = stabkit("poles", NTYPE, "--json", *sets)
    assert proc.returncode == (0 if stable else 1), proc.stderr
    data = json.loads(proc.stdout)
    assert data["stable"] is stable
    overrides = {"lser": 60e-9} if "lser=60n" in sets else {"rser": 70.0} if "rser=70" in sets else {}
    roots = ntype_roots(**overrides) / (2 * np.pi)
    got = np.array([complex(re, im) for re, im in data["poles"]])
    np.testing.assert_allclose(np.sort_complex(got), np.sort_complex(roots), rtol=1e-9)
    assert data["rhp_count"] == int(np.sum(roots.real > 0))


def test_poles_table_is_human_readable():
    """The table lists the closed-form poles of the S-type circuit (−r + L into R ∥ C:
    L·R·C·s² + (L − r·R·C)·s + (R − r)) with engineering prefixes, and the last line is the verdict."""
    from stabkit.units import format_eng

    proc = stabkit("poles", STYPE)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    roots = np.roots([1e-6 * 100 * 1e-12, 1e-6 - 50 * 100 * 1e-12, 100 - 50]) / (2 * np.pi)
    rows = [ln.split() for ln in lines if ln.strip().endswith("Hz") and not ln.startswith("Re")]
    assert sorted(r[0] + " " + r[1] for r in rows) == sorted(format_eng(x.real, "Hz") for x in roots)
    assert lines[-1] == "STABLE: no natural frequency in the right half-plane"
    assert not any(ln.startswith(("UNSTABLE", "UNCERTAIN")) or "RHP" in ln for ln in lines)


def test_zin_json_matches_closed_form():
    proc = stabkit("zin", STYPE, "--port", "out", "--freqs", "1meg:1g:4", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    f = np.array(data["freq_hz"])
    z = np.array([complex(a, b) for a, b in data["z"]])
    w = 2 * np.pi * f
    z_device = -50 + 1j * w * 1e-6  # -r in series with ld, to ground
    expected = 1 / (1 / 100 + 1j * w * 1e-12 + 1 / z_device)
    np.testing.assert_allclose(z, expected, rtol=1e-9)


@pytest.mark.parametrize("args, needle", [
    (["poles", "no_such_file.cir"], "no such file"),
    (["poles", NTYPE, "--set", "lser"], "expected NAME=VALUE"),
    (["poles", NTYPE, "--set", "nope=3"], "nope"),
    (["zin", NTYPE, "--port", "d", "--freqs", "1:2"], "START:STOP:N"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, needle):
    proc = stabkit(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_netlist_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.cir"
    bad.write_text("title\nR1 a 0 50\nC1 a\n.end\n")
    proc = stabkit("poles", str(bad))
    assert proc.returncode == 2
    assert "bad.cir:3" in proc.stderr and "Traceback" not in proc.stderr
