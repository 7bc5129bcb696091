"""Fixed text at the end of every generated CUDA module: weights to the device, and the call that
takes NumPy arrays (returns NumPy) or device arrays (returns device arrays, nothing copied back)."""

CUDA_RUNTIME = '''\
def upload_weights(weights):
    """check_weights, then each array copied to the device once."""
    return [cuda.to_device(w) for w in check_weights(weights)]


def on_device(a):
    """Whether `a` lives on the GPU: a Numba device array, or anything with __cuda_array_interface__."""
    return not isinstance(a, np.ndarray) and (hasattr(a, "copy_to_host") or hasattr(a, "__cuda_array_interface__"))


def check_device_inputs(*arrays):
    """Device inputs as Numba device arrays (no copy), with the checks check_inputs makes."""
    views = [a if hasattr(a, "copy_to_host") else cuda.as_cuda_array(a) for a in arrays]  # CuPy, torch: a view
    for (name, _, dtype), v in zip(INPUTS, views, strict=True):
        wanted = np.dtype(DT if dtype.startswith("float") else dtype)
        if np.dtype(v.dtype) != wanted:
            raise ValueError(f"input {name!r} on the device must have dtype {wanted.name}, got {v.dtype}")
        if not v.is_c_contiguous():
            raise ValueError(f"input {name!r} on the device must be C-contiguous")
    check_shapes([v.shape for v in views])
    return views


def call(arrays, device_weights):
    """forward on NumPy inputs (uploaded, result copied back) or device inputs (result left there)."""
    if len(arrays) != len(INPUTS):
        raise ValueError(f"{MODEL} takes {len(INPUTS)} input(s), got {len(arrays)}")
    if all(on_device(a) for a in arrays):  # kernels queued on the default stream; nothing waits here
        return forward(*check_device_inputs(*arrays), *device_weights)
    inputs = [cuda.to_device(a) for a in check_inputs(*arrays)]
    result = forward(*inputs, *device_weights)
    if isinstance(result, tuple):
        return tuple(r.copy_to_host() for r in result)
    return result.copy_to_host()
'''
