"""Reference generator for the MobileNet family (MobileNetV2, MobileNetV3 small/large, EfficientNet):
random-init torchvision checkpoints with float64 PyTorch reference outputs.

Usage: /usr/bin/python3 scripts/families/gen_mobilenet_refs.py OUTDIR [name ...]

Follows gen_refs.py's conventions (and reuses its helpers): each case writes OUTDIR/<name>/model.safetensors
(+ config.json where the case has one), OUTDIR/<name>.ref.safetensors for a 64x64 input (B=3) and
OUTDIR/<name>.ref_odd.safetensors for an odd 67x53 input (B=2) with F32 `pixels`, `logits`, `features` (the pooled
vector the classifier reads), `feature_map` (output of the final 1x1 conv + BN + activation, NCHW), `gradcam`
and I32 `target_class`; OUTDIR/manifest.json lists the cases. References are computed in float64
(`model.double()` on the float32 weights as stored). Random init: every conv / linear weight ~ N(0, 1/fan_in),
bias ~ N(0, 0.05^2); BatchNorm affine parameters randomized, running statistics calibrated on noise images
then perturbed (see calibrate_bn); the last classifier layer scaled so
its logits over 64 noise images have a per-class std of about 2 and its bias centred on their mean. Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
Never commit the outputs (they are weights).
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from functools import partial

from torchvision.models import efficientnet_b0, mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small
from torchvision.models.efficientnet import EfficientNet, FusedMBConvConfig, MBConvConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_refs as g  # noqa: E402  (helpers: randomize_*, centre_bias, cnn_ref, writers)

HW, ODD_HW = (64, 64), (67, 53)
CLASSES = 10

def small_efficientnet_v2():
    """torchvision's EfficientNet class with efficientnet_v2_s's structure (fused MBConv stages without and with
    expansion, then MBConv + SE stages; strides 1,2,2,2,1,2; BN eps 0.001, as torchvision's efficientnet_v2_*
    builders) at a fraction of its widths and depths, so the references stay quick."""
    setting = [FusedMBConvConfig(1, 3, 1, 16, 16, 2), FusedMBConvConfig(4, 3, 2, 16, 24, 2),
               FusedMBConvConfig(4, 3, 2, 24, 32, 2), MBConvConfig(4, 3, 2, 32, 48, 2),
               MBConvConfig(6, 3, 1, 48, 64, 2), MBConvConfig(6, 3, 2, 64, 96, 2)]
    return EfficientNet(setting, dropout=0.2, num_classes=CLASSES, last_channel=320,
                        norm_layer=partial(torch.nn.BatchNorm2d, eps=1e-3))


# name -> (constructor, description of what it checks)
CASES = {
    "tv_mobilenet_v2": (
        lambda: mobilenet_v2(width_mult=0.5, num_classes=CLASSES),
        "torchvision mobilenet_v2(width_mult=0.5): stem 16, 17 inverted-residual blocks (the first without "
        "expansion; at this width blocks 3 and 6 keep 16 channels across a stride-2 block, so strides cannot "
        "come from channel changes), final conv 1280, ReLU6, classifier.1"),
    "tv_mobilenet_v3_small": (
        lambda: mobilenet_v3_small(num_classes=CLASSES),
        "torchvision mobilenet_v3_small: 11 blocks, SE (ReLU + Hardsigmoid) in 9, ReLU / Hardswish per block, "
        "BN eps 1e-3, classifier.0 (576->1024) Hardswish classifier.3"),
    "tv_mobilenet_v3_large": (
        lambda: mobilenet_v3_large(width_mult=0.5, num_classes=CLASSES),
        "torchvision mobilenet_v3_large(width_mult=0.5): 15 blocks (the first without expansion, residual), "
        "SE in 8, BN eps 1e-3, classifier.0 (480->1280) Hardswish classifier.3"),
    "tv_efficientnet_b0": (
        lambda: efficientnet_b0(num_classes=CLASSES),
        "torchvision efficientnet_b0: 7 stages of MBConv (16 blocks, 3x3 and 5x5 depthwise, SE with SiLU + "
        "sigmoid in every block), SiLU, BN eps 1e-5, final conv 1280, classifier.1"),
    "tv_efficientnet_v2": (
        small_efficientnet_v2,
        "torchvision EfficientNet (efficientnet_v2_s's 6-stage structure at widths 16..96, 2 blocks per stage): "
        "FusedMBConv without expansion (3x3 conv + BN + SiLU, residual after the activation), FusedMBConv with "
        "expansion (3x3 conv to 4x + 1x1 project), MBConv with SE; BN eps 0.001; final conv 320, classifier.1"),
}


# timm's stage grouping of MobileNetV3's 15 / 11 blocks (its arch_def), before the final ConvBnAct stage.
TIMM_V3_STAGES = {15: [1, 2, 3, 4, 2, 3], 11: [1, 2, 3, 2, 3]}


def tv_block_to_timm(sd, src, dst, out):
    """One torchvision block Sequential `src` (Conv2dNormActivation children `.0`/`.1`, SE `.fc1/.fc2`)
    renamed to timm's InvertedResidual (conv_pw/bn1, conv_dw/bn2, se, conv_pwl/bn3) or, without an
    expansion, DepthwiseSeparableConv (conv_dw/bn1, se, conv_pw/bn2)."""
    kids = sorted({int(k[len(src) + 1:].split(".")[0]) for k in sd if k.startswith(src + ".")})
    convs = [i for i in kids if f"{src}.{i}.0.weight" in sd]
    se = [i for i in kids if f"{src}.{i}.fc1.weight" in sd]
    first = sd[f"{src}.{convs[0]}.0.weight"].shape
    fused = not se and first[1] != 1 and first[2] > 1  # EfficientNetV2's FusedMBConv: a full k x k conv first
    if fused:  # timm EdgeResidual, or ConvBnAct without expansion
        names = [("conv_exp", "bn1"), ("conv_pwl", "bn2")] if len(convs) == 2 else [("conv", "bn1")]
    elif len(convs) == 3:
        names = [("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")]
    else:
        names = [("conv_dw", "bn1"), ("conv_pw", "bn2")]
    for i, (c, b) in zip(convs, names):
        for k, v in sd.items():
            if k.startswith(f"{src}.{i}.0."):
                out[f"{dst}.{c}.{k[len(f'{src}.{i}.0.'):]}"] = v
            elif k.startswith(f"{src}.{i}.1."):
                out[f"{dst}.{b}.{k[len(f'{src}.{i}.1.'):]}"] = v
    for i in se:
        for a, b in (("fc1", "conv_reduce"), ("fc2", "conv_expand")):
            for t in ("weight", "bias"):
                out[f"{dst}.se.{b}.{t}"] = sd[f"{src}.{i}.{a}.{t}"]


def tv_to_timm(sd, arch):
    """torchvision efficientnet_b* / efficientnet_v2_* / mobilenet_v3_* state dict -> timm efficientnet_b* /
    efficientnetv2_* / mobilenetv3_*."""
    out = {}
    for k, v in sd.items():
        if k.startswith("features.0.0."):
            out["conv_stem." + k[len("features.0.0."):]] = v
        elif k.startswith("features.0.1."):
            out["bn1." + k[len("features.0.1."):]] = v
    last = max(int(k.split(".")[1]) for k in sd if k.startswith("features."))
    if arch == "efficientnet":
        for s in range(1, last):
            n = len({k.split(".")[2] for k in sd if k.startswith(f"features.{s}.")})
            for j in range(n):
                tv_block_to_timm(sd, f"features.{s}.{j}.block", f"blocks.{s - 1}.{j}", out)
        head = {"conv_head": f"features.{last}.0", "bn2": f"features.{last}.1", "classifier": "classifier.1"}
    else:
        i = 1
        stages = TIMM_V3_STAGES[last - 1]
        for s, n in enumerate(stages):
            for j in range(n):
                tv_block_to_timm(sd, f"features.{i}.block", f"blocks.{s}.{j}", out)
                i += 1
        cn = f"blocks.{len(stages)}.0"
        head = {f"{cn}.conv": f"features.{last}.0", f"{cn}.bn1": f"features.{last}.1", "classifier": "classifier.3"}
        out["conv_head.weight"] = sd["classifier.0.weight"][:, :, None, None]
        out["conv_head.bias"] = sd["classifier.0.bias"]
    for d, src in head.items():
        for k, v in sd.items():
            if k.startswith(src + "."):
                out[d + "." + k[len(src) + 1:]] = v
    assert len(out) == len(sd), (len(out), len(sd))
    return out


def calibrate_bn(m):
    """Random BatchNorm statistics alone let a deep random network's features collapse (they stop depending
    on the input, and a spread classifier then amplifies float32 rounding). So the running statistics are
    set to the batch statistics of 32 noise images (one pass with only the BatchNorms in training mode,
    cumulative average), then perturbed: mean += N(0, 0.1^2) * std, var *= U(0.8, 1.25). The affine
    parameters keep gen_refs.randomize_bn's U(0.5, 1.5) / N(0, 0.1^2)."""
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    m.eval()
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    with torch.no_grad():
        m(g.noise_batch(32, *HW))
    for bn in bns:
        bn.eval()
        std = bn.running_var.sqrt()
        bn.running_mean.data += 0.1 * torch.randn(bn.num_features) * std
        bn.running_var.data *= 0.8 + 0.45 * torch.rand(bn.num_features)
        bn.num_batches_tracked.fill_(100)


