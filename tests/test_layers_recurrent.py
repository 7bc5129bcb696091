"""Recurrent layers and wrappers: shapes, parameters, MACs and receptive fields, concrete and
symbolic, and the errors for inputs or arguments that cannot work."""
import pytest
import sympy

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.receptive import ALL
from shapeproof.analyzer.values import symbol

batch, T, C, u, f, H, W = (symbol(n) for n in ("batch", "T", "C", "u", "f", "H", "W"))


def nodes(source: str, **values):
    program = analyzer.loads(source, set=values or None)
    return {n.name: n for n in next(iter(program.models.values())).nodes}


def node(source: str, **values):
    return list(nodes(source, **values).values())[-1]


def error_of(source: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source)
    return info.value


def seq(layer: str, shape="(batch, T, C)", params="batch, T, C, u") -> str:
    return f"model M({params}):\n    input {shape}\n    {layer}\n"


def same(a, b) -> bool:
    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


# --- SimpleRNN, GRU, LSTM ---------------------------------------------------------------------


@pytest.mark.parametrize("layer, params, macs", [
    ("SimpleRNN(u)", u * (C + u) + u, batch * T * u * (C + u)),
    ("GRU(u)", 3 * u * (C + u) + 6 * u, batch * T * 3 * u * (C + u)),
    ("GRU(u, reset_after=False)", 3 * (u * (C + u) + u), batch * T * 3 * u * (C + u)),
    ("LSTM(u)", 4 * (u * (C + u) + u), batch * T * 4 * u * (C + u)),
    ("LSTM(u, use_bias=False)", 4 * u * (C + u), batch * T * 4 * u * (C + u)),
])
def test_symbolic_params_and_macs(layer, params, macs):
    n = node(seq(layer))
    assert n.output_shape == (batch, u)
    assert same(n.params, params) and same(n.trainable_params, params)
    assert same(n.macs, macs)


def test_concrete_counts_match_keras_formulas():
    assert node(seq("LSTM(32)", "(batch, 10, 16)", "batch")).params == 4 * (32 * (16 + 32) + 32) == 6272
    assert node(seq("GRU(8)", "(batch, 10, 4)", "batch")).params == 3 * 8 * 12 + 2 * 24 == 336
    assert node(seq("GRU(8, reset_after=False)", "(batch, 10, 4)", "batch")).params == 3 * (8 * 12 + 8) == 312
    assert node(seq("SimpleRNN(5)", "(batch, 10, 3)", "batch")).macs == 10 * 5 * 8 * batch


def test_weight_names_and_shapes():
    lstm = node(seq("LSTM(u)"))
    assert [(w.name, w.shape) for w in lstm.weights] == [
        ("kernel", (C, 4 * u)), ("recurrent_kernel", (u, 4 * u)), ("bias", (4 * u,))]
    assert [w.shape for w in node(seq("GRU(u)")).weights][-1] == (2, 3 * u)
    assert [w.shape for w in node(seq("GRU(u, reset_after=False)")).weights][-1] == (3 * u,)


def test_return_sequences_keeps_symbolic_time():
    assert node(seq("LSTM(u, return_sequences=True)")).output_shape == (batch, T, u)
    assert node(seq("GRU(4, return_sequences=True, go_backwards=True)")).output_shape == (batch, T, 4)


def test_return_state_lists_output_then_states():
    assert node(seq("y, h, c = LSTM(u, return_state=True)")).output_shape == [(batch, u)] * 3
    assert node(seq("y, h = GRU(u, return_state=True, return_sequences=True)")).output_shape == [
        (batch, T, u), (batch, u)]
    assert node(seq("y, h = SimpleRNN(3, return_state=True)")).output_shape == [(batch, 3), (batch, 3)]


def test_return_state_destructured():
    ns = nodes("model M(batch, T):\n    x = input (batch, T, 6)\n"
               "    y, h, c = LSTM(8, return_sequences=True, return_state=True)(x)\n"
               "    a = Dense(2)(h)\n    b = Dense(3)(c)\n    z = GRU(4)(y)\n")
    assert ns["dense"].output_shape == (batch, 2) and ns["dense_1"].output_shape == (batch, 3)
    assert ns["gru"].output_shape == (batch, 4)


def test_undestructured_state_is_an_error():
    e = error_of("model M(batch):\n    input (batch, 5, 6)\n    LSTM(8, return_state=True)\n    Dense(2)\n")
    assert "3 outputs" in e.message and "y, h, c" in e.hint


