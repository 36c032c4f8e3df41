"""QA image generator: awkward image files (modes, formats, broken files, odd names) and the pixels
Pillow decodes them to (`Image.open(p).convert("RGB")`), for checking visioneval's decoder.

Usage: /usr/bin/python3 scripts/qa/gen_images.py OUTDIR
Writes OUTDIR/imgs/* and OUTDIR/imgs_ref.safetensors ({filename: U8 [H,W,3]} for files Pillow reads),
plus an ImageFolder OUTDIR/folder/{a,b,c,empty}/ and a CIFAR-10 style OUTDIR/cifar/test_batch.bin.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import st  # noqa: E402


def smooth(w, h, seed):
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(128 + 100 * np.sin(x / (7 + c) + y / (11 + 2 * c) + r.uniform(0, 6))) for c in range(3)], -1)
    return np.clip(img + r.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def main():
    out = sys.argv[1]
    d = os.path.join(out, "imgs")
    os.makedirs(d, exist_ok=True)
    base = Image.fromarray(smooth(150, 110, 0))
    base.save(os.path.join(d, "rgb.jpg"), quality=90)
    base.convert("L").save(os.path.join(d, "gray.jpg"), quality=90)
    base.convert("CMYK").save(os.path.join(d, "cmyk.jpg"), quality=90)
    base.save(os.path.join(d, "progressive.jpg"), quality=85, progressive=True)
    base.save(os.path.join(d, "sub444.jpg"), quality=95, subsampling=0)
    base.save(os.path.join(d, "UPPER.JPG"), quality=90)
    base.save(os.path.join(d, "with space ü.png"))
    a16 = (smooth(97, 61, 1).astype(np.uint16) * 257)[..., 0]
    Image.fromarray(a16).save(os.path.join(d, "gray16.png"))
    base.convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(d, "palette.png"))
    p = base.convert("P", palette=Image.ADAPTIVE, colors=16)
    p.info["transparency"] = 3
    p.save(os.path.join(d, "palette_trns.png"), transparency=3)
    rgba = base.convert("RGBA")
    arr = np.array(rgba)
    arr[..., 3] = np.linspace(0, 255, arr.shape[1]).astype(np.uint8)[None, :]
    Image.fromarray(arr).save(os.path.join(d, "rgba.PNG"))
    Image.fromarray(np.array(base.convert("L"))).convert("LA").save(os.path.join(d, "gray_alpha.png"))
    base.save(os.path.join(d, "img.bmp"))
    base.save(os.path.join(d, "img.gif"))
    base.save(os.path.join(d, "img.tiff"))
    try:
        base.save(os.path.join(d, "img.webp"))
    except Exception as e:  # Pillow without WebP
        print("no webp:", e)
    open(os.path.join(d, "empty.jpg"), "wb").close()
    raw = open(os.path.join(d, "rgb.jpg"), "rb").read()
    open(os.path.join(d, "truncated.jpg"), "wb").write(raw[: len(raw) // 2])
    open(os.path.join(d, "notanimage.jpg"), "wb").write(b"hello world, not an image\n" * 10)
    Image.fromarray(smooth(300, 40, 2)).save(os.path.join(d, "wide.png"))
    Image.fromarray(smooth(30, 200, 3)).save(os.path.join(d, "tall.jpg"), quality=92)
    Image.fromarray(smooth(1, 1, 4)).save(os.path.join(d, "onepixel.png"))
    ref = {}
    for f in sorted(os.listdir(d)):
        try:
            im = Image.open(os.path.join(d, f))
            im.load()
            ref[f] = torch.from_numpy(np.array(im.convert("RGB")).copy())
        except Exception as e:
            print(f"Pillow cannot read {f}: {type(e).__name__}")
    st.save(os.path.join(out, "imgs_ref.safetensors"), ref)

    # ImageFolder with an empty class folder and a nested sub-folder
    for i, c in enumerate(["a", "b", "c"]):
        os.makedirs(os.path.join(out, "folder", c), exist_ok=True)
        for j in range(4):
            Image.fromarray(smooth(40 + j, 36, 10 * i + j)).save(os.path.join(out, "folder", c, f"{j}.png"))
    os.makedirs(os.path.join(out, "folder", "empty"), exist_ok=True)
    os.makedirs(os.path.join(out, "folder", "a", "nested"), exist_ok=True)
    Image.fromarray(smooth(40, 36, 99)).save(os.path.join(out, "folder", "a", "nested", "deep.png"))

    # CIFAR-10 binary batch: records of 1 label byte + 3072 bytes (R plane, G plane, B plane, 32x32)
    os.makedirs(os.path.join(out, "cifar"), exist_ok=True)
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 50).astype(np.uint8)
    imgs = np.stack([smooth(32, 32, 100 + k) for k in range(50)])  # [N, 32, 32, 3]
    recs = np.concatenate([labels[:, None], imgs.transpose(0, 3, 1, 2).reshape(50, -1)], 1)
    recs.astype(np.uint8).tofile(os.path.join(out, "cifar", "test_batch.bin"))
    with open(os.path.join(out, "cifar", "batches.meta.txt"), "w") as f:
        f.write("\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                           "truck"]) + "\n\n")
    st.save(os.path.join(out, "cifar_ref.safetensors"), {"labels": torch.from_numpy(labels.copy()),
                                                          "images": torch.from_numpy(imgs.copy())})
    print("wrote", len(ref), "reference images")


if __name__ == "__main__":
    main()
