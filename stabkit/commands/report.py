"""``stabkit report NET_OR_CASE -o FILE.html|FILE.md``: a self-contained stability report."""

from __future__ import annotations

import argparse
from pathlib import Path

from stabkit.errors import StabkitError

__all__ = ["register", "run", "REPORT_SUFFIXES"]

#: what ``-o`` may end in (the format follows the suffix)
REPORT_SUFFIXES = (".html", ".htm", ".md", ".markdown")

EPILOG = """\
Exit status is the circuit's verdict (0 stable, 1 unstable, 3 uncertain with the reason on stderr; 2 bad
input): the report is written in every case.

The report holds: the verdict with its evidence; the DC operating point (each transistor's region, saturated
or cut-off devices flagged) or every operating point of a negative-resistance circuit, each judged in a
section of its own; the NDF polar plot with its running count and the return difference of each active
source; the pole map, zoomed to the modes that matter, with the far poles listed; K and mu of S-parameter
blocks; for a case file its expectations, admissible ranges, tables and a stability map; the element list.
HTML embeds the figures (base64 PNG); Markdown writes them beside the file in FILE_files/ (or embeds data
URIs with --embed). Apart from its "Generated:" line, the same input gives the same file. On a terminal a
progress bar follows the sections (STABKIT_NO_PROGRESS=1 or --json silence it).

examples:
  stabkit report cases/ntype_smallsignal.cir -o ntype.html
  stabkit report cases/linvill_nic.stab.yaml -o linvill.md
  stabkit report cases/ntype_smallsignal.cir --set lser=60n -o unstable.html
  stabkit report cases/tunnel_bistable.cir -o bistable.html      three operating points, a section each
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write an HTML or Markdown stability report with plots",
                       description="Write a self-contained stability report for a netlist or a *.stab.yaml case.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="NET_OR_CASE", help="SPICE netlist or *.stab.yaml case file")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file: .html or .md")
    p.add_argument("--embed", action="store_true", help="Markdown: embed figures as data: URIs instead of files")
    p.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="override a parameter (repeatable; suffixes allowed: 20n, 1k)")
    p.add_argument("--json", action="store_true", help="print {\"output\": ..., \"files\": [...], \"stable\": ...}")
    p.set_defaults(func=run)


def run(args) -> int:
    from stabkit.commands.common import emit_json, parse_sets
    from stabkit.report.render import build_report, write_report

    import sys

    from stabkit.analysis.verdict import EXIT_CODES

    out = Path(args.output)
    if out.suffix.lower() not in REPORT_SUFFIXES:
        raise StabkitError(f"report file {str(out)!r}: expected a .html or .md suffix")
    if out.is_dir():
        raise StabkitError(f"report file {str(out)!r}: is a directory")
    existing = next(p for p in out.absolute().parents if p.exists())
    if not existing.is_dir():
        raise StabkitError(f"report file {str(out)!r}: {existing} is a file, not a folder")
    rep = build_report(args.source, params=parse_sets(args.set) or None)
    files = write_report(rep, args.output, embed_images=args.embed)
    verdict = next(b for b in rep.blocks if b.kind == "verdict")
    if args.json:
        emit_json({"output": str(files[0]), "files": [str(f) for f in files], "stable": rep.outcome == "stable",
                   "verdict": rep.outcome})
    else:
        print(f"wrote {files[0]}" + (f" (+{len(files) - 1} figure files)" if len(files) > 1 else ""))
        print(verdict.text)
    if rep.outcome == "uncertain":
        print(f"stabkit: uncertain: {verdict.text}", file=sys.stderr)
    return EXIT_CODES[rep.outcome]
