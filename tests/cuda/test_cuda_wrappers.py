"""CUDA kernels of the wrappers vs the NumPy reference (tiny shapes: the simulator is slow).

Bidirectional: every merge mode, with and without return_sequences, states (forward layer's then
backward layer's), the default backward layer and given ones (another kind; a forward layer that
reads backwards), around a ConvLSTM. TimeDistributed: around inner layers that launch kernels
(Dense with softmax, Conv2D, MaxPooling2D, channels_first Flatten), that are views (Flatten,
Reshape), and around wrappers (TimeDistributed, Bidirectional), with a symbolic T. The
recurrences here run as one persistent launch each; test_bidirectional_step_path runs some again
through the per-step loop.
"""
import pytest
from cuda_harness import check_case

from shapeproof.codegen.cuda import recurrent


def outputs(layer: str, names: str, shape: str, sizes: str = "batch") -> str:
    """A model whose layer returns several outputs."""
    return f"model M({sizes}):\n    x = input {shape}\n    {names} = {layer}(x)\n    output {names}\n"


KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "bidirectional_concat": ("Bidirectional(GRU(2, return_sequences=True))", "(batch, T, 2)", {}, [{"T": 3}]),
    "bidirectional_concat_last": ("Bidirectional(LSTM(2))", "(batch, 2, 3)", {}, [{}]),
    "bidirectional_mul": ('Bidirectional(GRU(2, reset_after=False, return_sequences=True), merge_mode="mul")',
                          "(batch, 2, 3)", {}, [{}]),
    "bidirectional_ave_states": (outputs('Bidirectional(GRU(2, return_sequences=True, return_state=True), '
                                         'merge_mode="ave")', "a, h1, h2", "(batch, 3, 2)"), "", {}, [{}]),
    "bidirectional_none_states": (outputs("Bidirectional(LSTM(2, return_state=True), merge_mode=None)",
                                          "a, b, h1, c1, h2, c2", "(batch, 2, 2)"), "", {}, [{}]),
    "bidirectional_none_sequences": (outputs("Bidirectional(SimpleRNN(2, return_sequences=True), merge_mode=None)",
                                             "a, b", "(batch, 3, 2)"), "", {}, [{}]),
    "bidirectional_backward_layer_sum": (('Bidirectional(GRU(3), backward_layer=LSTM(3, go_backwards=True, '
                                          'use_bias=False), merge_mode="sum")'), "(batch, 2, 2)", {}, [{}]),
    "bidirectional_forward_reads_backwards": (("Bidirectional(LSTM(2, go_backwards=True, return_sequences=True), "
                                               "backward_layer=LSTM(2, return_sequences=True))"), "(batch, 3, 2)",
                                              {}, [{"batch": 1}]),
    "bidirectional_conv_lstm": (outputs('Bidirectional(ConvLSTM1D(2, 3, strides=2, padding="same", '
                                        'return_sequences=True, return_state=True), merge_mode=None)',
                                        "p, o, h1, c1, h2, c2", "(batch, 2, 5, 1)"), "", {}, [{"batch": 1}]),
    "bidirectional_conv_lstm_concat": ("Bidirectional(ConvLSTM1D(2, 2, return_sequences=True))", "(batch, 2, 3, 1)",
                                       {}, [{"batch": 1}]),
    "time_distributed_dense_softmax": ('TimeDistributed(Dense(3, activation="softmax"))', "(batch, T, 2)", {},
                                       [{"T": 3}, {"batch": 1, "T": 1}]),
    "time_distributed_conv_pool_flatten": (('TimeDistributed(Conv2D(2, 2, activation="relu"))\n'
                                            "    TimeDistributed(MaxPooling2D(2))\n    TimeDistributed(Flatten())"),
                                           "(batch, T, 3, 4, 1)", {}, [{"T": 2}]),
    "time_distributed_views": (("TimeDistributed(Reshape((3, 2)))\n    TimeDistributed(Flatten())\n"
                                "    TimeDistributed(Dense(2))"), "(batch, T, 6)", {}, [{"T": 2}]),
    "time_distributed_channels_first_flatten": ('TimeDistributed(Flatten(data_format="channels_first"))',
                                                "(batch, 2, 3, 2)", {}, [{}]),
    "time_distributed_nested": ("TimeDistributed(TimeDistributed(Dense(2)))", "(batch, T, 2, 3)", {}, [{"T": 2}]),
    "time_distributed_bidirectional": (('TimeDistributed(Bidirectional(GRU(2, return_sequences=True), '
                                        'merge_mode="sum"))'), "(batch, 2, 3, 2)", {}, [{"batch": 1}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])


@pytest.mark.parametrize("case", ["bidirectional_mul", "bidirectional_none_states", "time_distributed_bidirectional"])
def test_bidirectional_step_path(case, monkeypatch):
    """The wrapped recurrences through the per-step loop (gates * units > PERSISTENT_WIDTH)."""
    monkeypatch.setattr(recurrent, "PERSISTENT_WIDTH", 0)
    check_case(KERNEL_CASES[case])
