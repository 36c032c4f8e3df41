"""Reference generator for the MobileNet family (MobileNetV2, MobileNetV3 small/large, EfficientNet):
random-init torchvision checkpoints with float64 PyTorch reference outputs.

Usage: /usr/bin/python3 scripts/families/gen_mobilenet_refs.py OUTDIR [name ...]

Follows gen_refs.py's conventions (and reuses its helpers): each case writes OUTDIR/<name>/model.safetensors
(+ config.json where the case has one), OUTDIR/<name>.ref.safetensors for a 64x64 input (B=3) and
OUTDIR/<name>.ref_odd.safetensors for a 72x56 input (B=2) with F32 `pixels`, `logits`, `features` (the pooled
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
from torchvision.models import efficientnet_b0, mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_refs as g  # noqa: E402  (helpers: randomize_*, centre_bias, cnn_ref, writers)

HW, ODD_HW = (64, 64), (72, 56)
CLASSES = 10

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
}


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


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    only = set(sys.argv[2:])
    unknown = only - set(CASES)
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {sorted(CASES)}")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.time()
    for name in CASES:
        if only and name not in only:
            continue
        sd, ref, odd, checks = build(name)
        g.write_model(out, name, sd, None)
        g.write_ref(out, name, ref)
        g.write_ref(out, name, odd, "ref_odd")
        g.log(name, ref)
        g.log(f"{name} (odd)", odd)
        g.record(name, "mobilenet", "torchvision", checks, [HW, ODD_HW], None, sd, ["ref", "ref_odd"])
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump({"generator": "scripts/families/gen_mobilenet_refs.py", "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "pixel_seed": g.PIXEL_SEED,
                   "reference_dtype": "float64 forward, stored as float32",
                   "cases": sorted(g.MANIFEST, key=lambda c: c["name"])}, fh, indent=1)
    print(f"{len(g.MANIFEST)} cases written to {out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
