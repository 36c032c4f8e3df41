"""Reference generator for the Swin family (Swin v1 and V2): random-init torchvision checkpoints renamed to
the Hugging Face and timm layouts, with float64 reference outputs.

Usage: /usr/bin/python3 scripts/families/gen_swin_refs.py OUTDIR [name ...]

Follows gen_refs.py's conventions (and reuses its helpers): each case writes OUTDIR/<name>/model.safetensors
(+ config.json where the case has one), OUTDIR/<name>.ref.safetensors for a 64x64 input (B=3) and, where the
layout runs other sizes, OUTDIR/<name>.ref_odd.safetensors for a 70x54 input (B=2): F32 `pixels`, `logits`,
`features` (the pooled vector the classifier reads), `feature_map` (the final LayerNorm's tokens as NCHW),
`gradcam` and I32 `target_class`.

The networks are small (embed 16, depths [2, 2, 2], heads [1, 2, 4], window 4, 10 classes) so that at 64x64
the stages are 16x16, 8x8 and 4x4 (whole windows; the last stage is one window, so its odd block does not
shift), and at 70x54 they are 17x13 (18x14 when Hugging Face pads the pixels to whole patches), 9x7 and 5x4:
windows padded, odd maps merged with padding, and each library's own rule for the last stage's shift.

References: the torchvision cases are torchvision's own SwinTransformer module (float64). The Hugging Face and
timm cases hold the same weights renamed; their references come from `swin_forward` below, a functional
forward written from transformers' modeling_swin.py / modeling_swinv2.py and timm's swin_transformer.py with
each library's rules as options (pixel padding, which axes shift, windows fixed at construction, the mask
value), checked first to reproduce torchvision's module to 1e-12 with torchvision's rules. Run with Debian's
/usr/bin/python3 (torch 1.13, torchvision 0.14). Never commit the outputs (they are weights).
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.swin_transformer import (PatchMergingV2, SwinTransformer, SwinTransformerBlockV2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_refs as g  # noqa: E402  (helpers: randomize_*, centre_bias, cnn_ref, writers)

HW, ODD_HW = (64, 64), (70, 54)
CLASSES = 10
EMBED, DEPTHS, HEADS, WINDOW = 16, [2, 2, 2], [1, 2, 4], 4


def build_tv(v2):
    torch.manual_seed(2 if v2 else 1)
    extra = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2} if v2 else {}
    m = SwinTransformer([4, 4], EMBED, DEPTHS, HEADS, [WINDOW, WINDOW], stochastic_depth_prob=0.0,
                        num_classes=CLASSES, **extra)
    g.randomize_dense(m)
    g.randomize_ln(m)
    for name, p in m.named_parameters():
        if name.endswith("relative_position_bias_table"):
            p.data = 0.5 * torch.randn(p.shape)
        if name.endswith("logit_scale"):  # around log 10; one head of the last block above the log 100 clamp
            p.data = math.log(10) + 0.5 * torch.randn(p.shape)
            if name == f"features.{2 * len(DEPTHS) - 1}.{DEPTHS[-1] - 1}.attn.logit_scale":
                p.data.view(-1)[0] = math.log(150.0)
    if v2:  # a non-zero stored key bias: torchvision zeroes it at every forward, so must we
        for blk in m.modules():
            if isinstance(blk, SwinTransformerBlockV2):
                n = blk.attn.qkv.bias.numel() // 3
                blk.attn.qkv.bias.data[n:2 * n] = 0.3
    m.eval()
    with torch.no_grad():
        f = tv_parts(m)[0](g.noise_batch(64, *HW)).mean((2, 3))
    m.head.bias.data = g.centre_bias(m.head.weight, f)
    return m


def tv_parts(m):
    def fmap_fn(x):
        return m.norm(m.features(x)).permute(0, 3, 1, 2)

    def head_fn(a):
        p = a.mean((2, 3))
        return p, m.head(p)
    return fmap_fn, head_fn


# ------------------------------------------------------------------------- functional reference forward
def window_bias_v1(table, ws):
    a, b = ws
    idx = torch.tensor([[(i // b - j // b + a - 1) * (2 * b - 1) + (i % b - j % b + b - 1)
                         for j in range(a * b)] for i in range(a * b)])
    return table[idx.view(-1)].view(a * b, a * b, -1).permute(2, 0, 1)


def window_bias_v2(fc1_w, fc1_b, fc2_w, ws, pretrained):
    a, b = ws
    # float32 like every library's coordinate table (torchvision stores it as a float32 buffer)
    ch = torch.arange(-(a - 1), a, dtype=torch.float32)
    cw = torch.arange(-(b - 1), b, dtype=torch.float32)
    t = torch.stack(torch.meshgrid([ch, cw], indexing="ij")).permute(1, 2, 0).clone()
    t[..., 0] /= (pretrained - 1) if pretrained > 0 else (a - 1)
    t[..., 1] /= (pretrained - 1) if pretrained > 0 else (b - 1)
    t = t * 8
    t = (torch.sign(t) * torch.log2(t.abs() + 1.0) / math.log2(8)).double()
    table = F.linear(F.relu(F.linear(t, fc1_w, fc1_b)), fc2_w).view(-1, fc2_w.shape[0])
    return 16 * torch.sigmoid(window_bias_v1(table, ws))


def region_mask(ph, pw, ws, shift, value):
    lab = torch.zeros(ph, pw)
    count = 0
    hs = [(0, ph - ws[0]), (ph - ws[0], ph - shift[0]), (ph - shift[0], ph)] if shift[0] else [(0, ph)] * 3
    wss = [(0, pw - ws[1]), (pw - ws[1], pw - shift[1]), (pw - shift[1], pw)] if shift[1] else [(0, pw)] * 3
    for h in hs:
        for w in wss:
            lab[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    lab = lab.view(ph // ws[0], ws[0], pw // ws[1], ws[1]).permute(0, 2, 1, 3).reshape(-1, ws[0] * ws[1])
    d = lab[:, None, :] - lab[:, :, None]
    return torch.where(d != 0, torch.tensor(float(value), dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64))


def window_attention(x, blk, heads, ws, shift, v2, mask_value):
    """x [B, H, W, C] -> attention branch output [B, H, W, C] (pad, roll, windows, attention, back)."""
    B, H, W, C = x.shape
    ph, pw = -(-H // ws[0]) * ws[0], -(-W // ws[1]) * ws[1]
    x = F.pad(x, (0, 0, 0, pw - W, 0, ph - H))
    if any(shift):
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    nw = (ph // ws[0]) * (pw // ws[1])
    N = ws[0] * ws[1]
    x = x.view(B, ph // ws[0], ws[0], pw // ws[1], ws[1], C).permute(0, 1, 3, 2, 4, 5).reshape(B * nw, N, C)
    qkv = F.linear(x, blk["qkv_w"], blk["qkv_b"]).reshape(B * nw, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if v2:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(blk["logit_scale"], max=math.log(100.0)).exp()
    else:
        attn = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    attn = attn + blk["bias"]
    if any(shift):
        mask = region_mask(ph, pw, ws, shift, mask_value)
        attn = (attn.view(B, nw, heads, N, N) + mask[None, :, None]).view(B * nw, heads, N, N)
    x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B * nw, N, C)
    x = F.linear(x, blk["proj_w"], blk["proj_b"])
    x = x.view(B, ph // ws[0], pw // ws[1], ws[0], ws[1], C).permute(0, 1, 3, 2, 4, 5).reshape(B, ph, pw, C)
    if any(shift):
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x[:, :H, :W]


def stage_blocks(sd, v2, s, depth):
    """Block parameters of stage s from torchvision names (float64)."""
    out = []
    for l in range(depth):
        p = f"features.{2 * s + 1}.{l}."
        blk = {k: sd[p + n] for k, n in [("n1w", "norm1.weight"), ("n1b", "norm1.bias"), ("n2w", "norm2.weight"),
                                          ("n2b", "norm2.bias"), ("qkv_w", "attn.qkv.weight"),
                                          ("proj_w", "attn.proj.weight"), ("proj_b", "attn.proj.bias"),
                                          ("fc1_w", "mlp.0.weight"), ("fc1_b", "mlp.0.bias"),
                                          ("fc2_w", "mlp.3.weight"), ("fc2_b", "mlp.3.bias")]}
        b = sd[p + "attn.qkv.bias"].clone()
        if v2:
            n = b.numel() // 3
            b[n:2 * n] = 0
            blk["logit_scale"] = sd[p + "attn.logit_scale"]
            blk["cpb"] = (sd[p + "attn.cpb_mlp.0.weight"], sd[p + "attn.cpb_mlp.0.bias"], sd[p + "attn.cpb_mlp.2.weight"])
        else:
            blk["table"] = sd[p + "attn.relative_position_bias_table"]
        blk["qkv_b"] = b
        out.append(blk)
    return out


def swin_forward(sd, v2, rule):
    """(fmap_fn, head_fn) of the Swin in torchvision names `sd` (float64) under `rule`:
    pad_pixels (HF), shift ("torchvision": per axis, none where the padded side <= window; "hf": none when the
    smaller side <= window; "construction": window / shift fixed from `grid` the model was built for, HF V2 from
    its first axis), mask_value (-100, HF V2 -200)."""
    eps = 1e-5
    ln = lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b, eps)  # noqa: E731

    def fmap_fn(x):
        if rule.get("pad_pixels"):
            H, W = x.shape[2:]
            x = F.pad(x, (0, (-W) % 4, 0, (-H) % 4))
        x = F.conv2d(x, sd["features.0.0.weight"], sd["features.0.0.bias"], stride=4).permute(0, 2, 3, 1)
        x = ln(x, sd["features.0.2.weight"], sd["features.0.2.bias"])
        for s, depth in enumerate(DEPTHS):
            if s > 0:
                m = f"features.{2 * s}."
                H, W = x.shape[1:3]
                x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
                x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
                if v2:
                    x = ln(F.linear(x, sd[m + "reduction.weight"]), sd[m + "norm.weight"], sd[m + "norm.bias"])
                else:
                    x = F.linear(ln(x, sd[m + "norm.weight"], sd[m + "norm.bias"]), sd[m + "reduction.weight"])
            H, W = x.shape[1:3]
            heads = HEADS[s]
            ws, half = [WINDOW, WINDOW], [WINDOW // 2, WINDOW // 2]
            if rule["shift"] == "construction":
                grid = [rule["grid"][0] // 2 ** s, rule["grid"][1] // 2 ** s]
                if rule.get("first_axis"):
                    grid = [grid[0], grid[0]]
                ws = [min(gr, WINDOW) for gr in grid]
                half = [0 if gr <= w else WINDOW // 2 for gr, w in zip(grid, ws)]
            elif rule["shift"] == "hf":
                assert min(H, W) >= WINDOW, "Hugging Face cannot run a map smaller than its window"
                if min(H, W) <= WINDOW:
                    half = [0, 0]
            else:
                ph, pw = -(-H // ws[0]) * ws[0], -(-W // ws[1]) * ws[1]
                half = [0 if ws[0] >= ph else half[0], 0 if ws[1] >= pw else half[1]]
            for l, blk in enumerate(stage_blocks(sd, v2, s, depth)):
                pretrained = rule.get("pretrained", [0] * len(DEPTHS))[s]
                blk["bias"] = (window_bias_v2(*blk["cpb"], ws, pretrained) if v2 else
                               window_bias_v1(blk["table"], ws))
                shift = half if l % 2 else [0, 0]
                if v2:
                    a = window_attention(x, blk, heads, ws, shift, True, rule["mask_value"])
                    x = x + ln(a, blk["n1w"], blk["n1b"])
                    m = F.linear(F.gelu(F.linear(x, blk["fc1_w"], blk["fc1_b"])), blk["fc2_w"], blk["fc2_b"])
                    x = x + ln(m, blk["n2w"], blk["n2b"])
                else:
                    a = window_attention(ln(x, blk["n1w"], blk["n1b"]), blk, heads, ws, shift, False,
                                         rule["mask_value"])
                    x = x + a
                    h = ln(x, blk["n2w"], blk["n2b"])
                    x = x + F.linear(F.gelu(F.linear(h, blk["fc1_w"], blk["fc1_b"])), blk["fc2_w"], blk["fc2_b"])
        return ln(x, sd["norm.weight"], sd["norm.bias"]).permute(0, 3, 1, 2)

    def head_fn(a):
        p = a.mean((2, 3))
        return p, F.linear(p, sd["head.weight"], sd["head.bias"])
    return fmap_fn, head_fn


TV_RULE = {"shift": "torchvision", "mask_value": -100}


def refs(parts, odd=True):
    r = g.cnn_ref(*parts, g.pixels_for(3, *HW))
    return r, (g.cnn_ref(*parts, g.pixels_for(2, *ODD_HW)) if odd else None)


def same(a, b, tol, what):
    worst = 0.0
    for k in ("logits", "features", "feature_map", "gradcam"):
        r = g.max_rel(a[k], b[k])
        assert r < tol, f"{what}: {k} differs by {r:.3g}"
        worst = max(worst, r)
    print(f"  check {what}: max relative difference {worst:.2g} (bound {tol:g})")


def differs(a, b, what):
    r = g.max_rel(a["logits"], b["logits"])
    assert r > 1e-3, f"{what}: expected the layouts' rules to give different logits, got {r:.3g}"
    print(f"  check {what}: the rules differ as expected (logits {r:.2g} apart)")


# --------------------------------------------------------------------------------------------- renaming
def tv_to_hf(sd, v2):
    p = "swinv2" if v2 else "swin"
    out = {f"{p}.embeddings.patch_embeddings.projection.weight": sd["features.0.0.weight"],
           f"{p}.embeddings.patch_embeddings.projection.bias": sd["features.0.0.bias"],
           f"{p}.embeddings.norm.weight": sd["features.0.2.weight"],
           f"{p}.embeddings.norm.bias": sd["features.0.2.bias"],
           f"{p}.layernorm.weight": sd["norm.weight"], f"{p}.layernorm.bias": sd["norm.bias"],
           "classifier.weight": sd["head.weight"], "classifier.bias": sd["head.bias"]}
    for s, depth in enumerate(DEPTHS):
        S = f"{p}.encoder.layers.{s}."
        if s > 0:
            for t in ("reduction.weight", "norm.weight", "norm.bias"):
                out[f"{p}.encoder.layers.{s - 1}.downsample.{t}"] = sd[f"features.{2 * s}.{t}"]
        for l in range(depth):
            t, b = f"features.{2 * s + 1}.{l}.", f"{S}blocks.{l}."
            a = b + "attention.self."
            D = sd[t + "norm1.weight"].numel()
            w, bias = sd[t + "attn.qkv.weight"], sd[t + "attn.qkv.bias"]
            for i, n in enumerate(("query", "key", "value")):
                out[f"{a}{n}.weight"] = w[i * D:(i + 1) * D].clone()
                if not (v2 and n == "key"):
                    out[f"{a}{n}.bias"] = bias[i * D:(i + 1) * D].clone()
            for src, dst in [("norm1", "layernorm_before"), ("norm2", "layernorm_after"),
                             ("attn.proj", "attention.output.dense"), ("mlp.0", "intermediate.dense"),
                             ("mlp.3", "output.dense")]:
                out[f"{b}{dst}.weight"] = sd[f"{t}{src}.weight"]
                out[f"{b}{dst}.bias"] = sd[f"{t}{src}.bias"]
            if v2:
                out[a + "logit_scale"] = sd[t + "attn.logit_scale"]
                out[a + "continuous_position_bias_mlp.0.weight"] = sd[t + "attn.cpb_mlp.0.weight"]
                out[a + "continuous_position_bias_mlp.0.bias"] = sd[t + "attn.cpb_mlp.0.bias"]
                out[a + "continuous_position_bias_mlp.2.weight"] = sd[t + "attn.cpb_mlp.2.weight"]
            else:
                out[a + "relative_position_bias_table"] = sd[t + "attn.relative_position_bias_table"]
                out[a + "relative_position_index"] = sd[t + "attn.relative_position_index"]
    return out


def tv_to_timm(sd, v2):
    out = {"patch_embed.proj.weight": sd["features.0.0.weight"], "patch_embed.proj.bias": sd["features.0.0.bias"],
           "patch_embed.norm.weight": sd["features.0.2.weight"], "patch_embed.norm.bias": sd["features.0.2.bias"],
           "norm.weight": sd["norm.weight"], "norm.bias": sd["norm.bias"],
           "head.fc.weight": sd["head.weight"], "head.fc.bias": sd["head.bias"]}
    for s, depth in enumerate(DEPTHS):
        if s > 0:
            for t in ("reduction.weight", "norm.weight", "norm.bias"):
                out[f"layers.{s}.downsample.{t}"] = sd[f"features.{2 * s}.{t}"]
        for l in range(depth):
            t, b = f"features.{2 * s + 1}.{l}.", f"layers.{s}.blocks.{l}."
            for src, dst in [("norm1", "norm1"), ("norm2", "norm2"), ("attn.proj", "attn.proj"),
                             ("mlp.0", "mlp.fc1"), ("mlp.3", "mlp.fc2")]:
                out[f"{b}{dst}.weight"] = sd[f"{t}{src}.weight"]
                out[f"{b}{dst}.bias"] = sd[f"{t}{src}.bias"]
            out[b + "attn.qkv.weight"] = sd[t + "attn.qkv.weight"]
            if v2:
                D = sd[t + "norm1.weight"].numel()
                out[b + "attn.q_bias"] = sd[t + "attn.qkv.bias"][:D].clone()
                out[b + "attn.v_bias"] = sd[t + "attn.qkv.bias"][2 * D:].clone()
                out[b + "attn.logit_scale"] = sd[t + "attn.logit_scale"]
                for k in ("0.weight", "0.bias", "2.weight"):
                    out[f"{b}attn.cpb_mlp.{k}"] = sd[f"{t}attn.cpb_mlp.{k}"]
            else:
                out[b + "attn.qkv.bias"] = sd[t + "attn.qkv.bias"]
                out[b + "attn.relative_position_bias_table"] = sd[t + "attn.relative_position_bias_table"]
    return out


def hf_config(v2):
    return {"model_type": "swinv2" if v2 else "swin",
            "architectures": ["Swinv2ForImageClassification" if v2 else "SwinForImageClassification"],
            "image_size": HW[0], "patch_size": 4, "num_channels": 3, "embed_dim": EMBED, "depths": DEPTHS,
            "num_heads": HEADS, "window_size": WINDOW, "mlp_ratio": 4.0, "qkv_bias": True, "hidden_act": "gelu",
            "layer_norm_eps": 1e-5, "id2label": {str(i): f"class_{i}" for i in range(CLASSES)},
            "label2id": {f"class_{i}": i for i in range(CLASSES)}}


def timm_config(v2):
    return {"architecture": f"swin{'v2' if v2 else ''}_custom_patch4_window{WINDOW}_{HW[0]}",
            "num_classes": CLASSES,
            "model_args": {"img_size": HW[0], "embed_dim": EMBED, "depths": DEPTHS, "num_heads": HEADS,
                           "window_size": WINDOW}}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    only = set(sys.argv[2:])
    known = {"tv_swin", "hf_swin", "timm_swin", "tv_swin_v2", "hf_swinv2", "timm_swinv2", "timm_swinv2_pretrained"}
    unknown = only - known
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {sorted(known)}")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.time()
    hw = [HW, ODD_HW]
    common = (f"embed {EMBED}, depths {DEPTHS}, heads {HEADS}, window {WINDOW}, {CLASSES} classes; ref 64x64 "
              "(16x16, 8x8, 4x4 maps), ref_odd 70x54")
    for v2 in (False, True):
        tag = "_v2" if v2 else ""
        m = build_tv(v2)
        sd32 = g.f32(m.state_dict())
        m.double()
        tv_ref, tv_odd = refs(tv_parts(m))
        sd = g.to64(sd32)
        mine = refs(swin_forward(sd, v2, TV_RULE))
        same(mine[0], tv_ref, 1e-12, f"functional forward vs torchvision{tag}")
        same(mine[1], tv_odd, 1e-12, f"functional forward vs torchvision{tag} (odd)")
        hf_rule = ({"shift": "construction", "grid": [HW[0] // 4, HW[1] // 4], "first_axis": True,
                    "mask_value": -200, "pad_pixels": True} if v2 else
                   {"shift": "hf", "mask_value": -100, "pad_pixels": True})
        hf_ref, hf_odd = refs(swin_forward(sd, v2, hf_rule))
        same(hf_ref, tv_ref, 1e-9 if v2 else 1e-12, f"Hugging Face rules vs torchvision{tag} at 64x64")
        differs(hf_odd, tv_odd, f"Hugging Face vs torchvision rules{tag} at 70x54")
        timm_rule = {"shift": "construction", "grid": [HW[0] // 4, HW[1] // 4], "mask_value": -100}
        timm_ref, _ = refs(swin_forward(sd, v2, timm_rule), odd=False)
        same(timm_ref, tv_ref, 1e-12, f"timm rules vs torchvision{tag} at 64x64")
        if v2:  # timm's "window2to4_32to64" naming: fine-tuned window 4 from pretrained window 2 at 32x32
            pt_ref, _ = refs(swin_forward(sd, v2, {**timm_rule, "pretrained": [2, 2, 2]}), odd=False)
            differs(pt_ref, timm_ref, "pretrained windows 2 vs none")
        what = "Swin V2 (SwinTransformerBlockV2, PatchMergingV2)" if v2 else "Swin (SwinTransformerBlock)"
        cases = {
            f"tv_swin{tag}": (sd32, None, tv_ref, tv_odd, "torchvision",
                              f"torchvision {what} state dict (bare): features.N, norm, head"
                              + ("; stored key bias 0.3 (zeroed by torchvision)" if v2 else "")
                              + "; " + common),
            ("hf_swinv2" if v2 else "hf_swin"): (
                tv_to_hf(sd32, v2), hf_config(v2), hf_ref, hf_odd, "hf",
                f"Hugging Face {'Swinv2' if v2 else 'Swin'}ForImageClassification + config.json, same weights; "
                "odd reference with Hugging Face's rules (pixels padded to 72x56, "
                + ("windows fixed for the 64x64 construction grid, mask added twice" if v2 else
                   "no shift in the 5x4 stage") + "); " + common),
            f"timm_swin{'v2' if v2 else ''}": (
                tv_to_timm(sd32, v2), timm_config(v2), timm_ref, None, "timm",
                f"timm {'swinv2' if v2 else 'swin'} (>= 0.9 names, merging at the start of stages 1..) + hub "
                "config with model_args img_size 64 (timm refuses other sizes); " + common),
        }
        if v2:
            cases["timm_swinv2_pretrained"] = (
                tv_to_timm(sd32, v2), {"architecture": "swinv2_custom_window2to4_32to64", "num_classes": CLASSES},
                pt_ref, None, "timm",
                "timm swinv2 named like swinv2_base_window12to24_192to384 (window 4 fine-tuned from window 2 at "
                "32x32: pretrained windows [2, 2, 2] normalise the continuous-bias offsets), no model_args; same "
                "weights as timm_swinv2; " + common)
        for name, (wsd, cfg, r, ro, layout, checks) in cases.items():
            if only and name not in only:
                continue
            g.write_model(out, name, wsd, cfg)
            g.write_ref(out, name, r)
            suffixes = ["ref"]
            if ro is not None:
                g.write_ref(out, name, ro, "ref_odd")
                suffixes.append("ref_odd")
            g.log(name, r)
            g.record(name, "swin", layout, checks, hw if ro is not None else [HW], cfg, wsd, suffixes)
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump({"generator": "scripts/families/gen_swin_refs.py", "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "pixel_seed": g.PIXEL_SEED,
                   "reference_dtype": "float64 forward, stored as float32",
                   "cases": sorted(g.MANIFEST, key=lambda c: c["name"])}, fh, indent=1)
    print(f"{len(g.MANIFEST)} cases written to {out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
