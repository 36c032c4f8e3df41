"""Reference pixels for model-folder preprocessing descriptions, the way each library reads them.

Usage: /usr/bin/python3 scripts/families/gen_pipeline_refs.py OUTDIR

Writes three synthetic images (landscape, portrait, small) to OUTDIR/images/, and for every case a
model folder OUTDIR/<case>/ holding only the description (preprocessor_config.json or a timm
config.json; no weights) plus OUTDIR/<case>.ref.safetensors with F32 `pixel_values` [3, 3, H, W] for
the images in name order. OUTDIR/manifest.json lists the images and cases.

transformers and timm are not installed here, so their documented eval behaviour is written out
with Pillow, NumPy and torchvision (the calls they make):
* Hugging Face image processors: each class's `__init__` defaults fill the keys a file leaves out;
  a bare-number `size` is a square for ViT/DeiT/BEiT/EfficientNet and the shorter side for
  ConvNext/BiT/CLIP/MobileNet (`get_size_dict(default_to_square=...)`); PIL resize; ConvNext's
  crop_pct rule below 384; center crop at `(H - h) // 2`; `x.astype(float64) * factor` to float32;
  `(x - mean) / std` in float32.
* timm `resolve_model_data_config` + `create_transform(is_training=False)` (transforms_imagenet_eval):
  scale = floor(input_size / crop_pct); Resize(shorter side) when square, `ResizeKeepRatio(scale)`
  (bilinear, its own default) when not; squash = Resize((h, w)) then CenterCrop (which pads a
  too-small side with (c - n) // 2 zeros first); ToTensor;
  Normalize. `test_input_size` is not used (resolve_model_data_config's use_test_size=False).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qa"))
import st  # noqa: E402

IMAGENET_DEFAULT = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
IMAGENET_STANDARD = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
OPENAI_CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])
RESAMPLE = {0: Image.NEAREST, 1: Image.LANCZOS, 2: Image.BILINEAR, 3: Image.BICUBIC, 4: Image.BOX,
            5: Image.HAMMING}

# Hugging Face processor classes: (size default, bare int is a square, resample, do_center_crop,
# crop_size, mean/std) as their __init__ sets them; do_center_crop None: the class has no crop step
# (ViTImageProcessor keeps a `do_center_crop` key as an unused attribute).
HF_DEFAULTS = {
    "ViT": ({"height": 224, "width": 224}, True, 2, None, None, IMAGENET_STANDARD),
    "DeiT": ({"height": 256, "width": 256}, True, 3, True, 224, IMAGENET_STANDARD),
    "Beit": ({"height": 256, "width": 256}, True, 3, True, 224, IMAGENET_STANDARD),
    "ConvNext": ({"shortest_edge": 384}, False, 2, None, None, IMAGENET_DEFAULT),
    "Bit": ({"shortest_edge": 224}, False, 3, True, 224, OPENAI_CLIP),
    "CLIP": ({"shortest_edge": 224}, False, 3, True, 224, OPENAI_CLIP),
    "MobileNetV2": ({"shortest_edge": 256}, False, 2, True, 224, IMAGENET_STANDARD),
}


def hf_class(p):
    t = p.get("image_processor_type") or p.get("feature_extractor_type")
    for k in sorted(HF_DEFAULTS, key=len, reverse=True):
        if t.startswith(k):
            return k
    raise ValueError(t)


def short_long(w, h, s):
    """get_resize_output_image_size(default_to_square=False): (new_h, new_w)."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = s, int(s * long / short)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def hf_pixels(p, img):
    cls = hf_class(p)
    size_d, square, resample, crop_d, crop_size_d, (mean_d, std_d) = HF_DEFAULTS[cls]
    size = p.get("size", size_d)
    if isinstance(size, int):
        size = {"height": size, "width": size} if square else {"shortest_edge": size}
    crop = p.get("crop_size", crop_size_d)
    if isinstance(crop, int):
        crop = {"height": crop, "width": crop}
    resample = RESAMPLE[p.get("resample", resample)]
    w, h = img.size
    if p.get("do_resize", True):
        if cls == "ConvNext":
            se = size["shortest_edge"]
            if se < 384:
                nh, nw = short_long(w, h, int(se / p.get("crop_pct", 224 / 256)))
                img = img.resize((nw, nh), resample)
                top, left = (nh - se) // 2, (nw - se) // 2
                img = img.crop((left, top, left + se, top + se))
            else:
                img = img.resize((se, se), resample)
        elif "shortest_edge" in size:
            nh, nw = short_long(w, h, size["shortest_edge"])
            img = img.resize((nw, nh), resample)
        else:
            img = img.resize((size["width"], size["height"]), resample)
    x = np.asarray(img)
    if crop_d is not None and p.get("do_center_crop", crop_d):
        ch, cw = crop["height"], crop["width"]
        top, left = (x.shape[0] - ch) // 2, (x.shape[1] - cw) // 2
        assert top >= 0 and left >= 0
        x = x[top:top + ch, left:left + cw]
    if p.get("do_rescale", True):
        x = (x.astype(np.float64) * p.get("rescale_factor", 1 / 255)).astype(np.float32)
    else:
        x = x.astype(np.float32)
    if p.get("do_normalize", True):
        mean = np.array(p.get("image_mean", mean_d), dtype=np.float32)
        std = np.array(p.get("image_std", std_d), dtype=np.float32)
        x = (x - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def resize_keep_ratio(img, target):
    """timm ResizeKeepRatio(target) with its defaults (longest=0, bilinear)."""
    w, h = img.size
    ratio = min(h / target[0], w / target[1])
    return TF.resize(img, [round(h / ratio), round(w / ratio)], T.InterpolationMode.BILINEAR)


def timm_pixels(pc, img):
    _, h, w = pc.get("input_size", [3, 224, 224])
    crop_pct = pc.get("crop_pct") or 0.875
    interp = T.InterpolationMode(pc.get("interpolation", "bilinear"))
    scale = (math.floor(h / crop_pct), math.floor(w / crop_pct))
    if pc.get("crop_mode", "center") == "squash":
        img = T.Resize(scale, interpolation=interp)(img)
    elif scale[0] == scale[1]:
        img = T.Resize(scale[0], interpolation=interp)(img)
    else:
        img = resize_keep_ratio(img, scale)
    img = T.CenterCrop((h, w))(img)
    mean, std = pc.get("mean", IMAGENET_DEFAULT[0]), pc.get("std", IMAGENET_DEFAULT[1])
    return T.Normalize(mean, std)(T.ToTensor()(img))


HF_CASES = {
    # the hub's google/mobilenet_v2_1.0_224 file (feature-extractor era): size is the shorter side
    "hf_mobilenetv2_int_size": {"feature_extractor_type": "MobileNetV2FeatureExtractor", "size": 256,
                                "crop_size": 224, "do_center_crop": True, "resample": 2,
                                "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    # hand-written files that leave keys to the class defaults
    "hf_convnext_minimal": {"image_processor_type": "ConvNextImageProcessor",
                            "size": {"shortest_edge": 224}},
    "hf_bit_minimal": {"image_processor_type": "BitImageProcessor", "size": {"shortest_edge": 256}},
    "hf_deit_minimal": {"image_processor_type": "DeiTImageProcessor"},
    "hf_mobilenetv2_minimal": {"image_processor_type": "MobileNetV2ImageProcessor"},
    "hf_clip_int_sizes": {"image_processor_type": "CLIPImageProcessor", "size": 160, "crop_size": 128},
    # settings that are written out
    "hf_beit_int_squash": {"image_processor_type": "BeitImageProcessor", "size": 96,
                           "do_center_crop": False, "resample": 2, "do_reduce_labels": True},
    "hf_vit_no_normalize": {"image_processor_type": "ViTImageProcessor", "size": {"height": 90, "width": 120},
                            "do_normalize": False, "rescale_factor": 0.5, "resample": 4},
    "hf_vit_no_rescale": {"image_processor_type": "ViTImageProcessor", "size": {"height": 64, "width": 64},
                          "do_rescale": False, "resample": 5, "image_mean": 100, "image_std": 50},
    "hf_vit_nearest": {"image_processor_type": "ViTImageProcessor", "size": 100, "resample": 0},
    "hf_deit_lanczos_crop": {"image_processor_type": "DeiTImageProcessor", "size": {"height": 140, "width": 150},
                             "do_center_crop": True, "crop_size": {"height": 101, "width": 120},
                             "resample": 1},
    # ViTImageProcessor has no crop step: a written-out crop is ignored by Hugging Face
    "hf_vit_crop_ignored": {"image_processor_type": "ViTImageProcessor", "size": {"height": 120, "width": 120},
                            "do_center_crop": True, "crop_size": {"height": 100, "width": 100}},
    "hf_convnext_pct_095": {"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 128},
                            "crop_pct": 0.95, "resample": 3},
    "hf_convnext_384_warp": {"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 384},
                             "crop_pct": 0.875, "resample": 3},
    "hf_resize_off": {"image_processor_type": "BitImageProcessor", "do_resize": False, "do_center_crop": True,
                      "crop_size": {"height": 64, "width": 64}},
}

TIMM_CASES = {
    "timm_crop095_bicubic_clip": {"input_size": [3, 160, 160], "crop_pct": 0.95, "interpolation": "bicubic",
                                  "mean": OPENAI_CLIP[0], "std": OPENAI_CLIP[1]},
    "timm_squash_09": {"input_size": [3, 128, 128], "crop_pct": 0.9, "crop_mode": "squash",
                       "interpolation": "bicubic"},
    "timm_288_test_size": {"input_size": [3, 144, 144], "test_input_size": [3, 160, 160], "crop_pct": 1.0,
                           "interpolation": "bicubic", "mean": [0.5] * 3, "std": [0.5] * 3,
                           "fixed_input_size": False},
    "timm_non_square": {"input_size": [3, 96, 128], "crop_pct": 1.0, "interpolation": "bicubic"},
    "timm_non_square_pct": {"input_size": [3, 128, 96], "crop_pct": 0.875},
    # crop_pct above 1: the resized image is smaller than the crop, CenterCrop pads (15 = 7 + 8 rows)
    "timm_crop_pct_over_1": {"input_size": [3, 128, 128], "crop_pct": 1.13},
}


def synthetic(w, h, seed):
    """A smooth colour pattern with noise, so resampling filters differ visibly."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = [127 + 100 * np.sin(xx / (7 + 5 * c) + yy / (11 + 3 * c) + c) for c in range(3)]
    x = np.stack(chans, -1) + g.normal(0, 20, (h, w, 3))
    return Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), "RGB")


def main(out):
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    images = {"a_landscape.png": synthetic(317, 211, 1), "b_portrait.png": synthetic(203, 297, 2),
              "c_small.png": synthetic(150, 113, 3)}
    for name, img in images.items():
        img.save(os.path.join(out, "images", name))
    cases = {}
    for name, p in HF_CASES.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "preprocessor_config.json"), "w") as f:
            json.dump(p, f)
        cases[name] = torch.stack([hf_pixels(p, im) for im in images.values()])
    for name, pc in TIMM_CASES.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        cfg = {"architecture": "resnet18", "num_classes": 10, "pretrained_cfg": pc}
        with open(os.path.join(out, name, "config.json"), "w") as f:
            json.dump(cfg, f)
        cases[name] = torch.stack([timm_pixels(pc, im) for im in images.values()])
    for name, px in cases.items():
        st.save(os.path.join(out, f"{name}.ref.safetensors"), {"pixel_values": px.float()})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"images": sorted(images), "cases": sorted(cases)}, f, indent=1)
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
