"""The layer registry, argument kinds and the Layer base class every layer kind derives from.

Note: one layer kind, one place. A layer kind is a class in one family module, registered with
`@layer("Keras name", arg=Kind(...), ...)`; the keyword order is Keras's positional order. The
analyzer never branches on layer names: it calls the methods below.

    @layer("Dense", units=Int(), activation=Activation(), use_bias=Bool(True))
    class Dense(Layer):
        def output_shape(self, x): return (*x[:-1], self.units)
        def weights(self, x): ...

Shapes are tuples of SymPy integer expressions, batch axis first. A layer with several inputs
(merges) receives a list of shapes; a layer with several outputs returns a list of shapes.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import sympy

from .. import ir
from ..errors import ShapeproofError
from ..lazy import np
from ..receptive import RF
from ..values import did_you_mean, evaluate, is_integer

REGISTRY: dict[str, type["Layer"]] = {}
REQUIRED = object()
FIRST = object()  # Choice's default: its first option

ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh",
    "softmax", "log_softmax", "softplus", "softsign", "swish", "silu", "exponential", "hard_silu", "hard_swish",
    "mish", "log_sigmoid", "celu", "sparse_plus", "squareplus", "sparse_sigmoid", "tanh_shrink", "hard_tanh",
    "soft_shrink", "hard_shrink", "sparsemax",
)
# Names keras.activations.get accepts that no Keras layer can apply as `activation=`: refused with why.
UNUSABLE_ACTIVATIONS = {
    "threshold": ("Keras's threshold(x, threshold, default_value) has no defaults: a layer calling it fails",
                  "use ReLU(threshold=...) for a thresholded ReLU"),
    "glu": ("Keras's glu halves the last axis, which Keras's layers leave out of their output shape",
            "split the features and multiply by a sigmoid gate instead"),
}


@dataclass(frozen=True)
class Weight:
    """One weight tensor, named and shaped as Keras's `get_weights()` has it."""

    name: str
    shape: tuple
    trainable: bool = True

    @property
    def size(self):
        return sympy.Mul(*self.shape) if self.shape else sympy.Integer(1)


@dataclass(frozen=True)
class Constraint:
    """A condition a layer needs, e.g. `T >= 5`: the reason in words is the error message when it is
    provably false, located at argument `arg` (else the whole call) with `hint`."""

    condition: sympy.Basic
    reason: str
    arg: str | None = None
    hint: str | None = None


def lora(weights: list[Weight], rank, outputs) -> list[Weight]:
    """Keras's LoRA: with `lora_rank`, the kernel (first weight) is frozen and two low-rank factors
    `lora_kernel_a (*kernel[:-1], rank)` and `lora_kernel_b (rank, outputs)` are trained instead."""
    if rank is None:
        return weights
    kernel, *rest = weights
    return [Weight(kernel.name, kernel.shape, trainable=False), *rest,
            Weight("lora_kernel_a", (*kernel.shape[:-1], rank)), Weight("lora_kernel_b", (rank, outputs))]


def lora_kernel(w: list, use_bias: bool, rank, scale: float = 1.0):
    """The kernel a LoRA layer really applies, from its weights [kernel, (bias), a, b]: Keras adds
    scale · a @ b to the frozen kernel, scale = lora_alpha / lora_rank. (Dense and Embedding: Keras 3's
    build() re-enables LoRA with the rank alone, which resets alpha to the rank: scale 1.)"""
    if rank is None:
        return w[0]
    a, b = w[2 if use_bias else 1:][:2]
    return (w[0] + float(scale) * np.tensordot(a, b, axes=1)).astype(w[0].dtype)


def lora_macs(fan_in, rank, outputs):
    """The one extra product of a LoRA forward pass: kernel + A @ B, (fan_in x rank) @ (rank x outputs)."""
    return 0 if rank is None else fan_in * rank * outputs