def test_arguments_that_change_nothing_are_accepted():
    n = node(seq('LSTM(u, activation="relu", recurrent_activation=None, dropout=0.2, recurrent_dropout=0.1, '
                 'stateful=True, unroll=True, unit_forget_bias=False, kernel_initializer="he_normal", '
                 'recurrent_regularizer=None, seed=3, use_cudnn=False, implementation=1)'))
    assert same(n.params, 4 * (u * (C + u) + u))


def test_receptive_field_over_time():
    ns = nodes("model M(batch):\n    input (batch, 20, 3)\n    a = Conv1D(4, 3)\n"
               "    s = LSTM(8, return_sequences=True)(a)\n    l = LSTM(8)(a)\n    c = Conv1D(4, 3)(s)\n")
    assert ns["conv1d"].receptive_field == [3]
    assert ns["lstm"].receptive_field == [ALL] and ns["lstm_1"].receptive_field == [ALL]
    assert ns["conv1d_1"].receptive_field == [ALL]


# --- ConvLSTM ---------------------------------------------------------------------------------


def test_conv_lstm2d_shapes_symbolic():
    src = "model M(batch, T, H, W):\n    input (batch, T, H, W, 3)\n    {}\n"
    assert node(src.format("ConvLSTM2D(8, 3)")).output_shape == (batch, H - 2, W - 2, 8)
    assert node(src.format('ConvLSTM2D(8, 3, strides=2, padding="same", return_sequences=True)')).output_shape == (
        batch, T, sympy.floor((H - 1) / 2) + 1, sympy.floor((W - 1) / 2) + 1, 8)
    n = node(src.format("y, h, c = ConvLSTM2D(8, (3, 5), strides=(2, 1), return_state=True)"))
    out = (batch, sympy.floor((H - 3) / 2) + 1, W - 4, 8)
    assert n.output_shape == [out, out, out]
    assert [str(c.condition) for c in n.constraints] == ["H >= 3", "W >= 5"]


def test_conv_lstm_params_are_two_convolutions():
    # ConvLSTM2D(f, k) on C channels = Conv2D(4f, k) on the input + Conv2D(4f, k, no bias) on the state.
    for f, k, c in [(8, 3, 3), (5, 2, 7), (16, 1, 4)]:
        lstm = node(f"model M(batch):\n    input (batch, 4, 9, 9, {c})\n    ConvLSTM2D({f}, {k})\n")
        ns = nodes(f"model M(batch):\n    x = input (batch, 9, 9, {c})\n    h = input (batch, 9, 9, {f})\n"
                   f"    a = Conv2D({4 * f}, {k})(x)\n    b = Conv2D({4 * f}, {k}, use_bias=False)(h)\n")
        assert lstm.params == ns["conv2d"].params + ns["conv2d_1"].params == 4 * (k * k * (c + f) * f + f)


def test_conv_lstm_params_symbolic_and_lstm_is_a_1x1_conv_lstm():
    n = node("model M(batch, T, C, f):\n    input (batch, T, 9, 9, C)\n    ConvLSTM2D(f, 3)\n")
    assert same(n.params, 4 * (9 * (C + f) * f + f))
    one = node(seq("ConvLSTM1D(u, 1)", "(batch, T, 1, C)"))
    assert same(one.params, node(seq("LSTM(u)")).params)
    assert same(one.macs, node(seq("LSTM(u)")).macs)


def test_conv_lstm_weights_and_macs():
    n = node("model M(batch, T, H, W):\n    input (batch, T, H, W, 3)\n    ConvLSTM2D(8, (3, 2), padding=\"same\")\n")
    assert [(w.name, w.shape) for w in n.weights] == [
        ("kernel", (3, 2, 3, 32)), ("recurrent_kernel", (3, 2, 8, 32)), ("bias", (32,))]
    assert same(n.macs, batch * T * H * W * 6 * (3 + 8) * 32)


def test_conv_lstm1d_and_3d():
    assert node("model M(batch):\n    input (batch, 5, 20, 2)\n    ConvLSTM1D(4, 5, dilation_rate=2)\n"
                ).output_shape == (batch, 12, 4)
    n = node("model M(batch):\n    input (batch, 5, 6, 7, 8, 2)\n    ConvLSTM3D(4, 3, use_bias=False)\n")
    assert n.output_shape == (batch, 4, 5, 6, 4) and n.params == 27 * (2 + 4) * 16


