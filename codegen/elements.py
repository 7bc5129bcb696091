"""Pointwise and per-channel layers from their own element formulas, for both targets.

Note: one formula, three uses. A layer's `element()` (analyzer/layers) is what the prover composes;
for layers whose output element reads input elements at computed positions and combines them with
weights element by element (activations, BatchNormalization, element-wise merges, zero padding,
cropping), it is also the kernel: `element_form` evaluates it on index symbols and array reads, and
`ValuePrinter` prints it as statements and an expression. Nothing about such a layer is written
again in codegen. `hoist` pulls out the parts that depend on one output axis only (BatchNormalization's
gamma / sqrt(variance + epsilon), Keras's own grouping): the CPU computes them once per layer into a
table, CUDA once per thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from .activations import ELEMENTWISE, LAST_AXIS, element
from .errors import CodegenError
from shapeproof.analyzer.exprs import py
from shapeproof.analyzer.layers.ops import ELEMENTWISE_OPERATIONS


# The kinds both targets print from the element formula (one generic emitter each): every other
# kind has emitters written for its loop structure (GEMMs, windows, recurrences, reductions).
ELEMENT_KINDS = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Identity", "Rescaling", "LayerScale",
                 "BatchNormalization", "Normalization", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
                 "CustomScaleLayer", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
                 "Cropping3D")
ELEMENT_KINDS += ELEMENTWISE_OPERATIONS  # tensor arithmetic: x + h, relu(x) * 0.5, ...


@dataclass
class ElementForm:
    """One output element of a layer: `value` in the output index symbols `index`, array reads
    (`sympy.Indexed` of the kernel's parameter names) and `bindings` (name, expression, axis):
    scalars that depend on one output axis only."""

    index: list[sympy.Symbol]
    value: sympy.Expr
    bindings: list[tuple[sympy.Symbol, sympy.Expr, int]]


class Operand:
    """An input array as a layer's element formula sees it (see analyzer/indexing.py)."""

    def __init__(self, name: str, shape: tuple):
        self.base, self.shape = sympy.IndexedBase(name), tuple(shape)

    def __call__(self, *idx):
        return self.base[tuple(idx)]

    def index(self, base: str) -> sympy.Symbol:
        raise CodegenError(f"a generic element kernel cannot sum over {base!r} (the layer needs its own kernel)")


def element_form(layer, inputs: list[tuple[str, tuple]], weights: list[str], rank: int) -> ElementForm:
    """The layer's element formula over inputs (name, shape as the kernel sees it) and weight arrays."""
    index = [sympy.Symbol(f"i{a}", integer=True, nonnegative=True) for a in range(rank)]
    operands = [Operand(name, shape) for name, shape in inputs]
    w = [sympy.IndexedBase(name) for name in weights]
    value = layer.element(operands if len(operands) > 1 else operands[0], w, tuple(index))
    reads = {o.base for o in operands}
    value, bindings = hoist(value, index, reads)
    return ElementForm(index, value, bindings)


def hoist(value, index: list[sympy.Symbol], reads: set) -> tuple:
    """`value` with every product or sum of factors that read no input and vary along at most one
    output axis replaced by a symbol t0, t1, ... (returned with its expression and axis)."""
    bindings: list = []

    def invariant(e) -> bool:
        if any(isinstance(a, sympy.Indexed) and a.base in reads for a in e.atoms(sympy.Indexed)):
            return False
        return len(e.free_symbols & set(index)) <= 1 and not e.atoms(sympy.Piecewise)

    def trivial(e) -> bool:  # nothing to save: a read, a number, or a negated read
        if isinstance(e, sympy.Mul) and e.as_coeff_Mul()[0] == -1:
            e = -e
        return e.is_Atom or isinstance(e, sympy.Indexed)

    def walk(e):
        if e.is_Atom or isinstance(e, sympy.Indexed):
            return e
        if isinstance(e, (sympy.Add, sympy.Mul)):
            fixed = [a for a in e.args if invariant(a) and not a.is_Number]
            rest = [a for a in e.args if a not in fixed]
            if rest and fixed and (len(fixed) > 1 or not trivial(fixed[0])):
                part = e.func(*fixed)
                axes = [index.index(s) for s in part.free_symbols & set(index)]
                name = sympy.Symbol(f"t{len(bindings)}")
                bindings.append((name, part, axes[0] if axes else None))
                return e.func(name, *(walk(a) for a in rest))
        return e.func(*(walk(a) for a in e.args))

    return walk(value), bindings


class ValuePrinter:
    """Prints a value expression as Python (Numba CPU and CUDA alike), writing the statements it
    needs (activations' arguments, padded reads) to a Writer first. Numbers are DT constants;
    index arithmetic is exact integer arithmetic (codegen/exprs.py)."""

    def __init__(self, w):
        self.w, self.count = w, 0

    def temp(self) -> str:
        self.count += 1
        return f"e{self.count}"

    def value(self, e) -> str:
        e = sympy.sympify(e)
        if e.is_Number:
            return self.number(e)
        if e.is_Symbol:
            return e.name
        if isinstance(e, sympy.Indexed):
            return f"{e.base.name}[{', '.join(self.index(i) for i in e.indices)}]"
        if isinstance(e, sympy.Add):
            return self.add(e)
        if isinstance(e, sympy.Mul):
            return self.mul(e)
        if isinstance(e, sympy.Pow):
            return self.power(e)
        if isinstance(e, (sympy.Max, sympy.Min)):
            return f"{'max' if isinstance(e, sympy.Max) else 'min'}({', '.join(self.value(a) for a in e.args)})"
        if isinstance(e, sympy.Piecewise):
            return self.piecewise(e)
        if isinstance(e, sympy.exp):
            return f"math.exp({self.value(e.args[0])})"
        if isinstance(e, sympy.log):
            return f"math.log({self.value(e.args[0])})"
        if isinstance(e, sympy.Abs):
            return f"abs({self.value(e.args[0])})"
        if isinstance(e, sympy.core.function.AppliedUndef) and e.func.__name__ in ELEMENTWISE:
            v = self.temp()
            self.w.line(f"{v} = {self.value(e.args[0])}")
            return element(e.func.__name__, v)
        raise CodegenError(f"cannot print {e.func.__name__} in a generic element kernel: {e}")

    def number(self, e) -> str:
        if e == 0:
            return "ZERO"
        if e == 1:
            return "ONE"
        if e.is_Rational and not e.is_Integer:
            return f"(DT({int(e.p)}) / DT({int(e.q)}))"
        return f"DT({float(e)!r})"

    def index(self, e) -> str:
        return py(e)

    def add(self, e) -> str:
        terms = list(e.as_ordered_terms())
        shared = {t.as_coeff_Mul()[0] for t in terms}
        if len(shared) == 1 and (r := shared.pop()).is_Rational and r.p == 1 and r.q > 1:
            # SymPy distributes a rational factor over a sum; Average divides the sum once.
            return f"({self.add(sympy.Add(*(t * r.q for t in terms)))}) / DT({int(r.q)})"
        text = self.value(terms[0])
        for t in terms[1:]:
            coeff, rest = t.as_coeff_Mul()
            if coeff.is_Number and coeff < 0:
                text += f" - {self.atom(-t)}"
            else:
                text += f" + {self.atom(t)}"
        return text

    def atom(self, e) -> str:
        text = self.value(e)
        return f"({text})" if isinstance(e, sympy.Add) or text.startswith("-") else text

    def mul(self, e) -> str:
        """Reciprocals first, as Keras groups them (`rsqrt(variance + epsilon) * gamma`); a rational
        1/q last, as a division (Average: the sum divided by the count)."""
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return f"-{self.atom(rest)}"
        reciprocals, factors, divisor = [], [], None
        for f in sympy.Mul.make_args(e):
            if isinstance(f, sympy.Pow) and f.exp.is_Number and f.exp < 0:
                reciprocals.append(f"({self.power(f)})")
            elif f.is_Rational and not f.is_Integer and f.p == 1:
                divisor = f.q
            else:
                factors.append(self.atom(f))
        text = " * ".join(reciprocals + factors) or "ONE"
        return text if divisor is None else f"({text}) / DT({int(divisor)})"

    def power(self, e) -> str:
        base, exp = e.base, e.exp
        if exp == sympy.Rational(1, 2):
            return f"math.sqrt({self.value(base)})"
        if exp == -1:
            return f"ONE / {self.atom(base)}"
        if exp.is_Number and exp < 0:
            return f"ONE / {self.atom(sympy.Pow(base, -exp))}"
        if exp == 2:
            v = self.temp()
            self.w.line(f"{v} = {self.value(base)}")
            return f"{v} * {v}"
        return f"{self.atom(base)} ** {self.value(exp)}"

    def piecewise(self, e) -> str:
        """`value if condition else ...`: a read in a branch happens only in that branch (statements when
        a branch needs some of its own, else one conditional expression)."""
        if len(e.args) == 2 and e.args[1][1] is sympy.true:
            (value, condition), (other, _) = e.args
            trial = ValuePrinter(type(self.w)())
            text, rest = trial.value(value), trial.value(other)
            line = f"e{self.count + 1} = {text} if {self.condition(condition)} else {rest}"  # the next temp
            if not trial.w.lines and len(line) + 4 * self.w.level <= 120:
                self.w.line(line)
                return self.temp()
        v = self.temp()
        for k, (branch, condition) in enumerate(e.args):
            if condition is sympy.true:
                header = "else" if k else None
            else:
                header = f"{'elif' if k else 'if'} {self.condition(condition)}"
            if header is None:
                self.w.line(f"{v} = {self.value(branch)}")
                continue
            with self.w.block(header):
                self.w.line(f"{v} = {self.value(branch)}")
        return v

    def condition(self, c) -> str:
        if isinstance(c, sympy.And):
            return " and ".join(self.condition(a) for a in c.args)
        if isinstance(c, sympy.Or):
            return " or ".join(f"({self.condition(a)})" for a in c.args)
        ops = {sympy.GreaterThan: ">=", sympy.StrictGreaterThan: ">", sympy.LessThan: "<=",
               sympy.StrictLessThan: "<", sympy.Equality: "==", sympy.Unequality: "!="}
        for cls, op in ops.items():
            if isinstance(c, cls):
                side = self.index if _is_index(c.lhs) and _is_index(c.rhs) else self.value  # positions or values
                return f"{side(c.lhs)} {op} {side(c.rhs)}"
        raise CodegenError(f"cannot print the condition {c} in a generic element kernel")


def _is_index(e) -> bool:
    """An integer expression of positions and sizes (printed exactly), not an array value."""
    e = sympy.sympify(e)
    return not e.atoms(sympy.Indexed) and not e.atoms(sympy.Float) and all(
        a.is_Integer for a in e.atoms(sympy.Rational))


def without_last_axis_activation(layer):
    """The layer with a softmax-like activation left out (applied afterwards by a pass over the last
    axis: every element of a row is needed first), and that activation's name (or None)."""
    import copy

    name = getattr(layer, "activation", None)
    if name not in LAST_AXIS:
        return layer, None
    plain = copy.copy(layer)
    plain.activation = None
    return plain, name


def flat_reads(form: ElementForm, operands: dict, shapes: list[tuple], output: tuple):
    """When every input has the output's shape, every read is at the output's own index and nothing
    else varies along the axes: the value with each read `x[i0, ..., in]` replaced by
    `operands[x][i0]` (the flattened array); else None."""
    same = all(len(s) == len(output) and all(sympy.sympify(a - b) == 0 for a, b in zip(s, output)) for s in shapes)
    if form.bindings or not same:
        return None
    reads = [a for a in form.value.atoms(sympy.Indexed) if a.base.name in operands]
    others = [a for a in form.value.atoms(sympy.Indexed) if a.base.name not in operands]
    if not reads or others or any(tuple(a.indices) != tuple(form.index) for a in reads):
        return None
    flat = sympy.Symbol("i0", integer=True, nonnegative=True)
    value = form.value.xreplace({a: sympy.IndexedBase(operands[a.base.name])[flat] for a in reads})
    return value if not (value.free_symbols & set(form.index[1:])) else None
