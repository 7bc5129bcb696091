"""Keras cross-check: merging layers (shapes, broadcasting, weight counts around them)."""
import pytest

from keras_harness import crosscheck

# Keras's own advice, not a difference: masks dropped by Flatten.
pytestmark = pytest.mark.filterwarnings("ignore:.*mask.*:UserWarning")

CASES = {
    "residual_add": """
model M(batch):
    x = input (batch, 8)
    h = Dense(8)(x)
    y = Add()([x, h])
    output y
""",
    "two_inputs_subtract_multiply": """
model M(batch):
    a = input (batch, 16)
    b = input (batch, 32)
    ha = Dense(8, activation="relu")(a)
    hb = Dense(8, activation="relu")(b)
    d = Subtract()([ha, hb])
    m = Multiply()([d, ha, hb])
    output m
""",
    "broadcast_size_one_and_rank": """
model M(batch):
    x = input (batch, 4, 5)
    g = input (batch, 1, 5)
    v = input (batch, 5)
    s = input (batch, 1)
    a = Add()([x, g])
    m = Maximum()([v, a])
    n = Minimum()([a, s, x])
    av = Average()([g, v])
    output m, n, av
""",
    "concatenate_axes": """
model M(batch, t=7):
    x = input (batch, t, 6)
    y = input (batch, 3, 6)
    h = Conv1D(4, 3, padding="same")(x)
    c1 = Concatenate()([x, h])
    c2 = Concatenate(axis=1)([x, y, x])
    c3 = Concatenate(axis=-2, name="join")([c2, y])
    output c1, c3
""",
    "merge_frozen_branches": """
model M(batch):
    tokens = input (batch, 12) int32
    e = Embedding(30, 8)(tokens)
    n = LayerNormalization()(e)
    b = BatchNormalization(trainable=False)(e)
    s = Add()([n, b])
    p = Permute((2, 1))(s)
    c = Concatenate(axis=1)([p, p])
    f = Flatten()(c)
    d = Dropout(0.1)(f)
    output d
""",
}


@pytest.mark.parametrize("name", CASES)
def test_merging_matches_keras(name):
    crosscheck(CASES[name])
