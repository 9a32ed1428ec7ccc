#!/usr/bin/env bash
# The before/after sheet of docs/deltaedit_builtin.md: a held-out built-in portrait, its
# reconstruction, and text edits by each method, upscaled ×4 (needs ImageMagick's montage).
# Usage: tools/examples-builtin.sh OUT.png [HELD-OUT INDEX] [DELTASTUDIO BINARY]
set -euo pipefail
out=$1
seed=$((1099511627776 + ${2:-4}))  # held-out seeds start at 2^40
ds=${3:-target/release/deltastudio}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$ds world render --seed "$seed" -o "$tmp/0.png"
edit() { $ds edit --seed "$seed" "$@"; }
edit --target "a face with a smile" --reconstruction "$tmp/1.png" -o "$tmp/2.png"
edit --target "a face with red hair" -o "$tmp/3.png"
edit --target "a face with dark skin" -o "$tmp/4.png"
edit --target "a face with a smile" --method straightforward -o "$tmp/5.png"
edit --target "a face with red hair" --method straightforward -o "$tmp/6.png"
edit --target "a face on a blue background" --method global -o "$tmp/7.png"
montage "$tmp"/[0-7].png -filter point -resize 256x256 -tile 8x1 -geometry +2+0 "$out"
