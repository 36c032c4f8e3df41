"""Reference generator for the model families: random-init checkpoints in torchvision, plain-PyTorch,
Hugging Face and timm layouts, with float64 PyTorch reference outputs.

Usage: /usr/bin/python3 scripts/families/gen_refs.py OUTDIR [name ...]

Each case writes OUTDIR/<name>/model.safetensors (+ config.json where the case has one) and
OUTDIR/<name>.ref.safetensors (F32 `pixels`, `logits`, `features`; CNNs also `feature_map`, `gradcam`
and I32 `target_class`; ViTs also `attn_mean`). OUTDIR/manifest.json lists every case written.
The cases are described in scripts/families/README.md. Never commit the outputs (they are weights).
Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14, Pillow); scripts/qa/st.py writes
the safetensors files.
"""
import csv
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.convnext import CNBlockConfig, ConvNeXt
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.models.vision_transformer import VisionTransformer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qa"))
import st  # noqa: E402

# The CIFAR-10 JPEGs of the project's fixtures (the tests pass their path); without them the seed
# models are centred on noise and no CIFAR predictions are written.
CIFAR_DIR = os.environ.get("VISIONEVAL_CIFAR_DIR", "../shared/fixtures/data/cifar10-test")
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
PIXEL_SEED = 1234  # torch.manual_seed(PIXEL_SEED); torch.randn(B, 3, H, W)
NOISE_SEED = 99  # inputs used to centre the classifier bias
MANIFEST = []


# ------------------------------------------------------------------------------------------- helpers
def rand_affine(n):
    """LayerNorm / BatchNorm affine parameters: weight ~ U(0.5, 1.5), bias ~ N(0, 0.1^2)."""
    return 0.5 + torch.rand(n), 0.1 * torch.randn(n)


def randomize_bn(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data, m.bias.data = rand_affine(n)
            m.running_mean.data = 0.1 * torch.randn(n)
            m.running_var.data = 0.5 + torch.rand(n)
            m.num_batches_tracked.fill_(100)


def randomize_ln(model):
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):  # torchvision's LayerNorm2d is a subclass
            m.weight.data, m.bias.data = rand_affine(m.weight.shape[0])


def randomize_dense(model):
    """Every Linear / Conv2d weight ~ N(0, 1/fan_in), bias ~ N(0, 0.05^2) (fan_in counts a depthwise
    kernel's own inputs only); nn.MultiheadAttention's packed in_proj likewise."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()
            m.weight.data = torch.randn(m.weight.shape) / math.sqrt(fan_in)
            if m.bias is not None:
                m.bias.data = 0.05 * torch.randn(m.bias.shape)
        if isinstance(m, nn.MultiheadAttention):
            m.in_proj_weight.data = torch.randn(m.in_proj_weight.shape) / math.sqrt(m.embed_dim)
            m.in_proj_bias.data = 0.05 * torch.randn(m.in_proj_bias.shape)


def centre_bias(weight, feats):
    """Returns the classifier bias -W mu + N(0, 0.05^2) rounded to 4 decimals, mu = mean of `feats` (the
    classifier's inputs over some images), so that logits depend on the input, not on the mean feature."""
    mu = feats.double().mean(0)
    b = -(weight.double() @ mu) + 0.05 * torch.randn(weight.shape[0], dtype=torch.float64)
    return torch.round(b * 1e4).div(1e4).float()


def spread_head(linear, feats, target_std=2.0):
    """Scales a classifier's weight so its logits over `feats` have a per-class std of about `target_std`
    (CIFAR seed models: confident, well-separated predictions instead of near-uniform ones)."""
    with torch.no_grad():
        z = feats.double() @ linear.weight.double().t()
        linear.weight.data = (linear.weight.double() * (target_std / z.std(0).mean())).float()


def noise_batch(n, h, w):
    g = torch.Generator().manual_seed(NOISE_SEED)
    return torch.randn(n, 3, h, w, generator=g)


def pixels_for(b, h, w):
    torch.manual_seed(PIXEL_SEED)
    return torch.randn(b, 3, h, w)


def f32(d):
    return {k: (v.detach().float().clone() if v.is_floating_point() else v.detach().clone())
            for k, v in d.items()}


def max_rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def write_model(out, name, sd, config):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    st.save(os.path.join(d, "model.safetensors"), f32(sd) if sd is not None else {}, {"format": "pt"})
    if config is not None:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=1)


def write_ref(out, name, ref, suffix="ref"):
    t = {k: (v.int() if k == "target_class" else v.float()) for k, v in ref.items()}
    st.save(os.path.join(out, f"{name}.{suffix}.safetensors"), t)


def record(name, family, layout, checks, hw, config, sd, refs, extra_files=(), **more):
    MANIFEST.append({
        "name": name, "family": family, "layout": layout, "checks": checks,
        "input_hw": [list(x) for x in hw], "config": config,
        "tensors": len(sd), "parameters": int(sum(v.numel() for k, v in sd.items() if "num_batches" not in k)),
        "files": [f"{name}/model.safetensors"] + ([f"{name}/config.json"] if config is not None else [])
        + [f"{name}.{s}.safetensors" for s in refs] + list(extra_files),
        **more,
    })


def log(name, ref):
    lg = ref["logits"]
    s = f"{name}: logits {tuple(lg.shape)} max|ref| {lg.abs().max():.4g} top1 {lg.argmax(1).tolist()}"
    if "feature_map" in ref:
        s += f" map {tuple(ref['feature_map'].shape[1:])}"
    print(s, flush=True)


def cnn_ref(fmap_fn, head_fn, pixels):
    """Float64 references of a CNN split at its final feature map: `fmap_fn(x)` -> [B,K,h,w],
    `head_fn(fmap)` -> (pooled features [B,D], logits [B,C]). Grad-CAM: target = top-1 class,
    w_k = spatial mean of d logit[target] / d A_k, map = ReLU(sum_k w_k A_k) (not upsampled / normalised)."""
    x = pixels.double()
    with torch.no_grad():
        fmap = fmap_fn(x)
    fmap = fmap.detach().requires_grad_(True)
    feats, logits = head_fn(fmap)
    target = logits.argmax(1)
    grad, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), fmap)
    w = grad.mean((2, 3))
    cam = F.relu((w[:, :, None, None] * fmap).sum(1))
    return {"pixels": pixels, "logits": logits.detach(), "features": feats.detach(), "feature_map": fmap.detach(),
            "gradcam": cam.detach(), "target_class": target}


# ------------------------------------------------------------------------------- CIFAR seed models
def cifar_subset(per_class=20):
    rows = []
    with open(os.path.join(CIFAR_DIR, "labels.csv")) as f:
        for r in csv.DictReader(f):
            rows.append((r["path"], int(r["label"])))
    rows.sort()
    out, count = [], {}
    for p, lab in rows:
        if count.get(lab, 0) < per_class:
            out.append((p, lab))
            count[lab] = count.get(lab, 0) + 1
    return out


