"""The vocabulary of the layers' `element()` formulas: one output element in index notation.

Note: a layer kind declares its math once, as `element(self, x, w, idx, output=0)`, next to its
NumPy `reference`. `x` is an operand: `x.shape` (SymPy sizes), `x(*indices)` (the input element
there, itself a formula of the layers before) and `x.index("c")` (a fresh bound index); merges get
a list of operands. `w` holds the layer's weights as SymPy `IndexedBase`s in `weights()` order;
`idx` is the output element's index, one expression per axis. The result is a SymPy expression:
sums are `indexing.Sum` (SymPy's, built as written) with inclusive bounds, activations undefined functions (`relu(z)`; nothing is
assumed of them but their name), reshapes floor/mod index maps and padding `Piecewise` conditions.
analyzer/equivalence composes these along a model and compares them.

    def element(self, x, w, idx, output=0):        # Dense
        *lead, o = idx
        def pre(o):
            c = x.index("c")
            return ix.Sum(x(*lead, c) * w[0][c, o], (c, 0, x.shape[-1] - 1)) + w[1][o]
        return activation(self.activation, pre, o, self.units, x.index)

Only SymPy is imported here: the layers import this module at start-up.
"""
from __future__ import annotations

import sympy

ELEMENTWISE_ONLY = ("softmax", "log_softmax", "sparsemax")  # the others act on one element at a time
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}  # Keras's second names of one function


class Sum(sympy.Sum):
    """SymPy's Sum, built as written. SymPy's own constructor folds every Piecewise that mentions the
    summation index out of the term, through functions and inner sums, where it captures the inner
    sums' indices (`Σ_c relu(Σ_k [k + c >= 1]·x)` would become `[k + c >= 1]·Σ_c relu(...)`); this
    one keeps the term as it is. Rebuilding (xreplace, func(*args)) keeps the class."""

    def __new__(cls, function, *limits, **assumptions):
        function = sympy.sympify(function)
        obj = sympy.Expr.__new__(cls)
        obj._args = (function, *(sympy.Tuple(*(sympy.sympify(v) for v in limit)) for limit in limits))
        obj.is_commutative = function.is_commutative
        return obj


class NoElement(NotImplementedError):
    """A layer kind (or one of its settings) without an element formula: equivalence says unknown."""


def function(name: str):
    """The undefined SymPy function standing for activation `name`."""
    return sympy.Function(name)


def activate(name: str | None, z):
    """An element-wise activation of one element: `relu(z)`; None and "linear" are the identity."""
    if name is None or name == "linear":
        return z
    if name in ELEMENTWISE_ONLY:
        raise NoElement(f"activation {name} reads a whole axis; use activation()")
    return function(ALIASES.get(name, name))(z)


def activation(name: str | None, pre, last, size, index):
    """Activation `name` of the element at last-axis index `last`, `pre(j)` giving the element at
    `j` before it; softmax and log_softmax read the whole last axis (`size` long) with a fresh index."""
    if name == "softmax":
        j = index("j")
        return sympy.exp(pre(last)) / Sum(sympy.exp(pre(j)), (j, 0, size - 1))
    if name == "log_softmax":
        j = index("j")
        return pre(last) - sympy.log(Sum(sympy.exp(pre(j)), (j, 0, size - 1)))
    if name == "sparsemax":
        raise NoElement("sparsemax sorts the axis: no element formula")
    return activate(name, pre(last))


def inside(position, length):
    """The condition that `position` falls inside an axis `length` long (not in the padding)."""
    return sympy.And(position >= 0, position <= length - 1)


def padded(value, condition):
    """`value` where `condition` holds, else 0 (zero padding)."""
    if condition is sympy.true:
        return value
    return sympy.Piecewise((value, condition), (0, True))


def ravel(indices, dims):
    """The row-major flat position of `indices` in an array of sizes `dims`."""
    flat = sympy.Integer(0)
    for i, d in zip(indices, dims):
        flat = flat * d + i
    return flat


def unravel(flat, dims):
    """The row-major indices of flat position `flat` (0 <= flat < prod(dims)) in sizes `dims`."""
    result = []
    stride = sympy.Integer(1)
    for k in range(len(dims) - 1, -1, -1):
        quotient = sympy.floor(flat / stride) if stride != 1 else flat
        result.append(quotient if k == 0 else sympy.Mod(quotient, dims[k]))
        stride = stride * dims[k]
    return tuple(reversed(result))


