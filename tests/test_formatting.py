"""Readable formulas: tidied floors and ceilings equal the exact ones, conditions in words, shapes
without separators, headers showing --set renames."""
import itertools

import pytest
import sympy
from rich.console import Console

from shapeproof import analyzer
from shapeproof.analyzer.formatting import condition_text, pretty, tidy
from shapeproof.analyzer.report import render_report

H = sympy.Symbol("H", integer=True, positive=True)


def chains():
    """Output lengths of stacks of strided "same"/"valid" windows (the nested floors the layers build)."""
    for steps in itertools.product([(2, 1, "same"), (2, 2, "valid"), (3, 2, "valid"), (3, 1, "valid"),
                                    (5, 3, "same")], repeat=3):
        length = H
        for k, s, padding in steps:
            length = sympy.floor((length - 1) / s) + 1 if padding == "same" else sympy.floor((length - k) / s) + 1
        yield length, steps


@pytest.mark.parametrize("length, steps", list(chains()))
def test_tidy_is_exact_on_every_length(length, steps):
    tidied = tidy(length)
    for h in range(1, 200):
        assert tidied.subs(H, h) == length.subs(H, h), (steps, tidied, h)


def test_tidy_reads_as_a_designer_would():
    assert pretty(sympy.floor((H - 1) / 2) + 1) == "⌈H/2⌉"                          # stride-2 "same"
    assert pretty(sympy.floor((sympy.floor((H - 1) / 2) - 1) / 2) + 1) == "⌊(H + 1)/4⌋"
    assert pretty(sympy.floor(sympy.floor(H / 2) / 2)) == "⌊H/4⌋"
    assert pretty(4 * sympy.floor(sympy.floor(H / 2) / 2) + 4) == "4·⌊H/4⌋ + 4"
    assert condition_text(sympy.Eq(4 * sympy.floor(sympy.floor(H / 2) / 2), H)) == "H divisible by 4"
    assert pretty(sympy.Integer(12800457)) == "12,800,457" and pretty(1000, separators=False) == "1000"


def report(source: str, **kwargs) -> str:
    console = Console(width=120, record=True, color_system=None)
    render_report(analyzer.loads(source, **kwargs), console)
    return console.export_text()


def test_report_phrases_conditions_and_keeps_shapes_whole():
    text = report("model D(batch, H, n=1000):\n    x = input (batch, H, H, n)\n    a = MaxPooling2D(2)(x)\n"
                  "    b = MaxPooling2D(2)(a)\n    c = UpSampling2D(4)(b)\n    d = Add()([x, c])\n    output d\n")
    assert "Valid when: H ≥ 4,  H divisible by 4" in text
    assert "(batch, ⌊H/4⌋, ⌊H/4⌋, 1000)" in text and "1,000)" not in text


def test_header_shows_a_renamed_size():
    text = report("model M(batch, L=200):\n    x = input (batch, L, 4)\n    y = Dense(2)(x)\n    output y\n",
                  set={"L": "T"})
    assert "Model M(batch, L=T)" in text and "(batch, T, 2)" in text
