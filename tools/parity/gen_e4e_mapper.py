"""Writes parity fixtures (shared/specs/parity-fixtures.md) for `e4e` ops `encode` and `invert`
(the decoder's synthesis, with its stored noise, of the encoded w+) and `delta_mapper` op
`forward`, with random weights saved in the official formats:
- e4e: torch.save({'state_dict': {encoder.*, decoder.*}, 'latent_avg', 'opts'}) like pSp's coach,
  `decoder.*` a complete rosinality generator;
- Delta Mapper: torch.save(state_dict) like DeltaEdit's train.py (`.pth`).
Expected outputs are computed in float64 from the float32 weights.

    python tools/parity/gen_e4e_mapper.py                       # small fixtures → tests/fixtures/parity
    python tools/parity/gen_e4e_mapper.py --full /tmp/parity    # official sizes (not committed)
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ref_delta_mapper import OFFICIAL, DeltaMapper
from ref_e4e import Encoder4Editing, encode
from ref_stylegan2 import Generator, randomize_ as randomize_generator_

ATOL, RTOL = 1e-6, 1e-4
# The inversion goes through the encoder and then the whole generator (as gen_stylegan2.py's
# synthesis cases), so float32 rounding grows more than in the encoder alone.
INVERT_TOL = {"atol": 1e-5, "rtol": 1e-4}


def randomize_(module, gen):
    """Replaces trivial initial values (BN 1/0, PReLU 0.25, zero biases) with random ones, and
    conv weights with variance-preserving ones so that every layer matters in the output."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0.0, math.sqrt(2.0 / m.weight[0].numel()), generator=gen)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
            elif isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.4, generator=gen)
            elif hasattr(m, "lr_mul"):  # EqualLinear: raw bias, scaled by lr_mul at run time
                m.bias.normal_(0.0, 0.1 / m.lr_mul, generator=gen)


def calibrate_batch_norm_(module, images, gen):
    """Sets BN running stats to the statistics of `images` (as training would), slightly perturbed,
    so that activations stay normalised through the depth of the network."""
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch gives its exact statistics
    module.train()
    with torch.no_grad():
        module(images)
        for bn in bns:
            bn.running_mean.add_(torch.randn(bn.num_features, generator=gen) * 0.05 * bn.running_var.sqrt())
            bn.running_var.mul_(torch.empty(bn.num_features).uniform_(0.8, 1.25, generator=gen))
            bn.num_batches_tracked.fill_(1000)
            bn.momentum = 0.1
    module.eval()


def random_images(batch, gen):
    """Smooth random colour fields plus a little noise, in [-1, 1]: images that differ globally."""
    low = torch.rand(batch, 3, 8, 8, generator=gen) * 2 - 1
    image = F.interpolate(low, size=(256, 256), mode="bilinear", align_corners=False)
    return (image + 0.1 * torch.randn(batch, 3, 256, 256, generator=gen)).clamp(-1, 1)


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def write_fixture(out, name, manifest, arrays):
    d = Path(out) / name
    d.mkdir(parents=True, exist_ok=True)
    for file, array in arrays.items():
        save_npy(d / file, array)
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return d


def save_e4e(path, config, decoder, latent_avg_per_style, legacy, gen, opts_stylegan_size=None):
    """A pSp/e4e checkpoint with random weights; `decoder` gives the generator's `n_mlp` and
    optional `channels` table (its size and style width are the encoder's). Returns the encoder,
    the generator and latent_avg."""
    encoder = Encoder4Editing(**config)
    randomize_(encoder, gen)
    calibrate_batch_norm_(encoder, random_images(4, gen), gen)
    width = (config.get("stage_channels") or [512])[-1]
    n_styles = encoder.style_count
    latent_avg = 0.5 * torch.randn(n_styles if latent_avg_per_style else 1, width, generator=gen)
    if not latent_avg_per_style:
        latent_avg = latent_avg[0]
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    generator = Generator(config.get("stylegan_size", 1024), width, **decoder)
    randomize_generator_(generator, gen)
    state.update({f"decoder.{k}": v for k, v in generator.state_dict().items()})
    opts = {
        "exp_dir": "experiment", "dataset_type": "ffhq_encode", "encoder_type": "Encoder4Editing",
        "stylegan_size": opts_stylegan_size or config.get("stylegan_size", 1024), "start_from_latent_avg": True,
        "lpips_lambda": 0.8, "id_lambda": 0.5, "progressive_steps": [0, 3000, 6000], "checkpoint_path": None,
        "device": "cuda:0",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "latent_avg": latent_avg, "opts": opts}, path,
               _use_new_zipfile_serialization=not legacy)
    return encoder, generator, latent_avg


