"""Keras cross-check: convolutions (shapes, weight shapes, parameter counts), and a run of each
layer on the torch backend: real output shapes and MACs (torch's FLOP counter / 2)."""
import pytest

from keras_harness import crosscheck, run_and_count

CASES = {
    "conv1d_kernel1": """
model M(batch, n=50):
    input (batch, n, 1)
    Conv1D(128, kernel_size=1, activation="relu")
""",
    "conv1d_strided_valid_odd": """
model M(batch):
    input (batch, 23, 3)
    Conv1D(8, 5, strides=3)
    Conv1D(4, 3, padding="same", strides=2, use_bias=False)
    Conv1D(4, 3, padding="causal", dilation_rate=2)
""",
    "conv2d_groups": """
model M(batch):
    input (batch, 17, 12, 8)
    Conv2D(16, (3, 2), strides=(2, 1), groups=4)
    Conv2D(6, 1, padding="same", groups=2, trainable=False)
""",
    "conv3d_dilated": """
model M(batch):
    input (batch, 9, 10, 11, 2)
    Conv3D(4, (3, 3, 2), dilation_rate=(2, 1, 1))
""",
    "conv_lora": """
model M(batch):
    input (batch, 12, 10, 6)
    Conv2D(8, 3, groups=2, lora_rank=2)
    x = input (batch, 9, 5)
    Conv1D(4, 3, lora_rank=3, lora_alpha=6, use_bias=False)(x)
""",
    "conv1d_transpose": """
model M(batch, T=13):
    input (batch, T, 3)
    Conv1DTranspose(4, 3)
    Conv1DTranspose(4, 2, strides=3)
    Conv1DTranspose(5, 5, strides=3, padding="same")
    Conv1DTranspose(2, 4, strides=3, padding="same", output_padding=2, use_bias=False)
    Conv1DTranspose(2, 3, strides=2, output_padding=1)
    Conv1DTranspose(3, 4, dilation_rate=3, padding="same", output_padding=0)
    Conv1DTranspose(3, 3, dilation_rate=2, padding="valid")
""",
    "conv2d_transpose": """
model M(batch):
    input (batch, 7, 9, 5)
    Conv2DTranspose(6, (3, 4), strides=(2, 3), output_padding=(1, 2))
    Conv2DTranspose(4, 2, strides=(3, 1), padding="same", trainable=False)
    Conv2DTranspose(3, (4, 3), strides=(2, 2), padding="same", output_padding=(0, 1), activation="relu")
    Conv2DTranspose(2, (1, 1), strides=(1, 4))
""",
    "conv3d_transpose": """
model M(batch):
    input (batch, 3, 4, 5, 2)
    Conv3DTranspose(3, (2, 3, 1), strides=(2, 1, 3), padding="same")
    Conv3DTranspose(2, 3, dilation_rate=(1, 2, 1), output_padding=0)
""",
    "depthwise": """
model M(batch):
    input (batch, 21, 4)
    DepthwiseConv1D(3)
    DepthwiseConv1D(4, strides=3, padding="same", depth_multiplier=3, use_bias=False)
    DepthwiseConv1D(2, strides=2, dilation_rate=2, depth_multiplier=2)
    x = input (batch, 15, 11, 3)
    DepthwiseConv2D((3, 2), strides=(2, 3), depth_multiplier=2)(x)
    DepthwiseConv2D(5, padding="same", dilation_rate=(1, 2), trainable=False)
    DepthwiseConv2D(kernel_size=2, strides=2, padding="valid", depth_multiplier=4)
""",
    "separable": """
model M(batch):
    input (batch, 19, 6)
    SeparableConv1D(8, 3)
    SeparableConv1D(4, 5, strides=2, padding="same", depth_multiplier=3, use_bias=False)
    SeparableConv1D(5, 2, strides=3, dilation_rate=2)
    x = input (batch, 13, 16, 3)
    SeparableConv2D(10, (3, 5), strides=(2, 3), depth_multiplier=2)(x)
    SeparableConv2D(7, 3, padding="same", dilation_rate=(2, 1), activation="relu")
    SeparableConv2D(4, (2, 1), trainable=False)
""",
}


@pytest.mark.parametrize("name", CASES)
def test_conv_matches_keras(name):
    crosscheck(CASES[name])


@pytest.mark.parametrize("name", CASES)
def test_conv_runs_with_our_shapes_and_macs(name):
    run_and_count(CASES[name])