def cifar_batch(rows):
    from PIL import Image
    import torchvision.transforms as T
    tf = T.Compose([T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    return torch.stack([tf(Image.open(os.path.join(CIFAR_DIR, p)).convert("RGB")) for p, _ in rows])


def write_cifar_predictions(out, name, model, rows, images):
    """PyTorch predictions in float32 as a user would run them (model.float().eval(), no_grad)."""
    model = model.float().eval()
    with torch.no_grad():
        prob = torch.softmax(model(images), 1)
    mp, pred = prob.max(1)
    fn = os.path.join(out, f"{name}.cifar_predictions.csv")
    with open(fn, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "pred", "max_prob"])
        for (p, lab), pr, m in zip(rows, pred.tolist(), mp.tolist()):
            w.writerow([p, lab, pr, f"{m:.9f}"])
    acc = sum(int(pr == lab) for (_, lab), pr in zip(rows, pred.tolist())) / len(rows)
    hist = torch.bincount(pred, minlength=10).tolist()
    with torch.no_grad():  # float64 cross-check of the float32 top-1 (PyTorch may use fused kernels above)
        l64 = model.double()(images.double())
    top2 = l64.topk(2, 1).values
    flips = int((l64.argmax(1) != pred).sum())
    assert flips == 0, f"{name}: float32 and float64 top-1 differ on {flips} CIFAR images"
    gap = float((top2[:, 0] - top2[:, 1]).min())
    print(f"  {name}: CIFAR predictions on {len(rows)} images, agreement with labels {acc:.3f}, "
          f"predicted-class histogram {hist}, smallest top-1/top-2 logit gap {gap:.3g}")
    return os.path.basename(fn), gap


# ---------------------------------------------------------------------------------- torchvision ResNet
def tv_resnet_parts(m):
    def fmap_fn(x):
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    def head_fn(a):
        f = torch.flatten(m.avgpool(a), 1)
        return f, m.fc(f)
    return fmap_fn, head_fn


def have_cifar():
    ok = os.path.isfile(os.path.join(CIFAR_DIR, "labels.csv"))
    if not ok:
        print(f"no CIFAR-10 JPEGs at {CIFAR_DIR}: seed models centred on noise, no CIFAR predictions")
    return ok


def tv_resnet18_cifar(out, name="tv_resnet18_cifar", cifar=True):
    cifar = cifar and have_cifar()
    torch.manual_seed(0)
    m = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    randomize_bn(m)
    m.eval()
    fmap_fn, head_fn = tv_resnet_parts(m)
    extra = []
    if cifar:
        rows = cifar_subset()
        images = cifar_batch(rows)
        with torch.no_grad():
            feats, _ = head_fn(fmap_fn(images))
        spread_head(m.fc, feats)
        m.fc.bias.data = centre_bias(m.fc.weight, feats)
    sd = f32(m.state_dict())
    pixels = pixels_for(3, 32, 32)
    m.double()
    ref = cnn_ref(fmap_fn, head_fn, pixels)
    with torch.no_grad():
        assert max_rel(m(pixels.double()), ref["logits"]) < 1e-12
    write_model(out, name, sd, None)
    write_ref(out, name, ref)
    log(name, ref)
    if cifar:
        fn, gap = write_cifar_predictions(out, name, m, rows, images)
        extra.append(fn)
    record(name, "resnet", "torchvision ResNet state dict (bare, no config.json)",
           "CIFAR-style torchvision ResNet: 3x3 stride-1 stem conv, no max-pool (maxpool = Identity, no keys), "
           "BasicBlock [1,1,1,1] widths 64-512; num_batches_tracked present (I64); Grad-CAM on layer4"
           + ("; end-to-end CIFAR predictions" if cifar else ""),
           [(32, 32)], None, sd, ["ref"], extra, **({"cifar_min_top2_logit_gap": gap} if cifar else {}))


def tv_resnet_mlp_head(out, name, act):
    torch.manual_seed(0)
    classes = 7
    m = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=classes)
    m.fc = nn.Sequential(nn.Linear(2048, 256), nn.GELU() if act == "gelu" else nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(256, classes))
    randomize_bn(m)
    m.eval()
    fmap_fn, head_fn = tv_resnet_parts(m)
    with torch.no_grad():
        hidden = m.fc[1](m.fc[0](head_fn(fmap_fn(noise_batch(32, 64, 64)))[0]))
    m.fc[3].bias.data = centre_bias(m.fc[3].weight, hidden)
    sd = f32(m.state_dict())
    pixels = pixels_for(3, 64, 64)
    m.double()
    ref = cnn_ref(fmap_fn, head_fn, pixels)
    with torch.no_grad():
        assert max_rel(m(pixels.double()), ref["logits"]) < 1e-12
    cfg = {"head_activation": "gelu"} if act == "gelu" else None
    write_model(out, name, sd, cfg)
    write_ref(out, name, ref)
    log(name, ref)
    record(name, "resnet", "torchvision ResNet state dict" + (" + config.json" if cfg else " (bare)"),
           f"hidden MLP head fc = Sequential(Linear(2048,256), {act.upper()}, Dropout(0.3), Linear(256,{classes})) "
           "-> keys fc.0.*, fc.3.*; Bottleneck [1,1,1,1]; `features` = pooled 2048-d input of fc.0"
           + ("; activation only stated by config.json head_activation" if cfg else ""),
           [(64, 64)], cfg, sd, ["ref"])


