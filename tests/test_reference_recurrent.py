"""NumPy reference vs Keras predict, layer by layer: recurrent layers and wrappers.

Every case of tests/test_keras_recurrent.py, plus cases for what those leave out: every activation
slot, biases on and off, go_backwards with sequences and states, both GRU conventions, ConvLSTM
"same" padding that splits unevenly, strides that do not divide, dilation, every Bidirectional
merge mode with and without states, given backward layers, nested wrappers, and a symbolic time
axis bound at two sizes (one of them a single step).
"""
import pytest

import test_keras_recurrent
from keras_harness import numeric_crosscheck

EXTRA = {
    "simple_rnn_states_and_activations": """
model M(batch):
    x = input (batch, 7, 4)
    a, h = SimpleRNN(5, return_sequences=True, return_state=True, go_backwards=True)(x)
    b = SimpleRNN(3, activation="sigmoid", return_sequences=True, stateful=False)(a)
    c = SimpleRNN(2, activation=None, unroll=True)(b)
    d = SimpleRNN(4, "elu", False, go_backwards=True, return_sequences=True)(x)
    output c, h, d
""",
    "gru_conventions": """
model M(batch):
    x = input (batch, 6, 3)
    a = GRU(4, go_backwards=True, return_sequences=True, use_cudnn=False)(x)
    b, h = GRU(5, reset_after=False, use_bias=False, return_sequences=True, return_state=True)(a)
    c = GRU(3, activation="relu", recurrent_activation="hard_sigmoid", implementation=1, return_sequences=True)(b)
    d = GRU(2, reset_after=False, activation="softsign", go_backwards=True, unroll=True)(c)
    e, eh = GRU(4, use_bias=False, go_backwards=True, return_state=True)(x)
    f = GRU(3, reset_after=False, recurrent_activation="tanh", return_sequences=True, go_backwards=True)(x)
    output d, h, e, eh, f
""",
    "lstm_states_and_activations": """
model M(batch):
    x = input (batch, 5, 4)
    a, h, c = LSTM(6, go_backwards=True, return_sequences=True, return_state=True)(x)
    b = LSTM(3, activation="relu", recurrent_activation="tanh", unit_forget_bias=False, implementation=1,
             return_sequences=True)(a)
    y, h2, c2 = LSTM(4, use_bias=False, return_state=True)(b)
    z, h3, c3 = LSTM(2, "softsign", "hard_sigmoid", go_backwards=True, unroll=True, return_state=True)(x)
    output y, h, c, h2, c2, z, h3, c3
""",
    "rnn_symbolic_time_one_step": """
model M(batch, T):
    input (batch, T, 3)
    GRU(4, return_sequences=True, go_backwards=True)
    Bidirectional(LSTM(3, return_sequences=True), merge_mode="ave")
    TimeDistributed(Dense(2))
    SimpleRNN(2)
""",
    # Chains: Keras orders a functional model's weights by graph depth, not by statement, so
    # branches from one input would hand the harness the weights in another order.
    "conv_lstm1d_same_strides": """
model M(batch):
    input (batch, 3, 11, 2)
    ConvLSTM1D(3, 4, strides=3, padding="same", return_sequences=True)
    ConvLSTM1D(4, 4, padding="same", return_sequences=True, go_backwards=True)
    ConvLSTM1D(2, 2, strides=2, padding="same", return_sequences=True)
    ConvLSTM1D(2, 3, padding="same")
""",
    "conv_lstm1d_dilation": """
model M(batch):
    input (batch, 3, 11, 2)
    ConvLSTM1D(2, 2, strides=2, padding="same", return_sequences=True)
    ConvLSTM1D(3, 3, dilation_rate=2, padding="same", activation="relu", return_sequences=True)
    ConvLSTM1D(2, 3, dilation_rate=2, recurrent_activation="hard_sigmoid")
""",
    "conv_lstm1d_valid_strides_state": """
model M(batch):
    x = input (batch, 4, 11, 2)
    f, fh, fc = ConvLSTM1D(2, 5, strides=4, go_backwards=True, return_state=True, use_bias=False)(x)
    output f, fh, fc
""",
    "conv_lstm2d_uneven": """
model M(batch):
    x = input (batch, 3, 7, 9, 2)
    y, h, c = ConvLSTM2D(3, (2, 3), strides=(2, 3), padding="same", go_backwards=True, return_sequences=True,
                         return_state=True)(x)
    z = ConvLSTM2D(2, (3, 2), strides=(2, 1), use_bias=False, activation="elu", return_sequences=True)(y)
    w = ConvLSTM2D(2, (2, 4), dilation_rate=(1, 2), padding="same", stateful=False, unroll=False)(x)
    output z, h, c, w
""",
    "conv_lstm3d_uneven": """
model M(batch):
    x = input (batch, 2, 5, 4, 6, 1)
    a = ConvLSTM3D(2, (3, 2, 3), strides=(2, 1, 2), padding="same", return_sequences=True, go_backwards=True,
                   activation="elu")(x)
    y, h, c = ConvLSTM3D(2, 2, dilation_rate=(1, 2, 1), padding="same", return_state=True)(a)
    output y, h, c
""",
    "bidirectional_every_merge_mode": """
model M(batch):
    x = input (batch, 6, 4)
    a = Bidirectional(GRU(3, reset_after=False, return_sequences=True), merge_mode="mul")(x)
    b = Bidirectional(LSTM(2))(a)
    c = Bidirectional(SimpleRNN(3), merge_mode="sum")(a)
    d = Bidirectional(GRU(2), merge_mode="ave")(a)
    e = Bidirectional(GRU(2), merge_mode="mul")(a)
    f, g = Bidirectional(GRU(2, return_sequences=True), merge_mode=None)(x)
    u, v = Bidirectional(LSTM(2), merge_mode=None)(x)
    output b, c, d, e, f, g, u, v
""",
    "bidirectional_states_every_mode": """
model M(batch):
    x = input (batch, 5, 3)
    y, h1, c1, h2, c2 = Bidirectional(LSTM(3, return_state=True))(x)
    s, sh1, sh2 = Bidirectional(GRU(2, return_sequences=True, return_state=True), merge_mode="mul")(x)
    p, q, r1, r2 = Bidirectional(SimpleRNN(2, return_state=True), merge_mode=None)(x)
    t, th1, tc1, th2, tc2 = Bidirectional(LSTM(2, return_sequences=True, return_state=True), merge_mode="ave")(x)
    output y, h1, c1, h2, c2, s, sh1, sh2, p, q, r1, r2, t, th1, tc1, th2, tc2
""",
    "bidirectional_backward_layers": """
model M(batch):
    x = input (batch, 6, 4)
    r = Bidirectional(LSTM(3, go_backwards=True, return_sequences=True),
                      backward_layer=LSTM(3, return_sequences=True))(x)
    s = Bidirectional(SimpleRNN(2, return_sequences=True),
                      backward_layer=SimpleRNN(2, go_backwards=True, return_sequences=True, activation="relu"),
                      merge_mode="mul")(x)
    t = Bidirectional(GRU(3), backward_layer=LSTM(3, go_backwards=True, use_bias=False), merge_mode="sum")(x)
    u, v = Bidirectional(GRU(2, return_sequences=True),
                         backward_layer=GRU(2, reset_after=False, go_backwards=True, return_sequences=True),
                         merge_mode=None)(x)
    output r, s, t, u, v
""",
    "bidirectional_conv_lstm": """
model M(batch):
    x = input (batch, 4, 9, 2)
    y, z, h1, c1, h2, c2 = Bidirectional(ConvLSTM1D(2, 3, strides=2, padding="same", return_sequences=True,
                                                    return_state=True), merge_mode=None)(x)
    v = input (batch, 3, 5, 6, 1)
    w = Bidirectional(ConvLSTM2D(2, (2, 3), padding="same"), merge_mode="mul")(v)
    output y, z, h1, c2, w
""",
    "time_distributed_recurrent_and_nested": """
model M(batch):
    x = input (batch, 4, 5, 3)
    a = TimeDistributed(LSTM(3, return_sequences=True, go_backwards=True))(x)
    b = TimeDistributed(Bidirectional(GRU(2, return_sequences=True), merge_mode="sum"))(a)
    c = TimeDistributed(Dense(4, activation="relu"))(b)
    d = TimeDistributed(SimpleRNN(2))(c)
    v = input (batch, 2, 3, 6, 2)
    e = TimeDistributed(ConvLSTM1D(2, 3, padding="same", return_sequences=True))(v)
    f = TimeDistributed(TimeDistributed(Dense(3)))(v)
    output d, e, f
""",
    "time_distributed_other_families": """
model M(batch):
    x = input (batch, 3, 8, 4)
    a = TimeDistributed(Conv1D(5, 3, strides=2, padding="same"))(x)
    b = TimeDistributed(BatchNormalization())(a)
    c = TimeDistributed(Dropout(0.5))(b)
    d = TimeDistributed(GlobalAveragePooling1D())(c)
    e = TimeDistributed(Flatten())(x)
    output d, e
""",
}

CASES = {**test_keras_recurrent.CASES, **EXTRA}
SETS = {**test_keras_recurrent.SETS, "rnn_symbolic_time_one_step": {"T": 1}}

# The same symbolic source bound at a second size.
CASES["rnn_symbolic_time_nine_steps"] = CASES["rnn_symbolic_time_one_step"]
SETS["rnn_symbolic_time_nine_steps"] = {"T": 9}


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_keras(name):
    numeric_crosscheck(CASES[name], set=SETS.get(name))