@dataclass(frozen=True)
class CallSignature:
    """Keras's call arguments of a layer called with more than one value or with options:
    MultiHeadAttention's `call(query, value, key=None, attention_mask=None,
    return_attention_scores=False, use_causal_mask=False)` is
    CallSignature(("query", "value", "key"), 2, ("attention_mask",), {"use_causal_mask": Bool(False), ...}).
    With no `tensors`, the layer takes its usual value (a list for Attention) and only the options."""

    tensors: tuple = ()  # tensor arguments, in Keras's positional order
    required: int = 0  # how many of the first `tensors` must be given
    keyword_tensors: tuple = ()  # tensor arguments given only by keyword
    options: dict = field(default_factory=dict)  # name -> Kind: the call's non-tensor arguments, in Keras's order
    # keyword tensors given as a list of tensors or None (Attention's mask=[query_mask, value_mask]):
    # name -> the call_inputs name of each item; the None items are left out
    tensor_lists: dict = field(default_factory=dict)

    @property
    def keywords(self) -> tuple:
        """Every call argument a keyword may name."""
        return (*self.tensors, *self.keyword_tensors, *(self.options or {}))


# --- argument kinds --------------------------------------------------------------------------


class Kind:
    """How one argument is checked and converted. `default` is REQUIRED when the argument must be given."""

    describe = "a value"
    attribute: str | None = None  # the attribute the value is stored as, when its name would hide a method

    def __init__(self, default=REQUIRED):
        self.default = default

    def convert(self, value):
        """The checked value; raise ShapeproofError (span is filled in by the caller)."""
        return value

    def wrong(self, value) -> ShapeproofError:
        return ShapeproofError(f"expected {self.describe}, got {_describe(value)}")


class Int(Kind):
    """A positive integer expression (literal or symbolic)."""

    describe = "a positive integer"

    def __init__(self, default=REQUIRED, minimum=1):
        super().__init__(default)
        self.minimum = minimum

    def convert(self, value):
        if not is_integer(value):
            raise self.wrong(value)
        value = sympy.sympify(value)
        if value.is_number and value < self.minimum:
            raise ShapeproofError(f"must be at least {self.minimum}, got {value}")
        return value


class OptionalInt(Int):
    """None, or a positive integer (`lora_rank`)."""

    describe = "None or a positive integer"

    def __init__(self):
        super().__init__(None)

    def convert(self, value):
        return None if value is None else super().convert(value)


class AnyInt(Int):
    """Any integer, negative allowed (axes)."""

    describe = "an integer"

    def __init__(self, default=REQUIRED):
        super().__init__(default, minimum=-(10**18))


class Ints(Kind):
    """An integer or a tuple/list of `n` integers (`kernel_size=3` means `(3, 3)` in 2-D)."""

    def __init__(self, n: int, default=REQUIRED, minimum=1):
        super().__init__(default)
        self.n, self.minimum = n, minimum
        self.describe = "a positive integer" + ("" if n == 1 else f" or a tuple of {n}")

    def convert(self, value):
        items = list(value) if isinstance(value, (tuple, list)) else [value] * self.n
        if len(items) != self.n:
            raise ShapeproofError(f"expected {self.n} integer{'s' * (self.n > 1)}, got {len(items)}")
        return tuple(Int(minimum=self.minimum).convert(i) for i in items)


class OptionalInts(Ints):
    """None, or what Ints takes (`strides=None` in pooling, `output_padding=None`)."""

    def __init__(self, n: int, minimum=1):
        super().__init__(n, None, minimum)
        self.describe = "None or " + self.describe

    def convert(self, value):
        return None if value is None else super().convert(value)


class Pairs(Kind):
    """Padding/cropping amounts: `n`, `(a, b)` per axis, or one `(before, after)` per axis (`axes` axes)."""

    describe = "an integer, a tuple of integers, or a tuple of (before, after) pairs"

    def __init__(self, axes: int, default=REQUIRED):
        super().__init__(default)
        self.axes = axes

    def convert(self, value):
        if not isinstance(value, (tuple, list)):
            items = [(value, value)] * self.axes
        elif self.axes == 1 and len(value) == 2 and not any(isinstance(v, (tuple, list)) for v in value):
            items = [tuple(value)]
        elif len(value) == self.axes:
            items = [tuple(v) if isinstance(v, (tuple, list)) else (v, v) for v in value]
        else:
            raise ShapeproofError(f"expected {self.axes} entr{'y' if self.axes == 1 else 'ies'}, got {len(value)}")
        pairs = []
        for pair in items:
            if len(pair) != 2:
                raise ShapeproofError("each (before, after) pair needs two integers")
            pairs.append(tuple(Int(minimum=0).convert(v) for v in pair))
        return tuple(pairs)