def same_size(a, b) -> bool:
    """Whether sizes `a` and `b` are equal for every value of their symbols."""
    a, b = sympy.sympify(a), sympy.sympify(b)
    if sympy.expand(a - b) == 0:
        return True
    return (a.has(sympy.floor) or b.has(sympy.floor)) and sympy.expand(_unnested(a) - _unnested(b)) == 0


def _unnested(size):
    """`size` with floor((floor(y) + n)/d) written floor((y + n)/d), for n integer-valued and d a positive
    integer (floor(y) + n = floor(y + n), and ⌊⌊z⌋/d⌋ = ⌊z/d⌋): two pooling layers of 2 give
    floor(floor(T/2)/2) elements, one of 4 floor(T/4)."""
    def unnest(f):
        numer, denom = f.args[0].as_numer_denom()
        inner = [t for t in sympy.Add.make_args(numer) if isinstance(t, sympy.floor)]
        rest = numer - inner[0] if len(inner) == 1 else None
        if not (denom.is_Integer and denom > 0 and rest is not None and rest.is_integer):
            return f
        return sympy.floor((inner[0].args[0] + rest) / denom)

    return size.replace(lambda e: isinstance(e, sympy.floor), unnest)


def reshape_groups(source, target):
    """How a row-major reshape from sizes `source` to `target` splits into independent groups:
    [(source axes, target axes)], axes of size 1 left out; None when the sizes differ."""
    src = [i for i, d in enumerate(source) if not same_size(d, 1)]
    tgt = [i for i, d in enumerate(target) if not same_size(d, 1)]
    if not same_size(sympy.Mul(*source), sympy.Mul(*target)):
        return None
    groups, i, j = [], 0, 0
    while i < len(src) or j < len(tgt):
        gi, gj = [src[i]] if i < len(src) else [], [tgt[j]] if j < len(tgt) else []
        i, j = i + len(gi), j + len(gj)
        # Grow the group on either side until both products agree (the finest common split).
        while not same_size(sympy.Mul(*(source[a] for a in gi)), sympy.Mul(*(target[b] for b in gj))):
            if j < len(tgt) and _divides(target, gj, source, gi):
                gj.append(tgt[j])
                j += 1
            elif i < len(src):
                gi.append(src[i])
                i += 1
            elif j < len(tgt):
                gj.append(tgt[j])
                j += 1
            else:
                return None
        groups.append((tuple(gi), tuple(gj)))
    return groups


def _divides(target, gj, source, gi) -> bool:
    """Whether the product of `target[gj]` divides that of `source[gi]` (symbolically), so that the
    target side should grow."""
    ratio = sympy.cancel(sympy.Mul(*(source[k] for k in gi)) / sympy.Mul(*(target[k] for k in gj)))
    return sympy.fraction(ratio)[1] == 1 and not same_size(ratio, 1)


def reshape_index(source, target, indices):
    """The index into an array of sizes `source` of the element that a row-major reshape to sizes
    `target` puts at `indices`; None when the sizes differ. Groups of axes that the reshape keeps
    apart are mapped separately, so `(batch, T, C) -> (batch, T*C)` needs no floor on the batch."""
    groups = reshape_groups(source, target)
    if groups is None:
        return None
    result = [sympy.Integer(0)] * len(source)
    for gi, gj in groups:
        if len(gi) == 1 and len(gj) == 1:
            result[gi[0]] = indices[gj[0]]
            continue
        flat = ravel([indices[k] for k in gj], [target[k] for k in gj])
        for k, value in zip(gi, unravel(flat, [source[k] for k in gi])):
            result[k] = value
    return tuple(result)


def lora_kernel_element(w, use_bias: bool, rank, scale, index, fresh):
    """The kernel element a layer applies at `index` (kernel axes..., inputs, outputs): the kernel,
    plus scale·Σ_r a[..., r]·b[r, o] with LoRA (weights [kernel, (bias), a, b]; see base.lora_kernel)."""
    kernel = w[0][index]
    if rank is None:
        return kernel
    a, b = w[2 if use_bias else 1:][:2]
    r = fresh("r")
    return kernel + sympy.sympify(scale) * Sum(a[(*index[:-1], r)] * b[r, index[-1]], (r, 0, rank - 1))


def broadcast_index(shape, idx):
    """The index into an input of sizes `shape` that an element-wise merge reads for output element
    `idx`: aligned at the last axis, size-1 axes broadcast (index 0), batch axis shared."""
    rank = len(shape) - 1
    tail = idx[len(idx) - rank:] if rank else ()
    return (idx[0], *(sympy.Integer(0) if same_size(d, 1) else i for d, i in zip(shape[1:], tail)))
