"""The documentation builds (mkdocs --strict) and its examples run.

* every ```python block of a docs/*.md page runs, in order, in one fresh interpreter per page, from the
  repository root (a failing assert or exception fails the test);
* every ```console line starting with ``$ stabkit`` runs as ``python -m stabkit ...``; the lines after it
  are expected output (each must appear in stdout+stderr, whitespace-normalised; ``...`` lines are ignored),
  and a line ``[exit status N]`` gives the expected exit status (default 0).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md")) + [DOCS.parent / "README.md"]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
EXIT = re.compile(r"^\[exit status (\d+)\]$")


def blocks(page: Path, lang: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(page.read_text(encoding="utf-8")) if m.group(1) == lang]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["MPLBACKEND"] = "Agg"
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["STABKIT_NO_PROGRESS"] = "1"
    return e


def console_commands(page: Path) -> list[tuple[str, list[str], int]]:
    """(command line, expected output lines, expected exit status) for each ``$ stabkit`` line."""
    out = []
    for block in blocks(page, "console"):
        current = None
        for line in block.splitlines():
            if line.startswith("$ "):
                if current:
                    out.append(current)
                current = (line[2:].strip(), [], 0) if line[2:].strip().startswith("stabkit") else None
            elif current is not None:
                m = EXIT.match(line.strip())
                if m:
                    current = (current[0], current[1], int(m.group(1)))
                elif line.strip() and line.strip() != "...":
                    current[1].append(line.strip())
        if current:
            out.append(current)
    return out


def normalise(text: str) -> str:
    return " ".join(text.split())


def test_docs_pages_exist():
    for name in ("index.md", "theory.md", "tutorial-library.md", "tutorial-cli.md", "tutorial-plugin.md", "reference.md"):
        assert (DOCS / name).is_file(), name


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")], ids=lambda p: str(p.relative_to(REPO)))
def test_python_examples_run(page, tmp_path):
    code = "\n\n".join(blocks(page, "python"))
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"{page.name}: examples failed\n{proc.stdout}\n{proc.stderr}"


CONSOLE = [(p, c) for p in PAGES for c in console_commands(p)]


@pytest.mark.parametrize("page, command", CONSOLE, ids=[f"{p.name}:{c[0]}" for p, c in CONSOLE])
def test_console_examples_run(page, command):
    line, expected, status = command
    argv = shlex.split(line)
    proc = subprocess.run([sys.executable, "-m", "stabkit", *argv[1:]], cwd=REPO, env=env(), capture_output=True,
                          text=True, timeout=120)
    output = normalise(proc.stdout + "\n" + proc.stderr)
    assert proc.returncode == status, f"{page.name}: `{line}` exited {proc.returncode}, expected {status}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    for want in expected:
        assert normalise(want) in output, f"{page.name}: `{line}`: expected {want!r} in the output\n{proc.stdout}\n{proc.stderr}"


def test_mkdocs_build_strict(tmp_path):
    if shutil.which("mkdocs") is None:
        try:
            import mkdocs  # noqa: F401
        except ImportError:
            pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "index.html").exists()
    for page in ("theory", "tutorial-library", "tutorial-cli", "tutorial-plugin", "reference"):
        assert (tmp_path / "site" / page / "index.html").exists(), page
