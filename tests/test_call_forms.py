"""The call forms of the language: `Layer(...)(a, b, key=value)` parses into the IR (further values and
keyword call arguments), reaches the layer through its call_signature, and every wrong form is one
located error with a hint. Single-value calls and merges (`Add()([a, b])`) are unchanged."""
import pytest

from shapeproof import analyzer
from shapeproof.analyzer import ir
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.parse import parse

HEAD = "model M(batch):\n    q = input (batch, 3, 4)\n    v = input (batch, 5, 6)\n    m = input (batch, 3, 5) int32\n"


def error_of(line: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(HEAD + "    " + line + "\n", file="bad.nn")
    return info.value


def column(e: ShapeproofError, line: str, text: str) -> bool:
    return e.span.line == 5 and e.span.column == 5 + line.index(text)


def test_several_values_and_keywords_are_kept_in_the_ir():
    stmt = parse(HEAD + "    y, s = MultiHeadAttention(2, 4)(q, v, v, attention_mask=m, "
                        "return_attention_scores=True)\n").models[0].body[3]
    assert isinstance(stmt, ir.LayerStmt) and [t.name for t in stmt.targets] == ["y", "s"]
    assert stmt.applied_to.name == "q" and [v.name for v in stmt.more] == ["v", "v"]
    assert [k.name for k in stmt.keywords] == ["attention_mask", "return_attention_scores"]


def test_the_layer_is_told_which_arguments_it_got():
    model = analyzer.loads(HEAD + "    y, s = MultiHeadAttention(2, 4)(q, v, attention_mask=m, "
                                  "return_attention_scores=True, use_causal_mask=True)\n").models["M"]
    node = model.nodes[0]
    assert node.layer.call_inputs == ("query", "value", "attention_mask")
    assert node.layer.use_causal_mask and node.layer.return_attention_scores
    assert [str(s) for s in node.output_shapes] == ["(batch, 3, 4)", "(batch, 2, 3, 5)"]
    assert node.inputs == ["q", "v", "m"]
    assert node.text.endswith("(q, v, attention_mask=m, return_attention_scores=True, use_causal_mask=True)")


def test_merges_and_single_values_are_unchanged():
    model = analyzer.loads(HEAD + "    a = Dense(4)(q)\n    output Add()([q, a])\n").models["M"]
    assert [n.type for n in model.nodes] == ["Dense", "Add"]


@pytest.mark.parametrize("line, at, message, hint", [
    ("y = Dense(4)(q, v)", "v)", "Dense is applied to one value, got 2", "one tensor"),
    ("y = Add()(q, v)", "v)", "Add is applied to one value, got 2", "Add()([a, b])"),
    ("y = Dense(4)(q, use_causal_mask=True)", "use_causal_mask", "Dense takes no call argument", "MultiHeadAttention"),
    ("y = MultiHeadAttention(2, 4)(q)", "y =", "needs its 'value' call argument", "(query, value)"),
    ("y = MultiHeadAttention(2, 4)([q, v])", "[q, v]", "separate arguments, not a list", "(query, value)"),
    ("y = MultiHeadAttention(2, 4)(q, v, v, v)", "v)", "at most 3 values", "attention_mask"),
    ("y = MultiHeadAttention(2, 4)(q, v, use_casual_mask=True)", "use_casual_mask", "no call argument",
     "use_causal_mask"),
    ("y = MultiHeadAttention(2, 4)(q, v, use_causal_mask=1)", "1)", "use_causal_mask", None),
    ("y = MultiHeadAttention(2, 4)(q, v, value=v)", "value=", "given twice", None),
    ("y = MultiHeadAttention(2, 4)(use_causal_mask=True)", "MultiHeadAttention", "applied to no value", "(x"),
    ("y = MultiHeadAttention(2, 4)(q, use_causal_mask=True, v)", "v)", "positional argument after a keyword", None),
    ("y = MultiHeadAttention(2, 4)(q, v, attention_mask=q)", "MultiHeadAttention(2", "axis 2", None),
    ("y = MultiHeadAttention(2, 4, attention_axes=(1, 2))(q, v)", "attention_axes", "not supported", "Reshape"),
    ("y = MultiHeadAttention(2, 4)(q, v)\n    output y, z", None, None, None),
])
def test_wrong_call_forms_are_located_errors(line, at, message, hint):
    if at is None:  # not a call form: the unknown name after it (the call itself is fine)
        e = error_of(line)
        assert "unknown value 'z'" in e.message
        return
    e = error_of(line)
    assert message in e.message, e.message
    assert column(e, line, at), (e.span, line.index(at) + 5)
    if hint:
        assert e.hint and hint in e.hint, e.hint
