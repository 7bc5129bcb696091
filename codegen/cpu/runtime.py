"""Fixed text at the end of every generated module: input checks and weight loading.

It uses only what the module defines (INPUTS, SYMBOLS, WEIGHT_SHAPES, LAYER_NAMES, input_shapes,
violated_constraint), NumPy, and h5py when a Keras .h5 or .keras file is read.
"""

RUNTIME = '''\
def check_inputs(*arrays):
    """The inputs as contiguous arrays of the right dtype, after checking ranks, sizes and constraints."""
    if len(arrays) != len(INPUTS):
        raise ValueError(f"{MODEL} takes {len(INPUTS)} input(s), got {len(arrays)}")
    sizes = {}
    for (name, dims, dtype), a in zip(INPUTS, arrays):
        a = np.asarray(a)
        if a.ndim != len(dims):
            raise ValueError(f"input {name!r} has rank {len(dims)}, got an array of shape {a.shape}")
        for d, n in zip(dims, a.shape):
            if isinstance(d, str) and d in SYMBOLS and sizes.setdefault(d, n) != n:
                raise ValueError(f"{d} is {sizes[d]} on one input axis and {n} on another")
    missing = [s for s in SYMBOLS if s not in sizes]
    if missing:
        raise ValueError(f"no input axis gives {', '.join(missing)}")
    for (name, dims, dtype), a, expected in zip(INPUTS, arrays, input_shapes(**sizes)):
        if np.shape(a) != expected:
            raise ValueError(f"input {name!r} must have shape {expected}, got {np.shape(a)}")
    reason = violated_constraint(**sizes)
    if reason is not None:
        raise ValueError(f"{MODEL} is not valid for {sizes}: {reason}")
    return [np.ascontiguousarray(a, dtype=DT if dtype.startswith("float") else dtype)
            for (name, dims, dtype), a in zip(INPUTS, arrays)]


def check_weights(weights):
    """The weights as contiguous arrays of DT, each shape checked against WEIGHT_SHAPES."""
    if len(weights) != len(WEIGHT_SHAPES):
        raise ValueError(f"{MODEL} has {len(WEIGHT_SHAPES)} weight arrays, got {len(weights)}")
    result = []
    for (layer, name, expected), w in zip(WEIGHT_SHAPES, weights):
        if tuple(np.shape(w)) != expected:
            raise ValueError(f"layer {layer!r} weight {name!r} must have shape {expected}, got {np.shape(w)}")
        result.append(np.ascontiguousarray(w, dtype=DT))
    return result


def load_weights(path):
    """Weights in WEIGHT_SHAPES order from an .npz (arr_0, arr_1, ...), a Keras .weights.h5 or a .keras archive."""
    path = str(path)
    if path.endswith(".npz"):
        with np.load(path) as f:
            return check_weights([f[f"arr_{i}"] for i in range(len(f.files))])
    import h5py

    if path.endswith(".keras"):
        import io
        import zipfile

        with zipfile.ZipFile(path) as archive:
            data = io.BytesIO(archive.read("model.weights.h5"))
        with h5py.File(data, "r") as f:
            return check_weights(_keras_h5_weights(f))
    with h5py.File(path, "r") as f:
        return check_weights(_keras_h5_weights(f))


def _keras_h5_weights(f):
    """Keras 3's layout: layers/<name>/.../vars/<i>; a wrapper's forward layer before its backward one."""
    order = {"vars": 0, "forward_layer": 1, "backward_layer": 2}
    weights = []
    for layer in LAYER_NAMES:
        if layer not in f["layers"]:
            raise ValueError(f"the file has no weights for layer {layer!r}")
        group = f["layers"][layer]
        found = []
        group.visititems(lambda path, item, found=found: found.append(path) if hasattr(item, "shape") else None)
        weights += [np.asarray(group[p]) for p in sorted(found, key=lambda p: _h5_order(p, order))]
    return weights


def _h5_order(path, order):
    return [(order.get(p, 3), int(p) if p.isdigit() else 0, p) for p in path.split("/")]


def run(*arrays, weights):
    """forward() on checked inputs and weights (a list as returned by load_weights)."""
    return forward(*check_inputs(*arrays), *weights)
'''
