"""CUDA kernels of the activations and the activation/normalization layers of
tests/test_keras_activations.py vs the NumPy reference (tiny shapes: the simulator is slow): every
new activation string in one model, sparsemax as a row pass after Dense and Conv1D, Softmax over the
last, a middle and several axes, LayerScale, UnitNormalization over one and two axes,
GroupNormalization on the last and a middle axis, one group per channel, without gamma or beta."""
import pytest
from cuda_harness import check_case

NEW_ACTIVATIONS = ("hard_silu", "hard_swish", "mish", "log_sigmoid", "celu", "sparse_plus", "squareplus",
                   "sparse_sigmoid", "tanh_shrink", "hard_tanh", "soft_shrink", "hard_shrink")

KERNEL_CASES = {  # name: (layers or whole model, input shape, --set, bindings of the free sizes): see cuda_harness
    "activation_strings": ("model M(batch):\n    x = input (batch, 2, 6)\n    h = Dense(6)(x)\n" + "".join(
        f"    a{i} = Activation(\"{name}\")(h)\n" for i, name in enumerate(NEW_ACTIVATIONS))
        + f"    output {', '.join(f'a{i}' for i in range(len(NEW_ACTIVATIONS)))}\n", "", {}, [{}]),
    "sparsemax_passes": ("""
model M(batch):
    x = input (batch, 4, 3)
    a = Dense(5, activation="sparsemax")(x)
    b = Conv1D(4, 2, activation="sparsemax")(x)
    c = Activation("sparsemax")(x)
    d = Dense(3, activation="mish")(x)
    output a, b, c, d
""", "", {}, [{}]),
    "softmax_axes": ("""
model M(batch):
    x = input (batch, 2, 3, 2)
    a = Softmax()(x)
    b = Softmax(axis=1)(x)
    c = Softmax(axis=(1, 3))(x)
    output a, b, c
""", "", {}, [{}]),
    "layer_scale_unit_norm": ("LayerScale(0.1, 3)\n    UnitNormalization()\n    UnitNormalization(axis=[1, 2])",
                              "(batch, 2, 3)", {}, [{}]),
    "group_norm": ("""
model M(batch, T):
    x = input (batch, T, 4)
    y = input (batch, 3, 2, 2)
    a = GroupNormalization(groups=2)(x)
    b = GroupNormalization(groups=-1, center=False)(x)
    c = GroupNormalization(groups=3, axis=1, scale=False, epsilon=0.1)(y)
    output a, b, c
""", "", {}, [{"T": 2}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case], tolerance=1e-5)
