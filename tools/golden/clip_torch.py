"""CLIP built from PyTorch's own modules, wired as OpenAI's published CLIP model is
(model.py of openai/CLIP, "Learning Transferable Visual Models From Natural Language
Supervision"), plus CoCoOp's prompt learner (Zhou et al., "Conditional Prompt Learning for
Vision-Language Models", CVPR 2022), for the golden generator tools/golden/make_clip_golden.py.

Written from the published structure, not from the product: nn.MultiheadAttention,
nn.LayerNorm, nn.Conv2d, nn.Linear, nn.Embedding; sequence-first activations [L, N, D] as in
the published model; the text tower runs on the full 77-token context with the published
causal mask and pools at argmax(token ids); the ViT pools ln_post(x[:, 0]).

Weights come from a Hugging Face CLIPModel model.safetensors (read here with the standard
library and torch.frombuffer) and are mapped onto the published module names by
`load_hf_weights` (q/k/v projections concatenated into in_proj_weight / in_proj_bias,
HF linear weights [out, in] transposed where the published model multiplies x @ proj).
"""

import json
import struct
from collections import OrderedDict

import torch
from torch import nn

CONTEXT_LENGTH = 77


def read_safetensors(path):
    """name → float32 tensor (only F32 tensors, which is what `cocoop make-model` writes)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    data = raw[8 + header_len :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {entry['dtype']} (only F32 is read here)")
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32)
        out[name] = t.reshape(entry["shape"]) if entry["shape"] else t.reshape(())
    return out


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width, eps):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.mlp = nn.Sequential(
            OrderedDict(
                [("c_fc", nn.Linear(width, mlp_width)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(mlp_width, width))]
            )
        )
        self.ln_2 = nn.LayerNorm(width, eps=eps)

    def forward(self, x, attn_mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_width, eps):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, mlp_width, eps) for _ in range(layers)])

    def forward(self, x, attn_mask=None):
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch, width, layers, heads, mlp_width, eps, output_dim):
        super().__init__()
        grid = image_size // patch
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width, eps=eps)
        self.transformer = Transformer(width, layers, heads, mlp_width, eps)
        self.ln_post = nn.LayerNorm(width, eps=eps)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))

    def forward(self, x):  # x [N, 3, S, S], already normalised
        x = self.conv1(x)  # [N, width, grid, grid]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # [N, grid², width]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).permute(1, 0, 2)  # [T, N, width]
        x = self.transformer(x).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class TextTransformer(nn.Module):
    def __init__(self, vocab, width, layers, heads, mlp_width, eps, output_dim):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.zeros(CONTEXT_LENGTH, width))
        self.transformer = Transformer(width, layers, heads, mlp_width, eps)
        self.ln_final = nn.LayerNorm(width, eps=eps)
        self.text_projection = nn.Parameter(torch.zeros(width, output_dim))

    def causal_mask(self, dtype):
        # Published build_attention_mask: -inf strictly above the diagonal (additive mask).
        return torch.empty(CONTEXT_LENGTH, CONTEXT_LENGTH, dtype=dtype).fill_(float("-inf")).triu_(1)

    def forward_embeddings(self, prompts, tokens):
        """prompts [N, 77, width] (token embeddings, positions not added), tokens [N, 77] the ids
        whose argmax marks the EOT position → [N, output_dim], un-normalised."""
        x = prompts + self.positional_embedding.to(prompts.dtype)
        x = self.transformer(x.permute(1, 0, 2), self.causal_mask(prompts.dtype)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection

    def forward(self, tokens):  # tokens [N, 77], 0-padded
        return self.forward_embeddings(self.token_embedding(tokens), tokens)


class Clip(nn.Module):
    def __init__(self, config):
        super().__init__()
        t = config["text_config"]
        v = config["vision_config"]
        for tower in (t, v):
            if tower.get("hidden_act", "quick_gelu") != "quick_gelu":
                raise ValueError("only quick_gelu (OpenAI CLIP's activation) is built here")
        p = config["projection_dim"]
        self.text = TextTransformer(
            t["vocab_size"], t["hidden_size"], t["num_hidden_layers"], t["num_attention_heads"],
            t["intermediate_size"], t["layer_norm_eps"], p,
        )
        if t["max_position_embeddings"] != CONTEXT_LENGTH:
            raise ValueError("the published text tower has 77 positions")
        self.visual = VisionTransformer(
            v["image_size"], v["patch_size"], v["hidden_size"], v["num_hidden_layers"], v["num_attention_heads"],
            v["intermediate_size"], v["layer_norm_eps"], p,
        )
        self.logit_scale = nn.Parameter(torch.zeros(()))


def _block_weights(take, prefix, target):
    q, k, v = (f"{prefix}.self_attn.{n}_proj" for n in "qkv")
    return {
        f"{target}.attn.in_proj_weight": torch.cat([take(f"{q}.weight"), take(f"{k}.weight"), take(f"{v}.weight")], 0),
        f"{target}.attn.in_proj_bias": torch.cat([take(f"{q}.bias"), take(f"{k}.bias"), take(f"{v}.bias")], 0),
        f"{target}.attn.out_proj.weight": take(f"{prefix}.self_attn.out_proj.weight"),
        f"{target}.attn.out_proj.bias": take(f"{prefix}.self_attn.out_proj.bias"),
        f"{target}.ln_1.weight": take(f"{prefix}.layer_norm1.weight"),
        f"{target}.ln_1.bias": take(f"{prefix}.layer_norm1.bias"),
        f"{target}.mlp.c_fc.weight": take(f"{prefix}.mlp.fc1.weight"),
        f"{target}.mlp.c_fc.bias": take(f"{prefix}.mlp.fc1.bias"),
        f"{target}.mlp.c_proj.weight": take(f"{prefix}.mlp.fc2.weight"),
        f"{target}.mlp.c_proj.bias": take(f"{prefix}.mlp.fc2.bias"),
        f"{target}.ln_2.weight": take(f"{prefix}.layer_norm2.weight"),
        f"{target}.ln_2.bias": take(f"{prefix}.layer_norm2.bias"),
    }


def load_hf_weights(model, hf):
    """Hugging Face CLIPModel tensor names → the published module names; strict both ways (every
    module parameter filled, every HF tensor used except position_ids buffers)."""
    used = set()

    def take(name):
        used.add(name)
        return hf[name]

    sd = {
        "text.token_embedding.weight": take("text_model.embeddings.token_embedding.weight"),
        "text.positional_embedding": take("text_model.embeddings.position_embedding.weight"),
        "text.ln_final.weight": take("text_model.final_layer_norm.weight"),
        "text.ln_final.bias": take("text_model.final_layer_norm.bias"),
        # HF Linear weight [P, D]; the published model computes x @ text_projection with [D, P].
        "text.text_projection": take("text_projection.weight").t(),
        "visual.conv1.weight": take("vision_model.embeddings.patch_embedding.weight"),
        "visual.class_embedding": take("vision_model.embeddings.class_embedding"),
        "visual.positional_embedding": take("vision_model.embeddings.position_embedding.weight"),
        "visual.ln_pre.weight": take("vision_model.pre_layrnorm.weight"),
        "visual.ln_pre.bias": take("vision_model.pre_layrnorm.bias"),
        "visual.ln_post.weight": take("vision_model.post_layernorm.weight"),
        "visual.ln_post.bias": take("vision_model.post_layernorm.bias"),
        "visual.proj": take("visual_projection.weight").t(),
        "logit_scale": take("logit_scale").reshape(()),
    }
    for hf_tower, target, blocks in (
        ("text_model", "text", model.text.transformer.resblocks),
        ("vision_model", "visual", model.visual.transformer.resblocks),
    ):
        for i in range(len(blocks)):
            sd.update(_block_weights(take, f"{hf_tower}.encoder.layers.{i}", f"{target}.transformer.resblocks.{i}"))
    unused = sorted(n for n in hf if n not in used and not n.endswith("position_ids"))
    if unused:
        raise ValueError(f"HF tensors not mapped: {unused}")
    model.load_state_dict({k: v.contiguous() for k, v in sd.items()}, strict=True)
    return model


class MetaNet(nn.Module):
    """CoCoOp's meta-net: Linear(vis_dim → hidden) → ReLU → Linear(hidden → ctx_dim)."""

    def __init__(self, vis_dim, hidden, ctx_dim):
        super().__init__()
        self.linear1 = nn.Linear(vis_dim, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Linear(hidden, ctx_dim)

    def forward(self, x):
        return self.linear2(self.relu(self.linear1(x)))


def cocoop_logits(clip, ctx, meta_net, prompt_tokens, n_ctx, image_features):
    """CoCoOp forward as the paper and its official trainer compute it: for every image, the
    prompts [SOT][ctx_1+π(x̂)]…[ctx_M+π(x̂)][tokens of "<class>."][EOT][0-padding] built from
    the token embeddings of the tokenised "X … X <class>." (positions 1..M replaced), through the
    text tower; logits = exp(logit_scale) · cos(x, t_c(x)). `meta_net` None gives CoOp (π = 0).
    prompt_tokens [C, 77]; image_features [B, P] un-normalised → logits [B, C]."""
    with torch.no_grad():
        embedding = clip.text.token_embedding(prompt_tokens)  # [C, 77, D]
        prefix = embedding[:, :1, :]
        suffix = embedding[:, 1 + n_ctx :, :]
        x = image_features / image_features.norm(dim=-1, keepdim=True)
        scale = clip.logit_scale.exp()
        rows = []
        for xi in x:
            shifted = ctx if meta_net is None else ctx + meta_net(xi).unsqueeze(0)  # [M, D]
            ctx_i = shifted.unsqueeze(0).expand(prompt_tokens.shape[0], -1, -1)
            prompts = torch.cat([prefix, ctx_i, suffix], dim=1)
            t = clip.text.forward_embeddings(prompts, prompt_tokens)
            t = t / t.norm(dim=-1, keepdim=True)
            rows.append(scale * t @ xi)
        return torch.stack(rows)
