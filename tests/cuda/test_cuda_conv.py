"""CUDA kernels of the convolutions vs the NumPy reference (tiny shapes: the simulator is slow).

Conv and ConvTranspose are implicit GEMMs: each case below is one or a few GEMM tiles. The
`*_split_k` cases have K = taps x channels >= 64 at batch 1, so that K is split over blocks and
the finishing kernel adds the slices."""
import pytest
from cuda_harness import check_case

KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    # Conv1D: every padding, strides, dilation, groups, LoRA, no bias, activations, a free length T
    "conv1d_valid_strided": ("Conv1D(4, 3, strides=2)", "(batch, T, 3)", {}, [{"T": 7}, {"T": 3, "batch": 1}]),
    "conv1d_same_strided": ('Conv1D(5, 4, strides=3, padding="same", activation="relu")', "(batch, T, 2)", {},
                            [{"T": 8}, {"T": 4, "batch": 1}]),
    "conv1d_causal_dilated": ('Conv1D(3, 3, padding="causal", dilation_rate=2, use_bias=False, activation="tanh")',
                              "(batch, T, 2)", {}, [{"T": 6}]),
    "conv1d_groups_lora": ("Conv1D(6, 2, groups=3, lora_rank=2, lora_alpha=4)", "(batch, 5, 6)", {}, [{}]),
    "conv1d_lora_no_bias": ("Conv1D(4, 3, lora_rank=3, lora_alpha=6, use_bias=False)", "(batch, 5, 2)", {}, [{}]),
    "conv1d_softmax": ('Conv1D(4, 2, activation="softmax")', "(batch, 4, 3)", {}, [{}]),
    "conv1d_split_k": ('Conv1D(8, 3, padding="same", activation="gelu")', "(batch, 10, 32)", {}, [{"batch": 1}]),
    # Conv2D/3D
    "conv2d_same_strided": ('Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="selu")',
                            "(batch, 5, 4, 3)", {}, [{}]),
    "conv2d_free_sizes": ('Conv2D(3, 3, strides=2, padding="same")', "(batch, H, W, 2)", {},
                          [{"H": 5, "W": 6}, {"H": 4, "W": 3, "batch": 1}]),
    "conv2d_dilated": ("Conv2D(3, 2, dilation_rate=(2, 1), use_bias=False)", "(batch, 5, 4, 2)", {}, [{}]),
    "conv2d_groups_lora_log_softmax": ('Conv2D(4, 2, groups=2, lora_rank=2, activation="log_softmax")',
                                       "(batch, 3, 4, 4)", {}, [{}]),
    "conv2d_split_k": ('Conv2D(4, 2, padding="same", groups=2)', "(batch, 3, 3, 32)", {}, [{"batch": 1}]),
    "conv3d_same_dilated": ('Conv3D(3, (2, 2, 3), padding="same", dilation_rate=(2, 1, 1))', "(batch, 3, 4, 3, 2)",
                            {}, [{}]),
    "conv3d_strided": ('Conv3D(2, 2, strides=(2, 1, 2), activation="sigmoid")', "(batch, 4, 3, 5, 2)", {},
                       [{"batch": 1}]),
    # transposed: stride phases (stride above, equal to and below the kernel), output_padding, dilation
    "conv1d_transpose": ("Conv1DTranspose(4, 3)", "(batch, T, 2)", {}, [{"T": 4}]),
    "conv1d_transpose_same_strided": ('Conv1DTranspose(3, 5, strides=3, padding="same", activation="relu")',
                                      "(batch, T, 2)", {}, [{"T": 3}, {"T": 4, "batch": 1}]),
    "conv1d_transpose_output_padding": (('Conv1DTranspose(2, 4, strides=3, padding="same", output_padding=2, '
                                         'use_bias=False)'), "(batch, 3, 2)", {}, [{}]),
    "conv1d_transpose_wide_stride": ("Conv1DTranspose(3, 2, strides=4)", "(batch, 3, 2)", {}, [{}]),
    "conv1d_transpose_dilated": ('Conv1DTranspose(3, 4, dilation_rate=3, padding="same", output_padding=0)',
                                 "(batch, 4, 2)", {}, [{}]),
    "conv1d_transpose_valid_softmax": ('Conv1DTranspose(3, 3, strides=2, output_padding=1, activation="softmax")',
                                       "(batch, 3, 2)", {}, [{}]),
    "conv1d_transpose_split_k": ("Conv1DTranspose(4, 3)", "(batch, 5, 32)", {}, [{"batch": 1}]),
    "conv2d_transpose": ("Conv2DTranspose(3, (3, 4), strides=(2, 3), output_padding=(1, 2))", "(batch, 3, 2, 2)",
                         {}, [{}]),
    "conv2d_transpose_same": (('Conv2DTranspose(2, (4, 3), strides=2, padding="same", output_padding=(0, 1), '
                               'activation="tanh")'), "(batch, 2, 3, 2)", {}, [{}]),
    "conv3d_transpose_same": ('Conv3DTranspose(2, (2, 3, 1), strides=(2, 1, 3), padding="same")',
                              "(batch, 2, 3, 2, 2)", {}, [{"batch": 1}]),
    "conv3d_transpose_dilated": ("Conv3DTranspose(2, 3, dilation_rate=(1, 2, 1), output_padding=0)",
                                 "(batch, 2, 2, 2, 1)", {}, [{"batch": 1}]),
    # depthwise: depth_multiplier, strides with dilation (allowed here), no bias, softmax
    "depthwise1d_same": ('DepthwiseConv1D(3, padding="same", depth_multiplier=2, activation="relu")',
                         "(batch, T, 3)", {}, [{"T": 5}, {"T": 2, "batch": 1}]),
    "depthwise1d_strided_dilated": (("DepthwiseConv1D(2, strides=2, dilation_rate=2, depth_multiplier=2, "
                                     "use_bias=False)"), "(batch, 7, 2)", {}, [{}]),
    "depthwise2d_same_softmax": (('DepthwiseConv2D((3, 2), strides=(2, 3), padding="same", depth_multiplier=3, '
                                  'activation="softmax")'), "(batch, 5, 6, 2)", {}, [{}]),
    "depthwise2d_dilated": ("DepthwiseConv2D(2, dilation_rate=(1, 2))", "(batch, 3, 4, 3)", {}, [{}]),
    # separable: the depthwise pass, then the pointwise GEMM
    "separable1d_same_softmax": ('SeparableConv1D(3, 4, padding="same", depth_multiplier=2, activation="softmax")',
                                 "(batch, T, 3)", {}, [{"T": 6}]),
    "separable1d_strided_dilated": ("SeparableConv1D(5, 2, strides=3, dilation_rate=2, use_bias=False)",
                                    "(batch, 8, 2)", {}, [{}]),
    "separable2d_same": (('SeparableConv2D(4, (2, 3), strides=(2, 1), padding="same", depth_multiplier=2, '
                          'activation="relu")'), "(batch, 4, 5, 2)", {}, [{}]),
    "separable2d_dilated": ("SeparableConv2D(3, 2, dilation_rate=(2, 1))", "(batch, 4, 3, 2)", {}, [{}]),
    # layers in a row: each reads the previous one's device array
    "chain": (('Conv1D(4, 3, padding="same", activation="relu")\n    Conv1DTranspose(3, 2, strides=2)\n'
               "    SeparableConv1D(2, 3)\n    DepthwiseConv1D(2)"), "(batch, T, 2)", {}, [{"T": 4}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    net = check_case(KERNEL_CASES[case])
    if case.endswith("split_k"):  # the partial sums' buffer is only allocated when K is split
        assert any(key.endswith("_part") for key, _ in net.module.SCRATCH), "K was not split"