def test_conv_lstm_receptive_field_grows_with_time():
    # The last state sees the first frame through the input kernel and T - 1 recurrent kernels.
    n = node("model M(batch, T):\n    input (batch, T, 32, 32, 3)\n    ConvLSTM2D(8, 3)\n")
    assert n.receptive_field[0] == ALL and same(n.receptive_field[1], 2 * T + 1)
    n = node("model M(batch):\n    input (batch, 4, 32, 32, 3)\n"
             "    ConvLSTM2D(8, 3, strides=2, return_sequences=True)\n    Conv3D(2, 3)\n")
    assert n.receptive_field == [ALL, 3 + 3 * 2 * 2 + 2 * 2, 3 + 3 * 2 * 2 + 2 * 2]
    n = node("model M(batch):\n    input (batch, 6, 32, 3)\n    ConvLSTM1D(8, 1)\n")
    assert n.receptive_field == [ALL, 1]


def test_conv_lstm_too_small_input():
    e = error_of("model M(batch):\n    input (batch, 4, 2, 9, 3)\n    ConvLSTM2D(8, 3)\n")
    assert "at least 3 positions on axis 2" in e.message and e.span.column > 15  # at kernel_size


# --- errors -----------------------------------------------------------------------------------


def test_lstm_on_rank2_input_hints_a_time_axis():
    e = error_of("model M(batch):\n    input (batch, 16)\n    LSTM(8)\n")
    assert "rank-3 input (batch, timesteps, features)" in e.message and "rank 2" in e.message
    assert "Reshape((16, 1))" in e.hint and "RepeatVector" in e.hint


def test_lstm_on_rank4_input_hints_a_reshape():
    e = error_of("model M(batch):\n    input (batch, 10, 6, 4)\n    GRU(8)\n")
    assert "Reshape((10, 24))" in e.hint and "ConvLSTM1D" in e.hint


def test_conv_lstm_rank_errors():
    e = error_of("model M(batch):\n    input (batch, 28, 28, 1)\n    ConvLSTM2D(8, 3)\n")
    assert "rank-5" in e.message and "Reshape((1, 28, 28, 1))" in e.hint
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    ConvLSTM2D(8, 3)\n")
    assert "LSTM" in e.hint


@pytest.mark.parametrize("layer, words", [
    ('ConvLSTM2D(8, 3, data_format="channels_first")', "channels_last"),
    ("ConvLSTM2D(8, 3, strides=2, dilation_rate=2)", "dilation_rate"),
    ('ConvLSTM2D(8, 3, padding="causal")', "causal"),
    ("LSTM(0)", "at least 1"),
    ('LSTM(8, use_cudnn="yes")', "use_cudnn"),
    ("SimpleRNN(8, reset_after=False)", "no argument 'reset_after'"),
    ("SimpleRNN(8, implementation=2)", "no argument 'implementation'"),
    ("LSTM(8, lora_rank=2)", "no argument 'lora_rank'"),
])
def test_bad_arguments(layer, words):
    e = error_of(f"model M(batch):\n    input (batch, 4, 9, 9, 3)\n    {layer}\n")
    assert words in e.message


# --- TimeDistributed --------------------------------------------------------------------------


def test_time_distributed_dense_symbolic():
    n = node(seq("TimeDistributed(Dense(u))"))
    assert n.output_shape == (batch, T, u)
    assert same(n.params, C * u + u) and same(n.macs, T * batch * C * u)
    assert [w.name for w in n.weights] == ["kernel", "bias"]
    assert [s.kind for s in n.layer.sublayers()] == ["Dense"]


def test_time_distributed_conv_and_pooling_rf():
    ns = nodes("model M(batch, T):\n    input (batch, T, 32, 32, 3)\n    a = TimeDistributed(Conv2D(8, 3, strides=2))\n"
               "    b = TimeDistributed(MaxPooling2D(2))(a)\n    c = TimeDistributed(Flatten())(b)\n"
               "    d = LSTM(4)(c)\n")
    a, b, c, d = ns.values()
    assert a.output_shape == (batch, T, 15, 15, 8)
    assert same(a.macs, T * batch * 15 * 15 * 9 * 3 * 8)
    assert a.receptive_field == [1, 3, 3]
    assert b.output_shape == (batch, T, 7, 7, 8) and b.receptive_field == [1, 5, 5]
    assert c.output_shape == (batch, T, 392) and c.receptive_field == [1, 5, 5]
    assert d.receptive_field == [ALL, ALL, ALL]


def test_time_distributed_constraint_from_inner_layer():
    n = node("model M(batch, T, H):\n    input (batch, T, H, 3)\n    TimeDistributed(Conv1D(4, 5))\n")
    assert n.output_shape == (batch, T, H - 4, 4)
    assert [str(c.condition) for c in n.constraints] == ["H >= 5"]


