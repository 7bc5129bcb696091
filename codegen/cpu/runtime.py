"""Fixed text at the end of every generated module: input checks and weight loading.

It uses only what the module defines (INPUTS, SYMBOLS, WEIGHT_SHAPES, LAYER_NAMES, input_shapes,
violated_constraint), NumPy, and h5py when a Keras .h5 or .keras file is read.

Note: where Keras 3 keeps a layer's weights. `model.weights.h5` (alone, or inside a `.keras` zip)
names each layer's group after its *class*, numbered within its container in the model's layer
order (`layers/dense`, `layers/dense_1`, a nested model's `layers/sequential/layers/dense`), not
after the layer's own name. A `.keras` archive also holds config.json, which gives the exact group
of every named layer; for a bare `.weights.h5`, the caller may pass `hints` (the class-based
groups in its own layer order: codegen/net.py does); the layer's own name is the last resort.
Legacy `.h5` files (tf.keras 2, or Keras 3's `save("m.h5")`) keep `layer_names`/`weight_names`
attributes and are read by name.
"""

RUNTIME = '''\
def check_inputs(*arrays):
    """The inputs as contiguous arrays of the right dtype, after checking ranks, sizes and constraints."""
    if len(arrays) != len(INPUTS):
        raise ValueError(f"{MODEL} takes {len(INPUTS)} input(s), got {len(arrays)}")
    arrays = [np.asarray(a) for a in arrays]
    check_shapes([a.shape for a in arrays])
    return [np.ascontiguousarray(a, dtype=DT if dtype.startswith("float") else dtype)
            for (_, _, dtype), a in zip(INPUTS, arrays, strict=True)]


def check_shapes(shapes):
    """The free sizes that the inputs' shapes give, after checking ranks, sizes and constraints."""
    sizes = {}
    for (name, dims, _), s in zip(INPUTS, shapes, strict=True):
        if len(s) != len(dims):
            raise ValueError(f"input {name!r} has rank {len(dims)}, got an array of shape {tuple(s)}")
        for d, n in zip(dims, s, strict=True):
            if isinstance(d, str) and d in SYMBOLS and sizes.setdefault(d, n) != n:
                raise ValueError(f"{d} is {sizes[d]} on one input axis and {n} on another")
    missing = [s for s in SYMBOLS if s not in sizes]
    if missing:
        raise ValueError(f"no input axis gives {', '.join(missing)}")
    for (name, _, _), s, expected in zip(INPUTS, shapes, input_shapes(**sizes), strict=True):
        if tuple(s) != expected:
            raise ValueError(f"input {name!r} must have shape {expected}, got {tuple(s)}")
    reason = violated_constraint(**sizes)
    if reason is not None:
        raise ValueError(f"{MODEL} is not valid for {sizes}: {reason}")
    return sizes


def check_weights(weights):
    """The weights as contiguous arrays of DT, each shape checked against WEIGHT_SHAPES."""
    if len(weights) != len(WEIGHT_SHAPES):
        raise ValueError(f"{MODEL} has {len(WEIGHT_SHAPES)} weight arrays, got {len(weights)}")
    result = []
    for (layer, name, expected), w in zip(WEIGHT_SHAPES, weights, strict=True):
        if tuple(np.shape(w)) != expected:
            raise ValueError(f"layer {layer!r} weight {name!r} must have shape {expected}, got {np.shape(w)}")
        result.append(np.ascontiguousarray(w, dtype=DT))
    return result


def load_weights(path):
    """Weights in WEIGHT_SHAPES order from an .npz (arr_0, arr_1, ...), a Keras .weights.h5 or a .keras archive."""
    return read_weights(path)


def read_weights(path, hints=None):
    """load_weights(path); `hints` maps a layer name to the groups of a bare .weights.h5 to try first.
    Every problem is a ValueError that names the file."""
    path = str(path)
    try:
        if path.endswith(".npz"):
            with np.load(path) as f:
                return check_weights([f[f"arr_{i}"] for i in range(len(f.files))])
        import h5py

        if path.endswith(".keras"):
            import io
            import json
            import zipfile

            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if "model.weights.h5" not in names:
                    raise ValueError("the archive has no model.weights.h5 (is it a Keras 3 .keras file?)")
                data = io.BytesIO(archive.read("model.weights.h5"))
                config = json.loads(archive.read("config.json")) if "config.json" in names else None
            with h5py.File(data, "r") as f:
                return check_weights(_keras_h5_weights(f, keras_groups(config) if config else {}, hints))
        with h5py.File(path, "r") as f:
            return check_weights(_keras_h5_weights(f, {}, hints))
    except (OSError, KeyError, ValueError, EOFError) as e:
        message = str(e) if isinstance(e, ValueError) else f"cannot read it: {e}"
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError) and path.endswith((".h5", ".hdf5")):
            message = f"not a readable HDF5 file ({e})"
        raise ValueError(f"{path}: {message}") from None
    except Exception as e:  # zipfile.BadZipFile, zlib.error, json.JSONDecodeError: a damaged file
        raise ValueError(f"{path}: cannot read it: {type(e).__name__}: {e}") from None


def keras_groups(config):
    """{layer name: its group in model.weights.h5}, from a .keras archive's config.json."""
    groups = {}

    def walk(model, prefix):
        used = {}
        layers = (model.get("config") or {}).get("layers") or []
        for entry in layers:
            cls = entry.get("class_name", "")
            if model.get("class_name") == "Sequential" and cls == "InputLayer":
                continue  # Sequential.layers leaves its InputLayer out
            base = _snake_case(cls)
            used[base] = used.get(base, -1) + 1
            group = f"{prefix}/{base}" + (f"_{used[base]}" if used[base] else "")
            if cls in ("Sequential", "Functional", "Model"):
                walk(entry, group + "/layers")
            else:
                groups.setdefault((entry.get("config") or {}).get("name"), group)

    walk(config, "layers")
    return groups


def _snake_case(name):
    import re

    name = re.sub(r"\\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\\1_\\2", name)
    return re.sub("([a-z])([A-Z])", r"\\1_\\2", name).lower()


def _keras_h5_weights(f, groups, hints=None):
    """Every layer's arrays in WEIGHT_SHAPES order: Keras 3's layers/<group>/.../vars/<i> (a wrapper's
    forward layer before its backward one), or a legacy file's layer_names/weight_names."""
    root = f.get("model_weights", f)
    legacy = "layer_names" in root.attrs
    if not legacy and "layers" not in f:
        raise ValueError("no Keras weights in this HDF5 file (neither layers/ nor layer_names)")
    expected, names = {}, {}
    for layer, name, shape in WEIGHT_SHAPES:
        expected.setdefault(layer, []).append(shape)
        names.setdefault(layer, []).append(name)
    weights = []
    for layer in LAYER_NAMES:
        if legacy:
            arrays, tried = _lora_zeros(_legacy_arrays(root, layer), names[layer], expected[layer]), [layer]
        else:
            tried = [groups[layer]] if layer in groups else [*(hints or {}).get(layer, ()), f"layers/{layer}"]
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
        for (_, name, shape), got in zip([w for w in WEIGHT_SHAPES if w[0] == layer], shapes, strict=True):
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
    order = {"vars": 0, "forward_layer": 1, "backward_layer": 2}
    found = []
    group.visititems(lambda path, item: found.append(path) if hasattr(item, "shape") else None)
    found = [p for p in found if "seed_generator" not in p]  # random-state counters, not weights
    return [np.asarray(group[p]) for p in sorted(found, key=lambda p: _h5_order(p, order))]


def _h5_order(path, order):
    return [(order.get(p, 3), int(p) if p.isdigit() else 0, p) for p in path.split("/")]


def _legacy_arrays(root, layer):
    names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs["layer_names"]]
    if layer not in names:
        return None
    group = root[layer]
    return [np.asarray(group[n.decode() if isinstance(n, bytes) else n]) for n in group.attrs["weight_names"]]


def run(*arrays, weights):
    """forward() on checked inputs and weights (a list as returned by load_weights)."""
    return forward(*check_inputs(*arrays), *weights)
'''


def weight_reader(model_name: str, layer_names, weight_shapes, dtype: str = "float32") -> dict:
    """The runtime's weight readers without generating kernels (NumPy and h5py only): a namespace
    with `read_weights(path, hints)`, for tools that only check a weight file against a model."""
    import numpy as np

    namespace = {"np": np, "MODEL": model_name, "LAYER_NAMES": tuple(layer_names),
                 "WEIGHT_SHAPES": tuple(weight_shapes), "DT": getattr(np, dtype)}
    exec(compile(RUNTIME, "<shapeproof runtime>", "exec"), namespace)  # our own fixed text
    return namespace
