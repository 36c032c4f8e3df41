"""MAT files for the tests of src/data/mat5.ts and the devkit synsets (scipy.io.savemat).

Usage: /usr/bin/python3 make_meta_mat.py OUT_DIR LEAF_ORDER_FILE

LEAF_ORDER_FILE lists 1000 WordNet ids, line k holding the wnid of ILSVRC2012_ID k
(make_datasets.ts writes a fixed permutation of the fixture's class index). Writes:

  ILSVRC2012_devkit_t12/data/meta.mat
                           compressed (do_compression=True): a 1860x1 `synsets` struct array shaped
                           like the ImageNet devkit's: 1000 leaves (ILSVRC2012_ID 1..1000, num_children
                           0, children []) then 860 internal nodes (ids 1001..1860, num_children > 0),
                           fields ILSVRC2012_ID, WNID, words, gloss, num_children, children,
                           wordnet_height, num_train_images (doubles, as MATLAB stores them)
  meta_uncompressed.mat    the same synsets uncompressed, rows in another order (internal nodes
                           first, then the leaves from the last id down) and the numbers as
                           uint16 / int32 (small data elements), plus a second variable before it
  wrong_variable.mat       variables `classes` and `synset`, no `synsets`
  synsets_cell.mat         `synsets` a cell array
  synsets_no_wnid.mat      `synsets` a struct array without the WNID field
  synsets_complex.mat      `synsets` a complex array
  meta_sorted.mat          devkit-shaped synsets whose leaf ids follow the sorted wnids (the models'
                           order, which the devkit's is not)
  classes.mat              one variable per numeric class, logical, a 2-D char array, an empty
  classes_uncompressed.mat array, a nested struct (compressed / not); classes.json: what
                           scipy.io.loadmat reads back (class, dims, values in column-major order,
                           char rows)
"""
import json
import os
import sys

import numpy as np
import scipy.io

FIELDS = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
          "wordnet_height", "num_train_images"]
INTERNAL = 860


def synset_rows(leaves):
    """The devkit's rows: leaves (ids 1..1000) then internal nodes (ids 1001..1860)."""
    rows = []
    for k, wnid in enumerate(leaves):
        rows.append(dict(ILSVRC2012_ID=k + 1, WNID=wnid, words=f"class {k + 1}, leaf",
                         gloss=f"leaf synset {wnid}", num_children=0,
                         children=np.zeros((1, 0)), wordnet_height=0, num_train_images=1300))
    for j in range(INTERNAL):
        sid = 1001 + j
        # Children: two leaves and, above the first level, an internal node.
        kids = [1 + (2 * j) % 1000, 1 + (2 * j + 1) % 1000] + ([sid - 1] if j else [])
        rows.append(dict(ILSVRC2012_ID=sid, WNID=f"n9{j:07d}", words=f"group {j}",
                         gloss=f"internal synset {j}", num_children=len(kids),
                         children=np.array([kids], dtype=float), wordnet_height=1 + j % 5,
                         num_train_images=1300 * len(kids)))
    return rows


def struct_array(rows, fields, cast=None):
    arr = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for i, r in enumerate(rows):
        for f in fields:
            v = r[f]
            arr[i, 0][f] = cast(f, v) if cast else (float(v) if isinstance(v, int) else v)
    return arr


def small_ints(field, v):
    """Numbers as uint16 / int32 scalars: scipy writes them as small data elements."""
    if field == "ILSVRC2012_ID":
        return np.uint16(v)
    if isinstance(v, int):
        return np.int32(v)
    return v


def readback(value):
    """What loadmat gives for one variable, as JSON."""
    if value.dtype.kind == "U":
        return {"kind": "char", "rows": [str(s) for s in np.atleast_1d(value)]}
    if value.dtype.names:
        return {"kind": "struct", "dims": list(value.shape), "fields": list(value.dtype.names),
                "elements": [{f: readback(el[f]) for f in value.dtype.names}
                             for el in value.flatten(order="F")]}
    cls = {"float64": "double", "float32": "single", "bool": "logical"}.get(value.dtype.name,
                                                                          value.dtype.name)
    return {"kind": "numeric", "class": cls, "dims": list(value.shape),
            "data": [float(x) for x in value.flatten(order="F")]}


