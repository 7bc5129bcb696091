"""Tensor operations: what Keras 3 records as operation nodes of a functional graph (`x + h`, `x * 0.5`,
`ops.mean(x, axis=1)`, `ops.reshape`, `ops.matmul`, ...), written in a spec as arithmetic and functions:

    y = x + h                   # add (NumPy broadcasting, the batch axis included)
    s = relu(y) * 0.5           # relu, then multiply by a constant
    m = mean(s, axis=1, keepdims=True)
    z = reshape(s - m, (-1, 64))

Each operation is a layer kind named as its `keras.ops` function (the report shows Keras's class, as
`model.summary()` does): shapes, constraints, receptive field, element formula and NumPy reference
here; analyzer/graph.py turns an expression into one node per operation. Operands are tensors or
numbers (`operands`: None for each tensor input, in order, or the number); the batch axis stays first
and whole (an operation that would mix samples is refused).
"""
from __future__ import annotations

import sympy

from .. import indexing as ix
from ..activations import activate
from ..lazy import np
from .base import REGISTRY, AnyInt, Anything, Bool, Constraint, Layer, alias, format_shape, layer
from .core import Permute, Reshape, integers
from .merging import Concatenate, require_equal

NUMPY, NN, MATH = "keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.math"


def operation(function: str, keras_class: str, module: str = NUMPY, **args):
    """Register an operation under its keras.ops function name (`true_divide`), with Keras's class
    (`TrueDivide`, shown in the report) and module (read by the importer)."""

    def register(cls):
        cls = layer(function, **args)(cls)
        cls.keras_class, cls.keras_module = keras_class, module
        return cls

    return register


class Operation(Layer):
    """Shared by the operations: tensor operands first, options after; no weights."""

    keras_class: str
    keras_module: str
    operand_count = 1  # how many operands (tensors or numbers); "list" for concatenate
    operands: tuple = (None,)

    def bind(self, operands: tuple):
        """Set which operands are tensors (None, in order) and which numbers (analyzer/graph.py)."""
        self.operands = tuple(operands)
        self.inputs = "many" if sum(o is None for o in self.operands) > 1 else 1

    def tensors(self, x) -> list:
        return x if isinstance(x, list) else [x]


# --- element-wise ----------------------------------------------------------------------------


def broadcast(layer: Layer, shapes: list[tuple]) -> tuple[tuple, list[Constraint]]:
    """NumPy's broadcast of `shapes` (aligned at the last axis; a size-1 axis stretches), and the
    equalities it needs between symbolic sizes. The batch axis must come out as the first axis of the
    longest operand: no operation here may broadcast samples against other axes."""
    rank = max(len(s) for s in shapes)
    if any(len(s) < rank for s in shapes):
        short = next(s for s in shapes if len(s) < rank)
        raise layer.error(f"{layer.keras_class} would align the batch axis of {format_shape(short)} with an axis "
                          f"of a rank-{rank} operand", hint="give both operands the same rank (e.g. "
                          "`reshape(x, (-1, 1, n))` or keepdims=True on a reduction), as samples must stay apart")
    constraints: list[Constraint] = []
    out = []
    hint = "element-wise operations need equal sizes (or 1) on every axis (NumPy broadcasting)"
    for axis in range(rank):
        sizes = [s[axis] for s in shapes]
        kept = [d for d in sizes if not ix.same_size(d, 1)] or [sizes[0]]
        size = kept[0]
        for d in kept[1:]:
            size = require_equal(layer, size, d, shapes, axis, constraints, hint)
        out.append(size)
    return tuple(out), constraints


class Elementwise(Operation):
    """One output element from the operands' elements at the same (broadcast) index."""

    def output_shape(self, x):
        return broadcast(self, self.tensors(x))[0]

    def constraints(self, x):
        return broadcast(self, self.tensors(x))[1]

    def values(self, tensors: list, number):
        """Operands in order: each tensor in turn, each number as `number(value)`."""
        tensors = iter(tensors)
        return [next(tensors) if o is None else number(o) for o in self.operands]

    def element(self, x, w, idx, output=0):
        reads = [t(*_numpy_broadcast_index(t.shape, idx)) for t in self.tensors(x)]
        return self.formula(*self.values(reads, _number))

    def reference(self, x, w):
        arrays = self.tensors(x)
        dtype = arrays[0].dtype
        return np.asarray(self.compute(*self.values(arrays, dtype.type))).astype(dtype)

    def formula(self, *v):
        """The element as a formula (SymPy; the prover and the element kernels read it)."""
        raise NotImplementedError

    def compute(self, *v):
        """The element-wise result on NumPy arrays and scalars of the input's dtype."""
        return self.formula(*v)


