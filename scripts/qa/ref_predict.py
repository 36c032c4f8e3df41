"""QA: softmax top-k of images under a torchvision ResNet checkpoint written by gen_models.py, with an
explicit torchvision pipeline, to compare with `visioneval predict`.

Usage: /usr/bin/python3 scripts/qa/ref_predict.py MODEL_DIR ARCH NUM_CLASSES SIZE CROP IMAGE...
SIZE: N (shorter side) or HxW; CROP: N or 0 (none). Bilinear, ImageNet mean/std.
"""
import os
import sys

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402

d, arch, nc, size, crop, *imgs = sys.argv[1:]
m = getattr(torchvision.models, arch)(num_classes=int(nc))
m.load_state_dict({k: v.float() if v.is_floating_point() else v
                   for k, v in st.load(os.path.join(d, "model.safetensors")).items()})
m.eval()
size = tuple(int(x) for x in size.split("x")) if "x" in size else int(size)
tf = [T.Resize(size, interpolation=T.InterpolationMode.BILINEAR)]
if int(crop):
    tf.append(T.CenterCrop(int(crop)))
tf += [T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
tf = T.Compose(tf)
for p in imgs:
    x = tf(Image.open(p).convert("RGB"))[None]
    with torch.no_grad():
        pr = torch.softmax(m(x), -1)[0]
    v, i = pr.topk(3)
    print(p, tuple(x.shape[2:]), " ".join(f"{a:.4f}:{b}" for a, b in zip(v.tolist(), i.tolist())))