def build(name):
    torch.manual_seed(0)
    ctor, checks = CASES[name]
    m = ctor()
    g.randomize_dense(m)
    g.randomize_bn(m)
    calibrate_bn(m)
    m.eval()

    def head_fn(a, mm=m):
        p = F.adaptive_avg_pool2d(a, 1).flatten(1)  # MobileNetV2 has no avgpool module
        return p, mm.classifier(p)

    last = [mod for mod in m.classifier if isinstance(mod, torch.nn.Linear)][-1]
    with torch.no_grad():
        p = F.adaptive_avg_pool2d(m.features(g.noise_batch(64, *HW)), 1).flatten(1)
        z = p
        for mod in m.classifier:
            if mod is last:
                break
            z = mod(z)
    g.spread_head(last, z)  # logits that depend on the input: per-class std about 2 over the noise
    last.bias.data = g.centre_bias(last.weight, z)
    sd = g.f32(m.state_dict())
    m.double()
    ref = g.cnn_ref(m.features, head_fn, g.pixels_for(3, *HW))
    odd = g.cnn_ref(m.features, head_fn, g.pixels_for(2, *ODD_HW))
    with torch.no_grad():  # the split forward is the module's own forward
        assert g.max_rel(m(ref["pixels"].double()), ref["logits"]) < 1e-12
        assert g.max_rel(m(odd["pixels"].double()), odd["logits"]) < 1e-12
    return sd, ref, odd, checks