def _number(value):
    return sympy.Integer(value) if float(value).is_integer() else sympy.Float(value)


def _numpy_broadcast_index(shape, idx):
    """The index into an operand of sizes `shape` for output element `idx`: aligned at the last axis
    (ranks are equal here), a size-1 axis read at index 0."""
    return tuple(sympy.Integer(0) if ix.same_size(d, 1) else i for d, i in zip(shape, idx[len(idx) - len(shape):]))


class Binary(Elementwise):
    operand_count = 2
    operands = (None, None)
    symbol: str | None = None  # how a spec writes it: `x + h`; None: as a function, `maximum(x, h)`


@operation("add", "Add")
class AddOp(Binary):
    """a + b."""

    symbol = "+"

    def formula(self, a, b):
        return a + b


@operation("subtract", "Subtract")
class SubtractOp(Binary):
    """a - b."""

    symbol = "-"

    def formula(self, a, b):
        return a - b


@operation("multiply", "Multiply")
class MultiplyOp(Binary):
    """a * b."""

    symbol = "*"

    def formula(self, a, b):
        return a * b


@operation("true_divide", "TrueDivide")
class TrueDivideOp(Binary):
    """a / b."""

    symbol = "/"

    def formula(self, a, b):
        return a / b


@operation("divide", "Divide")
class DivideOp(TrueDivideOp):
    """divide(a, b): a / b (ops.divide; `/` records TrueDivide)."""

    symbol = None


@operation("maximum", "Maximum")
class MaximumOp(Binary):
    """maximum(a, b)."""

    def formula(self, a, b):
        return sympy.Max(a, b)

    def compute(self, a, b):
        return np.maximum(a, b)


@operation("minimum", "Minimum")
class MinimumOp(Binary):
    """minimum(a, b)."""

    def formula(self, a, b):
        return sympy.Min(a, b)

    def compute(self, a, b):
        return np.minimum(a, b)


class Unary(Elementwise):
    """f(x), element by element."""


@operation("negative", "Negative")
class NegativeOp(Unary):
    """-x."""

    def formula(self, v):
        return -v


@operation("absolute", "Absolute")
class AbsOp(Unary):
    """absolute(x) (or abs(x)): |x|."""

    def formula(self, v):
        return sympy.Abs(v)

    def compute(self, v):
        return np.abs(v)


@operation("square", "Square")
class SquareOp(Unary):
    """x²."""

    def formula(self, v):
        return v**2

    def compute(self, v):
        return v * v


@operation("sqrt", "Sqrt")
class SqrtOp(Unary):
    """√x (NaN below 0, as Keras)."""

    def formula(self, v):
        return sympy.sqrt(v)

    def compute(self, v):
        with np.errstate(invalid="ignore"):
            return np.sqrt(v)


@operation("exp", "Exp")
class ExpOp(Unary):
    """eˣ."""

    def formula(self, v):
        return sympy.exp(v)

    def compute(self, v):
        with np.errstate(over="ignore"):
            return np.exp(v)


@operation("log", "Log")
class LogOp(Unary):
    """ln x (NaN below 0, -inf at 0, as Keras)."""

    def formula(self, v):
        return sympy.log(v)

    def compute(self, v):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(v)


class ActivationOp(Unary):
    """An activation function of keras.ops.nn (or numpy's tanh), as the activation of the same name."""

    function: str

    def formula(self, v):
        return ix.activate(self.function, v)

    def compute(self, v):
        return activate(self.function, v)


def _activation_op(function: str, keras_class: str, module: str = NN):
    cls = type(f"{keras_class}Op", (ActivationOp,), {"function": function, "__doc__": f"{function}(x)."})
    return operation(function, keras_class, module)(cls)


for _function, _class, _module in [("relu", "Relu", NN), ("relu6", "Relu6", NN), ("sigmoid", "Sigmoid", NN),
                                   ("tanh", "Tanh", NUMPY), ("softplus", "Softplus", NN),
                                   ("softsign", "Softsign", NN), ("silu", "Silu", NN), ("elu", "Elu", NN),
                                   ("selu", "Selu", NN), ("hard_sigmoid", "HardSigmoid", NN)]:
    _activation_op(_function, _class, _module)


@operation("gelu", "Gelu", NN, approximate=Bool(True))
class GeluOp(ActivationOp):
    """gelu(x, approximate=True): x·Φ(x), by default its tanh approximation (keras.ops.gelu's default; the
    activation string "gelu" is the exact form)."""

    @property
    def function(self):
        return "gelu_tanh" if self.approximate else "gelu"


