"""``stabkit check CASE...``: check the expectations of ``*.stab.yaml`` case files."""

from __future__ import annotations

import sys

from stabkit.commands.common import emit_json, parse_sets
from stabkit.errors import StabkitError

EPILOG = """\
case file format (paths relative to the case file; values may carry SPICE suffixes):

  netlist: ntype_amp.cir
  set: {rl: 20}
  expect:
    stable: true
    admissible:
      - {param: lser, from: 1n, to: 1u, contains: [10n, 50n]}

exit status: 0 every expectation holds, 1 at least one failed (one line per failure on stdout),
2 bad input (a case file with bad YAML or unknown keys, a netlist with a syntax error: file and line on stderr).

examples:
  stabkit check cases/                      every *.stab.yaml under cases/
  stabkit check cases/ntype_amp.stab.yaml -v
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
    failed = 0
    for case in cases:
        outcomes = CaseRunner(case).run()  # a netlist syntax error propagates: exit 2 with file and line
        for o in outcomes:
            results.append({"case": str(case.path), "expectation": o.expectation.name, "line": o.expectation.line,
                            "passed": o.passed, "reason": o.reason, "details": o.details})
            if not o.passed:
                failed += 1
                if not args.json:
                    print(f"FAIL {case.path}:{o.expectation.line}: {o.reason}")
                    if args.verbose:
                        for d in o.details:
                            print(f"     {d}")
            elif args.verbose and not args.json:
                print(f"ok   {case.path}:{o.expectation.line}: {o.reason}")
    if args.json:
        emit_json({"passed": failed == 0, "failed": failed, "checked": len(results), "results": results})
    else:
        total = len(results)
        summary = (f"{len(cases)} case(s), {total} expectation(s): "
                   + ("all hold" if not failed else f"{failed} failed"))
        print(summary, file=sys.stdout)
    return 1 if failed else 0
