#!/usr/bin/env bash
# Write a report for every shipped case (cases/*.stab.yaml) and screenshot it with headless Chromium.
# Usage: scripts/screenshot_reports.sh [OUTDIR]      (default build/reports)
# Needs: python with stabkit importable from the repository root, and chromium (Debian package `chromium`).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/reports}"
mkdir -p "$out"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: reports are written, screenshots skipped" >&2
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
status=0
for case in cases/*.stab.yaml; do
  name="$(basename "$case" .stab.yaml)"
  if ! python3 -m stabkit report "$case" -o "$out/$name.html"; then
    status=1
    continue
  fi
  if [ -n "$browser" ]; then
    "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
      --screenshot="$out/$name.png" --window-size=1200,2000 "file://$(realpath "$out/$name.html")" \
      >/dev/null 2>&1
    echo "screenshot $out/$name.png"
  fi
done
exit $status
