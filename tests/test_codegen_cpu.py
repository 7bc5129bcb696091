"""Generated Numba CPU kernels: the module itself, caching, and the exemplar kernels."""
import os
import subprocess
import sys

import numpy as np
import pytest

from shapeproof import analyzer
from shapeproof import codegen
from codegen_harness import check_generated

SMALL = """
model M(batch, T):
    input (batch, T, 3)
    Conv1D(8, 3, activation="relu")
    Conv1D(6, 3, strides=2, padding="same", groups=2)
    Dense(4, activation="softmax")
"""


def test_exemplar_kernels_match_reference_at_several_sizes():
    check_generated(SMALL, sizes=[{"batch": 1, "T": 3}, {"batch": 2, "T": 12}, {"batch": 3, "T": 13}])


def test_parallel_build_matches_reference():
    check_generated(SMALL, sizes=[{"batch": 3, "T": 40}], parallel=True)


def test_float64_build():
    check_generated(SMALL, sizes=[{"T": 9}], dtype="float64", tolerance=1e-10)


@pytest.mark.parametrize("layer", [
    'Conv2D(6, (3, 2), strides=(2, 1), padding="same", dilation_rate=1)',
    'Conv2D(4, 3, dilation_rate=(2, 1), groups=2, activation="tanh")',
])
def test_conv2d(layer):
    check_generated(f"model M(batch):\n    input (batch, 9, 8, 4)\n    {layer}\n")


def test_conv3d_and_dense_on_rank_5():
    check_generated("model M(batch):\n    input (batch, 5, 6, 4, 2)\n    Conv3D(4, (3, 2, 2), padding=\"same\")\n"
                    "    Dense(3, activation=\"gelu\")\n")


def test_causal_dilated_and_lora():
    check_generated("model M(batch, T):\n    input (batch, T, 4)\n"
                    "    Conv1D(5, 3, padding=\"causal\", dilation_rate=2, lora_rank=2)\n"
                    "    Dense(3, lora_rank=1)\n", sizes=[{"T": 5}, {"T": 8}])


@pytest.mark.parametrize("activation", ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
                                        "hard_sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
                                        "swish", "silu", "exponential", "linear"])
def test_every_activation(activation):
    check_generated(f"model M(batch):\n    input (batch, 3, 5)\n    Dense(4)\n    Activation(\"{activation}\")\n")


def test_wrong_weights_and_inputs_are_named():
    net = codegen.build(analyzer.loads(SMALL).models["M"])
    with pytest.raises(ValueError, match="conv1d_1.*kernel.*\\(3, 4, 6\\)"):
        net.set_weights([np.zeros(s) if i != 2 else np.zeros((3, 8, 6)) for i, (_, _, s) in
                         enumerate(net.weight_shapes)])
    with pytest.raises(ValueError, match="has 6 weight arrays, got 1"):
        net.set_weights([np.zeros(1)])
    net.random_weights()
    with pytest.raises(ValueError, match="rank 3"):
        net(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="at least 3 positions"):
        net(np.zeros((2, 2, 3)))


def test_save_and_load_npz(tmp_path):
    net = codegen.build(analyzer.loads(SMALL).models["M"])
    weights = net.random_weights(3)
    net.save_weights(tmp_path / "w.npz")
    other = codegen.build(analyzer.loads(SMALL).models["M"])
    other.load_weights(tmp_path / "w.npz")
    x = np.ones((1, 6, 3), np.float32)
    assert np.array_equal(net(x), other(x)) and len(weights) == 6


def test_second_process_compiles_nothing(tmp_path):
    script = ("import time, numpy as np\nfrom shapeproof import analyzer, codegen\n"
              f"m = analyzer.loads({SMALL!r}).models['M']\n"
              "net = codegen.build(m); net.random_weights()\n"
              "t = time.perf_counter(); net(np.ones((1, 7, 3), np.float32)); print(time.perf_counter() - t)\n")
    # Hermetic: whatever NUMBA_* the user's shell carries, both processes share one cache (the index
    # goes to NUMBA_CACHE_DIR when it is set, else beside the generated module).
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(SHAPEPROOF_CACHE=str(tmp_path / "modules"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    first = float(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                 check=True).stdout)
    second = float(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                  check=True).stdout)
    assert any(p.suffix == ".nbi" for p in tmp_path.rglob("*")), "Numba wrote no cache index"
    assert second < first / 5, f"second process took {second:.2f} s after {first:.2f} s: it recompiled"