# ------------------------------------------------------------------------- transformers (ViT family)
def mha(x, in_w, in_b, out_w, out_b, heads):
    """softmax(q k^T / sqrt(head_dim)) v with q,k,v = rows [0:D], [D:2D], [2D:3D] of the packed in_proj."""
    b, t, d = x.shape
    qkv = F.linear(x, in_w, in_b).reshape(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    a = torch.softmax(qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(d // heads), -1)
    return F.linear((a @ qkv[2]).transpose(1, 2).reshape(b, t, d), out_w, out_b), a.mean(1)


class PatchEmbed(nn.Module):
    def __init__(self, img, patch, d):
        super().__init__()
        self.proj = nn.Conv2d(3, d, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + (img // patch) ** 2, d))

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        return x + self.pos_embed


class UserViT(nn.Module):
    """A ViT as a user writes it over nn.TransformerEncoder (post-norm unless norm_first)."""

    def __init__(self, img, patch, d, depth, heads, mlp, classes, norm_first, act):
        super().__init__()
        self.patch_embed = PatchEmbed(img, patch, d)
        layer = nn.TransformerEncoderLayer(d, heads, mlp, dropout=0.0, activation=act, batch_first=True,
                                           norm_first=norm_first)
        self.transformer = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
        self.heads, self.norm_first, self.act = heads, norm_first, act

    def features(self, x):
        return self.norm(self.transformer(self.patch_embed(x)))[:, 0]

    def forward(self, x):
        return self.head(self.features(x))

    def manual(self, x):
        """The same forward written out (float64 reference, also returns head-mean attention)."""
        act = F.gelu if self.act == "gelu" else F.relu
        x, attn = self.patch_embed(x), []
        for L in self.transformer.layers:
            sa = L.self_attn
            if self.norm_first:
                y, a = mha(L.norm1(x), sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias,
                           self.heads)
                x = x + y
                x = x + L.linear2(act(L.linear1(L.norm2(x))))
            else:
                y, a = mha(x, sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias, self.heads)
                x = L.norm1(x + y)
                x = L.norm2(x + L.linear2(act(L.linear1(x))))
            attn.append(a)
        f = self.norm(x)[:, 0]
        return f, self.head(f), torch.stack(attn, 1)


def vit_ref(model, pixels):
    with torch.no_grad():
        feats, logits, attn = model.manual(pixels.double())
    return {"pixels": pixels, "logits": logits, "features": feats, "attn_mean": attn}


def ptvit(out, name, norm_first=False, act="gelu", heads=3, cifar=False, classes=10):
    cifar = cifar and have_cifar()
    torch.manual_seed(0)
    img, patch, d, depth, mlp = 32, 4, 48, 2, 96
    m = UserViT(img, patch, d, depth, heads, mlp, classes, norm_first, act)
    randomize_dense(m)
    randomize_ln(m)
    m.patch_embed.cls_token.data = 0.5 * torch.randn(1, 1, d)
    m.patch_embed.pos_embed.data = 0.5 * torch.randn(m.patch_embed.pos_embed.shape)
    m.eval()
    if cifar:
        rows = cifar_subset()
        images = cifar_batch(rows)
        with torch.no_grad():
            feats = m.features(images)
        spread_head(m.head, feats)
    else:
        with torch.no_grad():
            feats = m.features(noise_batch(64, img, img))
    m.head.bias.data = centre_bias(m.head.weight, feats)
    sd = f32(m.state_dict())
    pixels = pixels_for(3, img, img)
    m.double()
    ref = vit_ref(m, pixels)
    with torch.enable_grad():  # the module path (grad enabled keeps PyTorch off its fused fast path)
        assert max_rel(m(pixels.double()), ref["logits"]) < 1e-10
    cfg = {"num_attention_heads": heads}
    if norm_first:
        cfg["norm_first"] = True
    if act != "gelu":
        cfg["hidden_act"] = act
    write_model(out, name, sd, cfg)
    write_ref(out, name, ref)
    log(name, ref)
    extra = []
    if cifar:
        fn, gap = write_cifar_predictions(out, name, m, rows, images)
        extra.append(fn)
    record(name, "vit", "plain PyTorch module: patch_embed.{proj,cls_token,pos_embed}, transformer = "
           "nn.TransformerEncoder (transformer.layers.N.{self_attn.in_proj_*,self_attn.out_proj,linear1,linear2,"
           "norm1,norm2}), norm, head; config.json",
           f"{'pre' if norm_first else 'post'}-norm nn.TransformerEncoderLayer (LayerNorm eps 1e-5), {act} MLP, "
           f"{heads} heads of {d // heads} stated only by config, final `norm` then head on token 0; patch {patch}"
           + ("; end-to-end CIFAR predictions" if cifar else ""),
           [(img, img)], cfg, sd, ["ref"], extra, **({"cifar_min_top2_logit_gap": gap} if cifar else {}))


def tv_vit(out, name, representation_size=None):
    torch.manual_seed(0)
    img, patch, d, heads = 32, 8, 48, 3
    m = VisionTransformer(image_size=img, patch_size=patch, num_layers=2, num_heads=heads, hidden_dim=d,
                          mlp_dim=96, num_classes=10, representation_size=representation_size)
    randomize_dense(m)
    randomize_ln(m)
    m.class_token.data = 0.5 * torch.randn(1, 1, d)
    m.encoder.pos_embedding.data = 0.5 * torch.randn(m.encoder.pos_embedding.shape)
    m.eval()

    def manual(x):
        n = x.shape[0]
        x = m.conv_proj(x).reshape(n, d, -1).permute(0, 2, 1)
        x = torch.cat([m.class_token.expand(n, -1, -1), x], 1) + m.encoder.pos_embedding
        attn = []
        for L in m.encoder.layers:
            sa = L.self_attention
            y, a = mha(L.ln_1(x), sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias, heads)
            x = x + y
            x = x + L.mlp(L.ln_2(x))
            attn.append(a)
        f = m.encoder.ln(x)[:, 0]
        return f, m.heads(f), torch.stack(attn, 1)

    with torch.no_grad():
        f = manual(noise_batch(64, img, img))[0]
        if representation_size:
            f = torch.tanh(m.heads.pre_logits(f))
    m.heads.head.bias.data = centre_bias(m.heads.head.weight, f)
    sd = f32(m.state_dict())
    pixels = pixels_for(3, img, img)
    m.double()
    with torch.no_grad():
        feats, logits, attn = manual(pixels.double())
    with torch.enable_grad():
        assert max_rel(m(pixels.double()), logits) < 1e-10
    ref = {"pixels": pixels, "logits": logits, "features": feats, "attn_mean": attn}
    cfg = {"num_attention_heads": heads}
    write_model(out, name, sd, cfg)
    write_ref(out, name, ref)
    log(name, ref)
    record(name, "vit", "torchvision VisionTransformer state dict + config.json",
           "torchvision key names (conv_proj, class_token, encoder.pos_embedding, encoder.layers.encoder_layer_N."
           "{ln_1,self_attention.in_proj_*,self_attention.out_proj,ln_2,mlp.0,mlp.3}, encoder.ln, heads.*), "
           "pre-norm, LayerNorm eps 1e-6, head count only in config"
           + ("; heads = pre_logits Linear -> Tanh -> head Linear (representation_size)" if representation_size
              else "; heads.head Linear"),
           [(img, img)], cfg, sd, ["ref"])


# ------------------------------------------------------------------------------------------ DINOv2
def dinov2_forward(sd, base, heads, patch, registers, antialias, pixels, eps=1e-6):
    """Dinov2(WithRegisters)ForImageClassification from HF key names (modeling_dinov2.py,
    modeling_dinov2_with_registers.py): patch conv; [cls] + patches + position embeddings (patch rows
    resized bicubically to the input grid, antialiased in the registers variant); register tokens after
    cls (no position); pre-norm blocks whose branches are scaled by layer_scale{1,2}.lambda1; final
    layernorm over every token; classifier on concat(cls, mean of the patch tokens)."""
    e = f"{base}.embeddings"
    w = lambda n: sd[n]
    b, _, h, wd = pixels.shape
    x = F.conv2d(pixels, w(f"{e}.patch_embeddings.projection.weight"),
                 w(f"{e}.patch_embeddings.projection.bias"), stride=patch)
    gh, gw = x.shape[2], x.shape[3]
    d = x.shape[1]
    x = x.flatten(2).transpose(1, 2)
    pos = w(f"{e}.position_embeddings")
    n0 = pos.shape[1] - 1
    s0 = int(round(math.sqrt(n0)))
    if not (gh * gw == n0 and h == wd):
        grid = pos[:, 1:].reshape(1, s0, s0, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False, antialias=antialias)
        pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, d)], 1)
    x = torch.cat([w(f"{e}.cls_token").expand(b, -1, -1), x], 1) + pos
    if registers:
        x = torch.cat([x[:, :1], w(f"{e}.register_tokens").expand(b, -1, -1), x[:, 1:]], 1)
    attn = []
    i = 0
    while f"{base}.encoder.layer.{i}.norm1.weight" in sd:
        p = f"{base}.encoder.layer.{i}"
        ln = lambda t, n: F.layer_norm(t, (d,), w(f"{p}.{n}.weight"), w(f"{p}.{n}.bias"), eps)
        y = ln(x, "norm1")
        a = f"{p}.attention.attention"
        q, k, v = (F.linear(y, w(f"{a}.{n}.weight"), w(f"{a}.{n}.bias")).reshape(b, -1, heads, d // heads)
                   .transpose(1, 2) for n in ("query", "key", "value"))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1)
        ctx = (probs @ v).transpose(1, 2).reshape(b, -1, d)
        o = F.linear(ctx, w(f"{p}.attention.output.dense.weight"), w(f"{p}.attention.output.dense.bias"))
        x = x + o * w(f"{p}.layer_scale1.lambda1")
        m = F.gelu(F.linear(ln(x, "norm2"), w(f"{p}.mlp.fc1.weight"), w(f"{p}.mlp.fc1.bias")))
        x = x + F.linear(m, w(f"{p}.mlp.fc2.weight"), w(f"{p}.mlp.fc2.bias")) * w(f"{p}.layer_scale2.lambda1")
        attn.append(probs.mean(1))
        i += 1
    x = F.layer_norm(x, (d,), w(f"{base}.layernorm.weight"), w(f"{base}.layernorm.bias"), eps)
    feats = torch.cat([x[:, 0], x[:, 1 + registers:].mean(1)], 1)
    return feats, F.linear(feats, w("classifier.weight"), w("classifier.bias")), torch.stack(attn, 1)


def hf_dinov2(out, name, registers=0):
    torch.manual_seed(0)
    img, patch, d, heads, depth, classes = 32, 4, 48, 3, 2, 10
    base = "dinov2_with_registers" if registers else "dinov2"
    e = f"{base}.embeddings"
    g = lambda *shape: torch.randn(*shape)
    n = (img // patch) ** 2
    sd = {
        f"{e}.cls_token": 0.5 * g(1, 1, d),
        f"{e}.mask_token": torch.zeros(1, d),
        f"{e}.position_embeddings": 0.5 * g(1, n + 1, d),
        f"{e}.patch_embeddings.projection.weight": g(d, 3, patch, patch) / math.sqrt(3 * patch * patch),
        f"{e}.patch_embeddings.projection.bias": 0.05 * g(d),
    }
    if registers:
        sd[f"{e}.register_tokens"] = 0.5 * g(1, registers, d)
    lin = lambda key, o, i: sd.update({f"{key}.weight": g(o, i) / math.sqrt(i), f"{key}.bias": 0.05 * g(o)})
    aff = lambda key, k: sd.update(dict(zip((f"{key}.weight", f"{key}.bias"), rand_affine(k))))
    for i in range(depth):
        p = f"{base}.encoder.layer.{i}"
        aff(f"{p}.norm1", d)
        for nm in ("query", "key", "value"):
            lin(f"{p}.attention.attention.{nm}", d, d)
        lin(f"{p}.attention.output.dense", d, d)
        sd[f"{p}.layer_scale1.lambda1"] = 0.5 + torch.rand(d)
        aff(f"{p}.norm2", d)
        lin(f"{p}.mlp.fc1", 4 * d, d)
        lin(f"{p}.mlp.fc2", d, 4 * d)
        sd[f"{p}.layer_scale2.lambda1"] = 0.5 + torch.rand(d)
    aff(f"{base}.layernorm", d)
    lin("classifier", classes, 2 * d)
    sd64 = to64(sd)
    feats = dinov2_forward(sd64, base, heads, patch, registers, bool(registers), noise_batch(64, img, img).double())[0]
    sd["classifier.bias"] = centre_bias(sd["classifier.weight"].double(), feats).float()
    sd64 = to64(sd)
    refs = {}
    for suffix, (hh, ww) in (("ref", (img, img)), ("ref_odd", (40, 48))):
        pixels = pixels_for(3, hh, ww)
        f, logits, attn = dinov2_forward(sd64, base, heads, patch, registers, bool(registers), pixels.double())
        refs[suffix] = {"pixels": pixels, "logits": logits, "features": f, "attn_mean": attn}
    cfg = {
        "model_type": base, "architectures": [("Dinov2WithRegisters" if registers else "Dinov2") +
                                               "ForImageClassification"],
        "hidden_size": d, "num_hidden_layers": depth, "num_attention_heads": heads, "mlp_ratio": 4,
        "hidden_act": "gelu", "layer_norm_eps": 1e-6, "image_size": img, "patch_size": patch,
        "num_channels": 3, "qkv_bias": True, "layerscale_value": 1.0, "use_swiglu_ffn": False,
        "id2label": {str(i): f"class_{i}" for i in range(classes)},
        "label2id": {f"class_{i}": i for i in range(classes)},
    }
    if registers:
        cfg["num_register_tokens"] = registers
    write_model(out, name, sd, cfg)
    for suffix, ref in refs.items():
        write_ref(out, name, ref, suffix)
    log(name, refs["ref"])
    record(name, "vit", f"Hugging Face {cfg['architectures'][0]} + config.json",
           "DINOv2: layer scales, head on concat(cls, mean of patch tokens), bicubic position-embedding resize "
           + ("with antialias (registers variant), " if registers else "without antialias, ")
           + (f"{registers} register tokens after cls (no position); " if registers else "")
           + "ref_odd = 40x48 input (10x12 grid from the 8x8 one)",
           [(img, img), (40, 48)], cfg, sd, ["ref", "ref_odd"])


# -------------------------------------------------------------------------------------------- BEiT
def beit_rel_index(wh, ww):
    """BeitRelativePositionBias.generate_relative_position_index (modeling_beit.py), written out."""
    n = (2 * wh - 1) * (2 * ww - 1) + 3
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    idx = torch.zeros((wh * ww + 1,) * 2, dtype=torch.long)
    idx[1:, 1:] = rel.sum(-1)
    idx[0, 0:] = n - 3
    idx[0:, 0] = n - 2
    idx[0, 0] = n - 1
    return idx


def beit_resized_table(table, window, grid):
    """BeitRelativePositionBias.forward's table for another grid (modeling_beit.py): the offset rows viewed
    as [1, heads, 2Ww-1, 2Wh-1], F.interpolate(mode="bilinear") to (2h-1, 2w-1), class rows kept."""
    (wh, ww), (nh, nw) = window, grid
    old = (2 * wh - 1) * (2 * ww - 1)
    sub = table[:old].reshape(1, 2 * ww - 1, 2 * wh - 1, -1).permute(0, 3, 1, 2)
    new = F.interpolate(sub, size=(2 * nh - 1, 2 * nw - 1), mode="bilinear")
    new = new.permute(0, 2, 3, 1).reshape((2 * nh - 1) * (2 * nw - 1), -1)
    return torch.cat([new, table[old:]])


def beit_forward(sd, heads, patch, pixels, eps=1e-12):
    """BeitForImageClassification from HF key names (modeling_beit.py): patch conv, [cls] + patches
    (no absolute position embedding), pre-norm layers whose attention adds the per-layer relative
    position bias (table indexed by beit_rel_index) to q k^T / sqrt(d), key without bias, branches
    scaled by lambda_1 / lambda_2; pooler = LayerNorm(mean of the patch tokens); classifier."""
    w = lambda n: sd[n]
    b = pixels.shape[0]
    x = F.conv2d(pixels, w("beit.embeddings.patch_embeddings.projection.weight"),
                 w("beit.embeddings.patch_embeddings.projection.bias"), stride=patch)
    gh, gw, d = x.shape[2], x.shape[3], x.shape[1]
    x = torch.cat([w("beit.embeddings.cls_token").expand(b, -1, -1), x.flatten(2).transpose(1, 2)], 1)
    idx = beit_rel_index(gh, gw)
    t = x.shape[1]
    wn = round(math.sqrt(sd["beit.encoder.layer.0.attention.attention.relative_position_bias."
                            "relative_position_bias_table"].shape[0] - 3) + 1) // 2  # trained window
    attn = []
    i = 0
    while f"beit.encoder.layer.{i}.layernorm_before.weight" in sd:
        p = f"beit.encoder.layer.{i}"
        a = f"{p}.attention.attention"
        y = F.layer_norm(x, (d,), w(f"{p}.layernorm_before.weight"), w(f"{p}.layernorm_before.bias"), eps)
        q = F.linear(y, w(f"{a}.query.weight"), w(f"{a}.query.bias"))
        k = F.linear(y, w(f"{a}.key.weight"))
        v = F.linear(y, w(f"{a}.value.weight"), w(f"{a}.value.bias"))
        q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
        table = beit_resized_table(w(f"{a}.relative_position_bias.relative_position_bias_table"), (wn, wn),
                                   (gh, gw))
        bias = table[idx.reshape(-1)].reshape(t, t, heads).permute(2, 0, 1)
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads) + bias, -1)
        ctx = (probs @ v).transpose(1, 2).reshape(b, t, d)
        o = F.linear(ctx, w(f"{p}.attention.output.dense.weight"), w(f"{p}.attention.output.dense.bias"))
        x = x + w(f"{p}.lambda_1") * o
        y = F.layer_norm(x, (d,), w(f"{p}.layernorm_after.weight"), w(f"{p}.layernorm_after.bias"), eps)
        m = F.linear(F.gelu(F.linear(y, w(f"{p}.intermediate.dense.weight"), w(f"{p}.intermediate.dense.bias"))),
                     w(f"{p}.output.dense.weight"), w(f"{p}.output.dense.bias"))
        x = x + w(f"{p}.lambda_2") * m
        attn.append(probs.mean(1))
        i += 1
    f = x[:, 1:].mean(1)
    h = F.layer_norm(f, (d,), w("beit.pooler.layernorm.weight"), w("beit.pooler.layernorm.bias"), eps)
    return f, F.linear(h, w("classifier.weight"), w("classifier.bias")), torch.stack(attn, 1)


def hf_beit(out, name):
    torch.manual_seed(0)
    img, patch, d, heads, depth, classes = 32, 4, 48, 3, 2, 10
    g = lambda *shape: torch.randn(*shape)
    wn = img // patch
    sd = {
        "beit.embeddings.cls_token": 0.5 * g(1, 1, d),
        "beit.embeddings.mask_token": torch.zeros(1, 1, d),
        "beit.embeddings.patch_embeddings.projection.weight": g(d, 3, patch, patch) / math.sqrt(3 * patch * patch),
        "beit.embeddings.patch_embeddings.projection.bias": 0.05 * g(d),
    }
    lin = lambda key, o, i, bias=True: sd.update(
        {f"{key}.weight": g(o, i) / math.sqrt(i), **({f"{key}.bias": 0.05 * g(o)} if bias else {})})
    aff = lambda key, k: sd.update(dict(zip((f"{key}.weight", f"{key}.bias"), rand_affine(k))))
    for i in range(depth):
        p = f"beit.encoder.layer.{i}"
        a = f"{p}.attention.attention"
        aff(f"{p}.layernorm_before", d)
        lin(f"{a}.query", d, d)
        lin(f"{a}.key", d, d, bias=False)
        lin(f"{a}.value", d, d)
        sd[f"{a}.relative_position_bias.relative_position_bias_table"] = g((2 * wn - 1) ** 2 + 3, heads)
        lin(f"{p}.attention.output.dense", d, d)
        sd[f"{p}.lambda_1"] = 0.5 + torch.rand(d)
        aff(f"{p}.layernorm_after", d)
        lin(f"{p}.intermediate.dense", 2 * d, d)
        lin(f"{p}.output.dense", d, 2 * d)
        sd[f"{p}.lambda_2"] = 0.5 + torch.rand(d)
    aff("beit.pooler.layernorm", d)
    lin("classifier", classes, d)
    f = beit_forward(to64(sd), heads, patch, noise_batch(64, img, img).double())[0]
    f = F.layer_norm(f, (d,), sd["beit.pooler.layernorm.weight"].double(),
                     sd["beit.pooler.layernorm.bias"].double(), 1e-12)
    sd["classifier.bias"] = centre_bias(sd["classifier.weight"].double(), f).float()
    pixels = pixels_for(3, img, img)
    feats, logits, attn = beit_forward(to64(sd), heads, patch, pixels.double())
    ref = {"pixels": pixels, "logits": logits, "features": feats, "attn_mean": attn}
    # Another input size (44x36 -> an 11x9 grid): Hugging Face resizes each table bilinearly.
    odd_pixels = pixels_for(2, 44, 36)
    feats, logits, attn = beit_forward(to64(sd), heads, patch, odd_pixels.double())
    odd = {"pixels": odd_pixels, "logits": logits, "features": feats, "attn_mean": attn}
    cfg = {
        "model_type": "beit", "architectures": ["BeitForImageClassification"], "hidden_size": d,
        "num_hidden_layers": depth, "num_attention_heads": heads, "intermediate_size": 2 * d,
        "hidden_act": "gelu", "layer_norm_eps": 1e-12, "image_size": img, "patch_size": patch,
        "num_channels": 3, "use_mask_token": True, "use_absolute_position_embeddings": False,
        "use_relative_position_bias": True, "use_shared_relative_position_bias": False,
        "layer_scale_init_value": 0.1, "use_mean_pooling": True,
        "id2label": {str(i): f"class_{i}" for i in range(classes)},
        "label2id": {f"class_{i}": i for i in range(classes)},
    }
    write_model(out, name, sd, cfg)
    write_ref(out, name, ref)
    write_ref(out, name, odd, "ref_odd")
    log(name, ref)
    record(name, "vit", "Hugging Face BeitForImageClassification + config.json",
           "BEiT: per-layer relative position bias tables [(2*8-1)^2+3, 3] (cls rows last), key without bias, "
           "lambda_1/lambda_2 layer scales, no absolute position embeddings, mean pooling + pooler LayerNorm "
           "(eps 1e-12); forward written from modeling_beit.py; ref_odd = 44x36 input (11x9 grid, tables "
           "resized bilinearly as BeitRelativePositionBias does)",
           [(img, img), (44, 36)], cfg, sd, ["ref", "ref_odd"])


# -------------------------------------------------------------------------- timm ViT variants
def timm_vit_forward(sd, heads, patch, pixels, no_embed_class, pool, eps=1e-6, act="gelu"):
    """timm VisionTransformer from its key names (timm/models/vision_transformer.py): patch conv,
    _pos_embed ([cls] [reg x R] then patches; with no_embed_class the position rows cover only the
    patches and are added before the prefix is concatenated), position grid resized like
    resample_abs_pos_embed (bicubic, antialias, prefix rows kept), pre-norm blocks with optional layer
    scales (ls1/ls2.gamma), `norm` (absent = Identity when fc_norm is used), then global_pool "token"
    (token 0) or "avg" (mean of the patch tokens, then fc_norm), then head. `act`: the MLP's GELU,
    "gelu" (nn.GELU) or "gelu_tanh" (timm's GELUTanh = nn.GELU(approximate="tanh")). Returns (features,
    logits, attn) with features = the pooled vector before fc_norm."""
    w = lambda n: sd[n]
    b = pixels.shape[0]
    x = F.conv2d(pixels, w("patch_embed.proj.weight"), w("patch_embed.proj.bias"), stride=patch)
    gh, gw, d = x.shape[2], x.shape[3], x.shape[1]
    x = x.flatten(2).transpose(1, 2)
    prefix = [w(n).expand(b, -1, -1) for n in ("cls_token", "reg_token") if n in sd]
    p = sum(t.shape[1] for t in prefix)
    pos = w("pos_embed")
    keep = 0 if no_embed_class else p
    old = pos.shape[1] - keep
    s0 = int(round(math.sqrt(old)))
    if s0 * s0 != gh * gw or gh != gw:
        grid = pos[:, keep:].reshape(1, s0, s0, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False, antialias=True)
        pos = torch.cat([pos[:, :keep], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, d)], 1)
    if no_embed_class:
        x = torch.cat(prefix + [x + pos], 1)
    else:
        x = torch.cat(prefix + [x], 1) + pos
    attn = []
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        q = f"blocks.{i}"
        ln = lambda t, n: F.layer_norm(t, (d,), w(f"{q}.{n}.weight"), w(f"{q}.{n}.bias"), eps)
        y, a = mha(ln(x, "norm1"), w(f"{q}.attn.qkv.weight"), w(f"{q}.attn.qkv.bias"),
                   w(f"{q}.attn.proj.weight"), w(f"{q}.attn.proj.bias"), heads)
        x = x + y * (w(f"{q}.ls1.gamma") if f"{q}.ls1.gamma" in sd else 1)
        h = F.linear(ln(x, "norm2"), w(f"{q}.mlp.fc1.weight"), w(f"{q}.mlp.fc1.bias"))
        m = F.linear(F.gelu(h, approximate="tanh" if act == "gelu_tanh" else "none"),
                     w(f"{q}.mlp.fc2.weight"), w(f"{q}.mlp.fc2.bias"))
        x = x + m * (w(f"{q}.ls2.gamma") if f"{q}.ls2.gamma" in sd else 1)
        attn.append(a)
        i += 1
    if "norm.weight" in sd:
        x = F.layer_norm(x, (d,), w("norm.weight"), w("norm.bias"), eps)
    f = x[:, p:].mean(1) if pool == "avg" else x[:, 0]
    h = F.layer_norm(f, (d,), w("fc_norm.weight"), w("fc_norm.bias"), eps) if "fc_norm.weight" in sd else f
    return f, F.linear(h, w("head.weight"), w("head.bias")), torch.stack(attn, 1)


