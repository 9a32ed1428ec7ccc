"""Writes StyleGAN2 (rosinality layout) parity fixtures: random weights saved like the official
`stylegan2-ffhq-config-f.pt` ({"g_ema": state_dict, "latent_avg": [style_dim]}), inputs and the
outputs of ref_stylegan2.py for the ops `mapping`, `synthesis`, `styles`, `synthesis_s`.

    python tools/parity/gen_stylegan2.py            # the committed fixtures + bad-checkpoint files
    python tools/parity/gen_stylegan2.py --full /tmp/parity/stylegan2_ffhq_1024   # 1024², not committed
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from ref_stylegan2 import Generator, randomize_

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "parity"


def save_npy(directory, name, tensor):
    np.save(directory / name, tensor.detach().numpy().astype(np.float32))
    return name


def write_fixture(directory, size, style_dim, n_mlp, channel_multiplier=2, channels=None,
                  legacy=False, extra_entries=False, seed=0, batch=2, rtol=1e-4, atol=1e-5):
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    g = Generator(size, style_dim, n_mlp, channel_multiplier, channels=channels)
    randomize_(g, rng)
    g.eval()

    with torch.no_grad():
        latent_avg = g.mapping(torch.randn(4096, style_dim, generator=rng)).mean(0)
        ckpt = {"g_ema": g.state_dict(), "latent_avg": latent_avg}
        if extra_entries:  # the official converter may also store "g" and "d"; the loader ignores them
            ckpt["g"] = {k: v.clone() for k, v in list(g.state_dict().items())[:4]}
            ckpt["d"] = {"convs.0.0.weight": torch.randn(8, 3, 1, 1, generator=rng)}
        torch.save(ckpt, directory / "generator.pt", _use_new_zipfile_serialization=not legacy)

        d = directory
        z = torch.randn(batch + 1, style_dim, generator=rng)
        w = g.mapping(z)
        w_trunc = g.mapping(z, truncation=0.7, truncation_latent=latent_avg)
        # w+ with distinct rows, like an e4e inversion
        wplus = g.mapping(torch.randn(batch, g.n_latent, style_dim, generator=rng).view(-1, style_dim))
        wplus = wplus.view(batch, g.n_latent, style_dim)
        image = g.synthesis(wplus)
        s, s_rgb = g.styles(wplus)
        # an edit: every conv style moved, as DeltaEdit's Δs does
        s_edit = [t + 0.5 * torch.randn(t.shape, generator=rng) for t in s]
        image_s = g.synthesis(wplus, s=s_edit)
        s_rgb_edit = [t + 0.5 * torch.randn(t.shape, generator=rng) for t in s_rgb]
        image_full_s = g.synthesis(None, s=s_edit, s_rgb=s_rgb_edit)

        tol = {"atol": atol, "rtol": rtol}
        cases = [
            {"op": "mapping", "inputs": {"z": save_npy(d, "z.npy", z)},
             "outputs": {"w": save_npy(d, "w.npy", w)}, **tol},
            {"op": "mapping", "inputs": {"z": "z.npy", "truncation": 0.7},
             "outputs": {"w": save_npy(d, "w_truncated.npy", w_trunc)}, **tol},
            {"op": "synthesis", "inputs": {"wplus": save_npy(d, "wplus.npy", wplus)},
             "outputs": {"image": save_npy(d, "image.npy", image)}, **tol},
            {"op": "styles", "inputs": {"wplus": "wplus.npy"},
             "outputs": {"s": save_npy(d, "s.npy", torch.cat(s, 1)),
                         "s_rgb": save_npy(d, "s_rgb.npy", torch.cat(s_rgb, 1))}, **tol},
            {"op": "synthesis_s", "inputs": {"s": save_npy(d, "s_edit.npy", torch.cat(s_edit, 1)),
                                             "wplus": "wplus.npy"},
             "outputs": {"image": save_npy(d, "image_s.npy", image_s)}, **tol},
            {"op": "synthesis_s", "inputs": {"s": "s_edit.npy",
                                             "s_rgb": save_npy(d, "s_rgb_edit.npy", torch.cat(s_rgb_edit, 1))},
             "outputs": {"image": save_npy(d, "image_full_s.npy", image_full_s)}, **tol},
        ]
    config = {"size": size, "style_dim": style_dim, "n_mlp": n_mlp,
              "channel_multiplier": channel_multiplier, "lr_mlp": 0.01}
    if channels:
        config["channels"] = {str(k): v for k, v in channels.items()}
    manifest = {"model": "stylegan2", "layout": "rosinality", "config": config,
                "checkpoint": "generator.pt", "checkpoint_key": "g_ema", "cases": cases}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return g


def write_loader_files(directory):
    """Small generator files for the loader's tests (tests/stylegan2.rs): a plain state dict, an
    e4e-style checkpoint (generator under `state_dict` -> `decoder.`), and two broken files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = torch.Generator().manual_seed(7)
    g = Generator(8, 8, 2, channels={4: 4, 8: 4})
    randomize_(g, rng)
    sd = g.state_dict()
    torch.save(sd, directory / "plain_state_dict.pt")
    e4e_like = {"encoder.styles.0.linear.weight": torch.randn(8, 8, generator=rng)}
    e4e_like.update({f"decoder.{k}": v for k, v in sd.items()})
    torch.save({"state_dict": e4e_like, "latent_avg": torch.zeros(g.n_latent, 8),
                "opts": {"stylegan_size": 8, "encoder_type": "Encoder4Editing"}}, directory / "e4e_like.pt")
    missing = {k: v for k, v in sd.items() if k != "convs.1.conv.weight"}
    torch.save({"g_ema": missing, "latent_avg": torch.zeros(8)}, directory / "missing_key.pt")
    wrong = dict(sd)
    wrong["to_rgbs.0.conv.modulation.weight"] = torch.zeros(5, 8)
    torch.save({"g_ema": wrong, "latent_avg": torch.zeros(8)}, directory / "wrong_shape.pt")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=Path, help="write a full FFHQ-config (1024², cm 2) fixture here")
    parser.add_argument("--size", type=int, default=1024, help="size of the --full fixture")
    args = parser.parse_args()
    if args.full:
        torch.set_num_threads(os.cpu_count() or 1)
        write_fixture(args.full, args.size, 512, 8, 2, batch=1, seed=1)
        return
    write_fixture(FIXTURES / "stylegan2_zip_32", 32, 64, 4,
                  channels={4: 32, 8: 32, 16: 16, 32: 8}, extra_entries=True, seed=0)
    write_fixture(FIXTURES / "stylegan2_legacy_64", 64, 32, 8,
                  channels={4: 16, 8: 16, 16: 16, 32: 8, 64: 8}, legacy=True, seed=1)
    write_loader_files(ROOT / "tests" / "fixtures" / "stylegan2_files")


if __name__ == "__main__":
    main()
