"""Keras cross-check: zero padding, cropping and up-sampling."""
import pytest

from keras_harness import crosscheck, run_and_count

CASES = {
    "padding": """
model M(batch):
    a = input (batch, 7, 3)
    ZeroPadding1D()(a)
    ZeroPadding1D(3)
    ZeroPadding1D((0, 2))
    ZeroPadding1D(padding=[2, 1])
    b = input (batch, 5, 6, 2)
    ZeroPadding2D()(b)
    ZeroPadding2D(2)
    ZeroPadding2D((1, 3))
    ZeroPadding2D(((0, 1), (2, 3)))
    ZeroPadding2D((1, (0, 4)), data_format="channels_last")
    c = input (batch, 2, 3, 4, 1)
    ZeroPadding3D()(c)
    ZeroPadding3D(2)
    ZeroPadding3D((1, 2, 0))
    ZeroPadding3D(((0, 1), 2, (3, 0)))
""",
    "cropping": """
model M(batch):
    a = input (batch, 11, 3)
    Cropping1D()(a)
    Cropping1D(2)
    Cropping1D((0, 3))
    Cropping1D(cropping=(1, 0))
    b = input (batch, 9, 10, 2)
    Cropping2D()(b)
    Cropping2D(1)
    Cropping2D((2, 0))
    Cropping2D(((0, 1), (3, 2)))
    Cropping2D(((1, 0), 1), data_format="channels_last")
    c = input (batch, 6, 7, 9, 1)
    Cropping3D()(c)
    Cropping3D(0)
    Cropping3D((1, 0, 2))
    Cropping3D(((0, 1), 1, (2, 0)))
""",
    "upsampling": """
model M(batch):
    a = input (batch, 5, 3)
    UpSampling1D()(a)
    UpSampling1D(3)
    UpSampling1D(size=1)
    b = input (batch, 3, 4, 2)
    UpSampling2D()(b)
    UpSampling2D((2, 3), interpolation="bilinear")
    UpSampling2D(3, data_format="channels_last", interpolation="nearest")
    UpSampling2D(size=(1, 2), interpolation="bicubic")
    c = input (batch, 2, 3, 1, 2)
    UpSampling3D()(c)
    UpSampling3D((1, 2, 3))
    UpSampling3D(size=2)
""",
    "unet_like": """
model M(batch):
    x = input (batch, 29, 31, 3)
    p = ZeroPadding2D(((1, 2), (0, 1)))(x)
    d = Conv2D(8, 3, padding="same")(p)
    m = MaxPooling2D()(d)
    u = UpSampling2D()(m)
    c = Cropping2D(((0, 1), (0, 0)))(u)
    t = Conv2DTranspose(4, 3, strides=2, padding="same")(m)
    g = GlobalAveragePooling2D()(t)
""",
}


@pytest.mark.parametrize("name", CASES)
def test_reshaping_matches_keras(name):
    crosscheck(CASES[name])


@pytest.mark.parametrize("name", CASES)
def test_reshaping_runs_with_our_shapes_and_macs(name):
    run_and_count(CASES[name])