def timm_vit_variant(out, name, d, heads, registers, no_embed_class, pool, layer_scale, config,
                     class_token=True, fc_norm=True, act="gelu"):
    torch.manual_seed(0)
    img, patch, depth, classes = 32, 4, 2, 10
    n = (img // patch) ** 2
    g = lambda *shape: torch.randn(*shape)
    sd = {"cls_token": 0.5 * g(1, 1, d)} if class_token else {}
    if registers:
        sd["reg_token"] = 0.5 * g(1, registers, d)
    p = int(class_token) + registers
    sd["pos_embed"] = 0.5 * g(1, n + (0 if no_embed_class else p), d)
    sd["patch_embed.proj.weight"] = g(d, 3, patch, patch) / math.sqrt(3 * patch * patch)
    sd["patch_embed.proj.bias"] = 0.05 * g(d)
    lin = lambda key, o, i: sd.update({f"{key}.weight": g(o, i) / math.sqrt(i), f"{key}.bias": 0.05 * g(o)})
    aff = lambda key, k: sd.update(dict(zip((f"{key}.weight", f"{key}.bias"), rand_affine(k))))
    for i in range(depth):
        q = f"blocks.{i}"
        aff(f"{q}.norm1", d)
        lin(f"{q}.attn.qkv", 3 * d, d)
        lin(f"{q}.attn.proj", d, d)
        aff(f"{q}.norm2", d)
        lin(f"{q}.mlp.fc1", 4 * d, d)
        lin(f"{q}.mlp.fc2", d, 4 * d)
        if layer_scale:
            sd[f"{q}.ls1.gamma"] = 0.5 + torch.rand(d)
            sd[f"{q}.ls2.gamma"] = 0.5 + torch.rand(d)
    if pool == "avg" and fc_norm:
        aff("fc_norm", d)  # timm: use_fc_norm with global_pool "avg" makes `norm` an Identity
    else:
        aff("norm", d)
    lin("head", classes, d)
    run = lambda sdd, px: timm_vit_forward(to64(sdd), heads, patch, px.double(), no_embed_class, pool, act=act)
    f = run(sd, noise_batch(64, img, img))[0]
    if "fc_norm.weight" in sd:
        f = F.layer_norm(f, (d,), sd["fc_norm.weight"].double(), sd["fc_norm.bias"].double(), 1e-6)
    sd["head.bias"] = centre_bias(sd["head.weight"].double(), f).float()
    refs = {}
    for suffix, (hh, ww) in (("ref", (img, img)), ("ref_odd", (40, 48))):
        pixels = pixels_for(3, hh, ww)
        feats, logits, attn = run(sd, pixels)
        refs[suffix] = {"pixels": pixels, "logits": logits, "features": feats, "attn_mean": attn}
    write_model(out, name, sd, config)
    for suffix, ref in refs.items():
        write_ref(out, name, ref, suffix)
    log(name, refs["ref"])
    record(name, "vit", "timm VisionTransformer" + (" + timm hub config.json" if config else " (bare)"),
           f"D {d}, {heads} head(s), patch {patch}; " + (f"{registers} reg_token rows; " if registers else "")
           + ("no_embed_class (position rows for the patches only); " if no_embed_class else "")
           + ("layer scales ls1/ls2.gamma; " if layer_scale else "")
           + ("no class token; " if not class_token else "")
           + ("MLP GELU tanh approximation; " if act == "gelu_tanh" else "")
           + (("global_pool avg + fc_norm, no final norm; " if fc_norm else "global_pool avg after the final norm, "
               "no fc_norm; ") if pool == "avg" else "class-token head; ")
           + "ref_odd = 40x48 (position grid resized like resample_abs_pos_embed)",
           [(img, img), (40, 48)], config, sd, ["ref", "ref_odd"])


# ---------------------------------------------------------------------------------------- ConvNeXt
CN_DIMS, CN_DEPTHS = [16, 24, 32, 48], [1, 1, 2, 1]
CN_HW, CN_ODD_HW = (64, 64), (72, 56)
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def ln_cf(x, w, b, eps):
    """LayerNorm over the channel axis of an NCHW tensor."""
    return F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), w, b, eps).permute(0, 3, 1, 2)


