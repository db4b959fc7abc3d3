"""``stabkit`` command line. Each command lives in ``stabkit/commands/<name>.py`` with a ``register`` function.

Exit codes: 0 ok (and stable where a verdict is asked), 1 a check failed / the circuit is unstable,
2 bad input (one line on stderr, never a traceback), 3 the verdict is uncertain (the reason on stderr),
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings

from stabkit.errors import StabkitError, StabkitWarning

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

#: command modules, in the order ``--help`` lists them
COMMANDS = ["poles", "zin", "ndf", "loads", "equiv", "oppoints", "oscillation", "yield", "check", "report"]
#: command modules whose name differs from the command (``yield`` is a Python keyword)
MODULES = {"yield": "yield_cmd"}

DESCRIPTION = """\
stabkit tells whether a linear(ized) circuit is stable, why not, and for which external loads it stays
stable. Give it a SPICE netlist (or a *.stab.yaml case file where a command says so).

how to use it:
  1. is it stable?      stabkit poles NET          exact natural frequencies (lumped circuits)
  2. why not?           stabkit ndf NET            NDF encirclements, per dependent source
  3. for which loads?   stabkit loads NET --sweep P --from A --to B
     which DC points?   stabkit oppoints NET       every operating point, each judged; transistor regions
     non-Foster design  stabkit equiv NET --port P --band A:B --target X   L_eq/C_eq, tuning, admissible loads
     does it oscillate? stabkit oscillation NET    steady state: frequency, amplitude, harmonics
  4. write it down      stabkit report NET -o report.html
  5. keep it true       stabkit check cases/       expectations in *.stab.yaml files (also: pytest cases/)

examples:
  stabkit poles cases/ntype_smallsignal.cir
  stabkit poles cases/ntype_smallsignal.cir --set lser=60n --json
  stabkit poles cases/tunnel_bistable.cir --point 2
  stabkit report cases/ntype_smallsignal.cir -o ntype.html
  stabkit check cases/

Every command takes --set NAME=VALUE (repeatable, suffixes like 20n allowed) and --json (JSON on stdout).
Every command gives the same verdict for the same circuit (exact poles cross-checked with the NDF, each
DC operating point of a nonlinear circuit judged). Exit status: 0 ok/stable, 1 unstable or a check failed,
2 bad input (one line on stderr), 3 uncertain (the reason on stderr, also under --json).
Run "stabkit COMMAND --help" for each command's options and examples.
"""


class UsageError(StabkitError, ValueError):
    """Bad command-line input."""


#: a value that starts with a minus sign: ``-1n``, ``-2.5k``, ``-.5``, ``-1e-9``, ``-inf`` (argparse alone takes
#: ``--from -1n`` for an unknown option ``-1n``)
NEGATIVE_VALUE = re.compile(r"^-(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[a-zA-Zµ]*|inf|infinity|nan)$", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_VALUE  # option values may be negative and carry suffixes

    def error(self, message):  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``stabkit`` parser. With ``argv`` naming a command, only that command's module is imported (the
    others get a bare sub-parser): a command does not pay for importing every other one. Without it (or for
    the top-level ``--help``) every command registers fully."""
    parser = _Parser(prog="stabkit", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    from stabkit import __version__

    parser.add_argument("--version", action="version", version=f"stabkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    chosen = _chosen_command(argv)
    for name in COMMANDS:
        if chosen is None or name == chosen:
            importlib.import_module(f"stabkit.commands.{MODULES.get(name, name)}").register(sub)
        else:
            sub.add_parser(name)
    return parser


def _chosen_command(argv: list[str] | None) -> str | None:
    """The command ``argv`` runs (its first word, when it is one), else ``None``."""
    if not argv or argv[0] not in COMMANDS:
        return None
    return argv[0]


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (progress bars are restored afterwards for in-process callers)."""
    from stabkit.report.progress import set_quiet

    was_quiet = set_quiet(False)
    set_quiet(was_quiet)
    try:
        return _main(argv)
    finally:
        set_quiet(was_quiet)


def _main(argv: list[str] | None = None) -> int:
    own_process = argv is None  # the stabkit process itself (console script, python -m stabkit)
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if getattr(args, "json", False):  # JSON output: no progress bars on stderr either
            from stabkit.report.progress import set_quiet

            set_quiet(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StabkitWarning)
            code = args.func(args)
        for w in caught:  # on stderr also under --json (stdout holds only the JSON document)
            if issubclass(w.category, StabkitWarning):
                print(f"warning: {w.message}", file=sys.stderr)
        return int(code or 0)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except StabkitError as exc:
        print(f"stabkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stabkit: interrupted", file=sys.stderr)
        if own_process:  # the stabkit process itself: leave now, without joining worker pools' threads at exit
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130
    except ArithmeticError as exc:  # OverflowError, ZeroDivisionError, FloatingPointError from extreme values
        print(f"stabkit: error: numerical overflow ({type(exc).__name__}: {exc}): a value or frequency band beyond "
              "what double precision can analyse; check the --set, --fmin/--fmax and sweep values", file=sys.stderr)
        return 2
    except MemoryError:
        print("stabkit: error: out of memory: the circuit is too large for this analysis on this machine "
              "(try fewer frequencies, a narrower sweep, or a machine with more memory)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"stabkit: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
