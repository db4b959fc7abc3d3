"""The documentation builds (mkdocs --strict), every page is in its navigation, and its examples run.

* every ```python block of a docs/*.md page runs, in order, in one fresh interpreter per page, from the
  repository root (a failing assert or exception fails the test);
* every ```console line starting with ``$ stabkit`` runs as ``python -m stabkit ...``; the lines after it
  are expected output (each must appear in stdout+stderr, whitespace-normalised; ``...`` lines are ignored),
  and a line ``[exit status N]`` gives the expected exit status (default 0);
* every page under docs/ is listed in mkdocs.yml's ``nav`` (and no listed page is missing);
* every example in ``stabkit --help`` and ``stabkit COMMAND --help`` runs as written from the repository root
  (not exit status 2, no traceback), and the case file shown by ``stabkit check --help`` checks out.
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
import yaml


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


# ----------------------------------------------------------------------------- navigation
def nav_pages(items) -> list[str]:
    """The page paths of an mkdocs ``nav`` (nested sections flattened)."""
    out = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_every_docs_page_is_in_the_navigation():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = nav_pages(config["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    missing = sorted(set(pages) - set(listed))
    assert not missing, f"docs pages missing from mkdocs.yml's nav (add them where a reader looks): {missing}"
    assert sorted(set(listed) - set(pages)) == [], "mkdocs.yml's nav lists pages that do not exist"
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert "hooks" not in config, "the navigation is written out in mkdocs.yml, not completed by a hook"
    assert config["validation"]["nav"]["omitted_files"] == "warn"  # --strict then fails on an unlisted page


# ----------------------------------------------------------------------------- --help examples
def help_text(command: str | None) -> str:
    """What ``stabkit [COMMAND] --help`` prints (in this process)."""
    import contextlib
    import io

    from stabkit.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*([command] if command else []), "--help"]) == 0
    return out.getvalue()


def help_examples() -> list[tuple[str, str]]:
    """``(help page, command line)`` for every line of every ``examples:`` block of the help pages (a trailing
    comment, after two or more spaces, is dropped)."""
    from stabkit.cli import COMMANDS

    out = []
    for command in [None, *COMMANDS]:
        block = False
        for line in help_text(command).splitlines():
            if line.strip() == "examples:":
                block = True
            elif block and not line.strip():
                block = False
            elif block:
                out.append((command or "stabkit", re.split(r"\s{2,}", line.strip())[0]))
    return out


def unique_lines(examples):
    """Each command line once (``stabkit check cases/`` is an example on two help pages)."""
    seen, out = set(), []
    for page, line in examples:
        if line not in seen:
            seen.add(line)
            out.append((page, line))
    return out


HELP_EXAMPLES = help_examples()
VENDOR = (REPO / "cases" / ".." / ".." / "shared" / "models" / "BFR840L3RHESD.lib")


def test_every_command_help_has_examples():
    from stabkit.cli import COMMANDS

    pages = {page for page, _ in HELP_EXAMPLES}
    assert pages == {"stabkit", *COMMANDS}, f"help pages without examples: {set(COMMANDS) - pages}"
    assert all(cmd.startswith("stabkit ") for _, cmd in HELP_EXAMPLES)


@pytest.mark.parametrize("page, line", unique_lines(HELP_EXAMPLES), ids=[c for _, c in unique_lines(HELP_EXAMPLES)])
def test_help_examples_run(page, line, tmp_path):
    """Run from a folder that sees the repository's cases/ as ./cases (files an example writes land there)."""
    if "linvill_bfr840" in line and not VENDOR.is_file():
        pytest.skip(f"{VENDOR} is absent: the vendor BFR840 model is not shipped with stabkit")
    (tmp_path / "cases").symlink_to(REPO / "cases", target_is_directory=True)
    argv = shlex.split(line)
    proc = subprocess.run([sys.executable, "-m", "stabkit", *argv[1:]], cwd=tmp_path, env=env(), capture_output=True,
                          text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 2, f"`{line}` (stabkit {page} --help) is bad input:\n{proc.stderr}"
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert proc.stdout.strip(), f"`{line}` printed nothing"


def test_check_help_case_file_checks_out(tmp_path):
    """The case file ``stabkit check --help`` shows is valid and its expectations hold (next to the netlist)."""
    text = help_text("check")
    lines = text.split("case file format", 1)[1].splitlines()[1:]
    body = []
    for line in lines:
        if line.startswith("  ") or not line.strip():
            body.append(line[2:])
        else:
            break
    case = "\n".join(body).strip() + "\n"
    assert "expect:" in case and "admissible:" in case
    (tmp_path / "ntype_smallsignal.cir").write_text((REPO / "cases" / "ntype_smallsignal.cir").read_text())
    (tmp_path / "example.stab.yaml").write_text(case)
    proc = subprocess.run([sys.executable, "-m", "stabkit", "check", "example.stab.yaml", "-v"], cwd=tmp_path,
                          env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 expectation(s) checked: all hold" in proc.stdout
