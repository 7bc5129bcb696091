"""CUDA kernels of the spatial reshaping layers vs the NumPy reference (tiny shapes: the simulator is slow)."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "zero_padding1d": ("ZeroPadding1D((1, 2))", "(batch, T, 3)", {}, [{"T": 3}, {"batch": 1, "T": 1}]),
    "zero_padding1d_default": ("ZeroPadding1D()", "(batch, 4, 2)", {}, [{}]),
    "zero_padding2d": ("ZeroPadding2D(((0, 1), (2, 3)))", "(batch, 3, 2, 2)", {}, [{}]),
    "zero_padding2d_one_axis": ("ZeroPadding2D((1, 0))", "(batch, H, W, 2)", {}, [{"H": 2, "W": 3}]),
    "zero_padding3d": ("ZeroPadding3D(((1, 0), (0, 1), (0, 2)))", "(batch, 2, 2, 2, 2)", {}, [{}]),
    "cropping1d": ("Cropping1D((2, 1))", "(batch, T, 3)", {}, [{"T": 5}, {"T": 4}]),
    "cropping1d_after": ("Cropping1D((0, 3))", "(batch, 5, 2)", {}, [{}]),
    "cropping2d": ("Cropping2D(((1, 2), (0, 3)))", "(batch, 5, 6, 2)", {}, [{}]),
    "cropping3d": ("Cropping3D(((0, 1), (1, 1), (2, 1)))", "(batch, 3, 4, 5, 2)", {}, [{}]),
    "upsampling1d": ("UpSampling1D(3)", "(batch, T, 2)", {}, [{"T": 3}, {"batch": 1, "T": 2}]),
    "upsampling2d_nearest": ("UpSampling2D((2, 3))", "(batch, 2, 3, 2)", {}, [{}]),
    "upsampling2d_area": ('UpSampling2D((1, 2), interpolation="area")', "(batch, 3, 2, 2)", {}, [{}]),
    "upsampling2d_bilinear": ('UpSampling2D((3, 2), interpolation="bilinear")', "(batch, H, W, 2)", {},
                              [{"H": 3, "W": 4}, {"batch": 1, "H": 1, "W": 2}]),
    "upsampling2d_bicubic": ('UpSampling2D((2, 3), interpolation="bicubic")', "(batch, 3, 3, 2)", {}, [{}]),
    "upsampling2d_lanczos3": ('UpSampling2D((2, 3), interpolation="lanczos3")', "(batch, 4, 3, 1)", {}, [{}]),
    "upsampling2d_lanczos5": ('UpSampling2D((3, 2), interpolation="lanczos5")', "(batch, 3, 4, 1)", {},
                              [{"batch": 1}]),
    "upsampling3d": ("UpSampling3D((2, 1, 3))", "(batch, 2, 2, 2, 2)", {}, [{}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])
