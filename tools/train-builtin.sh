#!/usr/bin/env bash
# Reproduces every built-in model in weights/builtin/ on the CPU, in dependency order: the judge,
# CLIP and its delta alignment, the StyleGAN2 generator + e4e encoder, then (on those) the Delta
# Mapper, the straightforward baseline and the relevance matrix. Every step resumes from its
# checkpoints in runs/ when rerun. One training process keeps about one core of the 2-core
# machine busy, so independent chains run side by side (logs in runs/*.log). Wall times of each
# step are in its manifest (weights/builtin/*.json); the sequence's total is in
# docs/deltaedit_builtin.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
ds=target/release/deltastudio
# Later steps must read the files the earlier steps just wrote.
export DELTASTUDIO_WEIGHTS="$PWD/weights"

mkdir -p runs
# Chain 1 (background): the judge, then CLIP the LiT way: 1200 steps training the image tower on
# the factor labels, then 600 steps of (render, caption) pairs, half of each batch
# counterfactual, tuning the text tower to the locked image tower; then the delta alignment that
# carries CLIP's text deltas to where image deltas point (4096 counterfactual pairs, their paired
# captions and one-sided neutral → value captions, ridge 0.1).
(
  $ds world train-judge --steps 10000 --run-dir runs/judge --output weights/builtin/judge.safetensors --eval-n 2000
  $ds train clip --locked-image-steps 1200 --steps 600 --batch 128 --seed 0 --counterfactual 0.5 --run-dir runs/clip \
    --output weights/builtin/clip.safetensors --eval-n 1000
  $ds --device cpu train alignment --pairs 4096 --ridge 0.1 --one-sided true --seed 7
) > runs/judge-clip.log 2>&1 &
judge_and_clip=$!
# Chain 2: the generator and encoder's first two stages: 3400 steps of plain reconstruction loss,
# then 5000 more from those files with new renders (seed 1), a lower learning rate and the small
# parts' pixels weighted up (--detail-weight). Not evaluated (--eval-n 0): the judge may not exist yet.
$ds train gan --steps 3400 --run-dir runs/gan --output-dir weights/builtin --eval-n 0
$ds train gan --steps 5000 --lr 5e-4 --seed 1 --detail-weight 4 --init-from weights/builtin --run-dir runs/gan-detail \
  --output-dir weights/builtin --eval-n 0
wait $judge_and_clip
# The third and fourth stages add the feature loss on CLIP's image tower (e4e's identity loss),
# each on new renders (seeds 2 and 3).
$ds train gan --steps 2000 --lr 3e-4 --seed 2 --detail-weight 4 --feature-weight 0.3 --init-from weights/builtin \
  --run-dir runs/gan-feature --output-dir weights/builtin --eval-n 0
$ds train gan --steps 2500 --lr 3e-4 --seed 3 --detail-weight 4 --feature-weight 0.3 --init-from weights/builtin \
  --run-dir runs/gan-feature-2 --output-dir weights/builtin --eval-n 500 --sheets-dir docs
# The relevance matrix (background) beside the mapper and the straightforward baseline, on renders
# paired half with their counterfactual twins (one or two factors changed), half uniformly as in
# the paper (--twins 0.5); the DeltaEdit mapper reads its deltas projected onto the top 24
# directions of single-edit image deltas, and half of its twin pairs read the mean delta of all
# changes to the same value (--value-deltas 0.5), as text deltas from the neutral source do. Both
# mappers' Δs are projected at inference onto the top 32 directions of single-edit S deltas.
$ds --device cpu train relevance --images 32 --std-images 12000 --codes runs/codes --run-dir runs/relevance > runs/relevance.log 2>&1 &
relevance=$!
$ds --device cpu train mapper --twins 0.5 --delta-subspace 24 --edit-subspace 32 --value-deltas 0.5 --images 12000 --steps 30000 --run-dir runs/mapper --codes runs/codes
$ds --device cpu train mapper --straightforward --twins 0.5 --edit-subspace 32 --images 12000 --steps 30000 --run-dir runs/mapper-straightforward --codes runs/codes
wait $relevance
