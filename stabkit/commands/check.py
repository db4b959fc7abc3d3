"""``stabkit check CASE...``: check the expectations of ``*.stab.yaml`` case files."""

from __future__ import annotations

import sys

from stabkit.commands.common import emit_json, parse_sets
from stabkit.errors import StabkitError

__all__ = ["register", "run"]

EPILOG = """\
case file format (paths relative to the case file; values may carry SPICE suffixes):

  netlist: ntype_smallsignal.cir          # beside the case file
  set: {rser: 40}                         # optional parameter overrides
  requires: []                            # optional: files not shipped (skipped, with the reason, where absent)
  expect:
    stable: true                          # the verdict at these parameters
    encirclements: 0                      # optional: the NDF's clockwise count
    admissible:
      - {param: lser, from: 1n, to: 200n, contains: [10n, 50n]}

exit status: 0 every expectation holds (cases whose `requires:` files are absent are skipped, with the reason),
1 at least one failed (one line per failure on stdout), 3 none failed outright but a verdict was uncertain
(the reason is printed), 2 bad input (a case file with bad YAML or unknown keys, a netlist with a syntax
error: file and line on stderr).

examples:
  stabkit check cases/                      every *.stab.yaml under cases/
  stabkit check cases/ntype_smallsignal.stab.yaml -v
  stabkit check cases/ --json
"""


def register(sub) -> None:
    import argparse

    p = sub.add_parser("check", help="check the expectations of *.stab.yaml case files (exit 0/1/2)",
                       description="Check stability expectations written in case files: the verdict "
                                   "(stable: true/false), the NDF encirclement count and admissible parameter "
                                   "ranges. Prints one line per failing expectation.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cases", nargs="+", metavar="CASE", help="*.stab.yaml files or directories holding them")
    p.add_argument("-v", "--verbose", action="store_true", help="also print passing expectations and the numbers")
    p.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="override a parameter in every case, on top of its own set: (repeatable; 20n, 1k allowed)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from stabkit.cases import CaseRunner, find_cases, load_case

    paths = find_cases(args.cases)
    if not paths:
        raise StabkitError(f"no *.stab.yaml case files in {' '.join(args.cases)}")
    # validate every file first: bad input anywhere is exit 2 before anything is computed
    cases = [load_case(p) for p in paths]
    overrides = parse_sets(args.set)
    for case in cases:
        case.params.update(overrides)
    results = []
    failed = uncertain = skipped = errors = 0
    for case in cases:
        runner = CaseRunner(case)
        shown: set[str] = set()
        for exp in case.expectations:
            try:
                o = runner.evaluate(exp)
            except StabkitError as exc:  # a netlist that cannot be read, an unknown parameter: this case only
                errors += 1
                results.append({"case": str(case.path), "expectation": exp.name, "line": exp.line, "passed": False,
                                "status": "error", "reason": str(exc), "details": []})
                if str(exc) not in shown:  # one line per broken case, and the other cases are still checked
                    shown.add(str(exc))
                    print(f"stabkit: error: {exc}", file=sys.stderr)
                continue
            status = "skipped" if o.skipped else "passed" if o.passed else "uncertain" if o.uncertain else "failed"
            results.append({"case": str(case.path), "expectation": o.expectation.name, "line": o.expectation.line,
                            "passed": o.passed, "status": status, "reason": o.reason, "details": o.details})
            if o.skipped:
                skipped += 1
                if not args.json and exp is case.expectations[0]:
                    print(f"SKIP {case.path}: {o.reason}")
                continue
            if not o.passed:
                failed += not o.uncertain
                uncertain += o.uncertain
                if not args.json:
                    word = "UNCERTAIN" if o.uncertain else "FAIL"
                    print(f"{word} {case.path}:{o.expectation.line}: {o.reason}")
                    if args.verbose:
                        for d in o.details:
                            print(f"     {d}")
            elif args.verbose and not args.json:
                print(f"ok   {case.path}:{o.expectation.line}: {o.reason}")
    checked = len(results) - skipped - errors
    if args.json:
        emit_json({"passed": failed == 0 and uncertain == 0 and errors == 0, "failed": failed, "uncertain": uncertain,
                   "skipped": skipped, "errors": errors, "checked": checked, "results": results})
    else:
        parts = [f"{len(cases)} case(s), {checked} expectation(s) checked: "
                 + ("all hold" if not failed and not uncertain else
                    ", ".join(x for x in (f"{failed} failed" if failed else "",
                                          f"{uncertain} uncertain" if uncertain else "") if x))]
        if skipped:
            parts.append(f"{skipped} skipped (required files absent)")
        if errors:
            parts.append(f"{errors} not checked (bad input, on stderr)")
        print("; ".join(parts), file=sys.stdout)
    if errors:
        return 2
    if uncertain and not failed:
        print(f"stabkit: uncertain: {uncertain} expectation(s) could not be decided reliably (see above)",
              file=sys.stderr)
    return 1 if failed else 3 if uncertain else 0