def hf_convnext_parts(sd, prefix, final_eps, n_stages=4):
    """ConvNext(V2)ForImageClassification forward from HF key names (modeling_convnext.py,
    modeling_convnextv2.py): stem conv -> channels-first LN (eps 1e-6); per stage: downsampling_layer
    (LN eps 1e-6 then 2x2/2 conv, absent on stage 0), layers: dwconv 7x7 -> permute NHWC -> LN eps 1e-6 ->
    pwconv1 -> GELU -> [GRN] -> pwconv2 -> [layer_scale_parameter *] -> permute -> + input.
    Head: mean over H,W -> <prefix>.layernorm (eps = config.layer_norm_eps) -> classifier."""
    p = prefix + "."

    def fmap_fn(x):
        e = p + "embeddings."
        x = F.conv2d(x, sd[e + "patch_embeddings.weight"], sd[e + "patch_embeddings.bias"], stride=4)
        x = ln_cf(x, sd[e + "layernorm.weight"], sd[e + "layernorm.bias"], 1e-6)
        for s in range(n_stages):
            S = f"{p}encoder.stages.{s}."
            if S + "downsampling_layer.0.weight" in sd:
                x = ln_cf(x, sd[S + "downsampling_layer.0.weight"], sd[S + "downsampling_layer.0.bias"], 1e-6)
                x = F.conv2d(x, sd[S + "downsampling_layer.1.weight"], sd[S + "downsampling_layer.1.bias"], stride=2)
            j = 0
            while f"{S}layers.{j}.dwconv.weight" in sd:
                L = f"{S}layers.{j}."
                c = x.shape[1]
                y = F.conv2d(x, sd[L + "dwconv.weight"], sd[L + "dwconv.bias"], padding=3, groups=c)
                y = y.permute(0, 2, 3, 1)
                y = F.layer_norm(y, (c,), sd[L + "layernorm.weight"], sd[L + "layernorm.bias"], 1e-6)
                y = F.gelu(F.linear(y, sd[L + "pwconv1.weight"], sd[L + "pwconv1.bias"]))
                if L + "grn.weight" in sd:  # HF ConvNextV2GRN, parameters [1,1,1,4C]
                    gx = torch.norm(y, p=2, dim=(1, 2), keepdim=True)
                    nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
                    y = sd[L + "grn.weight"] * (y * nx) + sd[L + "grn.bias"] + y
                y = F.linear(y, sd[L + "pwconv2.weight"], sd[L + "pwconv2.bias"])
                if L + "layer_scale_parameter" in sd:
                    y = sd[L + "layer_scale_parameter"] * y
                x = x + y.permute(0, 3, 1, 2)
                j += 1
        return x

    def head_fn(a):
        f = a.mean([-2, -1])
        z = F.layer_norm(f, (f.shape[1],), sd[p + "layernorm.weight"], sd[p + "layernorm.bias"], final_eps)
        return f, F.linear(z, sd["classifier.weight"], sd["classifier.bias"])
    return fmap_fn, head_fn