def e4e_fixture(out, name, config, decoder, batch, latent_avg_per_style, legacy, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    encoder, generator, latent_avg = save_e4e(Path(out) / name / "e4e.pt", config, decoder, latent_avg_per_style,
                                              legacy, gen)

    image = random_images(batch, gen)
    with torch.no_grad():
        wplus = encode(encoder.double(), latent_avg.double(), image.double())
        inverted = generator.double().synthesis(wplus)
    tol = {"atol": ATOL, "rtol": RTOL}
    manifest = {
        "model": "e4e", "layout": "e4e", "config": config, "checkpoint": "e4e.pt", "checkpoint_key": "state_dict",
        "cases": [{"op": "encode", "inputs": {"image": "image.npy"}, "outputs": {"wplus": "wplus.npy"}, **tol},
                  {"op": "invert", "inputs": {"image": "image.npy"}, "outputs": {"image": "inverted.npy"},
                   **INVERT_TOL}],
    }
    arrays = {"image.npy": image.numpy(), "wplus.npy": wplus.numpy(), "inverted.npy": inverted.numpy()}
    return write_fixture(out, name, manifest, arrays)


def mapper_inputs(config, batch, gen):
    """S codes with per-layer offsets and spreads like real ones; c = unit image feature ‖ unit delta."""
    s_dim = (config["coarse_layers"] + config["medium_layers"]) * config["style_width"] + config["fine_dim"]
    s = torch.randn(batch, s_dim, generator=gen) * torch.empty(s_dim).uniform_(4.5, 23, generator=gen)
    s = s + torch.empty(s_dim).uniform_(0.5, 10, generator=gen)
    half = config["cond_dim"] // 2
    image, delta = torch.randn(batch, half, generator=gen), torch.randn(batch, half, generator=gen)
    c = torch.cat([image / image.norm(dim=1, keepdim=True), delta / delta.norm(dim=1, keepdim=True)], dim=1)
    return s, c


def mapper_fixture(out, name, manifest_config, batches, seed):
    config = {**OFFICIAL, **manifest_config}
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mapper = DeltaMapper(**config).eval()
    randomize_(mapper, gen)
    d = Path(out) / name
    d.mkdir(parents=True, exist_ok=True)
    torch.save(mapper.state_dict(), d / "net.pth")
    arrays, cases = {}, []
    mapper64 = mapper.double()
    for i, batch in enumerate(batches):
        s, c = mapper_inputs(config, batch, gen)
        with torch.no_grad():
            delta_s = mapper64(s.double(), c.double())
        arrays.update({f"s{i}.npy": s.numpy(), f"c{i}.npy": c.numpy(), f"delta_s{i}.npy": delta_s.numpy()})
        cases.append({"op": "forward", "inputs": {"s": f"s{i}.npy", "c": f"c{i}.npy"},
                      "outputs": {"delta_s": f"delta_s{i}.npy"}, "atol": ATOL, "rtol": RTOL})
    manifest = {"model": "delta_mapper", "layout": "deltaedit", "config": manifest_config, "checkpoint": "net.pth",
                "cases": cases}
    return write_fixture(out, name, manifest, arrays)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "tests/fixtures/parity"))
    parser.add_argument("--full", metavar="DIR", help="write official-size fixtures into DIR instead")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if args.full:
        written = [
            e4e_fixture(args.full, "e4e_full", {"num_layers": 50, "mode": "ir_se", "stylegan_size": 1024},
                        {"n_mlp": 8}, batch=2, latent_avg_per_style=True, legacy=False, seed=1),
            mapper_fixture(args.full, "delta_mapper_full", {}, batches=[2], seed=2),
        ]
    else:
        small = {"stage_units": [2, 2, 3, 2], "stage_channels": [16, 24, 32, 16]}
        written = [
            e4e_fixture(args.out, "e4e_small", {"num_layers": 50, "mode": "ir_se", "stylegan_size": 64, **small},
                        {"n_mlp": 2, "channels": {4: 8, 8: 8, 16: 8, 32: 8, 64: 4}},
                        batch=1, latent_avg_per_style=True, legacy=False, seed=11),
            e4e_fixture(args.out, "e4e_small_ir_legacy",
                        {"num_layers": 50, "mode": "ir", "stylegan_size": 64,
                         "stage_units": [1, 2, 1, 1], "stage_channels": [16, 32, 16, 16]},
                        {"n_mlp": 2, "channels": {4: 8, 8: 8, 16: 8, 32: 4, 64: 4}},
                        batch=1, latent_avg_per_style=False, legacy=True, seed=12),
            mapper_fixture(args.out, "delta_mapper_small",
                           {"coarse_layers": 3, "medium_layers": 4, "fine_dim": 40, "cond_dim": 24, "style_width": 16},
                           batches=[3, 1], seed=13),
        ]
        # A file whose opts.stylegan_size (64) disagrees with its 32² encoder and generator.
        tiny = {"num_layers": 50, "mode": "ir", "stylegan_size": 32,
                "stage_units": [1, 1, 1, 1], "stage_channels": [4, 4, 4, 4]}
        save_e4e(Path(args.out).parent / "e4e_files/opts_size_mismatch.pt", tiny,
                 {"n_mlp": 1, "channels": {4: 4, 8: 4, 16: 4, 32: 4}}, True, False,
                 torch.Generator().manual_seed(14), opts_stylegan_size=64)
    for d in written:
        size = sum(f.stat().st_size for f in d.iterdir())
        print(f"{d}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
