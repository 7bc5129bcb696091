"""Keras cross-check: recurrent layers and wrappers (shapes, weight shapes, parameter counts)."""
import pytest

from keras_harness import crosscheck

CASES = {
    "lstm_return_state_destructured": """
model M(batch):
    x = input (batch, 12, 6)
    y, h, c = LSTM(8, return_sequences=True, return_state=True)(x)
    z = Concatenate()([h, c])
    d = Dense(3)(z)
    s = LSTM(5, dropout=0.2, recurrent_dropout=0.1)(y)
    output d, s
""",
    "lstm_arguments": """
model M(batch, T, C=5):
    input (batch, T, C)
    LSTM(16, "relu", "hard_sigmoid", True, unit_forget_bias=False, kernel_initializer="he_normal",
         recurrent_regularizer="l2", seed=1, use_cudnn=False, implementation=1, return_sequences=True)
    LSTM(4, use_bias=False, go_backwards=True, unroll=True, trainable=False)
""",
    "gru_variants": """
model M(batch):
    x = input (batch, 9, 4)
    a = GRU(6, return_sequences=True)(x)
    b = GRU(5, reset_after=False, go_backwards=True, return_sequences=True)(a)
    c = GRU(4, use_bias=False, recurrent_activation="relu", trainable=False, return_sequences=True)(b)
    y, h = GRU(3, reset_after=False, return_state=True)(c)
    z = Add()([y, h])
""",
    "simple_rnn": """
model M(batch):
    x = input (batch, 10, 3)
    a = SimpleRNN(7, activation="relu", return_sequences=True, dropout=0.1, recurrent_dropout=0.2)(x)
    y, h = SimpleRNN(4, go_backwards=True, unroll=True, use_bias=False, return_state=True)(a)
    output y
""",
    "bidirectional_merge_modes": """
model M(batch):
    x = input (batch, 8, 5)
    a = Bidirectional(LSTM(4, return_sequences=True))(x)
    b = Bidirectional(GRU(3, return_sequences=True), merge_mode="sum")(a)
    c = Bidirectional(SimpleRNN(6, return_sequences=True), "mul")(b)
    d = Bidirectional(LSTM(2), merge_mode="ave", weights=None)(c)
""",
    "bidirectional_return_state": """
model M(batch):
    x = input (batch, 7, 6)
    f, b, h1, c1, h2, c2 = Bidirectional(LSTM(4, return_sequences=True, return_state=True), merge_mode=None)(x)
    y, fh, bh = Bidirectional(GRU(3, return_state=True))(f)
    s, sh1, sh2 = Bidirectional(SimpleRNN(2, return_state=True), merge_mode="sum")(b)
    z = Concatenate()([y, fh, bh, h1, c2, s])
""",
    "bidirectional_backward_layer_and_frozen": """
model M(batch):
    x = input (batch, 6, 5)
    a = Bidirectional(LSTM(4, return_sequences=True),
                      backward_layer=GRU(4, go_backwards=True, return_sequences=True, activation="relu"))(x)
    b = Bidirectional(LSTM(3, return_sequences=True, trainable=False))(a)
    c = Bidirectional(GRU(2), trainable=False)(b)
""",
    "time_distributed_video": """
model M(batch, T=5):
    input (batch, T, 16, 16, 3)
    TimeDistributed(Conv2D(8, 3, activation="relu"))
    TimeDistributed(MaxPooling2D(2))
    TimeDistributed(Flatten())
    TimeDistributed(Dense(16, trainable=False))
    LSTM(8)
""",
    "time_distributed_around_rnn_and_dense": """
model M(batch):
    input (batch, 3, 7, 5)
    TimeDistributed(Bidirectional(LSTM(4)))
    TimeDistributed(Dense(2, use_bias=False))
""",
    "conv_lstm2d": """
model M(batch):
    input (batch, 4, 12, 10, 3)
    ConvLSTM2D(6, 3, strides=2, padding="same", return_sequences=True)
    ConvLSTM2D(4, (3, 2), dilation_rate=(2, 1), go_backwards=True, return_sequences=True, recurrent_dropout=0.1)
    ConvLSTM2D(2, 1, use_bias=False, unit_forget_bias=False)
""",
    "conv_lstm2d_return_state": """
model M(batch):
    x = input (batch, 3, 9, 9, 2)
    y, h, c = ConvLSTM2D(5, 3, strides=(2, 1), return_state=True)(x)
    z = Add()([y, h, c])
""",
    "conv_lstm1d": """
model M(batch):
    x = input (batch, 6, 20, 2)
    a = ConvLSTM1D(5, 4, strides=3, return_sequences=True, go_backwards=True)(x)
    y, h, c = ConvLSTM1D(3, 2, padding="same", return_state=True, use_bias=False)(a)
    output y
""",
    "conv_lstm3d_and_bidirectional_conv_lstm": """
model M(batch):
    x = input (batch, 2, 5, 6, 7, 2)
    a = ConvLSTM3D(3, 2, return_sequences=True)(x)
    b = Bidirectional(ConvLSTM3D(2, (1, 2, 3), padding="same"), merge_mode="ave")(a)
    v = input (batch, 3, 8, 8, 1)
    w = Bidirectional(ConvLSTM2D(2, 3, return_sequences=True))(v)
    output b, w
""",
}

SETS = {"lstm_arguments": {"T": 11}}  # a symbolic time axis, bound for Keras


@pytest.mark.parametrize("name", CASES)
def test_recurrent_matches_keras(name):
    crosscheck(CASES[name], set=SETS.get(name))
