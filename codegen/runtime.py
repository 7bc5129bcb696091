"""Fixed text at the end of every generated module (both targets): input and weight checks, weight loading.

It uses only what the module defines (INPUTS, SYMBOLS, WEIGHT_SHAPES, LAYERS, input_shapes,
violated_constraint) and NumPy; reading a Keras weight file imports shapeproof.keras.weights.
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
        result.append(np.ascontiguousarray(w, dtype=DT).reshape(expected))  # keeps a 0-d weight 0-d
    return result


def load_weights(path):
    """Weights in WEIGHT_SHAPES order from an .npz (arr_0, arr_1, ...), a Keras .weights.h5, a .keras
    archive or a legacy .h5 (Keras files are read by shapeproof.keras.weights: shapeproof installed)."""
    from shapeproof.keras.weights import read_weights

    return check_weights(read_weights(path, WEIGHT_SHAPES, LAYERS))


def pack_weights(weights):
    """The arrays forward takes: checked weights, those a kernel reads re-laid out (PACKED: done once
    when the weights are set, not in every call)."""
    packed = list(weights)
    for i, pack, _ in PACKED:
        packed[i] = np.ascontiguousarray(pack(packed[i]))
    return packed


def run(*arrays, weights):
    """forward() on checked inputs and weights (a list as returned by load_weights; packing them
    with pack_weights once saves that work in every call)."""
    return forward(*check_inputs(*arrays), *pack_weights(weights))
'''

