"""`shapeproof import` of a Keras model with EinsumDense layers (MultiHeadAttention-style projections
with output_shape None entries, an ellipsis equation, a bias over one of two axes, an activation): the
written spec calls the layers as Keras did, counts Keras's parameters, and its generated kernels equal
model.predict with the archive's weights; `shapeproof export` of the spec builds the same Keras layers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from keras_harness import random_keras_weights
from test_keras_import import check_outputs, run_cli

keras = pytest.importorskip("keras")

from keras import layers as L  # noqa: E402


def projections():
    x = keras.Input((5, 8), name="tokens")
    q = L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de", name="query")(x)
    o = L.EinsumDense("abcd,cde->abe", output_shape=(None, 8), bias_axes="e", name="out")(q)
    e = L.EinsumDense("...b,bc->...c", output_shape=6, bias_axes="c", activation="relu", name="ffn")(x + o)
    k = L.EinsumDense("bkm,mvh->bkvh", output_shape=[5, 3, 2], bias_axes="v", name="key")(e)
    return keras.Model(x, [e, k])


def test_einsum_dense_model_round_trip(tmp_path, capsys):
    keras.backend.clear_session()
    model = projections()
    random_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / "einsum.keras"
    model.save(path)
    nn = tmp_path / "einsum.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    text = nn.read_text()
    for call in ('EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de", name="query")',
                 'EinsumDense("...b,bc->...c", (6,), activation="relu", bias_axes="c", name="ffn")',
                 'EinsumDense("bkm,mvh->bkvh", (5, 3, 2), bias_axes="v", name="key")'):
        assert call in text, text
    code, out, err = run_cli(["report", str(nn), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)["models"][0]
    assert report["total_params"] == model.count_params()
    layers = {row["name"]: row for row in report["layers"]}
    assert layers["query"]["output_shape"] == ["batch", 5, 2, 4]  # Keras: (None, None, 2, 4), predict: 5
    assert layers["key"]["trainable_params"] == 6 * 3 * 2 + 3 * 1
    check_outputs(model, nn, path)
    # and back: the spec's Keras code and archive have the same layers, imported to the same calls
    code, out, err = run_cli(["export", str(nn), "--python"], capsys)
    assert code == 0, err
    assert "layers.EinsumDense('abc,cde->abde', (None, 2, 4), bias_axes='de', name='query'" in out, out
    again = tmp_path / "again.keras"
    code, _, err = run_cli(["export", str(nn), "-o", str(again)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["import", str(again), "-o", str(tmp_path / "again.nn")], capsys)
    assert code == 0, err
    calls = [line.strip() for line in text.splitlines() if "EinsumDense" in line]
    assert calls and calls == [line.strip() for line in (tmp_path / "again.nn").read_text().splitlines()
                               if "EinsumDense" in line]