# timm renamings of torchvision cases: name -> (torchvision case, arch, config.json or None, BN eps, checks)
TIMM_CASES = {
    "timm_efficientnet_b0": (
        "tv_efficientnet_b0", "efficientnet", {"architecture": "efficientnet_b0", "num_classes": CLASSES}, 1e-5,
        "the tv_efficientnet_b0 weights renamed to timm efficientnet_b0 (conv_stem, bn1, blocks.S.B.{conv_dw,bn1,"
        "se.conv_reduce,se.conv_expand,conv_pw,bn2} for the first (DepthwiseSeparableConv) block, {conv_pw,bn1,"
        "conv_dw,bn2,se.*,conv_pwl,bn3} for the others, conv_head, bn2, classifier) with a timm hub config; "
        "timm's BN eps 1e-5 equals torchvision's, so the references are the torchvision ones"),
    "timm_mobilenetv3_large": (
        "tv_mobilenet_v3_large", "mobilenet_v3", None, 1e-5,
        "the tv_mobilenet_v3_large weights renamed to timm mobilenetv3_large_* (stages of 1,2,3,4,2,3 blocks, the "
        "final 1x1 ConvBnAct as blocks.6.0.{conv,bn1}, classifier.0 as conv_head [640,480,1,1] with bias on the "
        "pooled features, classifier.3 as classifier), no config.json (detected from names); references from the "
        "torchvision module with every BatchNorm eps set to timm's 1e-5"),
    "timm_efficientnetv2": (
        "tv_efficientnet_v2", "efficientnet", None, 1e-5,
        "the tv_efficientnet_v2 weights renamed to timm efficientnetv2_* (blocks.0.j.{conv,bn1} ConvBnAct, "
        "blocks.1-2.j.{conv_exp,bn1,conv_pwl,bn2} EdgeResidual, InvertedResidual after), no config.json "
        "(detected from names); references from the torchvision module with timm's BN eps 1e-5"),
}


