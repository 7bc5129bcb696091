"""codegen/simplify.py: the tidying pass over generated modules."""
from shapeproof import analyzer, codegen
from shapeproof.codegen import simplify


def test_integer_identities_fold_and_floats_stay():
    text = ("def k(x, out):\n    a = x.shape[0] * 1 + 0\n    b = 0 + a // 1 - 0\n    out[0] = x[a * 1, b] * 1.0 + 0.0\n"
            "    for t in range(1):\n        out[t + 1] = x[t, 0]\n")
    assert simplify.simplify(text) == ("def k(x, out):\n    a = x.shape[0]\n    b = a\n    out[0] = x[a, b] * 1.0 + 0.0\n"
                                       "    out[1] = x[0, 0]\n")  # t = 0 is read nowhere: dropped


def test_the_line_filter_skips_only_lines_with_nothing_to_fold():
    # _fold_line parses a line only when FOLDABLE finds an integer 0 or 1 beside an operator: every
    # other line of these modules must be one the fold leaves as it is.
    program = analyzer.load("examples/seeds.nn", set={"n_features": 50})
    models = list(program.models.values()) + list(analyzer.load("benchmarks/models.nn").models.values())
    checked = 0
    for model in models:
        if any(not d.is_number for n in model.nodes for w in n.weights for d in w.shape):
            continue
        for line in codegen.generate(model).split("\n"):
            if not simplify.FOLDABLE.search(line):
                assert simplify._fold_parsed(line) == line, line
                checked += 1
    assert checked > 1000
