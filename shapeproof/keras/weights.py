"""Keras weight files -> arrays in a model's get_weights() order: `.keras`, `.weights.h5`, legacy `.h5`, `.npz`.

Used by built networks (`Net.load_weights`), by generated modules (their `load_weights`), and by
`shapeproof import --weights` to check a file against a model before anything is compiled.

Note: where Keras 3 keeps a layer's weights. `model.weights.h5` (alone, or inside a `.keras` zip)
names each layer's group after its *class*, numbered within its container in the model's layer
order (`layers/dense`, `layers/dense_1`, a nested model's `layers/sequential/layers/dense`), not
after the layer's own name. A `.keras` archive also holds config.json, which gives the exact group
of every named layer; for a bare `.weights.h5`, the class-based groups in the model's own layer
order (`class_groups`) are tried first; the layer's own name is the last resort. Legacy `.h5`
files (tf.keras 2, or Keras 3's `save("m.h5")`) keep `layer_names`/`weight_names` attributes and
are read by name.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from shapeproof.analyzer.layers.base import to_snake_case

CONTAINERS = ("Sequential", "Functional", "Model")
# a config's class_name is the name Keras exports a class under; its weight group is named after the
# Python class, which differs for these
PYTHON_CLASSES = {"GroupQueryAttention": "GroupedQueryAttention"}


def class_groups(layers) -> dict:
    """{layer name: [its group in a Keras 3 .weights.h5]} for (name, class name) pairs in layer order:
    Keras numbers a group after its class (the second Dense is `layers/dense_1`, whatever its name)."""
    used: dict[str, int] = {}
    groups = {}
    for name, kind in layers:
        base = to_snake_case(kind)
        used[base] = used.get(base, -1) + 1
        groups[name] = [f"layers/{base}" + (f"_{used[base]}" if used[base] else "")]
    return groups


def keras_groups(config: dict) -> dict:
    """{layer name: its group in model.weights.h5}, from a .keras archive's config.json."""
    groups = {}

    def walk(model, prefix):
        used = {}
        for entry in (model.get("config") or {}).get("layers") or []:
            cls = entry.get("class_name", "")
            if model.get("class_name") == "Sequential" and cls == "InputLayer":
                continue  # Sequential.layers leaves its InputLayer out
            base = to_snake_case(PYTHON_CLASSES.get(cls, cls))
            used[base] = used.get(base, -1) + 1
            group = f"{prefix}/{base}" + (f"_{used[base]}" if used[base] else "")
            if cls in CONTAINERS:
                walk(entry, group + "/layers")
            else:
                groups.setdefault((entry.get("config") or {}).get("name"), group)

    walk(config, "layers")
    return groups


def read_weights(path, weight_shapes, layers=()) -> list:
    """The arrays of a weight file in `weight_shapes` order ((layer, weight, shape) triples);
    `layers` is the model's (name, class name) pairs in order, for a bare .weights.h5's groups.
    Every problem is a ValueError that names the file."""
    path = str(path)
    try:
        if path.endswith(".npz"):
            with np.load(path) as f:
                return [f[f"arr_{i}"] for i in range(len(f.files))]
        import h5py

        hints = class_groups(layers)
        if path.endswith(".keras"):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if "model.weights.h5" not in names:
                    raise ValueError("the archive has no model.weights.h5 (is it a Keras 3 .keras file?)")
                data = io.BytesIO(archive.read("model.weights.h5"))
                config = json.loads(archive.read("config.json")) if "config.json" in names else None
            with h5py.File(data, "r") as f:
                return _h5_weights(f, weight_shapes, keras_groups(config) if config else {}, hints)
        with h5py.File(path, "r") as f:
            return _h5_weights(f, weight_shapes, {}, hints)
    except (OSError, KeyError, ValueError, EOFError) as e:
        message = str(e) if isinstance(e, ValueError) else f"cannot read it: {e}"
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError) and path.endswith((".h5", ".hdf5")):
            message = f"not a readable HDF5 file ({e})"
        raise ValueError(f"{path}: {message}") from None
    except Exception as e:  # zipfile.BadZipFile, zlib.error, json.JSONDecodeError: a damaged file
        raise ValueError(f"{path}: cannot read it: {type(e).__name__}: {e}") from None


