"""Exports a timm-layout ViT checkpoint (.safetensors) to ONNX for the
onnxruntime-web side-by-side benchmark (bench/peers/ort_vit.ts).

usage: /usr/bin/python3 export_vit_onnx.py weights.safetensors out.onnx HEADS EPS

Needs only Debian's python3-torch (no timm, no safetensors package): the
network below is timm's VisionTransformer forward written out (pre-norm
blocks, fused qkv, exact GELU, class-token head), and the weights file is
parsed by hand. The .onnx file is a build artefact: never commit it.
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, sd, heads, eps):
        super().__init__()
        dim = sd["cls_token"].shape[-1]
        patch = sd["patch_embed.proj.weight"].shape[-1]
        depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
        classes = sd["head.weight"].shape[0]
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(sd["pos_embed"].shape))
        self.blocks = nn.Sequential(*[Block(dim, heads, hidden, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def main():
    weights, out, heads, eps = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    sd = read_safetensors(weights)
    model = ViT(sd, heads, eps).eval()
    model.load_state_dict(sd, strict=True)
    side = int(round((sd["pos_embed"].shape[1] - 1) ** 0.5)) * sd["patch_embed.proj.weight"].shape[-1]
    dummy = torch.zeros(1, 3, side, side)
    torch.onnx.export(
        model, dummy, out, input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
    )
    print(f"wrote {out} ({side}x{side}, heads {heads})")


if __name__ == "__main__":
    with torch.no_grad():
        main()
