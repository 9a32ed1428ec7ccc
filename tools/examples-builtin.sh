#!/usr/bin/env bash
# The before/after sheet of docs/deltaedit_builtin.md: held-out built-in portraits (one row each),
# each with its reconstruction and text edits by each method, upscaled ×4 (needs ImageMagick).
# Usage: tools/examples-builtin.sh OUT.png [HELD-OUT INDEX ...]   (DS=binary, default the release build)
set -euo pipefail
out=$1
shift
ds=${DS:-target/release/deltastudio}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows=()
for index in "${@:-4}"; do
  seed=$((1099511627776 + index))  # held-out seeds start at 2^40
  d="$tmp/$index"
  mkdir -p "$d"
  edit() { $ds edit --seed "$seed" "$@"; }
  $ds world render --seed "$seed" -o "$d/0.png"
  edit --target "a face with a smile" --reconstruction "$d/1.png" -o "$d/2.png"
  edit --target "a face with closed eyes" -o "$d/3.png"
  edit --target "a face wearing sunglasses" -o "$d/4.png"
  edit --target "a face wearing sunglasses" --keep-unedited -o "$d/5.png"
  edit --target "a face with a beard" -o "$d/6.png"
  edit --target "a face with red hair" -o "$d/7.png"
  edit --target "a face on a blue background" -o "$d/8.png"
  edit --target "a face wearing sunglasses" --method straightforward -o "$d/9.png"
  edit --target "a face on a blue background" --method global -o "$d/10.png"
  edit --target "a face with tan skin" -o "$d/11.png"
  edit --target "a face with tan skin" --fit-strength -o "$d/12.png"
  rows+=("$d"/{0..12}.png)
done
montage "${rows[@]}" -filter point -resize 160x160 -tile 13x -geometry +2+2 "$out"
