#!/usr/bin/python3
"""Makes the outside golden of the CLIP / CoCoOp numerics: test/golden/clip-tiny.json (+ the PNG
test/golden/clip-tiny-image.png it describes).

What it computes, once, with PyTorch's own building blocks wired as OpenAI's published CLIP
(tools/golden/clip_torch.py) and a BPE tokenizer written from CLIP's published algorithm
(tools/golden/clip_bpe.py), in float64, for the committed tiny checkpoint
test/fixtures/golden-tiny-clip/ (made by `npx cocoop make-model --preset tiny --seed 19`):
  - token ids of a few fixed texts (padded with 0 to 77 for the forward, as clip.tokenize does);
  - projected, un-normalised text features of those texts;
  - projected, un-normalised image features of three fixed, already-preprocessed pixel tensors
    and of one PNG preprocessed with CLIP's published transform (PIL bicubic resize of the
    shorter side, centre crop, ToTensor, Normalize with CLIP's mean/std);
  - logits exp(logit_scale)·cos(image, text), images × texts, and zero-shot logits over a few
    class names with the prompt "a photo of a {class}.";
  - CoCoOp logits (paper / official trainer structure: meta-net Linear→ReLU→Linear, π(x̂) added to
    every context vector, prompts [SOT][ctx+π]…[CLASS tokens][.][EOT]) for a fixed adapter, and the
    CoOp logits of the same context (π = 0);
  - how far torch's own float32 run of the same model lies from its float64 run (the scale of
    float32 round-off the tests' tolerances are set against).
Every input the tests feed the product (pixels, context vectors, meta-net weights) is a float32
value, written in its shortest float32 decimal form: read it through Float32Array to get the
exact value torch used. Outputs are float64, written with 17 significant digits.

This is a dev tool, not part of the product: the tests (test/golden/*.test.ts) read only the
committed JSON and PNG and need neither Python nor torch.

Run (from anywhere; Debian packages only, no pip, no network):
    apt-get install -y python3-torch        # pulls python3-numpy; python3-pil is also needed
    /usr/bin/python3 tools/golden/make_clip_golden.py
It rewrites test/golden/clip-tiny.json and test/golden/clip-tiny-image.png; the output is
deterministic for a given torch build (single-threaded, fixed seeds).

Made with: Debian python3-torch 1.13.1+dfsg-4 (torch.__version__ "1.13.0a0"), Python 3.11.2,
python3-numpy 1.24.2, python3-pil 9.4.0, on x86-64 CPU. The versions used are also recorded in
the JSON ("generator").
"""

import copy
import hashlib
import json
import math
import os
import platform
import struct
import sys
import zlib

import numpy as np
import PIL
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import ClipBpe  # noqa: E402
from clip_torch import CONTEXT_LENGTH, Clip, MetaNet, cocoop_logits, load_hf_weights, read_safetensors  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL_DIR = "test/fixtures/golden-tiny-clip"
OUT_JSON = "test/golden/clip-tiny.json"
OUT_PNG = "test/golden/clip-tiny-image.png"

# CLIP's published normalisation (clip.py _transform).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

TEXTS = [
    "a photo of a cat.",
    "A BLURRY photo of the red car &amp; a dog!",
    "there's a bird in the tree, 2024",
    "  a   close-up photo of   my dog's ball  ",
    "zebra crossing at night?!",
    "the cats are playing with the dogs in the park during the day, left and right of the big white house.",
]
CLASS_NAMES = ["cat", "red_car", "close-up bird", "zebra"]
N_CTX = 4
META_HIDDEN = 4  # the product's own init uses projection_dim // 16 (= 1 here); 4 exercises the ReLU more
PNG_SIZE = (50, 40)  # width, height: shorter side 40 → 32, longer 50 → 40, centre crop offset (4, 0)


def rel(path):
    return os.path.join(REPO, path)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Inputs


def quantised(t, step=64.0):
    """Values rounded to multiples of 1/step: exact in float32 and short in decimal."""
    return (torch.round(t * step) / step).to(torch.float32)