# --- reductions ------------------------------------------------------------------------------


class Reduction(Operation):
    """Reduce over `axis` (an int or a tuple; never the batch axis), keeping size-1 axes with keepdims."""

    def check_input(self, x):
        rank = len(x)
        axes = self.axis if isinstance(self.axis, (tuple, list)) else [self.axis]
        if self.axis is None or not all(isinstance(a, (int, sympy.Integer)) and not isinstance(a, bool)
                                        for a in axes):
            raise self.error(f"{self.kind} needs axis=... (an integer or a tuple of them)", "axis",
                             f"e.g. {self.kind}(x, axis=-1); the batch axis (0) cannot be reduced")
        normal = []
        for a in axes:
            if not -rank <= a < rank:
                raise self.error(f"{self.kind} axis {a} is out of range for a rank-{rank} input {format_shape(x)}",
                                 "axis")
            normal.append(int(a) % rank)
        if 0 in normal:
            raise self.error(f"{self.kind} cannot reduce the batch axis", "axis",
                             "samples stay apart: reduce over axes 1 and up")
        self.axes = tuple(sorted(set(normal)))

    def output_shape(self, x):
        if self.keepdims:
            return tuple(sympy.Integer(1) if a in self.axes else d for a, d in enumerate(x))
        return tuple(d for a, d in enumerate(x) if a not in self.axes)

    def receptive_field(self, x, rf):
        rf = rf.reduce(self.axes)
        if self.keepdims:
            return rf
        kept = [a for a in range(len(x)) if a not in self.axes]
        return rf.move({a: i for i, a in enumerate(kept)})

    def element(self, x, w, idx, output=0):
        """A reduction as a formula: a sum (or Max/Min) over the reduced axes' dummy indices."""
        full, out = [], iter(idx)
        dummies = []
        for a, d in enumerate(x.shape):
            if a in self.axes:
                if self.keepdims:
                    next(out)
                k = x.index(f"r{a}")
                dummies.append((k, 0, d - 1))
                full.append(k)
            else:
                full.append(next(out))
        return self.combine(x(*full), dummies, sympy.Mul(*(d for a, d in enumerate(x.shape) if a in self.axes)))

    def reference(self, x, w):
        return np.asarray(self.compute(x, self.axes, self.keepdims)).astype(x.dtype)


REDUCTION_ARGS = {"axis": Anything(None), "keepdims": Bool(False)}


@operation("sum", "Sum", **REDUCTION_ARGS)
class SumOp(Reduction):
    """sum(x, axis, keepdims=False)."""

    def combine(self, v, dummies, count):
        return ix.Sum(v, *dummies)

    def compute(self, x, axes, keepdims):
        return x.sum(axis=axes, keepdims=keepdims)


@operation("mean", "Mean", **REDUCTION_ARGS)
class MeanOp(Reduction):
    """mean(x, axis, keepdims=False)."""

    def combine(self, v, dummies, count):
        return ix.Sum(v, *dummies) / count

    def compute(self, x, axes, keepdims):
        return x.mean(axis=axes, keepdims=keepdims)


class Extremum(Reduction):
    no_element_formula = "a maximum over a whole axis is not a closed formula"

    def validate(self):
        if self.initial is not None:
            raise self.error(f"{self.kind}(initial=...) is not supported", "initial",
                             f"take maximum(...)/minimum(...) of the {self.kind} and the number instead")


@operation("max", "Max", **REDUCTION_ARGS, initial=Anything(None))
class MaxOp(Extremum):
    """max(x, axis, keepdims=False)."""

    def combine(self, v, dummies, count):
        raise ix.NoElement(f"max over an axis has no element formula ({self.no_element_formula})")

    def compute(self, x, axes, keepdims):
        return x.max(axis=axes, keepdims=keepdims)


@operation("min", "Min", **REDUCTION_ARGS, initial=Anything(None))
class MinOp(Extremum):
    """min(x, axis, keepdims=False)."""

    def combine(self, v, dummies, count):
        raise ix.NoElement(f"min over an axis has no element formula ({self.no_element_formula})")

    def compute(self, x, axes, keepdims):
        return x.min(axis=axes, keepdims=keepdims)


# --- structure: the layer kinds that compute the same, with the batch axis written out --------