def test_time_distributed_frozen_inner_layer():
    n = node(seq("TimeDistributed(Dense(4, trainable=False))"))
    assert n.trainable_params == 0 and same(n.non_trainable_params, 4 * C + 4)


def test_time_distributed_errors():
    e = error_of("model M(batch):\n    input (batch, 16)\n    TimeDistributed(Dense(4))\n")
    assert "rank 3 or more" in e.message
    e = error_of("model M(batch):\n    input (batch, 5, 6, 3)\n    TimeDistributed(LSTM(4, return_state=True))\n")
    assert "one output" in e.message
    e = error_of("model M(batch):\n    input (batch, 5, 8, 3)\n    TimeDistributed(Conv2D(4, 3))\n")
    assert "rank-4" in e.message  # the inner layer's own check, on one time step


# --- Bidirectional ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode, shape", [
    ('"concat"', (batch, 2 * u)), ('"sum"', (batch, u)), ('"mul"', (batch, u)), ('"ave"', (batch, u)),
    ("None", [(batch, u), (batch, u)]),
])
def test_bidirectional_merge_modes(mode, shape):
    n = node(seq(f"Bidirectional(LSTM(u), merge_mode={mode})") if mode != "None" else
             "model M(batch, T, C, u):\n    input (batch, T, C)\n    a, b = Bidirectional(LSTM(u), merge_mode=None)\n")
    assert n.output_shape == shape
    assert same(n.params, 8 * (u * (C + u) + u)) and same(n.macs, 2 * batch * T * 4 * u * (C + u))
    assert [w.name for w in n.weights] == ["kernel", "recurrent_kernel", "bias"] * 2


def test_bidirectional_return_state_order():
    n = node(seq("y, h1, h2 = Bidirectional(GRU(u, return_sequences=True, return_state=True))"))
    assert n.output_shape == [(batch, T, 2 * u), (batch, u), (batch, u)]
    n = node("model M(batch, T, C, u):\n    input (batch, T, C)\n"
             "    y, h1, c1, h2, c2 = Bidirectional(LSTM(u, return_state=True), merge_mode=\"sum\")\n")
    assert n.output_shape == [(batch, u)] * 5
    n = node("model M(batch, T, C, u):\n    input (batch, T, C)\n"
             "    f, b, h1, h2 = Bidirectional(SimpleRNN(u, return_state=True), merge_mode=None)\n")
    assert n.output_shape == [(batch, u)] * 4


def test_bidirectional_backward_layer_and_sublayers():
    n = node(seq("Bidirectional(LSTM(u, return_sequences=True), "
                 "backward_layer=GRU(u, return_sequences=True, go_backwards=True))"))
    assert n.output_shape == (batch, T, 2 * u)
    assert same(n.params, 4 * (u * (C + u) + u) + 3 * u * (C + u) + 6 * u)
    assert [s.kind for s in n.layer.sublayers()] == ["LSTM", "GRU"]
    assert [s.go_backwards for s in n.layer.sublayers()] == [False, True]
    assert n.receptive_field == [ALL]


def test_bidirectional_conv_lstm_and_frozen():
    n = node("model M(batch):\n    input (batch, 4, 9, 9, 3)\n    Bidirectional(ConvLSTM2D(8, 3, trainable=False))\n")
    assert n.output_shape == (batch, 7, 7, 16)
    assert n.trainable_params == 0 and n.non_trainable_params == 2 * 4 * (9 * 11 * 8 + 8)


def test_bidirectional_around_dense_is_an_error():
    e = error_of(seq("Bidirectional(Dense(8))"))
    assert "recurrent layer" in e.message and "Dense" in e.message
    assert e.hint == "to apply Dense at every time step, use TimeDistributed(Dense(8))"


@pytest.mark.parametrize("layer, words", [
    ("Bidirectional(LSTM(4, go_backwards=True))", "go_backwards"),
    ("Bidirectional(LSTM(4), backward_layer=LSTM(4))", "go_backwards"),
    ("Bidirectional(LSTM(4), backward_layer=LSTM(4, go_backwards=True, return_sequences=True))",
     "return_sequences"),
    ("Bidirectional(LSTM(4), backward_layer=LSTM(5, go_backwards=True))", "differs"),
    ('Bidirectional(LSTM(4), merge_mode="Concat")', "not one of"),
    ('Bidirectional(LSTM(4), merge_mode="max")', "not one of"),
    ("Bidirectional(LSTM(4), backward_layer=Dense(4))", "recurrent layer"),
])
def test_bidirectional_bad_arguments(layer, words):
    assert words in error_of(seq(layer)).message