def build_timm(name, tv_sd):
    tv_name, arch, config, eps, checks = TIMM_CASES[name]
    m = CASES[tv_name][0]()
    m.load_state_dict(tv_sd)
    for bn in m.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.eps = eps
    m.eval().double()

    def head_fn(a, mm=m):
        p = F.adaptive_avg_pool2d(a, 1).flatten(1)
        return p, mm.classifier(p)

    ref = g.cnn_ref(m.features, head_fn, g.pixels_for(3, *HW))
    odd = g.cnn_ref(m.features, head_fn, g.pixels_for(2, *ODD_HW))
    return tv_to_timm(tv_sd, arch), config, ref, odd, checks


# ------------------------------------------------------------------ padding: TensorFlow "same", Hugging Face

def tf_same_pad(n, k, s, d=1):
    """TensorFlow SAME along one axis (timm's pad_same / get_same_padding, HF's apply_tf_padding):
    total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0), [total // 2 before, the rest after]."""
    total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


class PadConv(torch.nn.Module):
    """`conv` run on an explicitly zero-padded input with no padding of its own: `pad` is "same"
    (TensorFlow's rule from the input size, as timm's Conv2dSame and HF MobileNetV2's tf_padding) or a fixed
    (left, right, top, bottom) as HF EfficientNet's nn.ZeroPad2d before a padding="valid" conv."""

    def __init__(self, conv, pad):
        super().__init__()
        self.conv, self.pad = conv, pad

    def forward(self, x):
        c = self.conv
        if self.pad == "same":
            t, b = tf_same_pad(x.shape[-2], c.kernel_size[0], c.stride[0], c.dilation[0])
            le, r = tf_same_pad(x.shape[-1], c.kernel_size[1], c.stride[1], c.dilation[1])
            pad = (le, r, t, b)
        else:
            pad = self.pad
        return F.conv2d(F.pad(x, pad), c.weight, c.bias, c.stride, 0, c.dilation, c.groups)


def repad(m, pad_of):
    """Replaces every Conv2d `c` of `m` for which pad_of(c) is not None by PadConv(c, pad_of(c))."""
    for name, child in list(m.named_children()):
        if isinstance(child, torch.nn.Conv2d):
            pad = pad_of(child)
            if pad is not None:
                setattr(m, name, PadConv(child, pad))
        else:
            repad(child, pad_of)
    return m


