#!/usr/bin/env python3
"""Exports one torchvision model (ResNet-50 by default, ConvNeXt-T, EfficientNet-B0, MobileNetV3-L or Swin-T;
random weights, fixed seed)
twice:

  <out>/<arch>.onnx            for onnxruntime-web (bench/peers/ort_resnet50.ts --arch <arch>)
  <out>/model.safetensors      the same weights in torchvision key layout, for visioneval
  <out>/reference.safetensors  pixel_values [2, 3, 224, 224] and PyTorch's logits

so both engines run the identical network and their logits can be compared.
Needs Debian's python3-torch and python3-torchvision (no other packages):

  apt-get install python3-torch python3-torchvision
  /usr/bin/python3 bench/peers/export_resnet50.py /tmp/visioneval-ort [resnet50|convnext_tiny|efficientnet_b0|mobilenet_v3_large|swin_t]

Never commit the outputs (about 100 MB each).
"""
import json
import os
import struct
import sys

import torch
import torchvision


def write_safetensors(path, tensors):
    """Minimal safetensors writer (F32 only): header length, JSON header, data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/visioneval-ort"
    arch = sys.argv[2] if len(sys.argv) > 2 else "resnet50"
    archs = ("resnet50", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_large", "swin_t")
    if arch not in archs:
        sys.exit(f"unknown arch {arch}: {', '.join(archs)}")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(weights=None)
    # Random BatchNorm statistics, so that folding them is exercised.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    # ConvNeXt's layer scale starts at 1e-6 (blocks near identity): make the blocks count.
    for name, p in model.named_parameters():
        if name.endswith("layer_scale"):
            p.data.uniform_(0.1, 0.3)
    model.eval()

    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    write_safetensors(os.path.join(out, "model.safetensors"), state)

    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
    write_safetensors(os.path.join(out, "reference.safetensors"), {"pixel_values": x, "logits": logits})

    torch.onnx.export(
        model,
        x,
        os.path.join(out, f"{arch}.onnx"),
        input_names=["pixel_values"],
        output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        do_constant_folding=True,
    )
    print(f"wrote {out}/{arch}.onnx, model.safetensors, reference.safetensors (torch {torch.__version__})")


if __name__ == "__main__":
    main()
