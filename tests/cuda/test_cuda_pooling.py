"""CUDA kernels of the pooling layers vs the NumPy reference (tiny shapes: the simulator is slow)."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "max1d_default": ("MaxPooling1D()", "(batch, T, 3)", {}, [{"T": 5}, {"batch": 1, "T": 4}]),
    "max1d_same": ('MaxPooling1D(3, strides=2, padding="same")', "(batch, T, 2)", {}, [{"T": 5}, {"T": 6}]),
    "max1d_pool_1": ("MaxPooling1D(pool_size=1)", "(batch, 3, 2)", {}, [{}]),
    "avg1d_valid": ("AveragePooling1D(2, strides=1)", "(batch, T, 3)", {}, [{"T": 4}]),
    "avg1d_same": ('AveragePooling1D(4, strides=3, padding="same")', "(batch, T, 2)", {}, [{"T": 7}, {"T": 5}]),
    "max2d_default": ("MaxPooling2D()", "(batch, 4, 5, 3)", {}, [{}]),
    "max2d_same": ('MaxPooling2D((3, 2), strides=(2, 3), padding="same")', "(batch, 5, 5, 2)", {}, [{}]),
    "avg2d_valid": ("AveragePooling2D((3, 2), strides=2)", "(batch, 5, 4, 2)", {}, [{}]),
    "avg2d_same_free": ('AveragePooling2D(3, strides=(1, 2), padding="same")', "(batch, H, W, 2)", {},
                        [{"H": 4, "W": 5}, {"batch": 1, "H": 3, "W": 2}]),
    "max3d_strided": ("MaxPooling3D((1, 2, 2), strides=(2, 1, 1))", "(batch, 3, 3, 4, 2)", {}, [{}]),
    "max3d_same": ('MaxPooling3D(2, strides=1, padding="same")', "(batch, 3, 2, 3, 2)", {}, [{}]),
    "avg3d_valid": ("AveragePooling3D(2)", "(batch, 4, 2, 3, 2)", {}, [{}]),
    "avg3d_same": ('AveragePooling3D((2, 1, 3), strides=(1, 2, 1), padding="same")', "(batch, 3, 4, 3, 2)", {},
                   [{}]),
    "global_max1d": ("GlobalMaxPooling1D()", "(batch, T, 3)", {}, [{"T": 4}, {"batch": 1, "T": 1}]),
    "global_avg1d_keepdims": ("GlobalAveragePooling1D(keepdims=True)", "(batch, T, 3)", {}, [{"T": 5}]),
    "global_max2d_keepdims": ("GlobalMaxPooling2D(keepdims=True)", "(batch, 3, 2, 4)", {}, [{}]),
    "global_avg2d": ("GlobalAveragePooling2D()", "(batch, H, W, 3)", {}, [{"H": 3, "W": 2}]),
    "global_max3d": ("GlobalMaxPooling3D()", "(batch, 2, 3, 2, 3)", {}, [{}]),
    "global_avg3d_keepdims": ("GlobalAveragePooling3D(keepdims=True)", "(batch, 2, 2, 3, 2)", {}, [{}]),
    "pool_chain": ('Dense(4, activation="tanh")\n    MaxPooling1D(2)\n    GlobalAveragePooling1D()',
                   "(batch, T, 2)", {}, [{"T": 6}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])