def timm_convnext_parts(sd, conv_mlp):
    """timm ConvNeXt forward from timm key names (timm/models/convnext.py, layers/grn.py, layers/mlp.py,
    layers/classifier.py): stem.0 conv -> stem.1 LayerNorm2d (eps 1e-6); stages.S.downsample.{0 LN, 1 conv}
    (absent on stage 0); blocks: conv_dw -> norm -> mlp.fc1 -> GELU -> [mlp.grn] -> mlp.fc2 -> [* gamma] -> +
    shortcut; channels-last with Linear fc when conv_mlp is False, NCHW with 1x1 convs when True.
    GRN (timm GlobalResponseNorm, weight/bias [4C]): x + bias + weight * (x * Gx / (mean_c Gx + 1e-6)).
    Head (NormMlpClassifierHead): global avg pool -> head.norm (LayerNorm2d eps 1e-6) -> flatten -> head.fc."""
    def fmap_fn(x):
        x = F.conv2d(x, sd["stem.0.weight"], sd["stem.0.bias"], stride=4)
        x = ln_cf(x, sd["stem.1.weight"], sd["stem.1.bias"], 1e-6)
        for s in range(4):
            S = f"stages.{s}."
            if S + "downsample.0.weight" in sd:
                x = ln_cf(x, sd[S + "downsample.0.weight"], sd[S + "downsample.0.bias"], 1e-6)
                x = F.conv2d(x, sd[S + "downsample.1.weight"], sd[S + "downsample.1.bias"], stride=2)
            j = 0
            while f"{S}blocks.{j}.conv_dw.weight" in sd:
                B = f"{S}blocks.{j}."
                c = x.shape[1]
                y = F.conv2d(x, sd[B + "conv_dw.weight"], sd[B + "conv_dw.bias"], padding=3, groups=c)
                if conv_mlp:
                    y = ln_cf(y, sd[B + "norm.weight"], sd[B + "norm.bias"], 1e-6)
                    y = F.gelu(F.conv2d(y, sd[B + "mlp.fc1.weight"], sd[B + "mlp.fc1.bias"]))
                    sp, ch, shape = (2, 3), 1, (1, -1, 1, 1)
                else:
                    y = y.permute(0, 2, 3, 1)
                    y = F.layer_norm(y, (c,), sd[B + "norm.weight"], sd[B + "norm.bias"], 1e-6)
                    y = F.gelu(F.linear(y, sd[B + "mlp.fc1.weight"], sd[B + "mlp.fc1.bias"]))
                    sp, ch, shape = (1, 2), -1, (1, 1, 1, -1)
                if B + "mlp.grn.weight" in sd:
                    xg = y.norm(p=2, dim=sp, keepdim=True)
                    xn = xg / (xg.mean(dim=ch, keepdim=True) + 1e-6)
                    y = y + torch.addcmul(sd[B + "mlp.grn.bias"].view(shape), sd[B + "mlp.grn.weight"].view(shape),
                                          y * xn)
                if conv_mlp:
                    y = F.conv2d(y, sd[B + "mlp.fc2.weight"], sd[B + "mlp.fc2.bias"])
                else:
                    y = F.linear(y, sd[B + "mlp.fc2.weight"], sd[B + "mlp.fc2.bias"]).permute(0, 3, 1, 2)
                if B + "gamma" in sd:
                    y = y.mul(sd[B + "gamma"].reshape(1, -1, 1, 1))
                x = y + x
                j += 1
        return x

    def head_fn(a):
        p = F.adaptive_avg_pool2d(a, 1)
        f = p.flatten(1)
        z = ln_cf(p, sd["head.norm.weight"], sd["head.norm.bias"], 1e-6).flatten(1)
        return f, F.linear(z, sd["head.fc.weight"], sd["head.fc.bias"])
    return fmap_fn, head_fn


def tv_convnext_to_hf(sd, prefix="convnext"):
    """torchvision ConvNeXt keys -> ConvNextForImageClassification keys."""
    out, p = {}, prefix + "."
    n_st = len(CN_DIMS)
    for k, v in sd.items():
        parts = k.split(".")
        if k.startswith("features.0."):
            sub = {"0": "patch_embeddings", "1": "layernorm"}[parts[2]]
            out[f"{p}embeddings.{sub}.{parts[3]}"] = v
        elif k.startswith("features."):
            i = int(parts[1])
            if i % 2 == 1:  # stage (i-1)//2 blocks
                s, j = (i - 1) // 2, parts[2]
                L = f"{p}encoder.stages.{s}.layers.{j}."
                if parts[3] == "layer_scale":
                    out[L + "layer_scale_parameter"] = v.reshape(-1)
                else:
                    sub = {"0": "dwconv", "2": "layernorm", "3": "pwconv1", "5": "pwconv2"}[parts[4]]
                    out[L + f"{sub}.{parts[5]}"] = v
            else:  # downsample before stage i//2
                s = i // 2
                assert 0 < s < n_st
                out[f"{p}encoder.stages.{s}.downsampling_layer.{parts[2]}.{parts[3]}"] = v
        elif k.startswith("classifier.0."):
            out[f"{p}layernorm.{parts[2]}"] = v
        elif k.startswith("classifier.2."):
            out[f"classifier.{parts[2]}"] = v
        else:
            raise KeyError(k)
    return out


def hf_to_timm(sd, prefix, conv_mlp=False):
    """HF ConvNext(V2) keys -> timm convnext keys (GRN [1,1,1,C] -> [C]; 1x1-conv shapes when conv_mlp)."""
    p = prefix + "."
    out = {}
    for k, v in sd.items():
        if k.startswith(p + "embeddings."):
            k2 = k[len(p + "embeddings."):].replace("patch_embeddings", "stem.0").replace("layernorm", "stem.1")
        elif k.startswith(p + "encoder.stages."):
            k2 = k[len(p + "encoder."):].replace("downsampling_layer", "downsample").replace(".layers.", ".blocks.")
            for a, b in (("dwconv", "conv_dw"), ("layernorm", "norm"), ("pwconv1", "mlp.fc1"), ("pwconv2", "mlp.fc2"),
                         ("layer_scale_parameter", "gamma"), (".grn.", ".mlp.grn.")):
                k2 = k2.replace(a, b)
            if ".grn." in k2:
                v = v.reshape(-1)
            if conv_mlp and ("mlp.fc1.weight" in k2 or "mlp.fc2.weight" in k2):
                v = v.reshape(*v.shape, 1, 1)
        elif k.startswith(p + "layernorm."):
            k2 = "head.norm." + k.split(".")[-1]
        elif k.startswith("classifier."):
            k2 = "head.fc." + k.split(".")[-1]
        else:
            raise KeyError(k)
        out[k2] = v
    return out