class Float(Kind):
    describe = "a number"

    def convert(self, value):
        if isinstance(value, bool) or not (isinstance(value, float) or is_integer(value)):
            raise self.wrong(value)
        return float(value)


class Bool(Kind):
    describe = "True or False"

    def convert(self, value):
        if not isinstance(value, bool):
            raise self.wrong(value)
        return value


class Choice(Kind):
    """One of a few strings (case-insensitive, as Keras lowercases them); default: the first."""

    def __init__(self, *options, default=FIRST, allow_none=False):
        super().__init__(options[0] if default is FIRST else default)
        self.options, self.allow_none = options, allow_none
        self.describe = " or ".join(f'"{o}"' for o in options) + (" or None" if allow_none else "")

    def convert(self, value):
        if value is None and self.allow_none:
            return None
        if not isinstance(value, str):
            raise self.wrong(value)
        if value.lower() not in self.options:
            raise ShapeproofError(f"{value!r} is not one of {self.describe}", hint=did_you_mean(value, self.options))
        return value.lower()


class Activation(Choice):
    """An activation name, or None (linear)."""

    def __init__(self, default=None):
        super().__init__(*ACTIVATIONS, default=default, allow_none=True)  # REQUIRED for Activation(...)
        self.describe = "an activation name"

    def convert(self, value):
        if isinstance(value, str) and value.lower() in UNUSABLE_ACTIVATIONS:
            why, hint = UNUSABLE_ACTIVATIONS[value.lower()]
            raise ShapeproofError(f"activation {value!r} is not supported: {why}", hint=hint)
        return super().convert(value)


class Ignored(Kind):
    """Accepted and ignored: it does not change shapes, counts or the forward pass (initializers, ...)."""

    def __init__(self):
        super().__init__(None)


class Anything(Kind):
    """Kept as given and checked by the layer itself."""


class LayerArg(Kind):
    """A layer inside a wrapper: `TimeDistributed(Conv2D(16, 3))`."""

    describe = "a layer"

    def convert(self, value):
        if not isinstance(value, Layer):
            raise self.wrong(value)
        return value


COMMON_ARGS = {"name": Anything(None), "trainable": Bool(True), "dtype": Ignored(), "autocast": Ignored(),
               "input_shape": Ignored(), "batch_input_shape": Ignored(), "input_dim": Ignored(),
               "input_length": Ignored()}


def _describe(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, (tuple, list)):
        return f"a {'tuple' if isinstance(value, tuple) else 'list'} of {len(value)}"
    if isinstance(value, Layer):
        return f"a {value.kind} layer"
    if isinstance(value, sympy.Basic):
        return f"the integer {value}" if value.is_number else f"the expression {value}"
    return type(value).__name__


# --- the registry ----------------------------------------------------------------------------


def layer(kind: str, **args: Kind):
    """Register a layer class under its Keras name, with its arguments in Keras's positional order."""

    def register(cls):
        assert kind not in REGISTRY, f"layer kind {kind} registered twice"
        cls.kind = kind
        cls.args = {**args, **{k: v for k, v in COMMON_ARGS.items() if k not in args}}
        # Checked values become attributes, so an argument must not hide a method (Keras's
        # `weights=` initial values would hide weights()); ignored arguments are never stored.
        clash = [a for a, k in cls.args.items() if not isinstance(k, Ignored) and callable(getattr(cls, k.attribute or a, None))]
        assert not clash, f"{kind}: arguments {clash} would hide methods"
        options = cls.call_signature.options if cls.call_signature else {}
        assert not set(options) & set(cls.args), f"{kind}: call options {set(options) & set(cls.args)} clash with arguments"
        # Keras also takes initializers and the like positionally; nobody writes them so, and
        # stopping before them lets `Dense(4, "relu", True, 7)` be an error rather than a silent no-op.
        cls.positional = tuple(itertools.takewhile(lambda a: not isinstance(args[a], Ignored), args))
        REGISTRY[kind] = cls
        return cls

    return register


def alias(name: str, kind: str):
    """Another Keras name for the same class (`MaxPool2D` is `MaxPooling2D`, named max_pooling2d)."""
    assert name not in REGISTRY, f"alias {name} clashes"
    REGISTRY[name] = REGISTRY[kind]


