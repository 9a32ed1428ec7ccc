#!/usr/bin/env python3
"""Parity fixtures for CLIP (format: shared/specs/parity-fixtures.md).

References: open_clip_torch (OpenAI/open_clip layout) and transformers (CLIPModel /
CLIPTextModel layout), both independent of our Rust code. Every parameter — LayerNorm scales and
biases included — is randomised, so a swapped or mis-mapped tensor changes the outputs.

    tools/parity/.venv/bin/python tools/parity/gen_clip.py              # small committed fixtures
    tools/parity/.venv/bin/python tools/parity/gen_clip.py --full /tmp/clip_full   # ViT-B/32 size
"""
import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import open_clip
import safetensors.torch
import torch
from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTextModel

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "parity"
TOLERANCE = {"atol": 1e-4, "rtol": 0.0}

# Reduced sizes: the token table dominates, so the committed models use a 1000-token vocabulary
# (the full one is exercised by the --full fixture and by the tokenizer fixture).
SMALL = dict(embed=16, width=32, heads=2, layers=2, image=32, patch=8, vocab=1000, context=77)


def randomise(model, projections=()):
    """Every parameter random, at scales that keep activations O(1)."""
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("logit_scale"):
                p.copy_(torch.tensor(math.log(1 / 0.07) + 0.25).reshape(p.shape))
            elif p.ndim <= 1 and ("ln" in name or "norm" in name) and leaf == "weight":
                p.copy_(1 + 0.2 * r)
            elif p.ndim <= 1 and "embedding" not in name:
                p.copy_(0.2 * r)
            elif "embedding" in name:
                p.copy_(0.5 * r)
            else:
                fan_in = p.shape[0] if name in projections else int(np.prod(p.shape[1:]))
                p.copy_(r / math.sqrt(fan_in))


