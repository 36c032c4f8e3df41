"""QA checkpoint generator: random-init models in the layouts visioneval claims to read, plus the
PyTorch reference logits for a fixed random input, so `scripts/qa/compare.ts` can check the engine.

Usage: /usr/bin/python3 scripts/qa/gen_models.py OUTDIR [name ...]
Each model goes to OUTDIR/<name>/ with model.safetensors (+ config.json when the layout has one) and
OUTDIR/<name>.ref.safetensors holding `pixels` [B,3,H,W] (normalised input) and `logits` [B,C].
Never commit the outputs (weights); they are for manual verification.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402


def randomize_bn(model):
    """Non-trivial BatchNorm statistics (random init has mean 0 / var 1, which hides folding bugs)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.2 * torch.randn(n, generator=g)
            m.running_mean.data = 0.2 * torch.randn(n, generator=g)
            m.running_var.data = 0.5 + torch.rand(n, generator=g)
            m.num_batches_tracked.fill_(123)


def write(out, name, sd, config, pixels, logits, dtype=torch.float32, extra_files=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}
    st.save(os.path.join(d, "model.safetensors"), sd, {"format": "pt"})
    if config is not None:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
    for fn, obj in (extra_files or {}).items():
        with open(os.path.join(d, fn), "w") as f:
            json.dump(obj, f, indent=1)
    st.save(os.path.join(out, name + ".ref.safetensors"), {"pixels": pixels, "logits": logits})
    print(f"{name}: {len(sd)} tensors, logits {tuple(logits.shape)}, max|ref| {logits.abs().max():.4g}")


def ref_forward(model, pixels, dtype):
    # The reference runs on the weights as stored (rounded to F16/BF16 when written that way).
    if dtype != torch.float32:
        model = model.to(dtype).to(torch.float32)
    model = model.double().eval()
    with torch.no_grad():
        return model(pixels.double()).float(), model


def tv_resnet(out, arch, num_classes, h, w, dtype, config, suffix=""):
    torch.manual_seed(0)
    m = getattr(torchvision.models, arch)(num_classes=num_classes)
    randomize_bn(m)
    pixels = torch.randn(2, 3, h, w)
    logits, m = ref_forward(m, pixels, dtype)
    write(out, f"tv_{arch}{suffix}", m.float().state_dict(), config, pixels, logits, dtype)


# ---------------------------------------------------------------- CIFAR ResNet-(6n+2), option-A shortcut
class CifarBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        s = x
        if self.stride != 1 or self.pad:
            s = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad // 2, self.pad // 2))
        return F.relu(y + s)


