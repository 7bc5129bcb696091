"""`shapeproof import` of the Keras transformer models users write from the standard layers: a
causal self-attention block (residual `+`, LayerNormalization, Dense feed-forward), cross-attention
between two inputs with a key, an attention_mask input and the scores as a second output,
GroupedQueryAttention with a causal sliding window, a text classifier (token ids, Embedding, two
encoder blocks, pooling, Dense), a causal decoder stack, a small vision transformer (patches by a
strided Conv2D and a Reshape) and Luong and Bahdanau attention over recurrent encoder states. The written spec calls the layer as
Keras did, reports Keras's shapes and counts, and its generated kernels equal model.predict with
the archive's weights."""
from __future__ import annotations

import json

import numpy as np
import pytest
from keras_harness import random_keras_weights
from test_keras_import import check_outputs, run_cli
from test_keras_import_ops import check_report

keras = pytest.importorskip("keras")

from keras import layers as L  # noqa: E402


def causal_block():
    x = keras.Input((6, 8), name="tokens")
    a = L.MultiHeadAttention(2, 4, name="attn")(x, x, use_causal_mask=True)
    h = L.LayerNormalization(name="norm")(x + a)
    return keras.Model(x, L.Dense(8, name="ff")(h))


def cross_attention():
    q = keras.Input((3, 6), name="q")
    v = keras.Input((5, 4), name="v")
    k = keras.Input((5, 7), name="k")
    m = keras.Input((3, 5), dtype="int32", name="m")
    y, s = L.MultiHeadAttention(2, 3, value_dim=2, output_shape=5, name="cross")(
        q, v, key=k, attention_mask=m, return_attention_scores=True)
    return keras.Model([q, v, k, m], [y, s])


def grouped_window():
    x = keras.Input((7, 8), name="tokens")
    a = L.GroupQueryAttention(4, 4, 2, sliding_window=3, name="gqa")(x, x, use_causal_mask=True)
    return keras.Model(x, L.LayerNormalization(name="norm")(x + a))


def _encoder(x, name, causal=False):
    a = L.MultiHeadAttention(2, 4, name=f"{name}_attn")(x, x, use_causal_mask=causal)
    h = L.LayerNormalization(name=f"{name}_norm1")(x + a)
    f = L.Dense(16, activation="relu", name=f"{name}_ff1")(h)
    return L.LayerNormalization(name=f"{name}_norm2")(h + L.Dense(8, name=f"{name}_ff2")(f))


def text_classifier():
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = L.Embedding(50, 8, name="embed")(tokens)
    x = _encoder(_encoder(x, "enc1"), "enc2")
    return keras.Model(tokens, L.Dense(3, name="classes")(L.GlobalAveragePooling1D(name="pool")(x)))


def decoder_stack():
    x = keras.Input((6, 8), name="tokens")
    return keras.Model(x, L.Dense(11, name="logits")(_encoder(_encoder(x, "dec1", True), "dec2", True)))


def vision_transformer():
    image = keras.Input((8, 8, 3), name="image")
    patches = L.Conv2D(8, 4, strides=4, name="patches")(image)  # 2 x 2 patches of 4 x 4 pixels
    x = _encoder(L.Reshape((4, 8), name="tokens")(patches), "vit")
    return keras.Model(image, L.Dense(5, name="classes")(L.GlobalAveragePooling1D(name="pool")(x)))


def recurrent_attention():
    source = keras.Input((6, 5), name="source")
    target = keras.Input((4, 5), name="target")
    memory = L.LSTM(8, return_sequences=True, name="encoder")(source)
    state = L.GRU(8, return_sequences=True, name="decoder")(target)
    dot = L.Attention(use_scale=True, name="luong")([state, memory])
    additive = L.AdditiveAttention(name="bahdanau")([state, memory])
    return keras.Model([source, target], L.Concatenate(name="join")([dot, additive]))


MODELS = {f.__name__: f for f in (causal_block, cross_attention, grouped_window, text_classifier,
                                  decoder_stack, vision_transformer, recurrent_attention)}
WRITTEN = {"causal_block": "MultiHeadAttention(2, 4, name=\"attn\")(tokens, tokens, use_causal_mask=True)",
           "cross_attention": "(q, v, k, attention_mask=m, return_attention_scores=True)",
           "grouped_window": "GroupQueryAttention(4, 4, 2, sliding_window=3, name=\"gqa\")(tokens, tokens, "
                             "use_causal_mask=True)",
           "recurrent_attention": "Attention(use_scale=True, name=\"luong\")([decoder, encoder])"}


FULL = ("decoder_stack", "vision_transformer")  # make test-all: the layers are the text classifier's


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.full) if n in FULL else n for n in MODELS])
def test_attention_models_round_trip(name, tmp_path, capsys):
    keras.backend.clear_session()
    model = MODELS[name]()
    random_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    nn = tmp_path / f"{name}.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    text = nn.read_text()
    assert WRITTEN.get(name, "MultiHeadAttention(2, 4") in text, text
    if name == "cross_attention":
        # Keras's symbolic scores shape is (batch, heads, T_q, T_q) whatever T_k (compute_output_spec uses
        # the query length twice); predict returns (batch, heads, T_q, T_k), which check_outputs compares.
        code, out, err = run_cli(["report", str(nn), "--json"], capsys)
        assert code == 0, err
        report = json.loads(out)["models"][0]
        assert report["layers"][0]["output_shape"] == [["batch", 3, 5], ["batch", 2, 3, 5]]
        assert report["total_params"] == model.count_params()
    else:
        check_report(model, nn, capsys)
    check_outputs(model, nn, path)
