"""CUDA kernels of the core layers vs the NumPy reference (tiny shapes: the simulator is slow)."""
import numpy as np
import pytest
from cuda_harness import check_case, check_cuda

from shapeproof import analyzer
from shapeproof import codegen

KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "normalization_preprocessing": ("Normalization()\n    Normalization(axis=1, invert=True)\n    Dense(2)",
                                    "(batch, 3, 4)", {}, [{}]),
    "activation_layers": ("ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25)\n    LeakyReLU(0.25)\n"
                          "    PReLU(shared_axes=[1])\n    ELU(0.5)\n    Identity()\n    Rescaling(0.5, offset=1)\n"
                          "    Dense(3)", "(batch, 4, 5)", {},
                          [{}]),
    "dense_relu": ('Dense(7, activation="relu")', "(batch, T, 5)", {}, [{"T": 3}, {"batch": 1, "T": 2}]),
    "dense_split_k": ('Dense(9, activation="tanh")', "(batch, 150)", {}, [{}]),
    "dense_softmax_no_bias": ('Dense(6, use_bias=False, activation="softmax")', "(batch, 4)", {}, [{}]),
    "dense_log_softmax": ('Dense(3, activation="log_softmax")', "(batch, 2, 4)", {}, [{}]),
    "dense_lora": ("Dense(5, lora_rank=2)", "(batch, 6)", {}, [{}]),
    "dense_wide": ("Dense(70)", "(batch, 3)", {}, [{"batch": 3}]),
    "activation_gelu": ('Activation("gelu")', "(batch, 3, 4)", {}, [{}]),
    "activation_softmax": ('Activation("softmax")', "(batch, 5)", {}, [{}]),
    "dropout_reshape": ("Dropout(0.5)\n    Reshape((4, 3))\n    Dense(2)", "(batch, 3, 4)", {}, [{}]),
    "spatial_dropout": ("SpatialDropout1D(0.2)\n    Dense(2)", "(batch, 3, 4)", {}, [{}]),
    "spatial_dropout_2d_3d": ("SpatialDropout2D(0.2)\n    Reshape((2, 3, 2, 2))\n    SpatialDropout3D(0.1)\n"
                              "    Dense(2)", "(batch, 2, 6, 2)", {}, [{}]),
    "flatten": ("Flatten()\n    Dense(3)", "(batch, 2, 3, 2)", {}, [{}]),
    "flatten_channels_first": ('Flatten(data_format="channels_first")', "(batch, 3, 2, 2)", {}, [{}]),
    "permute": ("Permute((3, 1, 2))", "(batch, 2, 3, 4)", {}, [{}]),
    "repeat_vector": ("RepeatVector(3)", "(batch, 4)", {}, [{}]),
    "embedding": ("Embedding(11, 4)\n    Dense(2)", "(batch, T) int32", {}, [{"T": 5}]),
    "embedding_lora": ("Embedding(7, 3, lora_rank=2)", "(batch, 4) int32", {}, [{}]),
    "einsum_dense_gemm": ('EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", '
                          'activation="softmax")\n    EinsumDense("...b,bc->...c", output_shape=2, bias_axes="c")',
                          "(batch, T, 3)", {}, [{"T": 2}]),
    "einsum_dense_loops": ("""
model M(batch, T):
    x = input (batch, T, 3)
    a = EinsumDense("abc,cd->adb", output_shape=(2, None), bias_axes="d", activation="relu")(x)
    b = EinsumDense("abc,bcd->abd", output_shape=(2, 2), bias_axes="bd")(x)
    c = EinsumDense("ab...,bc->ac...", output_shape=(2,), bias_axes="c", activation="log_softmax")(x)
    output a, b, c
""", "", {"T": 2}, [{}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])


@pytest.mark.parametrize("activation", ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
                                        "hard_sigmoid", "tanh", "softplus", "softsign", "swish", "silu",
                                        "exponential", "linear"])
def test_every_activation(activation):
    check_cuda(f'model M(batch):\n    input (batch, 3)\n    Dense(4, activation="{activation}")\n')


def test_float64_build():
    check_cuda("model M(batch):\n    input (batch, 20)\n    Dense(3)\n", dtype="float64", tolerance=1e-12)


def test_device_arrays_in_device_arrays_out():
    from numba import cuda

    model = analyzer.loads("model M(batch):\n    input (batch, 4)\n    Dense(3)\n    Flatten()\n").models["M"]
    net = codegen.build(model, target="cuda")
    net.random_weights(1)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    host = net(x)
    first = net(cuda.to_device(x))
    second = net(cuda.to_device(2 * x))
    assert not isinstance(first, np.ndarray)
    np.testing.assert_allclose(first.copy_to_host(), host, rtol=1e-6)  # not overwritten by the second call
    assert not np.allclose(second.copy_to_host(), host)
    with pytest.raises(ValueError, match="dtype float32"):
        net(cuda.to_device(x.astype(np.float64)))
    with pytest.raises(ValueError, match="must have shape"):
        net(cuda.to_device(np.zeros((2, 5), np.float32)))
