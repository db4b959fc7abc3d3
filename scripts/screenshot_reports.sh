#!/usr/bin/env bash
# Write a report for every shipped case (cases/*.stab.yaml) and netlist (cases/*.cir) and screenshot each in
# headless Chromium, so that a person can look at them as a reader does.
# Usage: scripts/screenshot_reports.sh [OUTDIR] [HEIGHT]     (default build/reports, 6000 px tall pages)
# Needs: python with stabkit importable from the repository root, and chromium (Debian package `chromium`).
# Cases and netlists whose vendor models are absent (../shared/models) are reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/reports}"
height="${2:-6000}"
mkdir -p "$out"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: reports are written, screenshots skipped" >&2
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
status=0
for source in cases/*.stab.yaml cases/*.cir; do
  name="$(basename "$source")"
  name="${name%.stab.yaml}"
  [ "$name" = "$(basename "$source")" ] || name="$name.case"
  set +e
  STABKIT_NO_PROGRESS=1 python3 -m stabkit report "$source" -o "$out/$name.html" >"$out/$name.log" 2>&1
  code=$?
  set -e
  if [ "$code" -eq 2 ]; then  # bad input (or a vendor model absent): say why, go on
    echo "skipped $source: $(tail -n 1 "$out/$name.log")" >&2
    grep -q "absent\|no such file" "$out/$name.log" || status=1
    continue
  fi
  if [ -n "$browser" ]; then
    "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" \
      --screenshot="$out/$name.png" --window-size="1200,$height" "file://$(realpath "$out/$name.html")" \
      >/dev/null 2>&1
    echo "screenshot $out/$name.png (verdict exit status $code)"
  fi
done
exit $status