def signature(cls) -> str:
    """A layer kind's call as Keras writes it: required arguments first, then `name=default` for the
    arguments shapeproof reads (those it accepts and ignores, like initializers, are left out)."""
    parts = []
    for name, kind in cls.args.items():
        if isinstance(kind, Ignored) or name in COMMON_ARGS:
            continue
        if kind.default is REQUIRED:
            parts.append(name)
        elif isinstance(kind.default, str):
            parts.append(f'{name}="{kind.default}"')
        else:
            parts.append(f"{name}={kind.default!r}" if not isinstance(kind.default, sympy.Basic)
                         else f"{name}={kind.default}")
    return f"{cls.kind}({', '.join(parts)})"


def to_snake_case(name: str) -> str:
    """Keras's automatic layer name for a class name: Conv1D -> conv1d, ConvLSTM2D -> conv_lstm2d."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def build_layer(call: ir.Call, symbols: dict, names) -> "Layer":
    """Instantiate a layer from its call: validate the name and every argument, claim a unique name.

    `names` hands out Keras-style unique names (`dense`, `dense_1`, ...) within one model.
    """
    cls = REGISTRY.get(call.name)
    if cls is None:
        hint = did_you_mean(call.name, REGISTRY)
        raise ShapeproofError(f"unknown layer {call.name!r}", call.name_span, hint or "see the README for the layer list")
    given: dict[str, object] = {}
    spans: dict[str, object] = {}
    if len(call.args) > len(cls.positional):
        extra = call.args[len(cls.positional)]
        raise ShapeproofError(f"{call.name} takes at most {len(cls.positional)} positional argument"
                              f"{'s' * (len(cls.positional) != 1)}, got {len(call.args)}", extra.span,
                              f"its arguments are {', '.join(cls.positional) or 'keyword-only'}")
    for arg_name, value in zip(cls.positional, call.args):
        given[arg_name], spans[arg_name] = value, value.span
    for kw in call.keywords:
        if kw.name not in cls.args:
            hint = did_you_mean(kw.name, cls.args)
            raise ShapeproofError(f"{call.name} has no argument {kw.name!r}", kw.span,
                                  hint or f"its arguments are {', '.join(cls.positional)}")
        if kw.name in given:
            raise ShapeproofError(f"argument {kw.name!r} given twice", kw.span)
        given[kw.name], spans[kw.name] = kw.value, kw.span
    values = {}
    for arg_name, kind in cls.args.items():
        if isinstance(kind, Ignored):
            if arg_name in given:
                evaluate(given[arg_name], symbols)  # still resolve names: `he_uniform` unquoted is an error
            continue
        if arg_name not in given:
            if kind.default is REQUIRED:
                raise ShapeproofError(f"{call.name} needs the argument {arg_name!r}", call.span,
                                      f"{call.name}({', '.join(cls.positional[:list(cls.args).index(arg_name) + 1])}, ...)")
            values[arg_name] = None if kind.default is None else kind.convert(kind.default)
            continue
        node = given[arg_name]
        try:
            raw = evaluate(node, symbols)
            if isinstance(raw, ir.Call):
                raw = build_layer(raw, symbols, names)
            values[arg_name] = kind.convert(raw)
        except ShapeproofError as e:
            if e.span is None:
                e.message = f"{call.name} argument {arg_name!r}: {e.message}"
            raise e.located(node.span)
    if values["name"] is not None and not isinstance(values["name"], str):
        raise ShapeproofError("a layer name must be a string", spans["name"])
    instance = cls.__new__(cls)
    instance.__dict__.update({cls.args[k].attribute or k: v for k, v in values.items()})
    instance.call, instance.arg_spans = call, spans
    keras_class = cls.keras_class if isinstance(cls.keras_class, str) else cls.kind  # Keras names layers after it
    instance.name = names.claim(values["name"] or to_snake_case(keras_class), explicit=values["name"] is not None,
                                span=spans.get("name"))
    instance.validate()
    return instance


# --- the base class --------------------------------------------------------------------------


class Layer:
    """A layer instance with its checked arguments as attributes (`self.units`, `self.kernel_size`).

    Subclasses override what differs; defaults describe an element-wise, weightless layer.
    """

    kind: str
    args: dict
    positional: tuple
    inputs = 1  # how many input tensors: 1, or "many" for merges
    call_signature: CallSignature | None = None  # Keras's call arguments beyond one value, if it takes any
    call_inputs: tuple = ()  # with a call_signature: the tensor arguments given, in the order of the inputs
    call_options: dict = {}  # with a call_signature: every call option's value (given or default)
    call_given: tuple = ()  # the call options the statement wrote (export repeats only those)
    no_element_formula: str | None = None  # why a kind has no element formula (the reason in words), else None
    trainable: bool
    name: str
    call: ir.Call

    def validate(self):
        """Check arguments against each other (raise ShapeproofError located with `self.error_at`)."""

    def bind_call(self, inputs: tuple, options: dict, given: tuple = ()):
        """The call's arguments, once, before check_input (layers with a call_signature): `inputs`
        names the tensor arguments given, in the order of the input shapes the layer then receives;
        `options` holds every call option's value, which also becomes an attribute."""
        self.call_inputs, self.call_options, self.call_given = inputs, options, given
        self.__dict__.update(options)

    def check_input(self, x):
        """Check the input's rank and sizes; raise ShapeproofError with a hint when it cannot work."""

    def output_shape(self, x):
        return x

    def weights(self, x) -> list[Weight]:
        """Weights in Keras's get_weights() order and layouts."""
        return []

    def constraints(self, x) -> list[Constraint]:
        """Conditions on the symbols for this layer to be valid on input `x`."""
        return []

    def macs(self, x):
        """Multiply-accumulates of one forward pass with weights (see README: cost convention)."""
        return sympy.Integer(0)

    def intermediate_shapes(self, x) -> list[tuple]:
        """Tensors the layer computed as written (Keras's own code) holds while it runs, beyond its
        inputs and outputs: attention's score tensor. Counted in the peak activation memory."""
        return []

    def fused_intermediate_shapes(self, x) -> list[tuple]:
        """The same for shapeproof's generated kernels, where they fuse what Keras materialises
        (the attention core never holds the score tensor). Counted in the fused peak."""
        return self.intermediate_shapes(x)

    @property
    def keras_class(self) -> str:
        """The class `model.summary()` shows (an operation's differs from its kind: `add` is Add)."""
        return self.kind

    def receptive_field(self, x, rf: RF) -> RF:
        """How the receptive-field state changes through this layer (element-wise: unchanged)."""
        return rf

    def merge_receptive_fields(self, x: list, states: list[RF]) -> RF:
        """The state of several inputs before `receptive_field` (element-wise: the union)."""
        return RF.merge(states)

    def keeps_element_order(self, x) -> bool:
        """Whether the (one) output is the input's elements in row-major order, only reshaped
        (Reshape, Flatten of channels-last data, Dropout at inference): kernels pass a view."""
        return False

    def reference(self, x, w: list):
        """The plain NumPy forward pass in inference mode: `x` an array (a list of arrays for merges),
        `w` this layer's weights in weights() order; returns an array, or a list for several outputs.
        Attributes are concrete here (analyzer/reference.py binds every symbol first)."""
        raise NotImplementedError(f"{self.kind} has no NumPy reference yet")

    def element(self, x, w: list, idx: tuple, output: int = 0):
        """One element of output `output` at index `idx`, in index notation (see analyzer/indexing.py):
        `x` an operand (a list of them for merges), `w` the weights as SymPy IndexedBases in weights()
        order. The equivalence prover composes these; a kind without one is never proved equal."""
        from ..indexing import NoElement

        why = f" ({self.no_element_formula})" if self.no_element_formula else ""
        raise NoElement(f"{self.kind} has no element formula{why}")

    def sublayers(self) -> list["Layer"]:
        """Layers wrapped by this one (wrappers only)."""
        return []

    # helpers for subclasses

    def error(self, message: str, arg: str | None = None, hint: str | None = None) -> ShapeproofError:
        """An error located at argument `arg` (or at the whole call)."""
        span = self.arg_spans.get(arg) if arg else None
        return ShapeproofError(message, span or self.call.span, hint)

    def need_rank(self, x, rank: int, what: str, hint: str | None = None):
        """Raise unless `x` has `rank` axes (batch included)."""
        if len(x) != rank:
            raise self.error(f"{self.kind} expects a rank-{rank} input {what}, got rank {len(x)} {format_shape(x)}",
                             hint=hint)


def format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
