"""SymPy integer dimensions as Python source: `floor((T - 5)/2) + 1` -> `(T - 5) // 2 + 1`.

The kernels print sizes with it (codegen), and the analyzer evaluates conditions with it (a compiled
lambda over the sizes is ~100x faster than substituting into SymPy).

Only what dimensions are made of: integers, symbols, + and *, powers, floor and ceiling of
quotients, Mod, Max and Min. Exact integer arithmetic throughout (no `/`).
"""
from __future__ import annotations

import sympy

ATOM, PRODUCT, SUM = 0, 1, 2  # binding strength of what an expression's text ends up as


def py(expr) -> str:
    """Exact integer Python source for a SymPy dimension expression."""
    return _py(sympy.sympify(expr))[0]


def _wrap(part: tuple[str, int], limit: int) -> str:
    text, strength = part
    return f"({text})" if strength > limit else text


def _py(expr) -> tuple[str, int]:
    if expr.is_Integer:
        return str(int(expr)), ATOM if expr >= 0 else SUM
    if expr.is_Symbol:
        return expr.name, ATOM
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if expr.func is sympy.floor:
            return f"{_wrap(_py(num), PRODUCT)} // {_wrap(_py(den), ATOM)}", PRODUCT
        return f"-(-{_wrap(_py(num), ATOM)} // {_wrap(_py(den), ATOM)})", SUM
    if isinstance(expr, sympy.Mod):
        return f"{_wrap(_py(expr.args[0]), ATOM)} % {_wrap(_py(expr.args[1]), ATOM)}", PRODUCT
    if isinstance(expr, (sympy.Max, sympy.Min)):
        name = "max" if expr.func is sympy.Max else "min"
        return f"{name}({', '.join(_py(a)[0] for a in expr.args)})", ATOM
    if expr.is_Add:
        terms = [_wrap(_py(t), SUM) for t in expr.as_ordered_terms()]
        text = terms[0]
        for t in terms[1:]:
            text += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
        return text, SUM
    if expr.is_Mul:
        coeff, rest = expr.as_coeff_Mul()
        if not coeff.is_Integer:
            raise ValueError(f"not an integer expression: {expr}")
        factors = [_wrap(_py(f), ATOM) for f in sympy.Mul.make_args(rest)]  # a * b // c is (a * b) // c
        if coeff == -1:
            return "-" + " * ".join(factors), SUM
        return " * ".join(([str(int(coeff))] if coeff != 1 else []) + factors), PRODUCT
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return " * ".join([_wrap(_py(expr.base), ATOM)] * int(expr.exp)), PRODUCT
    raise ValueError(f"cannot write {expr} as an integer expression")


def condition(relation) -> str:
    """A relation between integer expressions (`T >= 5`, `Eq(4*floor(H/4), H)`) as Python source."""
    ops = {sympy.GreaterThan: ">=", sympy.StrictGreaterThan: ">", sympy.LessThan: "<=",
           sympy.StrictLessThan: "<", sympy.Equality: "==", sympy.Unequality: "!="}
    for cls, op in ops.items():
        if isinstance(relation, cls):
            return f"{py(relation.lhs)} {op} {py(relation.rhs)}"
    raise ValueError(f"not a relation of integer expressions: {relation}")


def product(dims) -> str:
    """The product of dimensions as source ("1" for none): `batch * 24`."""
    return py(sympy.Mul(*dims)) if len(dims) else "1"


def shape(dims) -> str:
    """A shape tuple as source: `(batch, 998, 128)`."""
    items = [py(d) for d in dims]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