def test_outputs_of_a_multi_output_layer_do_not_collide_with_the_next_layers_name():
    # `lstm` has outputs 0..2 and the next layer is `lstm_1`: both once shared the name v_lstm_1.
    check_generated("model M(batch):\n    x = input (batch, 5, 3)\n"
                    "    a, h, c = LSTM(6, return_sequences=True, return_state=True)(x)\n"
                    "    b = LSTM(3)(a)\n    output b, h\n")


def test_small_work_runs_without_a_parallel_region():
    # (batch, 128) -> 128: 16384 MACs per row, serial below 65536 (codegen/cpu/work.py): batch 2 takes
    # the `range` branch, batch 5 the `prange` one; a static 4 -> 3 layer is compiled serial outright.
    source = "model M(batch):\n    input (batch, 128)\n    Dense(128, activation=\"relu\")\n"
    text = codegen.generate(analyzer.loads(source).models["M"])
    assert "def k_dense(x, kernel, bias, out, serial):\n    if serial:" in text
    assert "k_dense(x_input, w_dense_kernel, w_dense_bias, v_dense, 16384 * batch < 65536)" in text
    check_generated(source, sizes=[{"batch": 2}, {"batch": 5}], parallel=True)
    static = codegen.generate(analyzer.loads("model M():\n    input (2, 4)\n    Dense(3)\n").models["M"])
    assert "@njit(cache=True, fastmath=FASTMATH)\ndef k_dense(x, kernel, bias, out):" in static


def test_a_large_models_forward_is_plain_python_calling_compiled_kernels(monkeypatch):
    # Above JIT_FORWARD_CALLS kernel calls, forward is not compiled (codegen/cpu/module.py): here every
    # model is "large". A free batch, a view, a shared kernel, one kernel called on arrays of two ranks
    # (LayerNormalization's), a serial/parallel flag and two outputs pass through the plain-Python
    # forward and the kernels' bound entry points.
    from shapeproof.codegen.cpu import module

    monkeypatch.setattr(module, "JIT_FORWARD_CALLS", 1)
    net = check_generated("model M(batch):\n    x = input (batch, 1, 1, 8)\n"
                          "    h = Dense(8, activation=\"relu\")(x)\n    g = Dense(8, activation=\"relu\")(h)\n"
                          "    s = LayerNormalization()(BatchNormalization()(Add()([h, g])))\n"
                          "    f = Flatten()(Dense(2)(s))\n"
                          "    p = LayerNormalization()(GlobalAveragePooling2D()(s))\n    output f, p\n",
                          sizes=[{"batch": 1}, {"batch": 5}], parallel=True)
    assert net.module.JIT_FORWARD is False and not hasattr(net.module.forward, "py_func")
    assert "def forward(" in net.source and "@njit(cache=True)\ndef forward(" not in net.source
    assert net.source.count("def k_dense_1(") == 0, "the two Dense(8) layers share one kernel"
    assert "\nk_layer_normalization_as_0 = k_layer_normalization\n" in net.source, "rank 4, then rank 2"


def test_element_kernels_read_their_sizes_so_widths_share_one_kernel():
    # BatchNormalization at widths 4 and 6 and zero padding at two sizes: one kernel each; the
    # size-1 axes of a broadcast product stay literal (squeeze-and-excitation's x * gate).
    source = ("model M(batch):\n    x = input (batch, 5, 6, 4)\n    a = BatchNormalization()(x)\n"
              "    b = BatchNormalization()(Conv2D(6, 1)(a))\n"
              "    c = ZeroPadding2D(1)(b)\n    d = ZeroPadding2D(1)(c)\n"
              "    gate = GlobalAveragePooling2D(keepdims=True)(d)\n    output d * gate\n")
    net = check_generated(source, sizes=[{"batch": 1}, {"batch": 3}])
    kernels = {line.split("(")[0] for line in net.source.splitlines() if line.startswith("def k_")}
    assert "def k_batch_normalization_1" not in kernels and "def k_zero_padding2d_1" not in kernels, kernels