def check_same_pad_coincides():
    """Where TensorFlow SAME is PyTorch's symmetric k // 2 (stride 1, odd k; stride 2 on an odd input for
    k = 3), PadConv(conv, "same") must equal the conv itself."""
    torch.manual_seed(5)
    for k, stride, hw in ((3, 1, (10, 9)), (5, 1, (8, 11)), (3, 2, (11, 9))):
        conv = torch.nn.Conv2d(4, 6, k, stride, k // 2).double()
        x = torch.randn(2, 4, *hw, dtype=torch.float64)
        with torch.no_grad():
            assert g.max_rel(PadConv(conv, "same")(x), conv(x)) < 1e-14, (k, stride, hw)


def set_bn_eps(m, eps):
    for bn in m.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.eps = eps
    return m


def avg_head(m, pool=None):
    """(pooled, logits) from the final feature map: adaptive mean (torchvision) or `pool` (HF EfficientNet's
    AvgPool2d(hidden_dim, ceil_mode=True), the mean over a map smaller than hidden_dim)."""
    def head_fn(a):
        p = (pool(a) if pool else F.adaptive_avg_pool2d(a, 1)).flatten(1)
        return p, m.classifier(p)
    return head_fn


def hf_labels(classes):
    return {"id2label": {str(i): f"class_{i}" for i in range(classes)},
            "label2id": {f"class_{i}": i for i in range(classes)}}


def tv_mobilenet_v2_to_hf(sd):
    """torchvision mobilenet_v2 -> HF MobileNetV2ForImageClassification: features.0 = conv_stem.first_conv,
    features.1 (no expansion) = conv_stem.{conv_3x3, reduce_1x1}, features.i = layer.(i-2).{expand_1x1,
    conv_3x3, reduce_1x1}, features.18 = conv_1x1, classifier.1 = classifier."""
    last = max(int(k.split(".")[1]) for k in sd if k.startswith("features."))
    pairs = [("features.0.0.", "conv_stem.first_conv.convolution."),
             ("features.0.1.", "conv_stem.first_conv.normalization."),
             ("features.1.conv.0.0.", "conv_stem.conv_3x3.convolution."),
             ("features.1.conv.0.1.", "conv_stem.conv_3x3.normalization."),
             ("features.1.conv.1.", "conv_stem.reduce_1x1.convolution."),
             ("features.1.conv.2.", "conv_stem.reduce_1x1.normalization."),
             (f"features.{last}.0.", "conv_1x1.convolution."),
             (f"features.{last}.1.", "conv_1x1.normalization.")]
    for i in range(2, last):
        for src, dst in (("0.0", "expand_1x1.convolution"), ("0.1", "expand_1x1.normalization"),
                         ("1.0", "conv_3x3.convolution"), ("1.1", "conv_3x3.normalization"),
                         ("2", "reduce_1x1.convolution"), ("3", "reduce_1x1.normalization")):
            pairs.append((f"features.{i}.conv.{src}.", f"layer.{i - 2}.{dst}."))
    out = {}
    for k, v in sd.items():
        if k.startswith("classifier.1."):
            out["classifier." + k[len("classifier.1."):]] = v
            continue
        src = next(p for p in pairs if k.startswith(p[0]))
        out["mobilenet_v2." + src[1] + k[len(src[0]):]] = v
    assert len(out) == len(sd)
    return out


def tv_efficientnet_to_hf(sd):
    """torchvision efficientnet_b* -> HF EfficientNetForImageClassification (blocks numbered across stages)."""
    out = {}
    last = max(int(k.split(".")[1]) for k in sd if k.startswith("features."))
    heads = {"features.0.0.": "efficientnet.embeddings.convolution.",
             "features.0.1.": "efficientnet.embeddings.batchnorm.",
             f"features.{last}.0.": "efficientnet.encoder.top_conv.",
             f"features.{last}.1.": "efficientnet.encoder.top_bn.", "classifier.1.": "classifier."}
    for k, v in sd.items():
        for src, dst in heads.items():
            if k.startswith(src):
                out[dst + k[len(src):]] = v
    b = 0
    for s in range(1, last):
        for j in range(len({k.split(".")[2] for k in sd if k.startswith(f"features.{s}.")})):
            src = f"features.{s}.{j}.block"
            kids = sorted({int(k[len(src) + 1:].split(".")[0]) for k in sd if k.startswith(src + ".")})
            names = ["expansion.expand_", "depthwise_conv.depthwise_", None, "projection.project_"][4 - len(kids):]
            dst = f"efficientnet.encoder.blocks.{b}"
            for i, nm in zip(kids, names):
                for k, v in sd.items():
                    if nm is None and k.startswith(f"{src}.{i}.fc"):
                        fc, t = k[len(f"{src}.{i}."):].split(".")
                        out[f"{dst}.squeeze_excite.{'reduce' if fc == 'fc1' else 'expand'}.{t}"] = v
                    elif nm and k.startswith(f"{src}.{i}.0."):
                        out[f"{dst}.{nm}conv.{k[len(f'{src}.{i}.0.'):]}"] = v
                    elif nm and k.startswith(f"{src}.{i}.1."):
                        bn = {"expansion.expand_": "expansion.expand_bn", "depthwise_conv.depthwise_":
                              "depthwise_conv.depthwise_norm", "projection.project_": "projection.project_bn"}[nm]
                        out[f"{dst}.{bn}.{k[len(f'{src}.{i}.1.'):]}"] = v
            b += 1
    assert len(out) == len(sd), (len(out), len(sd))
    return out


def hf_efficientnet_pads(m):
    """HF EfficientNet's padding on a torchvision efficientnet module: the stem conv gets ZeroPad2d((0, 1,
    0, 1)), every stride-2 depthwise conv ZeroPad2d((k//2 - 1, k//2, k//2 - 1, k//2)) (correct_pad with
    adjust, no block in depthwise_padding), both then padding "valid"; stride-1 convs keep k // 2 (HF's
    padding="same" for odd k)."""
    stem = m.features[0][0]

    def pad_of(c):
        if c is stem:
            return (0, 1, 0, 1)
        if c.stride[0] == 2:
            h = c.kernel_size[0] // 2
            return (h - 1, h, h - 1, h)
        return None
    return repad(m, pad_of)


# Renamed torchvision cases with their own padding / eps:
# name -> (torchvision case, layout, rename(sd), config, eps, padding ("same" | "hf_efficientnet"), checks)
PADDED_CASES = {
    "hf_mobilenet_v2": (
        "tv_mobilenet_v2", "hf", tv_mobilenet_v2_to_hf,
        {"model_type": "mobilenet_v2", "architectures": ["MobileNetV2ForImageClassification"],
         "depth_multiplier": 0.5, "tf_padding": True, "layer_norm_eps": 0.001, "hidden_act": "relu6",
         "first_layer_is_expansion": True, "finegrained_output": True, **hf_labels(CLASSES)},
        1e-3, "same",
        "the tv_mobilenet_v2 weights renamed to HF MobileNetV2ForImageClassification (mobilenet_v2.conv_stem."
        "{first_conv,conv_3x3,reduce_1x1}, mobilenet_v2.layer.N.{expand_1x1,conv_3x3,reduce_1x1}.{convolution,"
        "normalization}, conv_1x1, classifier); references: the torchvision module with BN eps 0.001 and every "
        "conv on a TensorFlow-SAME-padded input (tf_padding true)"),
    "hf_efficientnet_b0": (
        "tv_efficientnet_b0", "hf", tv_efficientnet_to_hf,
        {"model_type": "efficientnet", "architectures": ["EfficientNetForImageClassification"],
         "width_coefficient": 1.0, "depth_coefficient": 1.0, "hidden_dim": 1280, "batch_norm_eps": 0.001,
         "hidden_act": "swish", "strides": [1, 2, 2, 2, 1, 2, 1], "kernel_sizes": [3, 3, 5, 3, 5, 5, 3],
         "num_block_repeats": [1, 2, 2, 3, 3, 4, 1], "expand_ratios": [1, 6, 6, 6, 6, 6, 6],
         "depthwise_padding": [], "pooling_type": "mean", **hf_labels(CLASSES)},
        1e-3, "hf_efficientnet",
        "the tv_efficientnet_b0 weights renamed to HF EfficientNetForImageClassification (efficientnet."
        "embeddings, encoder.blocks.N.{expansion,depthwise_conv,squeeze_excite,projection}, top_conv/top_bn, "
        "classifier); references: HF's padding (stem ZeroPad2d(0,1,0,1), stride-2 depthwise ZeroPad2d(k/2-1, "
        "k/2) + valid), BN eps 0.001, AvgPool2d(1280, ceil_mode=True) pooling"),
    "timm_tf_efficientnet_b0": (
        "tv_efficientnet_b0", "timm", lambda sd: tv_to_timm(sd, "efficientnet"),
        {"architecture": "tf_efficientnet_b0", "num_classes": CLASSES}, 1e-3, "same",
        "the tv_efficientnet_b0 weights renamed to timm tf_efficientnet_b0; references: the torchvision module "
        "with BN eps 0.001 and every conv TensorFlow-SAME padded (timm's Conv2dSame)"),
    "timm_tf_efficientnetv2": (
        "tv_efficientnet_v2", "timm", lambda sd: tv_to_timm(sd, "efficientnet"),
        {"architecture": "tf_efficientnetv2_s", "num_classes": CLASSES}, 1e-3, "same",
        "the tv_efficientnet_v2 weights renamed to timm tf_efficientnetv2_* (fused blocks with TensorFlow SAME "
        "padding on their full 3x3 convs); references: the torchvision module with every conv SAME-padded"),
    "timm_tf_mobilenetv3_large": (
        "tv_mobilenet_v3_large", "timm", lambda sd: tv_to_timm(sd, "mobilenet_v3"),
        {"architecture": "tf_mobilenetv3_large_100", "num_classes": CLASSES}, 1e-3, "same",
        "the tv_mobilenet_v3_large weights renamed to timm tf_mobilenetv3_large_100; references: the "
        "torchvision module (BN eps 0.001 as timm's tf_*) with every conv TensorFlow-SAME padded"),
}


def build_padded(name, tv_sd):
    tv_name, _layout, rename, config, eps, padding, checks = PADDED_CASES[name]
    m = CASES[tv_name][0]()
    m.load_state_dict(tv_sd)
    set_bn_eps(m, eps).eval().double()
    pool = None
    if padding == "same":
        repad(m, lambda c: "same")
    else:
        hf_efficientnet_pads(m)
        pool = torch.nn.AvgPool2d(config["hidden_dim"], ceil_mode=True)
    ref = g.cnn_ref(m.features, avg_head(m, pool), g.pixels_for(3, *HW))
    odd = g.cnn_ref(m.features, avg_head(m, pool), g.pixels_for(2, *ODD_HW))
    return rename(tv_sd), config, ref, odd, checks


def cross_check_paddings(refs):
    """At 64x64 every stride-2 input is even, where HF EfficientNet's fixed pads are TensorFlow SAME's: the HF
    and tf_ references must agree; at 67x53 they must not (the stem alone gives 33x27 against 34x27)."""
    hf, tf = refs.get("hf_efficientnet_b0"), refs.get("timm_tf_efficientnet_b0")
    if hf and tf:
        assert g.max_rel(hf[0]["logits"], tf[0]["logits"]) < 1e-12
        assert hf[1]["feature_map"].shape != tf[1]["feature_map"].shape


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    only = set(sys.argv[2:])
    known = set(CASES) | set(TIMM_CASES) | set(PADDED_CASES)
    unknown = only - known
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {sorted(known)}")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.time()
    check_same_pad_coincides()
    tv_sds = {}
    for name in CASES:
        wanted = {name} | {t for t, c in {**TIMM_CASES, **PADDED_CASES}.items() if c[0] == name}
        if only and not (only & wanted):
            continue
        sd, ref, odd, checks = build(name)
        tv_sds[name] = sd
        if only and name not in only:
            continue
        g.write_model(out, name, sd, None)
        g.write_ref(out, name, ref)
        g.write_ref(out, name, odd, "ref_odd")
        g.log(name, ref)
        g.log(f"{name} (odd)", odd)
        g.record(name, "mobilenet", "torchvision", checks, [HW, ODD_HW], None, sd, ["ref", "ref_odd"])
    for name, (tv_name, *_rest) in TIMM_CASES.items():
        if only and name not in only:
            continue
        sd, config, ref, odd, checks = build_timm(name, tv_sds[tv_name])
        g.write_model(out, name, sd, config)
        g.write_ref(out, name, ref)
        g.write_ref(out, name, odd, "ref_odd")
        g.log(name, ref)
        g.record(name, "mobilenet", "timm", checks, [HW, ODD_HW], config, sd, ["ref", "ref_odd"])
    padded = {}
    for name, (tv_name, layout, *_rest) in PADDED_CASES.items():
        if only and name not in only:
            continue
        sd, config, ref, odd, checks = build_padded(name, tv_sds[tv_name])
        padded[name] = (ref, odd)
        g.write_model(out, name, sd, config)
        g.write_ref(out, name, ref)
        g.write_ref(out, name, odd, "ref_odd")
        g.log(name, ref)
        g.log(f"{name} (odd)", odd)
        g.record(name, "mobilenet", layout, checks, [HW, ODD_HW], config, sd, ["ref", "ref_odd"])
    cross_check_paddings(padded)
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump({"generator": "scripts/families/gen_mobilenet_refs.py", "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "pixel_seed": g.PIXEL_SEED,
                   "reference_dtype": "float64 forward, stored as float32",
                   "cases": sorted(g.MANIFEST, key=lambda c: c["name"])}, fh, indent=1)
    print(f"{len(g.MANIFEST)} cases written to {out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
