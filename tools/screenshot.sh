#!/usr/bin/env bash
# Runs the real DeltaStudio binary on a virtual X display (Xvfb) and saves a screenshot of its
# window: the app draws a few frames, saves its own framebuffer as PNG (`--screenshot`, see
# src/app/screenshot.rs) and exits. Builds nothing: run `cargo build --release` first.
#
# Usage: tools/screenshot.sh OUTPUT.png [BINARY] [-- APP_ARGS...]
#   BINARY    default: ${CARGO_TARGET_DIR:-target}/release/deltastudio
#   APP_ARGS  passed to the app before --screenshot (e.g. --device cpu)
# Environment: SCREEN (Xvfb screen, default 1920x1080x24), SCREENSHOT_TIMEOUT (seconds, default 180).
# Needs xvfb-run (Debian: xvfb) and a Vulkan driver (mesa-vulkan-drivers gives lavapipe).
set -euo pipefail

usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
output=$(realpath -m "$1"); shift
binary="${CARGO_TARGET_DIR:-target}/release/deltastudio"
if [ $# -ge 1 ] && [ "$1" != "--" ]; then binary=$1; shift; fi
if [ $# -ge 1 ]; then shift; fi   # the "--"
app_args=("$@")

[ -x "$binary" ] || { echo "no executable at $binary: build it (cargo build --release) or pass its path" >&2; exit 1; }
command -v xvfb-run >/dev/null || { echo "xvfb-run not found (Debian/Ubuntu: apt-get install xvfb)" >&2; exit 1; }

# wgpu and winit want a private runtime dir; Xvfb sessions have none.
runtime_dir=$(mktemp -d)
chmod 700 "$runtime_dir"
trap 'rm -rf "$runtime_dir"' EXIT

mkdir -p "$(dirname "$output")"
rm -f "$output"
XDG_RUNTIME_DIR=$runtime_dir timeout "${SCREENSHOT_TIMEOUT:-180}" \
  xvfb-run --auto-servernum --server-args="-screen 0 ${SCREEN:-1920x1080x24}" \
  "$binary" "${app_args[@]}" --screenshot "$output"
[ -s "$output" ] || { echo "the app exited without writing $output" >&2; exit 1; }
echo "$output"
