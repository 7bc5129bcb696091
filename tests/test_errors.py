"""Every class of bad input gives one located diagnostic (file, line, column, caret, hint), exit 2."""
import subprocess
import sys

import pytest

from shapeproof import analyzer
from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.cli import main


def error_of(source: str) -> ShapeproofError:
    with pytest.raises(ShapeproofError) as info:
        analyzer.loads(source, file="bad.nn")
    return info.value


def where(e: ShapeproofError):
    return (e.span.line, e.span.column) if e.span else None


def test_syntax_error_unclosed_bracket():
    e = error_of("model M(batch):\n    input (batch, 10\n")
    assert where(e) == (2, 11) and "never closed" in e.message and "')'" in e.hint
    e = error_of("model M(batch):\n    input (batch, 10\n    Dense(3)\n")
    assert where(e) == (2, 11) and "never closed" in e.message


def test_syntax_error_unexpected_token():
    e = error_of("model M(batch):\n    input (batch, 10)\n    Dense(4))\n")
    assert where(e) == (3, 13) and "')'" in e.message


def test_stray_character():
    e = error_of("model M(batch):\n    input (batch, 10)\n    Dense(4) $\n")
    assert where(e) == (3, 14) and "'$'" in e.message


def test_inconsistent_indentation():
    e = error_of("model M(batch):\n    input (batch, 10)\n  Dense(4)\n")
    assert e.span.line == 3 and "indentation" in e.message


def test_over_indented_line_is_located_on_itself():
    # The indentation belongs to line 3: the error once pointed at the end of line 2.
    e = error_of("model M(batch):\n    x = input (batch, 4)\n        y = Dense(3)(x)\n    output y\n")
    assert where(e) == (3, 1) and e.span.end_column == 9 and "unexpected indentation" in e.message
    e = error_of("model M(batch):\n    x = input (batch, 4)\n\n    # a comment\n        y = Dense(3)(x)\n")
    assert where(e) == (5, 1)  # past blank and comment lines


def test_unknown_layer_did_you_mean():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dnese(4)\n")
    assert where(e) == (3, 5) and "unknown layer 'Dnese'" in e.message and "'Dense'" in e.hint


def test_unknown_argument_did_you_mean():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(4, activaton=\"relu\")\n")
    assert where(e) == (3, 14) and "activaton" in e.message and "'activation'" in e.hint


def test_duplicated_argument():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(4, units=5)\n")
    assert where(e) == (3, 14) and "given twice" in e.message


def test_too_many_positional_arguments():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(4, \"relu\", True, 7)\n")
    assert where(e) == (3, 28) and "at most 3 positional" in e.message


def test_missing_required_argument():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense()\n")
    assert where(e) == (3, 5) and "'units'" in e.message


def test_wrong_argument_type():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(\"four\")\n")
    assert where(e) == (3, 11) and "positive integer" in e.message and "'units'" in e.message


def test_bad_choice_did_you_mean():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Conv1D(4, 3, padding=\"vaild\")\n")
    assert where(e) == (3, 26) and "'valid'" in e.hint


def test_unknown_activation():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(4, activation=\"rleu\")\n")
    assert where(e) == (3, 25) and "'relu'" in e.hint


def test_unquoted_string_hint():
    e = error_of("model M(batch):\n    input (batch, 10, 3)\n    Dense(4, activation=relu)\n")
    assert where(e) == (3, 25) and "quotes" in e.hint


def test_rank_mismatch_hints_conv1d_or_time_distributed():
    e = error_of("model M(batch, T):\n    input (batch, T, 64)\n    Conv2D(8, 3)\n")
    assert where(e) == (3, 5) and "rank-4" in e.message and "Conv1D" in e.hint
    e = error_of("model M(batch, T):\n    input (batch, T, 32, 32, 3)\n    Conv2D(8, 3)\n")
    assert "TimeDistributed(Conv2D(8, 3))" in e.hint


def test_dimension_becomes_negative():
    e = error_of("model M(batch):\n    input (batch, 4, 3)\n    Conv1D(8, 9)\n")
    assert e.span.line == 3 and "at least 9" in e.message and "4" in e.message


def test_zero_sized_input_dimension():
    e = error_of("model M(batch):\n    input (batch, 0, 3)\n    Dense(2)\n")
    assert where(e) == (2, 19)


def test_unknown_value_name():
    e = error_of("model M(batch):\n    x = input (batch, 4)\n    h = Dense(2)(xx)\n")
    assert where(e) == (3, 18) and "'xx'" in e.message and "'x'" in e.hint


def test_merge_needs_a_list():
    e = error_of("model M(batch):\n    x = input (batch, 4)\n    y = Add()(x)\n")
    assert e.span.line == 3 and "list" in e.message