class CifarResNet(nn.Module):
    def __init__(self, n, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for i, w in enumerate([16, 32, 64]):
            blocks = []
            for j in range(n):
                blocks.append(CifarBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(x.mean((2, 3)))


def cifar_resnet(out, name, n=3):
    torch.manual_seed(0)
    m = CifarResNet(n)
    randomize_bn(m)
    pixels = torch.randn(2, 3, 32, 32)
    logits, m = ref_forward(m, pixels, torch.float32)
    write(out, name, m.float().state_dict(), None, pixels, logits)


# ---------------------------------------------------------------- HF ResNet (transformers layout)
class HFConvLayer(nn.Module):
    def __init__(self, cin, cout, k=3, stride=1, act=True):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.normalization = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x):
        x = self.normalization(self.convolution(x))
        return F.relu(x) if self.act else x


class HFShortcut(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, 1, stride, bias=False)
        self.normalization = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.normalization(self.convolution(x))


class HFBasic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.shortcut = HFShortcut(cin, cout, stride) if (cin != cout or stride != 1) else nn.Identity()
        self.layer = nn.Sequential(HFConvLayer(cin, cout, 3, stride), HFConvLayer(cout, cout, 3, act=False))

    def forward(self, x):
        return F.relu(self.layer(x) + self.shortcut(x))


class HFBottleneck(nn.Module):
    def __init__(self, cin, cout, stride, reduction=4, downsample_in_bottleneck=False):
        super().__init__()
        red = cout // reduction
        self.shortcut = HFShortcut(cin, cout, stride) if (cin != cout or stride != 1) else nn.Identity()
        s1, s2 = (stride, 1) if downsample_in_bottleneck else (1, stride)
        self.layer = nn.Sequential(HFConvLayer(cin, red, 1, s1), HFConvLayer(red, red, 3, s2),
                                   HFConvLayer(red, cout, 1, act=False))

    def forward(self, x):
        return F.relu(self.layer(x) + self.shortcut(x))


class HFStage(nn.Module):
    def __init__(self, block, cin, cout, stride, depth, dib):
        super().__init__()
        mk = (lambda i, o, s: HFBottleneck(i, o, s, downsample_in_bottleneck=dib)) if block == "bottleneck" \
            else HFBasic
        self.layers = nn.Sequential(mk(cin, cout, stride), *[mk(cout, cout, 1) for _ in range(depth - 1)])

    def forward(self, x):
        return self.layers(x)


class HFResNet(nn.Module):
    def __init__(self, cfg, num_labels):
        super().__init__()
        e = cfg["embedding_size"]
        self.embedder = nn.Module()
        self.embedder.embedder = HFConvLayer(3, e, 7, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        hs, depths = cfg["hidden_sizes"], cfg["depths"]
        stages = [HFStage(cfg["layer_type"], e, hs[0], 2 if cfg["downsample_in_first_stage"] else 1, depths[0],
                          cfg.get("downsample_in_bottleneck", False))]
        for i in range(1, len(hs)):
            stages.append(HFStage(cfg["layer_type"], hs[i - 1], hs[i], 2, depths[i],
                                  cfg.get("downsample_in_bottleneck", False)))
        self.encoder = nn.Module()
        self.encoder.stages = nn.ModuleList(stages)
        self.head = nn.Linear(hs[-1], num_labels)

    def forward(self, x):
        x = self.pool(self.embedder.embedder(x))
        for s in self.encoder.stages:
            x = s(x)
        return self.head(x.mean((2, 3)))


def hf_resnet(out, name, layer_type, depths, hidden, emb, dfs, dib, num_labels=7, h=64, w=80):
    cfg = {"model_type": "resnet", "architectures": ["ResNetForImageClassification"], "num_channels": 3,
           "embedding_size": emb, "hidden_sizes": hidden, "depths": depths, "layer_type": layer_type,
           "hidden_act": "relu", "downsample_in_first_stage": dfs, "downsample_in_bottleneck": dib,
           "id2label": {str(i): f"class_{i}" for i in range(num_labels)},
           "label2id": {f"class_{i}": i for i in range(num_labels)}}
    torch.manual_seed(0)
    m = HFResNet(cfg, num_labels)
    randomize_bn(m)
    pixels = torch.randn(2, 3, h, w)
    logits, m = ref_forward(m, pixels, torch.float32)
    sd = {}
    for k, v in m.float().state_dict().items():
        if k.startswith("embedder.") or k.startswith("encoder."):
            sd["resnet." + k] = v
        elif k.startswith("head."):
            sd["classifier.1." + k[5:]] = v
    write(out, name, sd, cfg, pixels, logits)


# ---------------------------------------------------------------- ViT (timm / HF layouts)
class Block(nn.Module):
    def __init__(self, d, heads, qkv_bias=True, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d, bias=qkv_bias)
        self.attn.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, 4 * d)
        self.mlp.fc2 = nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.attn.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1)
        x = x + self.attn.proj((a @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class TimmViT(nn.Module):
    def __init__(self, img, patch, d, depth, heads, classes, qkv_bias=True, eps=1e-6, dist=False, aa=False):
        super().__init__()
        self.aa = aa  # timm resamples with antialias=True, Hugging Face without
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, d, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.5)
        self.extra = 2 if dist else 1
        if dist:
            self.dist_token = nn.Parameter(torch.randn(1, 1, d) * 0.5)
        self.grid = img // patch
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid ** 2 + self.extra, d) * 0.5)
        self.blocks = nn.Sequential(*[Block(d, heads, qkv_bias, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(d, eps=eps)
        self.head = nn.Linear(d, classes)
        if dist:
            self.head_dist = nn.Linear(d, classes)
        for p in self.parameters():  # larger than default init so errors show
            if p.dim() == 1:
                p.data.normal_(0, 0.3)

    def pos(self, gh, gw):
        pe = self.pos_embed
        if (gh, gw) == (self.grid, self.grid):
            return pe
        extra, grid = pe[:, :self.extra], pe[:, self.extra:]
        d = pe.shape[-1]
        grid = grid.reshape(1, self.grid, self.grid, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False, antialias=self.aa)
        return torch.cat([extra, grid.permute(0, 2, 3, 1).reshape(1, gh * gw, d)], 1)

    def forward(self, x):
        x = self.patch_embed.proj(x)
        gh, gw = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        toks = [self.cls_token.expand(x.shape[0], -1, -1)]
        if self.extra == 2:
            toks.append(self.dist_token.expand(x.shape[0], -1, -1))
        x = torch.cat(toks + [x], 1) + self.pos(gh, gw)
        x = self.norm(self.blocks(x))
        if self.extra == 2:
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        return self.head(x[:, 0])


def timm_vit(out, name, img=64, patch=8, d=48, depth=2, heads=3, classes=10, eval_hw=(96, 96), dist=False,
             config=True):
    torch.manual_seed(0)
    m = TimmViT(img, patch, d, depth, heads, classes, aa=True, dist=dist)
    pixels = torch.randn(2, 3, *eval_hw)
    logits, m = ref_forward(m, pixels, torch.float32)
    cfg = {"architecture": f"vit_custom_patch{patch}_{img}", "num_classes": classes, "num_features": d,
           "global_pool": "token",
           "model_args": {"img_size": img, "patch_size": patch, "embed_dim": d, "depth": depth, "num_heads": heads},
           "pretrained_cfg": {"input_size": [3, img, img], "interpolation": "bicubic", "crop_pct": 0.9,
                              "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": classes}}
    write(out, name, m.float().state_dict(), cfg if config else None, pixels, logits)


def hf_vit(out, name, model_type="vit", img=64, patch=8, d=48, depth=2, heads=3, classes=10,
           qkv_bias=True, eval_hw=(64, 64), dist=False, eps=1e-12):
    torch.manual_seed(0)
    m = TimmViT(img, patch, d, depth, heads, classes, qkv_bias=qkv_bias, eps=eps, dist=dist)
    pixels = torch.randn(2, 3, *eval_hw)
    logits, m = ref_forward(m, pixels, torch.float32)
    s = m.float().state_dict()
    p = "deit" if model_type == "deit" else "vit"
    sd = {f"{p}.embeddings.cls_token": s["cls_token"], f"{p}.embeddings.position_embeddings": s["pos_embed"],
          f"{p}.embeddings.patch_embeddings.projection.weight": s["patch_embed.proj.weight"],
          f"{p}.embeddings.patch_embeddings.projection.bias": s["patch_embed.proj.bias"],
          f"{p}.layernorm.weight": s["norm.weight"], f"{p}.layernorm.bias": s["norm.bias"]}
    if dist:
        sd[f"{p}.embeddings.distillation_token"] = s["dist_token"]
        sd["cls_classifier.weight"], sd["cls_classifier.bias"] = s["head.weight"], s["head.bias"]
        sd["distillation_classifier.weight"], sd["distillation_classifier.bias"] = s["head_dist.weight"], s["head_dist.bias"]
    else:
        sd["classifier.weight"], sd["classifier.bias"] = s["head.weight"], s["head.bias"]
    for i in range(depth):
        b, L = f"blocks.{i}.", f"{p}.encoder.layer.{i}."
        qw = s[b + "attn.qkv.weight"].chunk(3)
        for j, n in enumerate(["query", "key", "value"]):
            sd[L + f"attention.attention.{n}.weight"] = qw[j]
            if qkv_bias:
                sd[L + f"attention.attention.{n}.bias"] = s[b + "attn.qkv.bias"].chunk(3)[j]
        sd[L + "attention.output.dense.weight"] = s[b + "attn.proj.weight"]
        sd[L + "attention.output.dense.bias"] = s[b + "attn.proj.bias"]
        sd[L + "layernorm_before.weight"], sd[L + "layernorm_before.bias"] = s[b + "norm1.weight"], s[b + "norm1.bias"]
        sd[L + "layernorm_after.weight"], sd[L + "layernorm_after.bias"] = s[b + "norm2.weight"], s[b + "norm2.bias"]
        sd[L + "intermediate.dense.weight"], sd[L + "intermediate.dense.bias"] = s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"]
        sd[L + "output.dense.weight"], sd[L + "output.dense.bias"] = s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"]
    arch = {"vit": "ViTForImageClassification", "deit": "DeiTForImageClassificationWithTeacher" if dist
            else "DeiTForImageClassification"}[model_type]
    cfg = {"model_type": model_type, "architectures": [arch], "image_size": img, "patch_size": patch,
           "hidden_size": d, "num_hidden_layers": depth, "num_attention_heads": heads, "intermediate_size": 4 * d,
           "hidden_act": "gelu", "layer_norm_eps": eps, "qkv_bias": qkv_bias, "num_channels": 3,
           "id2label": {str(i): f"c{i}" for i in range(classes)}, "label2id": {f"c{i}": i for i in range(classes)}}
    write(out, name, sd, cfg, pixels, logits)


def main():
    out = sys.argv[1]
    only = set(sys.argv[2:])
    jobs = {
        "tv_resnet18": lambda: tv_resnet(out, "resnet18", 10, 224, 224, torch.float32, None),
        "tv_resnet50": lambda: tv_resnet(out, "resnet50", 1000, 224, 224, torch.float32, None),
        "tv_resnet18_f16_rect": lambda: tv_resnet(out, "resnet18", 10, 96, 160, torch.float16, None, "_f16_rect"),
        "tv_resnet50_bf16_timm": lambda: tv_resnet(out, "resnet50", 20, 128, 128, torch.bfloat16, {
            "architecture": "resnet50", "num_classes": 20, "num_features": 2048,
            "pretrained_cfg": {"input_size": [3, 128, 128], "interpolation": "bicubic", "crop_pct": 0.95,
                               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "num_classes": 20}},
            "_bf16_timm"),
        "hf_resnet_basic_dfs": lambda: hf_resnet(out, "hf_resnet_basic_dfs", "basic", [2, 1, 2], [24, 40, 56], 20,
                                                 True, False),
        "hf_resnet_bottleneck_dib": lambda: hf_resnet(out, "hf_resnet_bottleneck_dib", "bottleneck", [3, 4, 6, 3],
                                                      [32, 64, 96, 128], 24, False, True),
        "hf_resnet_bottleneck": lambda: hf_resnet(out, "hf_resnet_bottleneck", "bottleneck", [1, 2], [64, 128], 16,
                                                  True, False),
        "timm_vit_interp": lambda: timm_vit(out, "timm_vit_interp"),
        "timm_deit_distilled": lambda: timm_vit(out, "timm_deit_distilled", dist=True, eval_hw=(64, 64)),
        "timm_vit_noconfig": lambda: timm_vit(out, "timm_vit_noconfig", d=192, heads=3, depth=1,
                                              eval_hw=(64, 64), config=False),
        "tv_resnet34": lambda: tv_resnet(out, "resnet34", 10, 64, 64, torch.float32, None),
        "tv_wide_resnet50_2": lambda: tv_resnet(out, "wide_resnet50_2", 10, 64, 64, torch.float16, None),
        "tv_resnext50_32x4d": lambda: tv_resnet(out, "resnext50_32x4d", 10, 64, 72, torch.float32, None),
        "hf_resnet18_like": lambda: hf_resnet(out, "hf_resnet18_like", "basic", [2, 2, 2, 2], [64, 128, 256, 512],
                                              64, False, False),
        "timm_vit_nondivisible": lambda: timm_vit(out, "timm_vit_nondivisible", eval_hw=(100, 92)),
        "hf_vit_nondivisible": lambda: hf_vit(out, "hf_vit_nondivisible", eval_hw=(70, 75)),
        "cifar_resnet20_noconfig": lambda: cifar_resnet(out, "cifar_resnet20_noconfig"),
        "timm_vit_rect": lambda: timm_vit(out, "timm_vit_rect", eval_hw=(48, 80)),
        "hf_vit_noqkvbias": lambda: hf_vit(out, "hf_vit_noqkvbias", qkv_bias=False),
        "hf_vit_interp": lambda: hf_vit(out, "hf_vit_interp", eval_hw=(80, 80)),
        "hf_deit": lambda: hf_vit(out, "hf_deit", model_type="deit"),
        "hf_deit_teacher": lambda: hf_vit(out, "hf_deit_teacher", model_type="deit", dist=True),
    }
    for k, f in jobs.items():
        if not only or k in only:
            f()


if __name__ == "__main__":
    main()