@operation("reshape", "Reshape", newshape=Anything())
class ReshapeOp(Operation, Reshape):
    """reshape(x, (-1, ...)): the new shape with the batch axis first (-1 or the batch size)."""

    def validate(self):
        shape = integers(self, "newshape", self.newshape, "(-1, 4, 16)")
        if len(shape) < 2:
            raise self.error("reshape needs the batch axis and at least one more", "newshape", "e.g. (-1, 4, 16)")
        self.batch, self.target_shape = shape[0], shape[1:]
        Reshape.validate(self)

    def check_input(self, x):
        if not (self.batch == -1 or ix.same_size(self.batch, x[0])):
            raise self.error(f"reshape keeps the batch axis: the new shape must start with -1 or {x[0]}, "
                             f"got {self.batch}", "newshape", "samples stay apart: e.g. (-1, 4, 16)")
        if -1 in self.target_shape and self.batch == -1:
            raise self.error("reshape can infer only one size: the batch axis is already -1", "newshape",
                             f"write the batch axis as {x[0]}, or give every other size")


@operation("transpose", "Transpose", axes=Anything())
class TransposeOp(Operation, Permute):
    """transpose(x, axes): axes a permutation with the batch axis (0) first."""

    def validate(self):
        axes = integers(self, "axes", self.axes, "(0, 2, 1)")
        if not axes or axes[0] != 0:
            raise self.error("transpose keeps the batch axis first: axes must start with 0", "axes",
                             "e.g. transpose(x, (0, 2, 1))")
        self.dims = tuple(axes[1:])
        Permute.validate(self)


@operation("concatenate", "Concatenate", axis=AnyInt(0))
class ConcatenateOp(Operation, Concatenate):
    """concatenate([a, b, ...], axis=0): joined along `axis` (never the batch axis)."""

    operand_count = "list"
    inputs = "many"

    def validate(self):
        Concatenate.validate(self)

    def check_input(self, x):
        if int(self.axis) % len(x[0]) == 0:
            raise self.error("concatenate cannot join along the batch axis", "axis",
                             "samples stay apart: e.g. concatenate([a, b], axis=-1)")
        Concatenate.check_input(self, x)


# --- matrix product --------------------------------------------------------------------------


@operation("matmul", "Matmul")
class MatmulOp(Operation):
    """matmul(a, b): (batch, ..., M, K) @ (batch, ..., K, N) -> (batch, ..., M, N); leading axes broadcast."""

    operand_count = 2
    operands = (None, None)

    def check_input(self, x):
        if not isinstance(x, list):
            raise self.error("matmul multiplies two tensors", hint="e.g. matmul(q, transpose(k, (0, 2, 1)))")
        a, b = x
        if len(a) < 3 or len(b) < 3:
            raise self.error(f"matmul needs (batch, ..., M, K) and (batch, ..., K, N), got {format_shape(a)} and "
                             f"{format_shape(b)}", hint="reshape a vector to (batch, 1, K) first")

    def _shape(self, x):
        a, b = x
        constraints: list[Constraint] = []
        hint = "matmul needs the last axis of the first operand to match the one before last of the second"
        require_equal(self, a[-1], b[-2], x, len(a) - 1, constraints, hint)
        lead, more = broadcast(self, [a[:-2], b[:-2]])
        return (*lead, a[-2], b[-1]), constraints + more

    def output_shape(self, x):
        return self._shape(x)[0]

    def constraints(self, x):
        return self._shape(x)[1]

    def macs(self, x):
        out = self.output_shape(x)
        return sympy.Mul(*out) * x[0][-1]

    def merge_receptive_fields(self, x, states):
        # each output depends on a whole row of `a` (its last axis) and a whole column of `b`
        a, b = states
        return type(a).merge([a.reduce({len(x[0]) - 1}), b.reduce({len(x[1]) - 2})])

    def element(self, x, w, idx, output=0):
        a, b = x
        k = a.index("k")
        lead = idx[:-2]
        ra = _numpy_broadcast_index(a.shape[:-2], lead) + (idx[-2], k)
        rb = _numpy_broadcast_index(b.shape[:-2], lead) + (k, idx[-1])
        return ix.Sum(a(*ra) * b(*rb), (k, 0, a.shape[-1] - 1))

    def reference(self, x, w):
        a, b = x
        return np.matmul(a, b).astype(a.dtype)


alias("abs", "absolute")


# --- what graph.py and the importer look up --------------------------------------------------

# `x + h` and its kin: the operator as written -> the operation
OPERATORS = {"+": "add", "-": "subtract", "*": "multiply", "/": "true_divide"}


def is_operation(kind: str) -> bool:
    cls = REGISTRY.get(kind)
    return cls is not None and issubclass(cls, Operation)


# Kinds whose kernels both targets print from the element formula (codegen/elements.py).
ELEMENTWISE_OPERATIONS = tuple(sorted({cls.kind for cls in REGISTRY.values() if issubclass(cls, Elementwise)}))
