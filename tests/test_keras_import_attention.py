"""`shapeproof import` of Keras models with MultiHeadAttention: a causal self-attention block
(residual `+`, LayerNormalization, Dense feed-forward), cross-attention between two inputs with a
key, an attention_mask input and the scores as a second output, and GroupedQueryAttention with a
causal sliding window. The written spec calls the layer as
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


MODELS = {f.__name__: f for f in (causal_block, cross_attention, grouped_window)}


@pytest.mark.parametrize("name", MODELS)
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
    assert {"causal_block": "MultiHeadAttention(2, 4, name=\"attn\")(tokens, tokens, use_causal_mask=True)",
            "cross_attention": "(q, v, k, attention_mask=m, return_attention_scores=True)",
            "grouped_window": "GroupQueryAttention(4, 4, 2, sliding_window=3, name=\"gqa\")(tokens, tokens, "
                              "use_causal_mask=True)"}[name] in text, text
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
