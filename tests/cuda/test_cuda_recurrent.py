"""CUDA kernels of the recurrent layers vs the NumPy reference (tiny shapes: the simulator is slow).

Every kind with its arguments that change the forward pass: activation and recurrent_activation,
use_bias, go_backwards, return_sequences, return_state (states as extra outputs), both GRU
conventions (reset_after with its two bias rows, and without: r * h before the candidate's
product), one step only (no recurrent GEMM), a symbolic T, split-K in the input projection; the
ConvLSTMs with "same" padding (uneven, strided, symbolic size), strides, dilation.

Both paths of SimpleRNN/GRU/LSTM: every case here is narrow enough for the one-launch persistent
kernel; STEP_CASES run again through the per-step loop (recurrent GEMM + gate kernel per step) by
lowering codegen.cuda.recurrent.PERSISTENT_WIDTH, and test_path_choice checks which path the
generated module takes at the real threshold.
"""
import pytest
from cuda_harness import check_case, source_of

from shapeproof import analyzer
from shapeproof import codegen
from shapeproof.codegen.cuda import recurrent


def states(layer: str, outputs: str, shape: str, sizes: str = "batch, T") -> str:
    """A model whose layer returns several outputs (return_state)."""
    return f"model M({sizes}):\n    x = input {shape}\n    {outputs} = {layer}(x)\n    output {outputs}\n"


KERNEL_CASES = {  # name: (layers, input shape, --set, bindings of the free sizes): see cuda_harness
    "lstm_sequences_symbolic_t": ("LSTM(3, return_sequences=True)", "(batch, T, 2)", {},
                                  [{"T": 3}, {"batch": 1, "T": 1}]),
    "lstm_backwards_states": (states('LSTM(2, go_backwards=True, return_sequences=True, return_state=True, '
                                     'activation="softsign", recurrent_activation="hard_sigmoid")',
                                     "a, ah, ac", "(batch, 3, 2)", "batch"), "", {}, [{}]),
    "lstm_no_bias_last": (('LSTM(2, use_bias=False, unit_forget_bias=False, go_backwards=True, '
                           'recurrent_activation="tanh")'), "(batch, 3, 2)", {}, [{}]),
    "lstm_split_k_input": ("LSTM(2)", "(batch, 2, 70)", {}, [{"batch": 1}]),
    "gru_states": (states("GRU(3, return_state=True)", "a, ah", "(batch, 3, 2)", "batch"), "", {}, [{}]),
    "gru_backwards_sequences": ('GRU(2, go_backwards=True, return_sequences=True, activation="relu")',
                                "(batch, 3, 2)", {}, [{}]),
    "gru_no_bias": ("GRU(2, use_bias=False)", "(batch, 3, 2)", {}, [{}]),
    "gru_reset_before_states": (states('GRU(2, reset_after=False, return_sequences=True, return_state=True, '
                                       'recurrent_activation="hard_sigmoid")', "a, ah", "(batch, 3, 2)", "batch"),
                                "", {}, [{}]),
    "gru_reset_before_no_bias": ("GRU(3, reset_after=False, use_bias=False, go_backwards=True)", "(batch, 3, 2)",
                                 {}, [{}]),
    "simple_rnn_sequences": ('SimpleRNN(3, activation="elu", return_sequences=True)', "(batch, T, 2)", {},
                             [{"T": 3}]),
    "simple_rnn_states": (states("SimpleRNN(2, use_bias=False, go_backwards=True, return_state=True)", "a, ah",
                                 "(batch, 3, 2)", "batch"), "", {}, [{}]),
    "stacked": ("LSTM(3, return_sequences=True)\n    GRU(2)", "(batch, 3, 2)", {}, [{}]),
    "conv_lstm1d_sequences": ("ConvLSTM1D(2, 3, return_sequences=True)", "(batch, T, 5, 2)", {},
                              [{"T": 2}, {"batch": 1, "T": 1}]),
    "conv_lstm1d_dilation_states": (states("ConvLSTM1D(2, 2, dilation_rate=2, go_backwards=True, return_state=True)",
                                           "a, ah, ac", "(batch, 2, 6, 1)", "batch"), "", {}, [{}]),
    "conv_lstm2d_same_strided": (('ConvLSTM2D(2, (2, 3), strides=(2, 1), padding="same", go_backwards=True, '
                                  'return_sequences=True, activation="relu")'), "(batch, 2, 3, 4, 1)", {}, [{}]),
    "conv_lstm2d_symbolic_h": ('ConvLSTM2D(2, 3, strides=(2, 1), padding="same", use_bias=False)',
                               "(batch, 2, H, 3, 1)", {}, [{"H": 3, "batch": 1}]),
    "conv_lstm3d": (('ConvLSTM3D(2, (2, 1, 2), strides=(1, 1, 2), padding="same", return_sequences=True, '
                     'go_backwards=True)'), "(batch, 2, 2, 2, 3, 1)", {}, [{"batch": 1}]),
}


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_reference(case):
    check_case(KERNEL_CASES[case])


# Per-step path: every cell kind and argument that the step kernels write differently.
STEP_CASES = ["lstm_sequences_symbolic_t", "lstm_backwards_states", "gru_states", "gru_reset_before_states",
              "gru_reset_before_no_bias", "simple_rnn_states", "stacked"]


@pytest.mark.parametrize("case", STEP_CASES)
def test_step_path_matches_reference(case, monkeypatch):
    monkeypatch.setattr(recurrent, "PERSISTENT_WIDTH", 0)
    assert "_persistent[" not in generated(KERNEL_CASES[case])
    check_case(KERNEL_CASES[case])


def generated(case: tuple) -> str:
    """The CUDA module of a case."""
    _, _, given, _ = case
    model = next(iter(analyzer.loads(source_of(case), set=given or None).models.values()))
    return codegen.generate(model, target="cuda")


@pytest.mark.parametrize("layer, one_launch", [("LSTM(256)", True), ("LSTM(257)", False), ("GRU(341)", True),
                                               ("GRU(342, reset_after=False)", False), ("SimpleRNN(1024)", True),
                                               ("SimpleRNN(1025)", False)])
def test_path_choice(layer, one_launch):
    """gates * units <= PERSISTENT_WIDTH: one launch for every step; wider: a host loop of launches."""
    text = generated((layer, "(batch, T, 2)", {}, [{}]))
    assert ("_persistent[" in text) == one_launch
    assert ("_gates[" in text) != one_launch
