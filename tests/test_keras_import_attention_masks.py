"""`shapeproof import` and `shapeproof export` of Keras's Attention and AdditiveAttention called with
`mask=[query_mask, value_mask]` (two extra int Inputs, either mask None): the written spec calls the
layer as Keras did, reports Keras's shapes and counts, its NumPy reference and generated kernels equal
model.predict on 0/1 masks, and the spec exports back to a Keras model that predicts the same. Keras's
implicit masks (Embedding(mask_zero=True), an attention output carrying its query mask into a layer
that consumes it) are refused with a clear import error."""
from __future__ import annotations

import json

import numpy as np
import pytest
from keras_harness import random_keras_weights
from test_keras_import import run_cli

from shapeproof.analyzer.errors import ShapeproofError

keras = pytest.importorskip("keras")

from keras import layers as L  # noqa: E402


def masked_attention():
    q = keras.Input((3, 4), name="q")
    v = keras.Input((4, 2), name="v")
    k = keras.Input((4, 4), name="k")
    qm = keras.Input((3,), dtype="int32", name="qm")
    vm = keras.Input((4,), dtype="int32", name="vm")
    y, s = L.Attention(use_scale=True, score_mode="concat", name="att")(
        [q, v, k], mask=[qm, vm], return_attention_scores=True, use_causal_mask=True)
    a = L.AdditiveAttention(name="add")([q, v, k], mask=[None, vm])
    d = L.Attention(name="att_q")([q, k], mask=[qm, None])
    return keras.Model([q, v, k, qm, vm], [y, s, a, d])


def masks(rng, batch=4):
    """Inputs with 0/1 masks, one batch row's value mask all zeros and one query mask all zeros."""
    q, v, k = (rng.normal(size=(batch, t, d)).astype("float32") for t, d in ((3, 4), (4, 2), (4, 4)))
    qm = rng.integers(0, 2, size=(batch, 3)).astype("int32")
    vm = rng.integers(0, 2, size=(batch, 4)).astype("int32")
    qm[1], vm[2] = 0, 0
    return [q, v, k, qm, vm]


def test_masked_attention_round_trips(tmp_path, capsys):
    from shapeproof import analyzer, codegen
    from shapeproof.analyzer.reference import forward

    keras.backend.clear_session()
    model = masked_attention()
    weights = random_keras_weights(model, np.random.default_rng(0))
    path = tmp_path / "masked.keras"
    model.save(path)
    nn = tmp_path / "masked.nn"
    code, _, err = run_cli(["import", str(path), "-o", str(nn)], capsys)
    assert code == 0, err
    text = nn.read_text()
    for line in ("qm = input (batch, 3) int32",
                 "att, att_scores = Attention(use_scale=True, score_mode=\"concat\", name=\"att\")([q, v, k], "
                 "mask=[qm, vm], return_attention_scores=True, use_causal_mask=True)",
                 "add = AdditiveAttention(name=\"add\")([q, v, k], mask=[None, vm])",
                 "att_q = Attention(name=\"att_q\")([q, k], mask=[qm, None])"):
        assert line in text, text
    code, out, err = run_cli(["report", str(nn), "--json"], capsys)
    assert code == 0, err
    report = {layer["name"]: layer for layer in json.loads(out)["models"][0]["layers"]}
    assert sorted(report) == sorted(op.name for op in model.operations if not isinstance(op, L.InputLayer))
    for op in model.operations:
        if not isinstance(op, L.InputLayer):
            expected = [[d if d is not None else "batch" for d in t.shape] for t in op._inbound_nodes[0].output_tensors]
            got = report[op.name]["output_shape"]
            assert (got if isinstance(got[0], list) else [got]) == expected, op.name
            assert report[op.name]["trainable_params"] == op.count_params(), op.name

    xs = masks(np.random.default_rng(1))
    theirs = model.predict(xs, verbose=0)
    ours = next(iter(analyzer.load(nn).models.values()))
    net = codegen.build(ours, parallel=False)
    net.load_weights(str(path))
    for label, mine in (("kernels", net(*xs)), ("reference", forward(ours, weights, *xs))):
        for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            assert a.shape == b.shape and np.allclose(a, b, atol=1e-5), f"{label}, output {i}"

    back = tmp_path / "back.keras"
    code, _, err = run_cli(["export", str(nn), "-o", str(back)], capsys)
    assert code == 0, err
    again = keras.models.load_model(back)
    again.set_weights(model.get_weights())
    for i, (a, b) in enumerate(zip(again.predict(xs, verbose=0), theirs, strict=True)):
        assert np.allclose(a, b, atol=1e-6), f"exported model, output {i}"


def refused(model, tmp_path) -> str:
    from shapeproof.keras.importer import import_keras

    model.save(tmp_path / "m.keras")
    with pytest.raises(ShapeproofError) as info:
        import_keras(str(tmp_path / "m.keras"))
    return str(info.value)


def test_embedding_mask_zero_is_refused(tmp_path):
    keras.backend.clear_session()
    t = keras.Input((6,), dtype="int32", name="t")
    e = L.Embedding(10, 4, mask_zero=True, name="emb")(t)
    message = refused(keras.Model(t, L.Attention(name="att")([e, e])), tmp_path)
    assert "'emb' (Embedding): mask_zero=True: implicit Keras masks are not supported" in message


def test_an_implicit_query_mask_is_refused(tmp_path):
    """Keras's compute_mask gives the output the query mask, which GlobalAveragePooling1D then uses."""
    keras.backend.clear_session()
    q = keras.Input((3, 4), name="q")
    qm = keras.Input((3,), dtype="int32", name="qm")
    y = L.Attention(name="att")([q, q], mask=[qm, None])
    message = refused(keras.Model([q, qm], L.GlobalAveragePooling1D(name="gap")(y)), tmp_path)
    assert "'gap' (GlobalAveragePooling1D): called with mask=" in message
    assert "implicit Keras masks are not supported" in message
