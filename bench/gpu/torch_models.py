"""PyTorch side of bench/gpu/run.sh.

For each torchvision model (random init, seeded; layers torchvision
initializes to zero get small random values): writes its state dict as
DIR/<name>/model.safetensors (visioneval loads torchvision layouts), a fixed
input batch DIR/<name>/input.npy and PyTorch's fp32 logits of it
DIR/<name>/logits.npy, then times PyTorch eager fp32 images/s at each batch
size (TF32 off, cudnn.benchmark on). Writes DIR/torch.json.

    python3 torch_models.py DIR [--models resnet50,vit_b_16,convnext_tiny]
        [--batches 1,32,128] [--iterations 10] [--compare-batch 2] [--device cuda]

Needs torch and torchvision only (the .safetensors writer is below).
"""
import argparse
import json
import os
import struct
import time

import numpy as np
import torch
import torchvision


def write_safetensors(path, tensors):
    """The safetensors format: u64 header length, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().float().numpy()).astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def randomize_zero_layers(model):
    """torchvision zero-initializes some layers (ViT's classifier head): the logits
    would all be 0 and their comparison meaningless. Give those small random values."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                torch.nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    torch.nn.init.normal_(m.bias, std=0.02)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(model, batch, iterations, device):
    x = torch.randn(batch, 3, 224, 224, device=device)
    with torch.inference_mode():
        for _ in range(3):  # warm-up: cudnn.benchmark picks its algorithms here
            model(x)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iterations):
            model(x)
        sync(device)
    return batch * iterations / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--models", default="resnet50,vit_b_16,convnext_tiny")
    p.add_argument("--batches", default="1,32,128")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--compare-batch", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device(a.device)
    batches = [int(b) for b in a.batches.split(",")]
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__,
           "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
           "models": {}}
    for name in a.models.split(","):
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None).eval()
        randomize_zero_layers(model)
        folder = os.path.join(a.dir, name)
        os.makedirs(folder, exist_ok=True)
        write_safetensors(os.path.join(folder, "model.safetensors"), model.state_dict())
        model = model.to(device)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(a.compare_batch, 3, 224, 224, generator=g)
        with torch.inference_mode():
            logits = model(x.to(device)).float().cpu().numpy()
        np.save(os.path.join(folder, "input.npy"), x.numpy().astype("<f4"))
        np.save(os.path.join(folder, "logits.npy"), logits.astype("<f4"))
        rates = {str(b): images_per_second(model, b, a.iterations, device) for b in batches}
        out["models"][name] = {"images_per_second": rates}
        print(f"torch {name}: " + ", ".join(f"batch {b} {r:.1f} img/s" for b, r in rates.items()),
              flush=True)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    with open(os.path.join(a.dir, "torch.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