def open_clip_cfg(quick_gelu, s=SMALL):
    return {
        "embed_dim": s["embed"],
        "quick_gelu": quick_gelu,
        "vision_cfg": {"image_size": s["image"], "layers": s["layers"], "width": s["width"],
                       "patch_size": s["patch"], "head_width": s["width"] // s["heads"], "mlp_ratio": 4.0},
        "text_cfg": {"context_length": s["context"], "vocab_size": s["vocab"], "width": s["width"],
                     "heads": s["heads"], "layers": s["layers"], "mlp_ratio": 4.0},
    }


def hf_text_cfg(hidden_act, eos_token_id, s=SMALL):
    return dict(vocab_size=s["vocab"], hidden_size=s["width"], intermediate_size=4 * s["width"],
                num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
                max_position_embeddings=s["context"], hidden_act=hidden_act, eos_token_id=eos_token_id,
                bos_token_id=s["vocab"] - 2, pad_token_id=s["vocab"] - 1, projection_dim=s["embed"])


def hf_vision_cfg(hidden_act, s=SMALL):
    return dict(hidden_size=s["width"], intermediate_size=4 * s["width"], num_hidden_layers=s["layers"],
                num_attention_heads=s["heads"], image_size=s["image"], patch_size=s["patch"],
                hidden_act=hidden_act, projection_dim=s["embed"])


def token_batch(vocab, context, pad, rng):
    """Start token, random body, end token (the largest id), padding; lengths 5, 20, full."""
    sot, eot = vocab - 2, vocab - 1
    rows = []
    for n in (5, 20, context):
        body = rng.integers(1, vocab - 2, size=n - 2)
        row = np.full(context, pad, dtype=np.int64)
        row[:n] = np.concatenate([[sot], body, [eot]])
        rows.append(row)
    return np.stack(rows)


def save(dir_, name, array):
    np.save(dir_ / name, np.ascontiguousarray(array))
    return name


def write_manifest(dir_, manifest):
    (dir_ / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def fresh(name, root):
    d = root / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def features(out):
    """transformers 5 returns a ModelOutput from get_*_features; older versions a tensor."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def open_clip_cases(d, model, pixels, tokens):
    """encode_image and encode_text cases of an open_clip model, their arrays saved in `d`."""
    with torch.no_grad():
        image = model.encode_image(torch.from_numpy(pixels)).numpy()
        text = model.encode_text(torch.from_numpy(tokens)).numpy()
    return [
        {"op": "encode_image", "inputs": {"pixels": save(d, "pixels.npy", pixels)},
         "outputs": {"features": save(d, "image_features.npy", image)}, **TOLERANCE},
        {"op": "encode_text", "inputs": {"tokens": save(d, "tokens.npy", tokens)},
         "outputs": {"features": save(d, "text_features.npy", text)}, **TOLERANCE},
    ]


def open_clip_fixture(root, name, quick_gelu, fmt, s=SMALL, tokens=None):
    d = fresh(name, root)
    cfg = open_clip_cfg(quick_gelu, s)
    torch.manual_seed(0)
    model = open_clip.model.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=quick_gelu).eval()
    randomise(model, projections=("visual.proj", "text_projection"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if fmt == "pt":
        checkpoint = "model.pt"
        torch.save(state, d / checkpoint)
    else:
        checkpoint = "model.safetensors"
        safetensors.torch.save_file(state, d / checkpoint)
    rng = np.random.default_rng(1)
    pixels = rng.standard_normal((2, 3, s["image"], s["image"])).astype(np.float32)
    if tokens is None:
        tokens = token_batch(s["vocab"], s["context"], 0, rng)
    cases = open_clip_cases(d, model, pixels, tokens)
    write_manifest(d, {"model": "clip", "layout": "open_clip", "config": cfg, "checkpoint": checkpoint, "cases": cases})


def hf_clip_fixture(root, name, hidden_act, eos_token_id):
    s = SMALL
    config = CLIPConfig(text_config=hf_text_cfg(hidden_act, eos_token_id), vision_config=hf_vision_cfg(hidden_act),
                        projection_dim=s["embed"])
    rng = np.random.default_rng(2)
    pixels = rng.standard_normal((2, 3, s["image"], s["image"])).astype(np.float32)
    # transformers pads with the end token: with the legacy eos_token_id 2 pooling takes the
    # first of several equal maxima.
    tokens = token_batch(s["vocab"], s["context"], s["vocab"] - 1, rng)
    if eos_token_id != 2:
        # A real eos id that is not the largest: pooling must take its first position, not the argmax.
        tokens[:, 3] = eos_token_id
        tokens[:, 4] = eos_token_id
    write_hf_clip(fresh(name, root), config, pixels, tokens)


def write_hf_clip(d, config, pixels, tokens):
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    randomise(model)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copy(Path(tmp) / "model.safetensors", d / "model.safetensors")
        shutil.copy(Path(tmp) / "config.json", d / "config.json")
    with torch.no_grad():
        image = features(model.get_image_features(pixel_values=torch.from_numpy(pixels))).numpy()
        text = features(model.get_text_features(input_ids=torch.from_numpy(tokens))).numpy()
    cases = [
        {"op": "encode_image", "inputs": {"pixels": save(d, "pixels.npy", pixels)},
         "outputs": {"features": save(d, "image_features.npy", image)}, **TOLERANCE},
        {"op": "encode_text", "inputs": {"tokens": save(d, "tokens.npy", tokens)},
         "outputs": {"features": save(d, "text_features.npy", text)}, **TOLERANCE},
    ]
    manifest_cfg = json.loads((d / "config.json").read_text())
    write_manifest(d, {"model": "clip", "layout": "hf", "config": manifest_cfg, "checkpoint": "model.safetensors", "cases": cases})


def hf_text_fixture(root, name):
    """A bare CLIPTextModel as Stable Diffusion ships its text encoder (here with GELU)."""
    d = fresh(name, root)
    s = SMALL
    cfg = hf_text_cfg("gelu", s["vocab"] - 1)
    cfg.pop("projection_dim")
    torch.manual_seed(0)
    model = CLIPTextModel(CLIPTextConfig(**cfg)).eval()
    randomise(model)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        shutil.copy(Path(tmp) / "model.safetensors", d / "model.safetensors")
        shutil.copy(Path(tmp) / "config.json", d / "config.json")
    tokens = token_batch(s["vocab"], s["context"], s["vocab"] - 1, np.random.default_rng(3))
    with torch.no_grad():
        hidden = model(input_ids=torch.from_numpy(tokens)).last_hidden_state.numpy()
    cases = [{"op": "hidden_states", "inputs": {"tokens": save(d, "tokens.npy", tokens)},
              "outputs": {"last_hidden_state": save(d, "last_hidden_state.npy", hidden)}, **TOLERANCE}]
    manifest_cfg = json.loads((d / "config.json").read_text())
    write_manifest(d, {"model": "clip_text", "layout": "hf", "config": manifest_cfg, "checkpoint": "model.safetensors", "cases": cases})


AWKWARD_TEXTS = [
    "a photo of a cat",
    "A  Photo of a CAT!!",
    "portrait, oil painting, 4k",
    "",
    "   \t  ",
    "Café crème brûlée — naïve façade, Ångström",
    "😀🎉 emoji party 👩‍👩‍👧‍👦 🇫🇷",
    "日本語のテキスト 中文字符 한국어 텍스트",
    "Ελληνικά Русский العربية עברית हिन्दी",
    "x &amp;amp; &lt;b&gt; &#39;quoted&#39; &eacute;t&eacute; &nbsp;y &#x263A;",
    "don’t “quote” me ‘on’ that",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ ﬁne ﬂow",
    "tab\tand\nnewline\r\nend",
    "control\x00\x07\x1b[31mred\x1b[0m chars\x7f",
    "it's we're they've I'm you'll he'd ISN'T",
    "numbers 1234567 3.14 1,000,000",
    "http://example.com/path?q=1&x=2 #hashtag @user",
    "!!!???... --- ***",
    "İstanbul ß straße ǅ",
    "zero\u200bwidth \ufeffbom",
    "a" * 300,
]


def long_text(words=300):
    vocab = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "portrait", "smiling",
             "woman", "with", "blond", "hair", "and", "glasses", "in", "soft", "light"]
    return " ".join(vocab[(i * 7) % len(vocab)] for i in range(words))


def tokenizer_fixture(root):
    d = fresh("clip_tokenizer", root)
    texts = AWKWARD_TEXTS + [long_text()]
    tokens = open_clip.tokenize(texts).numpy().astype(np.int64)
    cases = [{"op": "tokenize", "inputs": {"texts": texts}, "outputs": {"tokens": save(d, "tokens.npy", tokens)}}]
    write_manifest(d, {"model": "clip_tokenizer", "layout": "openai_bpe", "config": {}, "checkpoint": None, "cases": cases})


def full_fixtures(root):
    """ViT-B/32 at full size with random weights, real token ids: the open_clip layout as
    .safetensors, and the transformers layout as openai/clip-vit-base-patch32 ships it."""
    s = dict(embed=512, width=768, heads=12, layers=12, image=224, patch=32, vocab=49408, context=77)
    # open_clip_cfg uses one width for both towers; ViT-B/32's text tower is 512 wide.
    cfg = open_clip_cfg(True, s)
    cfg["text_cfg"].update(width=512, heads=8)
    texts = ["a photo of a cat", "portrait of a smiling woman with glasses", long_text()]
    tokens = open_clip.tokenize(texts).numpy().astype(np.int64)
    d = fresh("clip_vit_b_32_full", root)
    torch.manual_seed(0)
    model = open_clip.model.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=True).eval()
    randomise(model, projections=("visual.proj", "text_projection"))
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, d / "model.safetensors")
    rng = np.random.default_rng(4)
    pixels = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    cases = open_clip_cases(d, model, pixels, tokens)
    write_manifest(d, {"model": "clip", "layout": "open_clip", "config": cfg, "checkpoint": "model.safetensors", "cases": cases})

    # openai/clip-vit-base-patch32's config: QuickGELU, legacy eos_token_id 2; padded with the end token.
    text_cfg = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                    hidden_act="quick_gelu", eos_token_id=2, bos_token_id=0, pad_token_id=1)
    vision_cfg = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                      image_size=224, patch_size=32, hidden_act="quick_gelu")
    hf_tokens = np.where(tokens == 0, 49407, tokens)
    hf_tokens[:, 0] = 49406
    write_hf_clip(fresh("clip_hf_vit_b_32_full", root), CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=512),
                  pixels, hf_tokens)


def torchscript_file():
    """A tiny TorchScript archive (the format of OpenAI's ViT-B-32.pt) for the loader's error test."""
    d = ROOT / "tests" / "fixtures" / "clip"
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), d / "torchscript_tiny.pt")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", type=Path, help="write the full-size ViT-B/32 fixtures (open_clip and transformers layouts) under this directory instead")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.full:
        full_fixtures(args.full)
        return
    open_clip_fixture(FIXTURES, "clip_open_clip_quickgelu_pt", True, "pt")
    open_clip_fixture(FIXTURES, "clip_open_clip_gelu_safetensors", False, "safetensors")
    hf_clip_fixture(FIXTURES, "clip_hf_quickgelu", "quick_gelu", 2)
    hf_clip_fixture(FIXTURES, "clip_hf_gelu_eos", "gelu", 500)
    hf_text_fixture(FIXTURES, "clip_text_hf_gelu")
    tokenizer_fixture(FIXTURES)
    torchscript_file()


if __name__ == "__main__":
    main()
