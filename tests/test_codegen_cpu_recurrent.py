"""Generated Numba CPU kernels of the recurrent layers and the wrappers, against the NumPy reference.

Few models, each covering many arguments (every model costs a compile): every kind, activation and
recurrent activation slots, biases on and off, both GRU conventions, return_sequences /
return_state / go_backwards, full and partial blocks of samples (batch 67), symbolic time and
spatial sizes bound at two values (one step included); ConvLSTM "same" padding that splits unevenly,
strides that do not divide, dilation; every Bidirectional merge mode, with states, with the default
backward layer (both directions in one kernel) and with given ones; TimeDistributed around
convolutions, pooling, Flatten, Dense and (nested) wrappers.
Multi-output layers are named here: the generated forward calls the outputs of an unnamed `lstm`
v_lstm_0.., and the output of the next one, `lstm_1`, is v_lstm_1 as well.
"""
import pytest
from codegen_harness import check_generated

from shapeproof import analyzer
from shapeproof import codegen

RNNS = """
model M(batch, T):
    x = input (batch, T, 4)
    a, ah, ac = LSTM(6, go_backwards=True, return_sequences=True, return_state=True, name="la")(x)
    b = GRU(5, return_sequences=True, name="gb")(a)
    c, ch = GRU(4, reset_after=False, go_backwards=True, return_sequences=True, return_state=True,
                activation="relu", recurrent_activation="hard_sigmoid", name="gc")(b)
    d, dh = SimpleRNN(3, activation="elu", use_bias=False, go_backwards=True, return_state=True, name="sd")(c)
    e = LSTM(3, use_bias=False, activation="softsign", recurrent_activation="tanh", name="le")(b)
    h = GRU(2, use_bias=False, go_backwards=True, name="gh")(x)
    output a, ah, ac, c, ch, d, dh, e, h
"""


def test_simple_rnn_gru_lstm():
    # Batch 67: blocks of four samples (the kernel's shared-row path) and a partial block.
    check_generated(RNNS, sizes=[{"batch": 1, "T": 1}, {"T": 7}, {"batch": 67, "T": 30}])


CONV_LSTMS = """
model M(batch, T, H):
    x = input (batch, T, H, 9, 2)
    y, yh, yc = ConvLSTM2D(3, (2, 3), strides=(2, 3), padding="same", go_backwards=True, return_sequences=True,
                           return_state=True, name="c2a")(x)
    z = ConvLSTM2D(2, (3, 2), strides=(2, 1), use_bias=False, activation="elu", return_sequences=True, name="c2b")(y)
    s = input (batch, T, 7, 2)
    q, qh, qc = ConvLSTM1D(2, 3, dilation_rate=2, go_backwards=True, return_state=True, name="c1b")(s)
    v = input (batch, 2, 5, 4, 6, 1)
    r = ConvLSTM3D(2, (3, 2, 3), strides=(2, 1, 2), padding="same", return_sequences=True, go_backwards=True,
                   activation="relu", name="c3a")(v)
    output y, yh, yc, z, q, qh, qc, r
"""


def test_conv_lstm_1d_2d_3d():
    # A symbolic height: the state grid is read off the arrays.
    check_generated(CONV_LSTMS, sizes=[{"batch": 1, "T": 1, "H": 7}, {"T": 3, "H": 8}])


BIDIRECTIONAL = """
model M(batch, T):
    x = input (batch, T, 4)
    a = Bidirectional(GRU(3, reset_after=False, return_sequences=True), merge_mode="mul")(x)
    d, dh1, dh2 = Bidirectional(GRU(2, return_sequences=True, return_state=True), merge_mode="ave", name="bd")(a)
    u, v, uh1, uc1, uh2, uc2 = Bidirectional(LSTM(2, return_state=True), merge_mode=None, name="bu")(x)
    r = Bidirectional(LSTM(3, go_backwards=True, return_sequences=True),
                      backward_layer=LSTM(3, return_sequences=True))(x)
    t = Bidirectional(GRU(3), backward_layer=LSTM(3, go_backwards=True, use_bias=False), merge_mode="sum")(x)
    k = input (batch, 4, 9, 2)
    p, o, h1, c1, h2, c2 = Bidirectional(ConvLSTM1D(2, 3, strides=2, padding="same", return_sequences=True,
                                                    return_state=True), merge_mode=None, name="bp")(k)
    output d, dh1, dh2, u, v, uh1, uc1, uh2, uc2, r, t, p, o, h1, c1, h2, c2
"""


@pytest.mark.full  # costly; Keras cross-checks cover the merge modes
def test_bidirectional_merge_modes_states_and_backward_layers():
    check_generated(BIDIRECTIONAL, sizes=[{"batch": 1, "T": 1}, {"T": 6}])


TIME_DISTRIBUTED = """
model M(batch, T, H):
    x = input (batch, T, H, 8, 3)
    a = TimeDistributed(Conv2D(4, 3, activation="relu"))(x)
    b = TimeDistributed(MaxPooling2D(2))(a)
    c = TimeDistributed(Flatten())(b)
    g = TimeDistributed(GlobalAveragePooling2D())(a)
    s = input (batch, T, 5, 3)
    i = TimeDistributed(Bidirectional(GRU(2, return_sequences=True), merge_mode="sum"))(s)
    j = TimeDistributed(TimeDistributed(Dense(3)))(i)
    output c, g, j
"""


def test_time_distributed():
    check_generated(TIME_DISTRIBUTED, sizes=[{"batch": 1, "T": 1, "H": 9}, {"T": 4, "H": 6}])


def test_bidirectional_runs_both_directions_in_one_kernel():
    model = analyzer.loads(BIDIRECTIONAL).models["M"]
    text = codegen.generate(model)
    # The default backward layer runs in the forward layer's kernel; a given one has a helper of its own.
    assert "def k_bidirectional_cell" not in text and "def k_bidirectional_forward" not in text
    assert "def k_bidirectional_2_forward(" in text and "def k_bidirectional_2_backward(" in text
    assert "rnn_input_projection(xr, kernel_1, bias_1, xps[1].reshape(n_b * n_t, 8))" in text
    # Its kernel has the parallel loops; one with given layers only calls helpers.
    assert "@njit(cache=True, parallel=PARALLEL, fastmath=FASTMATH)\ndef k_bidirectional(" in text
    assert "@njit(cache=True, fastmath=FASTMATH)\ndef k_bidirectional_2(" in text


def test_float64_build():
    source = "model M(batch, T):\n    input (batch, T, 3)\n    GRU(4, return_sequences=True)\n"
    check_generated(source, sizes=[{"T": 5}], dtype="float64", tolerance=1e-10)


@pytest.mark.full  # costly; tests/test_codegen_cpu.py builds in parallel too
def test_parallel_build():
    # The harness builds serially by default: here the parallel loops run (sample blocks, both
    # directions as tasks of one loop, ConvLSTM's position blocks reading the previous step's h).
    source = """
model M(batch, T):
    x = input (batch, T, 3)
    a = Bidirectional(LSTM(5, return_sequences=True))(x)
    b = GRU(4, go_backwards=True)(a)
    v = input (batch, T, 5, 4, 2)
    c = ConvLSTM2D(3, 3, padding="same")(v)
    output b, c
"""
    check_generated(source, sizes=[{"batch": 67, "T": 5}, {"batch": 1, "T": 3}], parallel=True)