def main(out, leaf_file):
    leaves = [line.strip() for line in open(leaf_file) if line.strip()]
    assert len(leaves) == 1000, leaf_file
    os.makedirs(os.path.join(out, "ILSVRC2012_devkit_t12", "data"), exist_ok=True)
    rows = synset_rows(leaves)
    scipy.io.savemat(os.path.join(out, "ILSVRC2012_devkit_t12", "data", "meta.mat"),
                     {"synsets": struct_array(rows, FIELDS)}, do_compression=True)
    shuffled = rows[1000:] + rows[:1000][::-1]
    scipy.io.savemat(os.path.join(out, "meta_uncompressed.mat"),
                     {"version": np.array([[2012.0]]),
                      "synsets": struct_array(shuffled, FIELDS, small_ints)})
    scipy.io.savemat(os.path.join(out, "wrong_variable.mat"),
                     {"classes": struct_array(rows[:5], FIELDS), "synset": np.arange(3.0)},
                     do_compression=True)
    cell = np.empty((2, 1), dtype=object)
    cell[0, 0], cell[1, 0] = leaves[0], leaves[1]
    scipy.io.savemat(os.path.join(out, "synsets_cell.mat"), {"synsets": cell})
    scipy.io.savemat(os.path.join(out, "synsets_complex.mat"),
                     {"synsets": np.array([[1 + 2j, 3 - 1j]])})
    scipy.io.savemat(os.path.join(out, "meta_sorted.mat"),
                     {"synsets": struct_array(synset_rows(sorted(leaves)), FIELDS)},
                     do_compression=True)
    no_wnid = [f for f in FIELDS if f != "WNID"]
    scipy.io.savemat(os.path.join(out, "synsets_no_wnid.mat"),
                     {"synsets": struct_array(rows[:5], no_wnid)}, do_compression=True)

    nested = np.empty((1, 2), dtype=[("name", object), ("inner", object)])
    for i in range(2):
        inner = np.empty((1, 1), dtype=[("value", object)])
        inner[0, 0]["value"] = np.array([[i + 0.5, -i]])
        nested[0, i]["name"], nested[0, i]["inner"] = f"item{i}", inner
    classes = {
        "int8": np.array([[-128, 0, 127]], dtype=np.int8),
        "uint8": np.array([[0, 255]], dtype=np.uint8),
        "int16": np.array([[-32768], [32767]], dtype=np.int16),
        "uint16": np.array([[7]], dtype=np.uint16),
        "int32": np.array([[-5, 2 ** 31 - 1]], dtype=np.int32),
        "uint32": np.array([[2 ** 32 - 1]], dtype=np.uint32),
        "int64": np.array([[-(2 ** 40), 3]], dtype=np.int64),
        "uint64": np.array([[2 ** 50]], dtype=np.uint64),
        "single": np.array([[1.5, -0.25, 3e38]], dtype=np.float32),
        "double": np.arange(6.0).reshape(2, 3) / 7,
        "logical": np.array([[True, False, True]]),
        "chars": np.array(["abc", "xyz"]),
        "unicode": np.array(["ĳ€"]),
        "empty": np.zeros((0, 0)),
        "nested": nested,
    }
    for name, compress in (("classes.mat", True), ("classes_uncompressed.mat", False)):
        scipy.io.savemat(os.path.join(out, name), classes, do_compression=compress)
    back = scipy.io.loadmat(os.path.join(out, "classes.mat"))
    ref = {k: readback(back[k]) for k in classes}
    # loadmat turns a 2-D char array into rows of a string array; keep MATLAB's dims too.
    with open(os.path.join(out, "classes.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
