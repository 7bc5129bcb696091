"""The .nn language: what parses, what it means, and the layout rules (indentation, line ends)."""
import sympy

from shapeproof import analyzer
from shapeproof.analyzer import ir
from shapeproof.analyzer.parse import parse

LANGUAGE_TOUR = "examples/language.nn"


def test_language_tour_parses_into_models_and_assertions():
    program = parse(open(LANGUAGE_TOUR).read(), LANGUAGE_TOUR)
    assert [m.name for m in program.models] == ["ConvModel", "FCModel", "CNNLSTM", "Residual", "ResidualEncoder",
                                                "TextCNN"]
    assert [a.text for a in program.assertions] == [
        "params(ConvModel) == params(FCModel)", "shape(ConvModel) == shape(FCModel)", "ConvModel == FCModel"]
    conv = program.models[0]
    assert [(p.name, p.default) for p in conv.params][0] == ("batch", None)
    assert conv.params[1].default.value == 1000
    text_cnn = program.models[-1]
    assert text_cnn.body[0].dtype == "int32"


def test_statement_forms():
    program = parse(
        "model M(batch):\n"
        "    x = input (batch, 8)\n"
        "    h = Dense(4)(x)\n"
        "    y, s = SimpleRNN(3, return_state=True)(h)\n"
        "    z = Concatenate(axis=-1)([x, h])\n"
        "    Dense(2)\n"
        "    output z, y\n")
    body = program.models[0].body
    assert isinstance(body[0], ir.InputStmt) and body[0].target == "x"
    assert [t.name for t in body[2].targets] == ["y", "s"]
    assert isinstance(body[3].applied_to, ir.List)
    assert body[4].applied_to is None and not body[4].targets
    assert [n.name for n in body[5].names] == ["z", "y"]


def test_values_arithmetic_and_literals():
    call = parse("model M(batch, T):\n    input (batch, T, 2)\n"
                 "    Foo(2 * T // 3 - 1, -1, 0.5, 1e-3, 'a', \"b\", True, False, None, (1,), [1, 2], (3, 4))\n"
                 ).models[0].body[1].call
    from shapeproof.analyzer.values import evaluate, symbol
    T = symbol("T")
    values = [evaluate(a, {"T": T}) for a in call.args]
    assert values[0] == sympy.floor(2 * T / 3) - 1
    assert values[1:] == [-1, 0.5, 1e-3, "a", "b", True, False, None, (1,), [1, 2], (3, 4)]


def test_tabs_crlf_blank_lines_and_missing_final_newline():
    source = "# top comment\r\n\r\nmodel M(batch):\r\n\tinput (batch, 4)\r\n\r\n\t# inside\r\n\tDense(2)"
    model = analyzer.loads(source).models["M"]
    assert model.outputs[0][1] == (sympy.Symbol("batch", integer=True, positive=True), 2)


def test_comment_lines_at_any_indentation_and_calls_across_lines():
    source = ("model M(batch):\n    input (batch, 4)\n# col 0 comment\n        # deep comment\n"
              "    Dense(\n        2,\n        use_bias=False,\n    )\n")
    assert analyzer.loads(source).models["M"].total_params == 8


def test_several_models_and_defaults_referencing_earlier_parameters():
    program = analyzer.loads("model A(batch, n=4, m=n * 2):\n    input (batch, m)\n    Dense(n)\n"
                             "model B(batch):\n    input (batch, 3)\n    Dense(1)\n")
    assert program.models["A"].total_params == 8 * 4 + 4
    assert program.models["B"].total_params == 4


def test_set_overrides_with_integers_and_new_symbols():
    source = "model M(batch, n=1000):\n    input (batch, n, 1)\n    Dense(3)\n"
    assert analyzer.loads(source, set={"n": 5}).models["M"].outputs[0][1][1] == 5
    shape = analyzer.loads(source, set={"n": "N"}).models["M"].outputs[0][1]
    assert str(shape[1]) == "N"


def test_parser_tables_are_cached_and_a_damaged_file_is_rebuilt(tmp_path, monkeypatch):
    from shapeproof.analyzer import parse as module

    monkeypatch.setenv("SHAPEPROOF_CACHE", str(tmp_path))
    source = open("examples/seeds.nn", encoding="utf-8").read()
    module.parser.cache_clear()
    expected = repr(parse(source))
    (tables,) = tmp_path.glob("grammar-*.lark-tables")
    good = tables.read_bytes()
    for damaged in (b"", good[:len(good) // 2], good[:100] + bytes([good[100] ^ 1]) + good[101:]):
        tables.write_bytes(damaged)
        module.parser.cache_clear()
        assert repr(parse(source)) == expected
        module._load_tables(tables)  # written anew, whole
    module.parser.cache_clear()