def test_unknown_model_in_assertion():
    program = analyzer.loads("model A(batch):\n    input (batch, 4)\n    Dense(2)\n"
                             "assert params(A) == params(B)\n", file="bad.nn")
    from shapeproof.analyzer.equivalence import check_assertions
    with pytest.raises(ShapeproofError) as info:
        check_assertions(program)
    assert where(info.value) == (4, 28) and "'B'" in info.value.message


def test_empty_file():
    e = error_of("")
    assert "no model" in e.message and e.hint


def test_unknown_dtype():
    e = error_of("model M(batch):\n    input (batch, 4) float33\n    Dense(2)\n")
    assert where(e) == (2, 22) and "'float32'" in e.hint


def test_positional_after_keyword():
    e = error_of("model M(batch):\n    input (batch, 4)\n    Dense(units=2, \"relu\")\n")
    assert where(e) == (3, 20)


def test_rendered_diagnostic_has_caret_and_hint():
    source = "model M(batch):\n    input (batch, 10, 3)\n    Dnese(4)\n"
    e = error_of(source)
    lines = e.render(source).splitlines()
    assert lines[0] == "bad.nn:3:5: error: unknown layer 'Dnese'"
    assert lines[1] == "        Dnese(4)"
    assert lines[2] == "        ^~~~~"
    assert lines[3].startswith("hint: did you mean 'Dense'")


BROKEN = {
    "rank": "model M(batch):\n    input (batch, 10, 3)\n    Conv2D(4, 3)\n",
    "syntax": "model M(batch):\n    input (batch, 10\n",
    "unknown": "model M(batch):\n    input (batch, 10, 3)\n    Dnese(4)\n",
    "negative": "model M(batch):\n    input (batch, 4, 3)\n    Conv1D(8, 9)\n",
    "empty": "",
    "binary": "\x00\x01model",
}


@pytest.mark.parametrize("name", BROKEN)
def test_cli_exits_2_without_traceback(tmp_path, capsys, name):
    path = tmp_path / f"{name}.nn"
    path.write_text(BROKEN[name])
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}:" in err and "error:" in err


def test_cli_missing_file(capsys):
    assert main(["report", "/nonexistent/x.nn"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cli_bad_set(tmp_path, capsys):
    path = tmp_path / "m.nn"
    path.write_text("model M(batch):\n    input (batch, 4)\n    Dense(2)\n")
    assert main(["report", str(path), "--set", "nope=3"]) == 2
    assert "no model has a parameter 'nope'" in capsys.readouterr().err


def test_console_script_runs_as_a_process(tmp_path):
    path = tmp_path / "m.nn"
    path.write_text("model M(batch):\n    input (batch, 10, 3)\n    Dnese(4)\n")
    result = subprocess.run([sys.executable, "-m", "shapeproof", "check", str(path)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and ":3:5: error:" in result.stderr


ARITHMETIC_ERRORS = [  # (statement, (line, column) of the caret, words in the message, words in the hint)
    ("y = x + Dense(3)(x)", (3, 9), "axis 2 is 2 in one and 3 in the other", "broadcasting"),
    ("y = x + reshape(x, (-1, 8))", (3, 9), "align the batch axis", "same rank"),
    ("y = foo(x)", (3, 9), "unknown function 'foo'", "shapeproof layers"),
    ("y = sqr(x)", (3, 9), "unknown function 'sqr'", "did you mean 'sqrt'"),
    ("y = relu(x, x)", (3, 17), "relu takes 1 operand, got 2", "relu(x)"),
    ("y = matmul(x)", (3, 9), "matmul takes 2 operands, got 1", "matmul(x, y)"),
    ("y = mean(x, axis=0)", (3, 17), "cannot reduce the batch axis", "axes 1 and up"),
    ("y = transpose(x, (1, 0, 2))", (3, 22), "batch axis first", "(0, 2, 1)"),
    ("y = x // 2", (3, 9), "'//' is not an operation on tensors", "true division"),
    ("y = 2 * 3", (3, 9), "a number, not a tensor", "x * 0.5"),
    ('y = x * "a"', (3, 13), "not a tensor expression", "relu(x)"),
    ("y = Dense(8 / 2)(x)", (3, 15), "'/' divides tensors", "//"),
    ("y = relu(Dense)", (3, 14), "unknown value 'Dense'", None),
]


@pytest.mark.parametrize("statement, at, message, hint", ARITHMETIC_ERRORS)
def test_bad_tensor_arithmetic_is_located_with_a_hint(statement, at, message, hint):
    e = error_of(f"model M(batch):\n    x = input (batch, 4, 2)\n    {statement}\n")
    assert where(e) == at and message in e.message, (where(e), e.message)
    assert hint is None or hint in e.hint, e.hint