def synthetic_pixels(size):
    """Three already-normalised [3, S, S] tensors: smooth waves, noise, blocks with an edge."""
    g = torch.Generator().manual_seed(1901)
    y = torch.arange(size, dtype=torch.float64).view(1, size, 1)
    x = torch.arange(size, dtype=torch.float64).view(1, 1, size)
    c = torch.arange(3, dtype=torch.float64).view(3, 1, 1)
    waves = 1.6 * torch.sin(0.35 * x + 0.9 * c) * torch.cos(0.22 * y - 0.5 * c) + 0.3 * (c - 1)
    noise = torch.randn(3, size, size, generator=g, dtype=torch.float64).clamp(-2.5, 2.5)
    blocks = torch.where(((x // 8) + (y // 8)) % 2 == 0, 1.1, -0.9) * (1 - 0.3 * c)
    blocks = torch.where(x > y, blocks, blocks - 0.7).expand(3, size, size)
    return [quantised(t) for t in (waves, noise, blocks)]


def png_image():
    """A uint8 HWC RGB picture with smooth gradients, a disc and mild noise."""
    w, h = PNG_SIZE
    g = torch.Generator().manual_seed(1902)
    y = torch.arange(h, dtype=torch.float64).view(h, 1)
    x = torch.arange(w, dtype=torch.float64).view(1, w)
    disc = ((x - 31.0) ** 2 + (y - 17.0) ** 2 < 11.0**2).to(torch.float64)
    r = 40 + 3.5 * x + 120 * disc
    gg = 200 - 4.0 * y + 30 * torch.sin(x / 4.0)
    b = 90 + 60 * torch.cos((x + y) / 7.0) - 70 * disc
    img = torch.stack([r, gg, b], dim=-1) + 6 * torch.randn(h, w, 3, generator=g, dtype=torch.float64)
    return img.round().clamp(0, 255).to(torch.uint8).numpy()


def write_png(path, rgb):
    """8-bit RGB PNG, no filter, written with the standard library."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def clip_transform(rgb, n_px):
    """CLIP's published _transform on a PIL image: Resize(n_px, BICUBIC) (shorter side, longer
    side int(n_px·long/short)), CenterCrop(n_px) (offsets int(round((size − n_px)/2))), ToTensor
    (uint8/255 in float32), Normalize(mean, std) in float32 → [3, n_px, n_px]."""
    img = Image.fromarray(rgb, "RGB")
    w, h = img.size
    if w <= h:
        size = (n_px, int(n_px * h / w))
    else:
        size = (int(n_px * w / h), n_px)
    img = img.resize(size, Image.Resampling.BICUBIC)
    left = int(round((size[0] - n_px) / 2.0))
    top = int(round((size[1] - n_px) / 2.0))
    img = img.crop((left, top, left + n_px, top + n_px))
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).to(torch.float32).div(255)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    return (t - mean) / std, {"resized": list(size), "crop_left_top": [left, top]}


def pad_tokens(rows):
    out = torch.zeros(len(rows), CONTEXT_LENGTH, dtype=torch.long)
    for i, ids in enumerate(rows):
        if len(ids) > CONTEXT_LENGTH:
            raise ValueError(f"prompt {i} has {len(ids)} tokens")
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def adapter(text_width, proj_dim):
    """A fixed CoCoOp adapter: context vectors N(0, 0.02²) (the paper's random init) and a meta-net
    with PyTorch's default nn.Linear init, from a fixed seed, all float32."""
    torch.manual_seed(1903)
    ctx = (torch.randn(N_CTX, text_width) * 0.02).to(torch.float32)
    net = MetaNet(proj_dim, META_HIDDEN, text_width).to(torch.float32)
    return ctx, net


# ---------------------------------------------------------------------------------------------
# Output formatting


class F32(list):
    """A list of float32 values, written in their shortest float32 decimal form."""


class F64(list):
    """A list of float64 values, written with 17 significant digits."""


def f32_text(v):
    s = str(np.float32(v))  # numpy's shortest decimal that round-trips this float32
    if np.float32(float(s)) != np.float32(v):
        raise AssertionError(f"{s} does not round-trip to float32 {v!r}")
    return s


def f64_text(v):
    if not math.isfinite(v):
        raise ValueError("non-finite output")
    return format(v, ".17g")


def dump(value, indent=0):
    pad = "  " * indent
    if isinstance(value, F32):
        return "[" + ",".join(f32_text(float(v)) for v in value) + "]"
    if isinstance(value, F64):
        return "[" + ",".join(f64_text(float(v)) for v in value) + "]"
    if isinstance(value, dict):
        items = [f'{pad}  {json.dumps(k)}: {dump(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
        return "[\n" + ",\n".join(f"{pad}  {dump(v, indent + 1)}" for v in value) + "\n" + pad + "]"
    if isinstance(value, float):
        return f64_text(value)
    return json.dumps(value, ensure_ascii=False)


def f64_rows(t):
    return [F64(row.tolist()) for row in t.to(torch.float64)]


def rel_err_rows(a, b):
    """max over rows of max|a − b| / max|b| (the tests' measure)."""
    return max(float((ra - rb).abs().max() / rb.abs().max()) for ra, rb in zip(a.to(torch.float64), b))


# ---------------------------------------------------------------------------------------------


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model_dir = rel(MODEL_DIR)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    if os.path.exists(os.path.join(model_dir, "preprocessor_config.json")):
        raise SystemExit("this generator assumes CLIP's default preprocessing (no preprocessor_config.json)")
    clip32 = load_hf_weights(Clip(config), read_safetensors(os.path.join(model_dir, "model.safetensors"))).eval()
    clip64 = copy.deepcopy(clip32).double()
    n_px = config["vision_config"]["image_size"]
    bpe = ClipBpe(os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt"))

    # Texts.
    token_ids = [bpe.encode(t) for t in TEXTS]
    tokens = pad_tokens(token_ids)
    if any(ids.index(bpe.eot) != int(row.argmax()) for ids, row in zip(token_ids, tokens)):
        raise AssertionError("EOT is not the largest id: argmax pooling would pick another position")

    # Images: three tensors + the PNG through CLIP's transform.
    pixels = synthetic_pixels(n_px)
    rgb = png_image()
    write_png(rel(OUT_PNG), rgb)
    png_pixels, png_geometry = clip_transform(rgb, n_px)
    images = torch.stack(pixels + [png_pixels])  # float32 [4, 3, S, S]

    with torch.no_grad():
        text64 = clip64.text(tokens)
        image64 = clip64.visual(images.double())
        text32 = clip32.text(tokens)
        image32 = clip32.visual(images)
        scale = clip64.logit_scale.exp()
        tn = text64 / text64.norm(dim=-1, keepdim=True)
        im = image64 / image64.norm(dim=-1, keepdim=True)
        logits = scale * im @ tn.t()

    # Zero-shot CLIP over the class names, with the CoOp papers' prompt "a photo of a {class}.".
    zs_texts = ["a photo of a " + name.replace("_", " ") + "." for name in CLASS_NAMES]
    zs_ids = [bpe.encode(t) for t in zs_texts]
    with torch.no_grad():
        zs_text = clip64.text(pad_tokens(zs_ids))
        zs_logits = scale * im @ (zs_text / zs_text.norm(dim=-1, keepdim=True)).t()

    # CoCoOp / CoOp.
    ctx, net = adapter(config["text_config"]["hidden_size"], config["projection_dim"])
    prompt_texts = [" ".join(["X"] * N_CTX) + " " + name.replace("_", " ") + "." for name in CLASS_NAMES]
    prompt_ids = [bpe.encode(t) for t in prompt_texts]
    x_id = bpe.encode_body("X")
    if len(x_id) != 1 or any(ids[1 : 1 + N_CTX] != x_id * N_CTX for ids in prompt_ids):
        raise AssertionError('"X" must be one token so that positions 1..M are the context')
    prompt_tokens = pad_tokens(prompt_ids)
    net64 = copy.deepcopy(net).double()
    cocoop64 = cocoop_logits(clip64, ctx.double(), net64, prompt_tokens, N_CTX, image64)
    coop64 = cocoop_logits(clip64, ctx.double(), None, prompt_tokens, N_CTX, image64)
    cocoop32 = cocoop_logits(clip32, ctx, net, prompt_tokens, N_CTX, image32)
    with torch.no_grad():
        hidden = net64.linear1(im)  # pre-ReLU units per image
    active = (hidden > 0).sum(dim=1).tolist()
    if min(active) == 0 or all(a == META_HIDDEN for a in active):
        raise AssertionError(f"meta-net hidden units active per image {active}: pick a seed that exercises the ReLU")

    torch_f32 = {
        "text_features_rel": rel_err_rows(text32, text64),
        "image_features_rel": rel_err_rows(image32, image64),
        "cocoop_logits_abs": float((cocoop32.double() - cocoop64).abs().max()),
    }

    golden = {
        "about": (
            "Outside golden for the CLIP / CoCoOp numerics: PyTorch float64 run of OpenAI's published CLIP structure "
            "and CoCoOp's prompt learner on the checkpoint in model.dir. Made by tools/golden/make_clip_golden.py; "
            "see docs/golden.md. Inputs marked float32 are float32 values in shortest form (read through Float32Array)."
        ),
        "generator": {
            "script": "tools/golden/make_clip_golden.py",
            "torch": torch.__version__,
            "torch_package": "Debian python3-torch 1.13.1+dfsg-4",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pil": PIL.__version__,
            "dtype": "float64",
            "threads": torch.get_num_threads(),
        },
        "model": {
            "dir": MODEL_DIR,
            "made_by": "npx cocoop make-model --preset tiny --seed 19 --out " + MODEL_DIR,
            "sha256": {f: sha256(os.path.join(model_dir, f)) for f in ("config.json", "model.safetensors", "vocab.json", "merges.txt")},
            "logit_scale": float(clip64.logit_scale),
        },
        "texts": TEXTS,
        "token_ids": token_ids,
        "text_features": f64_rows(text64),
        "images": {
            "names": ["waves", "noise", "blocks", "png"],
            "shape": [3, n_px, n_px],
            "pixels_float32": [F32(p.flatten().tolist()) for p in images],
            "png": {
                "file": OUT_PNG,
                "sha256": sha256(rel(OUT_PNG)),
                "size": list(PNG_SIZE),
                "transform": "PIL bicubic resize of the shorter side, centre crop, /255, (x - mean) / std in float32",
                **png_geometry,
                "mean": list(MEAN),
                "std": list(STD),
            },
        },
        "image_features": f64_rows(image64),
        "logits": f64_rows(logits),
        "zeroshot": {
            "class_names": CLASS_NAMES,
            "prompt_texts": zs_texts,
            "token_ids": zs_ids,
            "logits": f64_rows(zs_logits),
        },
        "cocoop": {
            "class_names": CLASS_NAMES,
            "n_ctx": N_CTX,
            "prompt_texts": prompt_texts,
            "prompt_token_ids": prompt_ids,
            "ctx_float32": [F32(r.tolist()) for r in ctx],
            "meta_net_float32": {
                "linear1.weight": [F32(r.tolist()) for r in net.linear1.weight.detach()],
                "linear1.bias": F32(net.linear1.bias.detach().tolist()),
                "linear2.weight": [F32(r.tolist()) for r in net.linear2.weight.detach()],
                "linear2.bias": F32(net.linear2.bias.detach().tolist()),
            },
            "meta_net_active_units_per_image": active,
            "image_features": "the image_features above (all images)",
            "logits": f64_rows(cocoop64),
            "coop_logits": f64_rows(coop64),
        },
        "torch_float32_vs_float64": torch_f32,
    }
    with open(rel(OUT_JSON), "w", encoding="utf-8") as f:
        f.write(dump(golden) + "\n")
    print(f"wrote {OUT_JSON} ({os.path.getsize(rel(OUT_JSON))} bytes) and {OUT_PNG}")
    print("torch float32 vs float64:", json.dumps(torch_f32))
    print("meta-net active units per image:", active)


if __name__ == "__main__":
    main()
