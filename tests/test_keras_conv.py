"""Keras cross-check: convolutions (shapes, weight shapes, parameter counts)."""
import pytest

from keras_harness import crosscheck

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
}


@pytest.mark.parametrize("name", CASES)
def test_conv_matches_keras(name):
    crosscheck(CASES[name])