def _h5_weights(f, weight_shapes, groups: dict, hints: dict) -> list:
    """Every layer's arrays in weight_shapes order: Keras 3's layers/<group>/.../vars/<i> (a wrapper's
    forward layer before its backward one), or a legacy file's layer_names/weight_names."""
    root = f.get("model_weights", f)
    legacy = "layer_names" in root.attrs
    if not legacy and "layers" not in f:
        raise ValueError("no Keras weights in this HDF5 file (neither layers/ nor layer_names)")
    expected, names = {}, {}
    for layer, name, shape in weight_shapes:
        expected.setdefault(layer, []).append(tuple(shape))
        names.setdefault(layer, []).append(name)
    weights = []
    for layer in expected:
        if legacy:
            arrays, tried = _lora_zeros(_legacy_arrays(root, layer), names[layer], expected[layer]), [layer]
        else:
            tried = [groups[layer]] if layer in groups else [*hints.get(layer, ()), f"layers/{layer}"]
            tried = list(dict.fromkeys(tried))
            found = [_lora_zeros(_group_arrays(f[g]), names[layer], expected[layer]) for g in tried if g in f]
            found = [a for a in found if a]
            fits = [a for a in found if [tuple(w.shape) for w in a] == expected[layer]]
            arrays = (fits or found or [None])[0]
        if arrays is None:
            raise ValueError(f"the file has no weights for layer {layer!r} (looked for {', '.join(tried)})")
        shapes = [tuple(w.shape) for w in arrays]
        if len(shapes) != len(expected[layer]):
            raise ValueError(f"layer {layer!r} has {len(shapes)} weight arrays in the file {shapes}, the model "
                             f"expects {len(expected[layer])} {expected[layer]}")
        for name, shape, got in zip(names[layer], expected[layer], shapes, strict=True):
            if got != shape:
                raise ValueError(f"layer {layer!r} weight {name!r}: the file has shape {got}, "
                                 f"the model expects {shape}")
        weights += arrays
    return weights


def _lora_zeros(arrays, names, shapes):
    """Keras saves a LoRA layer with the low-rank product merged into its kernel and no factors:
    zero factors (kernel + a @ b = the saved kernel) complete it."""
    missing = names[len(arrays or ()):]
    if arrays and missing and all(n.startswith("lora_") for n in missing):
        arrays = arrays + [np.zeros(s, dtype=arrays[0].dtype) for s in shapes[len(arrays):]]
    return arrays


def _group_arrays(group):
    # the attention layers' sublayers in get_weights() order (their groups sort otherwise; Keras names
    # GroupedQueryAttention's `_query_dense`, MultiHeadAttention's `query_dense`)
    order = {"vars": 0, "forward_layer": 1, "backward_layer": 2, "query_dense": 3, "key_dense": 4,
             "value_dense": 5, "output_dense": 6}
    found = []
    group.visititems(lambda path, item: found.append(path) if hasattr(item, "shape") else None)
    found = [p for p in found if "seed_generator" not in p]  # random-state counters, not weights
    return [np.asarray(group[p]) for p in sorted(found, key=lambda p: _h5_order(p, order))]


def _h5_order(path, order):
    return [(order.get(p.lstrip("_"), 9), int(p) if p.isdigit() else 0, p) for p in path.split("/")]


def _legacy_arrays(root, layer):
    names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs["layer_names"]]
    if layer not in names:
        return None
    group = root[layer]
    return [np.asarray(group[n.decode() if isinstance(n, bytes) else n]) for n in group.attrs["weight_names"]]
