#!/usr/bin/env python3
"""PyTorch reference of `eval --tta` for a CIFAR ResNet (tests/tta_test.ts).

usage: tta_ref.py MODEL_DIR LABELS_CSV SIZE CROP
       tta_ref.py --crops IMAGE SIZE CROP

MODEL_DIR holds a CIFAR ResNet-(6n+2) model.safetensors (the fixtures' resnet20 / resnet56);
LABELS_CSV lists `path,label` (label = class index or CIFAR-10 name). Each image is opened with
Pillow (convert("RGB")), resized with torchvision's Resize(SIZE) (PIL bilinear, antialiased), and
cut into the views of each TTA mode with PIL and torchvision:

  plain      CenterCrop(CROP)
  hflip      CenterCrop(CROP), and that crop mirrored (Image.FLIP_LEFT_RIGHT)
  five-crop  FiveCrop(CROP)
  ten-crop   TenCrop(CROP)

then ToTensor + ImageNet Normalize and the same network in float32. Prints JSON: per mode the
top-1 of the mean softmax probabilities (`probs`) and of the mean logits (`logits`) for every
image, and the mean log loss of the averaged probabilities.

With --crops: the ten normalised TenCrop(CROP) tensors of IMAGE after Resize(SIZE) (bilinear),
in torchvision's order, and the resized size, as JSON (no model).
"""
import csv
import json
import os
import sys

import torch
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "qa"))
import st  # noqa: E402
from gen_models import CifarResNet  # noqa: E402

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def crops(image, size, crop):
    im = T.Resize(size, interpolation=T.InterpolationMode.BILINEAR)(Image.open(image).convert("RGB"))
    norm = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    views = [norm(v).flatten().tolist() for v in T.TenCrop(crop)(im)]
    print(json.dumps({"resized": list(im.size), "views": views}))


def main():
    if sys.argv[1] == "--crops":
        return crops(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    model_dir, labels_csv, size, crop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sd = st.load(os.path.join(model_dir, "model.safetensors"))
    n = (sum(1 for k in sd if k.startswith("layer1.") and k.endswith(".conv1.weight")))
    model = CifarResNet(n)
    model.load_state_dict(sd)
    model.eval()
    base = os.path.dirname(os.path.abspath(labels_csv))
    with open(labels_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    resize = T.Resize(size, interpolation=T.InterpolationMode.BILINEAR)
    to_tensor = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    center = T.CenterCrop(crop)
    modes = {
        "plain": lambda im: [center(im)],
        "hflip": lambda im: [center(im), center(im).transpose(Image.FLIP_LEFT_RIGHT)],
        "five-crop": lambda im: list(T.FiveCrop(crop)(im)),
        "ten-crop": lambda im: list(T.TenCrop(crop)(im)),
    }
    out = {"paths": [], "labels": [], "modes": {m: {"probs": [], "logits": [], "nll": 0.0} for m in modes}}
    for r in rows:
        path = r["path"] if os.path.isabs(r["path"]) else os.path.join(base, r["path"])
        label = int(r["label"]) if r["label"].isdigit() else NAMES.index(r["label"])
        im = resize(Image.open(path).convert("RGB"))
        out["paths"].append(r["path"])
        out["labels"].append(label)
        for m, views in modes.items():
            x = torch.stack([to_tensor(v) for v in views(im)])
            with torch.no_grad():
                logits = model(x)
            p = torch.softmax(logits, -1).mean(0)
            out["modes"][m]["probs"].append(int(p.argmax()))
            out["modes"][m]["logits"].append(int(logits.mean(0).argmax()))
            out["modes"][m]["nll"] -= float(torch.log(p[label].clamp(min=1e-15))) / len(rows)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
