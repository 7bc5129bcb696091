"""CUDA kernels of the normalization layers vs the NumPy reference (tiny shapes: the simulator is slow).

BatchNormalization on the last, a middle and the first non-batch axis, center/scale on and off,
epsilon, renorm's extra statistics; LayerNormalization over the last axis, adjacent axes, axes out of
order (gamma's reshape quirk), non-adjacent axes, a non-last axis alone, a free-size axis (block
size chosen at run time), rms_scaling, center/scale off, groups longer than a block.
"""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "batch_norm_last_axis": ("BatchNormalization()", "(batch, T, 3)", {}, [{"T": 2}, {"batch": 1, "T": 1}]),
    "batch_norm_middle_axis": ("BatchNormalization(axis=2, center=False, epsilon=0.01)", "(batch, 2, 3, 2)", {},
                               [{}]),
    "batch_norm_first_axis": ("BatchNormalization(axis=1, scale=False)", "(batch, 3, T)", {}, [{"T": 2}]),
    "batch_norm_plain": ("BatchNormalization(axis=-2, scale=False, center=False)", "(batch, 3, 2)", {}, [{}]),
    "batch_norm_renorm": ("BatchNormalization(renorm=True)\n    Dense(2)", "(batch, 4)", {}, [{}]),
    "layer_norm_last_axis": ("LayerNormalization()", "(batch, T, 5)", {}, [{"T": 2}, {"batch": 1, "T": 1}]),
    "layer_norm_adjacent_axes": ("LayerNormalization(axis=[2, 3], epsilon=0.1)", "(batch, 2, 3, 2)", {}, [{}]),
    "layer_norm_axes_out_of_order": ("LayerNormalization(axis=[-1, 2])", "(batch, 2, 3, 2)", {}, [{}]),
    "layer_norm_non_adjacent": ("LayerNormalization(axis=[3, 1])", "(batch, 3, 2, 2)", {}, [{}]),
    "layer_norm_middle_axis": ("LayerNormalization(axis=-2, scale=False)", "(batch, 3, 4, 2)", {}, [{}]),
    "layer_norm_free_axis": ("LayerNormalization(axis=1, center=False, scale=False)", "(batch, T, 3)", {},
                             [{"T": 3}]),
    "layer_norm_set_axis": ("LayerNormalization(axis=1, center=False)", "(batch, T, 2)", {"T": 3}, [{}]),
    "layer_norm_rms_scaling": ("LayerNormalization(axis=[-1, 1], rms_scaling=True)", "(batch, 2, T, 3)", {},
                               [{"T": 2}]),
    "layer_norm_long_group": ("LayerNormalization(epsilon=1e-5)", "(batch, 300)", {}, [{"batch": 1}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])
