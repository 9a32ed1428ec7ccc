"""Checks a stylegan2 parity fixture against the official code instead of ref_stylegan2.py:
rosinality's `model.py` (loaded with strict=True from the fixture's `g_ema`) for mapping,
truncation, synthesis and styles, and DeltaEdit's `decoder_validate` for `synthesis_s`.

    python tools/parity/check_stylegan2_official.py FIXTURE_DIR \
        --rosinality path/to/stylegan2-pytorch [--deltaedit path/to/DeltaEdit]

Needs a fixture with rosinality's fixed channel table (no "channels" in its config), e.g. the full
FFHQ-config one from `gen_stylegan2.py --full`. The official ops JIT-compile CUDA kernels at
import; on a CPU machine that compile is skipped (their CPU code paths are used).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.utils.cpp_extension


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("fixture", type=Path)
    parser.add_argument("--rosinality", type=Path, required=True)
    parser.add_argument("--deltaedit", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        torch.utils.cpp_extension.load = lambda *a, **k: None  # CPU paths never touch the extension
    sys.path.insert(0, str(args.rosinality))
    from model import Generator

    d = args.fixture
    manifest = json.loads((d / "manifest.json").read_text())
    c = manifest["config"]
    assert "channels" not in c, "the official Generator has a fixed channel table"
    g = Generator(c["size"], c["style_dim"], c["n_mlp"], channel_multiplier=c["channel_multiplier"])
    ckpt = torch.load(d / "generator.pt")
    g.load_state_dict(ckpt["g_ema"], strict=True)
    g.eval()

    def load(name):
        return torch.from_numpy(np.load(d / name))

    def report(what, actual, expected):
        print(f"{what}: max abs error {float((actual - expected).abs().max()):.3e} "
              f"(max |expected| {float(expected.abs().max()):.3f})")

    with torch.no_grad():
        w = g.style(load("z.npy"))
        report("mapping", w, load("w.npy"))
        avg = ckpt["latent_avg"]
        report("mapping, truncation 0.7", avg + 0.7 * (w - avg), load("w_truncated.npy"))
        wplus = load("wplus.npy")
        image, _ = g([wplus], input_is_latent=True, randomize_noise=False)
        report("synthesis", image, load("image.npy"))
        s = [g.conv1.conv.modulation(wplus[:, 0])]
        s += [conv.conv.modulation(wplus[:, i + 1]) for i, conv in enumerate(g.convs)]
        report("styles", torch.cat(s, 1), load("s.npy"))
        if args.deltaedit and c["size"] == 1024:  # DeltaEdit's S split is hard-coded for 1024²
            # stylespace_util imports plotting modules it does not use here
            matplotlib = type(sys)("matplotlib")
            matplotlib.pyplot = type(sys)("matplotlib.pyplot")
            sys.modules.update(matplotlib=matplotlib, torchvision=type(sys)("torchvision"))
            sys.modules["matplotlib.pyplot"] = matplotlib.pyplot
            sys.path.insert(0, str(args.deltaedit / "utils"))
            from stylespace_util import decoder_validate
            report("synthesis_s (DeltaEdit decoder_validate)",
                   decoder_validate(g, load("s_edit.npy"), wplus), load("image_s.npy"))


if __name__ == "__main__":
    main()
