"""Keras cross-check: pooling (windowed and global)."""
import pytest

from keras_harness import crosscheck, run_and_count

CASES = {
    "pooling1d": """
model M(batch, T=23):
    input (batch, T, 3)
    MaxPooling1D()
    MaxPooling1D(3, strides=2, padding="same")
    AveragePooling1D(2, strides=1)
    AveragePooling1D(pool_size=4, strides=3, padding="same")
    MaxPooling1D(pool_size=1)
""",
    "pooling2d": """
model M(batch):
    input (batch, 17, 10, 4)
    MaxPooling2D()
    MaxPooling2D((3, 2), strides=(2, 3), padding="same")
    AveragePooling2D((2, 1), strides=None)
    AveragePooling2D(pool_size=3, strides=(1, 2), padding="same")
    x = input (batch, 9, 8, 2)
    AveragePooling2D((3, 2), strides=2, padding="valid")(x)
    MaxPooling2D(pool_size=(1, 3), strides=1, data_format="channels_last")
""",
    "pooling3d": """
model M(batch):
    input (batch, 9, 8, 7, 2)
    MaxPooling3D()
    AveragePooling3D((2, 1, 3), strides=(1, 2, 1), padding="same")
    MaxPooling3D(pool_size=(1, 2, 2), strides=(2, 1, 1), padding="valid")
    AveragePooling3D(pool_size=1)
""",
    "global_pooling": """
model M(batch):
    a = input (batch, 13, 5)
    GlobalMaxPooling1D()(a)
    GlobalAveragePooling1D(keepdims=True)(a)
    GlobalMaxPooling1D(data_format="channels_last", keepdims=True)(a)
    b = input (batch, 7, 6, 4)
    GlobalAveragePooling2D()(b)
    GlobalMaxPooling2D(keepdims=True)(b)
    c = input (batch, 3, 4, 5, 6)
    GlobalAveragePooling3D(keepdims=True)(c)
    GlobalMaxPooling3D()(c)
    GlobalAveragePooling3D(None, False)(c)
""",
}


@pytest.mark.parametrize("name", CASES)
def test_pooling_matches_keras(name):
    crosscheck(CASES[name])


@pytest.mark.parametrize("name", CASES)
def test_pooling_runs_with_our_shapes_and_macs(name):
    run_and_count(CASES[name])