def hf_convnext_config(v2, classes, img):
    cfg = {"model_type": "convnextv2" if v2 else "convnext",
           "architectures": ["ConvNextV2ForImageClassification" if v2 else "ConvNextForImageClassification"],
           "num_channels": 3, "patch_size": 4, "num_stages": 4, "hidden_sizes": CN_DIMS, "depths": CN_DEPTHS,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "drop_path_rate": 0.0, "image_size": img}
    if not v2:
        cfg["layer_scale_init_value"] = 1e-6
    cfg["id2label"] = {str(i): f"class_{i}" for i in range(classes)}
    cfg["label2id"] = {f"class_{i}": i for i in range(classes)}
    return cfg


def timm_convnext_config(arch, classes, img):
    return {"architecture": arch, "num_classes": classes, "num_features": CN_DIMS[-1], "global_pool": "avg",
            "model_args": {"depths": CN_DEPTHS, "dims": CN_DIMS},
            "pretrained_cfg": {"tag": "random", "custom_load": False, "input_size": [3, img, img],
                               "fixed_input_size": False, "interpolation": "bicubic", "crop_pct": 0.875,
                               "crop_mode": "center", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                               "num_classes": classes, "pool_size": [img // 32, img // 32],
                               "first_conv": "stem.0", "classifier": "head.fc"}}


def to64(sd):
    return {k: v.double() for k, v in sd.items()}


def cn_refs(parts, b=3):
    """Main (64x64) and odd-size (72x56) references for a (fmap_fn, head_fn) pair."""
    return (cnn_ref(*parts, pixels_for(b, *CN_HW)), cnn_ref(*parts, pixels_for(2, *CN_ODD_HW)))


def assert_same(a, b, tol, what):
    worst = 0.0
    for k in ("logits", "features", "feature_map", "gradcam"):
        r = max_rel(a[k], b[k])
        assert r < tol, f"{what}: {k} differs by {r:.3g} (relative)"
        worst = max(worst, r)
    assert torch.equal(a["target_class"], b["target_class"]), what
    print(f"  check {what}: max relative difference {worst:.2g} (bound {tol:g})")


def convnext_v1(out, only):
    """tv_convnext (torchvision module) and the same weights renamed: hf_convnext, timm_convnext(_bare),
    timm_convnext_convmlp. All references are computed by each layout's own forward and must agree."""
    torch.manual_seed(0)
    classes = 12
    setting = [CNBlockConfig(CN_DIMS[i], CN_DIMS[i + 1] if i + 1 < len(CN_DIMS) else None, CN_DEPTHS[i])
               for i in range(len(CN_DIMS))]
    m = ConvNeXt(setting, num_classes=classes)
    randomize_dense(m)
    randomize_ln(m)
    for blk in m.modules():
        if hasattr(blk, "layer_scale"):
            blk.layer_scale.data = 0.5 + torch.rand(blk.layer_scale.shape)
    m.eval()

    def tv_parts(mm):
        def head_fn(a):
            p = mm.avgpool(a)
            return p.flatten(1), mm.classifier(p)
        return mm.features, head_fn

    with torch.no_grad():
        z = m.classifier[1](m.classifier[0](m.avgpool(m.features(noise_batch(64, *CN_HW)))))
    m.classifier[2].bias.data = centre_bias(m.classifier[2].weight, z)
    tv_sd = f32(m.state_dict())
    m.double()
    tv_ref, tv_odd = cn_refs(tv_parts(m))
    with torch.no_grad():
        assert max_rel(m(tv_ref["pixels"].double()), tv_ref["logits"]) < 1e-12

    hf_sd = tv_convnext_to_hf(tv_sd)
    hf_cfg = hf_convnext_config(False, classes, CN_HW[0])
    hf_ref, hf_odd = cn_refs(hf_convnext_parts(to64(hf_sd), "convnext", hf_cfg["layer_norm_eps"]))
    # Same weights, same math: HF's only difference is its final LayerNorm eps (1e-12 from config vs 1e-6).
    same_eps = cn_refs(hf_convnext_parts(to64(hf_sd), "convnext", 1e-6))
    assert_same(same_eps[0], tv_ref, 1e-12, "hf_convnext (eps 1e-6) vs torchvision")
    assert_same(same_eps[1], tv_odd, 1e-12, "hf_convnext odd (eps 1e-6) vs torchvision")
    assert_same(hf_ref, tv_ref, 1e-5, "hf_convnext vs torchvision")
    assert_same(hf_odd, tv_odd, 1e-5, "hf_convnext odd vs torchvision")

    timm_sd = hf_to_timm(hf_sd, "convnext")
    timm_ref, timm_odd = cn_refs(timm_convnext_parts(to64(timm_sd), False))
    assert_same(timm_ref, tv_ref, 1e-12, "timm_convnext vs torchvision")
    assert_same(timm_odd, tv_odd, 1e-12, "timm_convnext odd vs torchvision")
    timm_cm_sd = hf_to_timm(hf_sd, "convnext", conv_mlp=True)
    cm_ref, cm_odd = cn_refs(timm_convnext_parts(to64(timm_cm_sd), True))
    assert_same(cm_ref, tv_ref, 1e-12, "timm_convnext_convmlp vs torchvision")
    assert_same(cm_odd, tv_odd, 1e-12, "timm_convnext_convmlp odd vs torchvision")

    hw = [CN_HW, CN_ODD_HW]
    common = (f"dims {CN_DIMS}, depths {CN_DEPTHS}, {classes} classes, random layer scale; ref_odd = 72x56 "
              "input (18x14 -> 9x7 -> 4x3 -> 2x1 maps, floor in every stride-2 conv)")
    cases = {
        "tv_convnext": (tv_sd, None, (tv_ref, tv_odd), "torchvision ConvNeXt state dict (bare)",
                        "torchvision keys features.N (stem Conv2dNormActivation, CNBlock.block.{0,2,3,5}, "
                        "layer_scale [C,1,1], downsample LN2d+conv), classifier.{0 LayerNorm2d, 2 Linear}; "
                        + common),
        "hf_convnext": (hf_sd, hf_cfg, (hf_ref, hf_odd), "Hugging Face ConvNextForImageClassification + config.json",
                        "HF keys (convnext.embeddings/encoder.stages.S.{downsampling_layer,layers.L}/layernorm, "
                        "classifier), layer_scale_parameter [C], final LayerNorm eps 1e-12 from config "
                        "(all other LN 1e-6); same weights as tv_convnext; " + common),
        "timm_convnext": (timm_sd, timm_convnext_config("convnext_tiny", classes, CN_HW[0]), (timm_ref, timm_odd),
                          "timm convnext (hub config.json with model_args)",
                          "timm keys (stem.{0,1}, stages.S.{downsample.{0,1},blocks.L.{conv_dw,norm,mlp.fc1,mlp.fc2,"
                          "gamma}}, head.norm, head.fc), Linear MLP; same weights as tv_convnext; " + common),
        "timm_convnext_bare": (timm_sd, None, (timm_ref, timm_odd), "timm convnext state dict (no config.json)",
                               "as timm_convnext, architecture from tensor names only; " + common),
        "timm_convnext_convmlp": (timm_cm_sd, timm_convnext_config("convnext_atto", classes, CN_HW[0]),
                                  (cm_ref, cm_odd), "timm convnext with conv_mlp (convnext_atto-style hub config)",
                                  "mlp.fc1/fc2 as 1x1 convs [4C,C,1,1] / [C,4C,1,1] and NCHW LayerNorm2d blocks "
                                  "(timm atto/femto/pico/nano); same weights as tv_convnext; " + common),
    }
    for name, (sd, cfg, (r, ro), layout, checks) in cases.items():
        if only and name not in only:
            continue
        write_model(out, name, sd, cfg)
        write_ref(out, name, r)
        write_ref(out, name, ro, "ref_odd")
        log(name, r)
        record(name, "convnext", layout, checks, hw, cfg, sd, ["ref", "ref_odd"])


def convnext_v2(out, only):
    """ConvNeXt V2 weights generated in the HF layout, renamed to timm (Linear and conv-MLP forms)."""
    torch.manual_seed(0)
    classes = 9
    sd, p = {}, "convnextv2."

    def dense(name, shape, fan_in):
        sd[name + ".weight"] = torch.randn(shape) / math.sqrt(fan_in)
        sd[name + ".bias"] = 0.05 * torch.randn(shape[0])

    def ln(name, c):
        sd[name + ".weight"], sd[name + ".bias"] = rand_affine(c)

    dense(p + "embeddings.patch_embeddings", (CN_DIMS[0], 3, 4, 4), 48)
    ln(p + "embeddings.layernorm", CN_DIMS[0])
    for s, (c, depth) in enumerate(zip(CN_DIMS, CN_DEPTHS)):
        S = f"{p}encoder.stages.{s}."
        if s > 0:
            ln(S + "downsampling_layer.0", CN_DIMS[s - 1])
            dense(S + "downsampling_layer.1", (c, CN_DIMS[s - 1], 2, 2), 4 * CN_DIMS[s - 1])
        for j in range(depth):
            L = f"{S}layers.{j}."
            dense(L + "dwconv", (c, 1, 7, 7), 49)
            ln(L + "layernorm", c)
            dense(L + "pwconv1", (4 * c, c), c)
            sd[L + "grn.weight"] = 0.5 * torch.randn(1, 1, 1, 4 * c)
            sd[L + "grn.bias"] = 0.5 * torch.randn(1, 1, 1, 4 * c)
            dense(L + "pwconv2", (c, 4 * c), 4 * c)
    ln(p + "layernorm", CN_DIMS[-1])
    dense("classifier", (classes, CN_DIMS[-1]), CN_DIMS[-1])
    hf_cfg = hf_convnext_config(True, classes, CN_HW[0])
    fm, _ = hf_convnext_parts(to64(sd), "convnextv2", hf_cfg["layer_norm_eps"])
    with torch.no_grad():
        f = fm(noise_batch(64, *CN_HW).double()).mean([-2, -1])
        z = F.layer_norm(f, (f.shape[1],), sd[p + "layernorm.weight"].double(), sd[p + "layernorm.bias"].double(),
                         1e-12)
    sd["classifier.bias"] = centre_bias(sd["classifier.weight"], z)

    hf_ref, hf_odd = cn_refs(hf_convnext_parts(to64(sd), "convnextv2", hf_cfg["layer_norm_eps"]))
    same_eps = cn_refs(hf_convnext_parts(to64(sd), "convnextv2", 1e-6))
    timm_sd = hf_to_timm(sd, "convnextv2")
    timm_ref, timm_odd = cn_refs(timm_convnext_parts(to64(timm_sd), False))
    assert_same(timm_ref, same_eps[0], 1e-12, "timm_convnextv2 vs hf_convnextv2 (eps 1e-6)")
    assert_same(timm_odd, same_eps[1], 1e-12, "timm_convnextv2 odd vs hf_convnextv2 (eps 1e-6)")
    assert_same(timm_ref, hf_ref, 1e-5, "timm_convnextv2 vs hf_convnextv2")
    timm_cm_sd = hf_to_timm(sd, "convnextv2", conv_mlp=True)
    cm_ref, cm_odd = cn_refs(timm_convnext_parts(to64(timm_cm_sd), True))
    assert_same(cm_ref, timm_ref, 1e-12, "timm_convnextv2_convmlp vs timm_convnextv2")
    assert_same(cm_odd, timm_odd, 1e-12, "timm_convnextv2_convmlp odd vs timm_convnextv2")

    hw = [CN_HW, CN_ODD_HW]
    common = (f"dims {CN_DIMS}, depths {CN_DEPTHS}, {classes} classes, GRN gamma/beta ~ N(0, 0.5^2), no layer "
              "scale; ref_odd = 72x56 input")
    cases = {
        "hf_convnextv2": (sd, hf_cfg, (hf_ref, hf_odd), "Hugging Face ConvNextV2ForImageClassification + config.json",
                          "HF keys (convnextv2.*, layers.L.grn.{weight,bias} [1,1,1,4C]), final LayerNorm eps 1e-12 "
                          "from config; " + common),
        "timm_convnextv2": (timm_sd, timm_convnext_config("convnextv2_tiny", classes, CN_HW[0]), (timm_ref, timm_odd),
                            "timm convnextv2 (hub config.json with model_args)",
                            "timm keys, blocks.L.mlp.grn.{weight,bias} [4C], Linear MLP; same weights as "
                            "hf_convnextv2; " + common),
        "timm_convnextv2_convmlp": (timm_cm_sd, timm_convnext_config("convnextv2_atto", classes, CN_HW[0]),
                                    (cm_ref, cm_odd), "timm convnextv2 with conv_mlp (convnextv2_atto-style)",
                                    "1x1-conv MLP [4C,C,1,1], NCHW LayerNorm2d and channels-first GRN (spatial "
                                    "dims 2,3, mean over dim 1); same weights as hf_convnextv2; " + common),
    }
    for name, (wsd, cfg, (r, ro), layout, checks) in cases.items():
        if only and name not in only:
            continue
        write_model(out, name, wsd, cfg)
        write_ref(out, name, r)
        write_ref(out, name, ro, "ref_odd")
        log(name, r)
        record(name, "convnext", layout, checks, hw, cfg, wsd, ["ref", "ref_odd"])


# ------------------------------------------------------------------------------------------- main
def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    single = {
        "tv_resnet18_cifar": lambda: tv_resnet18_cifar(out),
        "tv_resnet_mlp_head": lambda: tv_resnet_mlp_head(out, "tv_resnet_mlp_head", "relu"),
        "tv_resnet_mlp_head_gelu": lambda: tv_resnet_mlp_head(out, "tv_resnet_mlp_head_gelu", "gelu"),
        "ptvit_post_norm": lambda: ptvit(out, "ptvit_post_norm", heads=3, cifar=True),
        "ptvit_pre_norm": lambda: ptvit(out, "ptvit_pre_norm", norm_first=True, heads=4, classes=8),
        "ptvit_post_norm_relu": lambda: ptvit(out, "ptvit_post_norm_relu", act="relu", heads=6, classes=6),
        "tv_vit": lambda: tv_vit(out, "tv_vit"),
        "tv_vit_mlp_head": lambda: tv_vit(out, "tv_vit_mlp_head", representation_size=24),
        "hf_dinov2": lambda: hf_dinov2(out, "hf_dinov2"),
        "hf_dinov2_registers": lambda: hf_dinov2(out, "hf_dinov2_registers", registers=4),
        "hf_beit": lambda: hf_beit(out, "hf_beit"),
        # timm's DINOv2-with-registers design (layer scales, reg tokens, no_embed_class), config by model_args.
        "timm_vit_reg_ls": lambda: timm_vit_variant(
            out, "timm_vit_reg_ls", 48, 3, 4, True, "token", True,
            {"architecture": "vit_small_patch4_reg4_custom", "num_classes": 10,
             "model_args": {"num_heads": 3, "reg_tokens": 4, "no_embed_class": True, "init_values": 1.0}}),
        # global_pool "avg" with fc_norm, bare state dict: the pooling and head count are inferred.
        "timm_vit_avg_fcnorm": lambda: timm_vit_variant(
            out, "timm_vit_avg_fcnorm", 64, 1, 0, False, "avg", False, None),
        # timm's SigLIP-2 "gap" design: no class token, global_pool "avg" after the final norm
        # (fc_norm=False), act_layer "gelu_tanh" (not recorded in the weights; model_args says).
        "timm_vit_gap_gelu_tanh": lambda: timm_vit_variant(
            out, "timm_vit_gap_gelu_tanh", 48, 3, 0, False, "avg", False,
            {"architecture": "vit_custom_patch4_gap_32", "num_classes": 10, "global_pool": "avg",
             "model_args": {"num_heads": 3, "class_token": False, "global_pool": "avg", "fc_norm": False,
                            "act_layer": "gelu_tanh"}},
            class_token=False, fc_norm=False, act="gelu_tanh"),
    }
    groups = {
        ("tv_convnext", "hf_convnext", "timm_convnext", "timm_convnext_bare", "timm_convnext_convmlp"):
            lambda: convnext_v1(out, only),
        ("hf_convnextv2", "timm_convnextv2", "timm_convnextv2_convmlp"): lambda: convnext_v2(out, only),
    }
    known = set(single) | {n for g in groups for n in g}
    unknown = only - known
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {sorted(known)}")
    t0 = time.time()
    for k, f in single.items():
        if not only or k in only:
            f()
    for names, f in groups.items():
        if not only or only & set(names):
            f()
    man = os.path.join(out, "manifest.json")
    old = []
    if only and os.path.exists(man):  # keep the entries of cases not regenerated this time
        with open(man) as fh:
            old = [c for c in json.load(fh)["cases"] if c["name"] not in {c["name"] for c in MANIFEST}]
    cases = sorted(old + MANIFEST, key=lambda c: c["name"])
    with open(man, "w") as fh:
        json.dump({"generator": "scripts/families/gen_refs.py", "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "pixel_seed": PIXEL_SEED,
                   "reference_dtype": "float64 forward, stored as float32", "cases": cases}, fh, indent=1)
    print(f"{len(MANIFEST)} cases written to {out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
