"""Keras model files -> readable .nn text: `shapeproof import model.keras`.

Reads the files directly (zipfile, json, h5py for legacy .h5): Keras itself is not needed.

    text = import_keras("model.keras", symbolic=parse_symbolic(["batch,T"]))

Inputs understood:
- a Keras 3 `.keras` archive (a zip holding config.json, metadata.json and model.weights.h5);
- a model JSON: Keras 3 `model.to_json()` (inbound nodes as {"args": [...], "kwargs": {...}}) and
  tf.keras 2 (inbound nodes as [[name, node, tensor, kwargs], ...], `batch_input_shape`,
  class_name "Model" or "Functional", old Sequential configs that are a bare list of layers);
- a legacy full-model `.h5` (its `model_config` attribute).

Note: what is written. One model; Sequential chains as a chain of statements, Functional graphs as
named values (`h = Dense(8, name="d")(x)`, merges with lists, several inputs and outputs); a nested
Sequential or Functional model as a block (named after it, `block Encoder(x):`) called where Keras calls
it, so the report shows it as one row, as Keras's summary does. A layer keeps its Keras name
(`name=` is left out only where the analyzer would give the same name by itself); an argument is
written only when it differs from the registry's default (compared after each argument kind's
conversion, so `kernel_size=[3]` is `3` and `activation="linear"` is the default None).
Initializers, regularizers, constraints and the registry's Ignored arguments are accepted and
dropped; `trainable=False` is kept (it moves weights to the non-trainable count).

Note: nothing is dropped silently. A layer kind, an argument or a value the registry does not
take, a shared layer, a call with extra tensors (`initial_state=`, a `mask=` other than Attention's
and AdditiveAttention's explicit [query_mask, value_mask]), an implicit Keras mask
(`Embedding(mask_zero=True)`): each is collected, with its place in the config, and the import fails
with the whole list (one ShapeproofError). Keras 3 records a mask a layer receives implicitly (from
an earlier layer's compute_mask) as that call's `mask=` argument, so an Attention output carrying its
query mask into a layer that consumes it is refused there.

Note: --symbolic. Names are matched to an input's axes by position, the batch axis first; `_` keeps
an axis as Keras has it. `batch,T` on a Keras input (None, 100, 8) gives `input (batch, T, 8)` and
the model parameters (batch, T). `INPUT:NAMES` applies to one input only. An axis Keras leaves as
None and no name is given for becomes `batch` (axis 0) or `d<axis>` (`<input>_d<axis>` when the
model has several inputs).
"""
from __future__ import annotations

import io
import json
import keyword
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from shapeproof.analyzer.errors import ShapeproofError
from shapeproof.analyzer.graph import DTYPE_BYTES, Names
from shapeproof.analyzer.layers import ACTIVATIONS, REGISTRY, to_snake_case
from shapeproof.analyzer.layers.base import REQUIRED, Activation, Choice, Ignored, Ints, LayerArg, OptionalInts, Pairs
from shapeproof.analyzer.layers.ops import Operation
from shapeproof.analyzer.values import did_you_mean

MODEL_CLASSES = ("Sequential", "Functional", "Model")
RESERVED = {"model", "input", "output", "assert", "True", "False", "None"}
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
RESAVE = 'the file may be truncated; save it again with model.save("model.keras")'

# Config keys that are not layer arguments, or that change nothing at inference when they hold
# these values (tf.keras 2's RNN `time_major`; Keras 3's InputLayer flags).
HARMLESS = {"time_major": False, "ragged": False, "sparse": False, "optional": False}
# Argument names accepted and ignored on every layer (README: "Arguments accepted and ignored").
IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
# Keras activation layers that are plain activations with these arguments and not layer kinds of
# their own yet (none today: ReLU, LeakyReLU, PReLU, ELU, Identity and Softmax are layer kinds,
# analyzer/layers/activations.py).
ACTIVATION_LAYERS: dict = {}
# Keras's RNN kinds and their state counts (return_state adds these outputs).
STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2, "ConvLSTM1D": 2, "ConvLSTM2D": 2, "ConvLSTM3D": 2}


# --- the pieces of an imported model ------------------------------------------------------------


@dataclass
class Spec:
    """One converted layer call: kind, arguments (checked values, non-defaults only) and name."""

    kind: str
    args: dict  # argument -> value (Python ints, floats, str, bool, None, tuples, Spec)
    name: str | None  # the Keras name
    where: str
    comment: str = ""  # written after the statement (a Keras activation layer written as Activation)
    operands: tuple | None = None  # an operation's: None per tensor input (in order) or the number
    call_inputs: tuple = ()  # a layer with a call signature: the tensor argument of each input (query, value, ...)
    call_options: dict = field(default_factory=dict)  # and its call options that differ from the defaults

    @property
    def outputs(self) -> int:
        """How many tensors the layer returns (return_state, merge_mode=None, return_attention_scores)."""
        if self.call_options.get("return_attention_scores"):
            return 2
        if self.kind in STATES:
            return 1 + STATES[self.kind] * bool(self.args.get("return_state"))
        if self.kind == "Bidirectional":
            inner = self.args.get("layer")
            merged = 2 if "merge_mode" in self.args and self.args["merge_mode"] is None else 1
            states = STATES.get(inner.kind, 0) if isinstance(inner, Spec) and inner.args.get("return_state") else 0
            return merged + 2 * states
        return 1

    def output_suffixes(self) -> list[str]:
        """Value-name suffixes of the outputs: ["", "_h", "_c"] for an LSTM with return_state."""
        n = self.outputs
        if n == 1:
            return [""]
        if self.call_options.get("return_attention_scores"):
            return ["", "_scores"]
        if self.kind in STATES:
            return ["", "_h", "_c"][:n]
        if self.kind == "Bidirectional":
            merged = 2 if "merge_mode" in self.args and self.args["merge_mode"] is None else 1
            states = (n - merged) // 2
            heads = ["_fwd", "_bwd"] if merged == 2 else [""]
            names = ["h", "c"][:states]
            return heads + [f"_f{s}" for s in names] + [f"_b{s}" for s in names]
        return [""] + [f"_{i}" for i in range(1, n)]


@dataclass
class InputDef:
    name: str  # the Keras name
    shape: list  # Keras's batch shape: ints and None
    dtype: str
    where: str
    value: str = ""  # the value name in the text


@dataclass
class GNode:
    spec: Spec | None  # None: an unsupported layer (a problem is recorded)
    inputs: list  # refs: ("input", i, 0) or ("node", k, index)
    many: bool
    where: str = ""  # its place in the config (`layers[12] 'name' (Class)`)


@dataclass
class Group:
    """A nested model's call: graph.nodes[first:end] are its layers (its own nested models' too)."""

    name: str  # the nested model's Keras name
    params: list  # its input names (a Sequential's: ["x"])
    inputs: list  # the refs it is applied to
    outputs: list  # its output refs
    first: int
    end: int


@dataclass
class Graph:
    name: str
    inputs: list[InputDef] = field(default_factory=list)
    nodes: list[GNode] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)  # nested models, each after those it holds
    outputs: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # header comments (renamed layers)
    seen: set = field(default_factory=set)  # layer and input names so far

    def unique(self, name: str) -> str:
        """`name`, or `name_2`, ... when a flattened nested model reused it (noted in the header)."""
        new, k = name, 1
        while new in self.seen:
            k += 1
            new = f"{name}_{k}"
        if new != name:
            self.notes.append(f"{new}: renamed from {name!r}, a name a nested model reuses")
        self.seen.add(new)
        return new


class Problems:
    """Every unsupported layer or argument, with where it is in the config."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, where: str, message: str):
        self.items.append(f"{where}: {message}" if where else message)


# --- reading the files ----------------------------------------------------------------------------


def read_model_config(path: str) -> tuple[dict, dict]:
    """(the model's config dict, facts about the file: kind, keras_version, archive). ShapeproofError
    naming the file for anything that is not a readable Keras model."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ShapeproofError(f"cannot read the file: {e.strerror or e}", file=path) from None
    info: dict = {"path": path}
    if p.suffix == ".keras" or data[:4] == b"PK\x03\x04":
        info["kind"] = "keras"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if "config.json" not in names:
                    raise ShapeproofError("the archive has no config.json: not a Keras 3 .keras file", file=path,
                                          hint="save the model with model.save(\"model.keras\") (Keras 3)")
                text = archive.read("config.json")
                meta = json.loads(archive.read("metadata.json")) if "metadata.json" in names else {}
                info["keras_version"] = meta.get("keras_version") if isinstance(meta, dict) else None
                info["has_weights"] = "model.weights.h5" in names
        except ShapeproofError:
            raise
        except zipfile.BadZipFile as e:
            raise ShapeproofError(f"not a valid .keras archive (a zip file): {e}", file=path, hint=RESAVE) from None
        except Exception as e:  # noqa: BLE001  (zlib.error, EOFError, a damaged member: all one answer)
            raise ShapeproofError(f"the .keras archive is damaged: {type(e).__name__}: {e}", file=path,
                                  hint=RESAVE) from None
        config = _json(text, path, "config.json in the archive")
    elif p.suffix in (".h5", ".hdf5") or data[:8] == HDF5_MAGIC:
        info["kind"] = "h5"
        config = _h5_config(path)
    else:
        info["kind"] = "json"
        config = _json(data, path, "the file")
    if isinstance(config, dict) and "model_config" in config and "class_name" not in config:
        config = config["model_config"]  # some tools wrap the config
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) or "config" not in config:
        raise ShapeproofError("not a Keras model: expected a JSON object with \"class_name\" (Sequential, "
                              "Functional or Model) and \"config\"", file=path,
                              hint="write it with model.to_json(), or import the .keras file")
    if config["class_name"] not in MODEL_CLASSES:
        what = f"a {config['class_name']} layer's config" if config["class_name"] in REGISTRY else \
            f"a {config['class_name']!r} object"
        raise ShapeproofError(f"not a Keras model: this is {what}, not a Sequential or Functional model",
                              file=path, hint="write the whole model with model.to_json()")
    info.setdefault("keras_version", config.get("keras_version"))
    return config, info


def _json(data: bytes, path: str, what: str):
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ShapeproofError(f"{what} is neither JSON text nor a .keras archive", file=path,
                              hint="import a .keras file, a model JSON (model.to_json()) or a full-model .h5") from None
    except json.JSONDecodeError as e:
        raise ShapeproofError(f"{what} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
                              file=path, hint="import a .keras file, a model JSON (model.to_json()) or a "
                              "full-model .h5") from None


def _h5_config(path: str):
    try:
        import h5py
    except ImportError:
        raise ShapeproofError("reading an .h5 file needs h5py", file=path, hint="pip install h5py") from None
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as e:
        raise ShapeproofError(f"not a readable HDF5 file: {e}", file=path) from None
    if raw is None:
        raise ShapeproofError("this HDF5 file holds weights only, no architecture (no model_config)", file=path,
                              hint="import the .keras file or the model JSON, and check the weights with "
                              "--weights FILE")
    return _json(raw if isinstance(raw, bytes) else str(raw).encode(), path, "the model_config attribute")


# --- config -> graph ------------------------------------------------------------------------------


def _plain(value):
    """JSON values as Python: lists become tuples (shapes, kernel sizes)."""
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _unwrap(value):
    """Keras 3's serialized built-in function ({"class_name": "function", "config": "relu"}) -> "relu"."""
    if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
        return value["config"]
    return value


def _same(kind, a, b) -> bool:
    """Whether two values of one argument kind mean the same (after the kind's own conversion)."""
    if isinstance(kind, Activation):
        a, b = ("linear" if a is None else a), ("linear" if b is None else b)
    if isinstance(kind, Choice) and kind.allow_none and "channels_last" in kind.options:
        a, b = ("channels_last" if a is None else a), ("channels_last" if b is None else b)
    try:
        return _converted(kind, a) == _converted(kind, b)
    except ShapeproofError:
        return False


def _converted(kind, value):
    return value if value is None or value is REQUIRED else kind.convert(value)


class Converter:
    """Keras config -> Graph; every problem collected in `problems`."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.graph = Graph("model")

    # -- models

    def top(self, config: dict) -> Graph:
        cfg = config.get("config")
        name = cfg.get("name") if isinstance(cfg, dict) else None
        self.graph.name = name or "model"
        self.graph.outputs = self.model(config, "", None, frozen=False)
        return self.graph

    def model(self, entry: dict, where: str, given: list | None, frozen: bool) -> list:
        """Add a (nested) model's layers; returns its output refs. `given`: the refs its inputs take."""
        cfg = entry.get("config")
        frozen = frozen or (isinstance(cfg, dict) and cfg.get("trainable") is False)
        if entry["class_name"] == "Sequential":
            return self.sequential(entry, where, given, frozen)
        if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
            self.problems.add(where, f"a {entry['class_name']} config without a list of layers")
            return []
        return self.functional(cfg, where, given, frozen)

    def sequential(self, entry: dict, where: str, given: list | None, frozen: bool) -> list:
        cfg = entry["config"]
        layers = cfg if isinstance(cfg, list) else cfg.get("layers") if isinstance(cfg, dict) else None
        if not isinstance(layers, list):
            self.problems.add(where, "a Sequential config without a list of layers")
            return []
        current = given[0] if given else None
        if given and len(given) != 1:
            self.problems.add(where, f"a nested Sequential called on {len(given)} tensors")
        for i, layer in enumerate(layers):
            here = f"{where}layers[{i}]"
            if not isinstance(layer, dict) or "class_name" not in layer:
                self.problems.add(here, "not a layer config")
                continue
            here = _describe(here, layer)
            lcfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            if layer["class_name"] == "InputLayer":
                if current is None:
                    current = self.add_input(lcfg, here)
                continue
            if current is None:  # no InputLayer: the first layer's batch_input_shape, or the model's build shape
                shape = lcfg.get("batch_input_shape") or lcfg.get("batch_shape")
                if shape is None and lcfg.get("input_shape") is not None:
                    shape = [None, *lcfg["input_shape"]]
                if shape is None and isinstance(cfg, dict):
                    shape = cfg.get("build_input_shape")
                if shape is None:
                    shape = (layer.get("build_config") or {}).get("input_shape")
                if shape is None:
                    raise ShapeproofError("the Sequential model has no input shape: it was never built (no "
                                          "InputLayer, batch_input_shape or build_input_shape in its config)",
                                          hint="give it keras.Input(shape) as its first layer, or call "
                                          "model.build((None, ...)) before saving")
                current = self.add_input({"name": "input", "batch_shape": shape,
                                          "dtype": lcfg.get("dtype") if isinstance(lcfg.get("dtype"), str) else
                                          "float32"}, here)
            outs = self.call(layer, here, [current], False, frozen)
            if len(outs) != 1:
                if outs:
                    self.problems.add(here, f"a layer with {len(outs)} outputs inside a Sequential model")
                current = outs[0] if outs else ("none", i, 0)
            else:
                current = outs[0]
        return [current] if current is not None else []

    def functional(self, cfg: dict, where: str, given: list | None, frozen: bool) -> list:
        tensors: dict = {}
        input_keys = _keys(cfg.get("input_layers"))
        if given is not None:
            if len(given) != len(input_keys):
                self.problems.add(where, f"a nested model with {len(input_keys)} inputs called on {len(given)} tensors")
            for key, ref in zip(input_keys, given):  # noqa: B905  (a count mismatch is reported above)
                tensors[key] = ref
        else:  # the inputs in model.inputs order (input_layers), which the layer list may not follow
            found = {(layer.get("name") or (layer.get("config") or {}).get("name")): (i, layer)
                     for i, layer in enumerate(cfg["layers"])
                     if isinstance(layer, dict) and layer.get("class_name") == "InputLayer"
                     and isinstance(layer.get("config"), dict)}
            for key in input_keys:
                if key[0] in found and (key[0], 0, 0) not in tensors:
                    i, layer = found[key[0]]
                    tensors[(key[0], 0, 0)] = self.add_input(layer["config"], _describe(f"{where}layers[{i}]", layer))
        pending = list(enumerate(cfg["layers"]))
        for _ in range(len(pending) + 1):  # Keras writes layers in order; tolerate any order
            later = []
            for i, layer in pending:
                here = f"{where}layers[{i}]"
                if not isinstance(layer, dict) or "class_name" not in layer:
                    self.problems.add(here, "not a layer config")
                    continue
                here = _describe(here, layer)
                lcfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
                name = layer.get("name") or lcfg.get("name")
                if layer["class_name"] == "InputLayer":
                    if given is None and (name, 0, 0) not in tensors:
                        tensors[(name, 0, 0)] = self.add_input(lcfg, here)
                    continue
                nodes = layer.get("inbound_nodes") or []
                if not nodes:
                    continue  # a layer the model never calls
                if str(layer.get("module") or "").startswith(("keras.src.ops", "keras.ops")):
                    parsed = _operation_inbound(nodes[0], here, Problems())
                    if parsed is not None and any(k not in tensors for k in _tensor_keys(parsed)):
                        later.append((i, layer))
                        continue
                    out = self.operation(layer, here, nodes[0], tensors, frozen)
                    if out is not None:
                        tensors[(name, 0, 0)] = out
                    continue
                signature = getattr(REGISTRY.get(layer["class_name"]), "call_signature", None)
                if signature is not None and isinstance(nodes[0], dict):
                    # MultiHeadAttention(q, v, key=k, use_causal_mask=True): several tensors and options;
                    # Attention([q, v], mask=[qm, vm], use_causal_mask=True): a list, tensor lists, options
                    parsed = _signature_inbound(nodes[0], REGISTRY[layer["class_name"]], here, Problems())
                    if parsed is not None and any(k not in tensors for k in parsed[0]):
                        later.append((i, layer))
                        continue
                    parsed = _signature_inbound(nodes[0], REGISTRY[layer["class_name"]], here, self.problems)
                    if parsed is None:
                        continue
                    if len(nodes) > 1:
                        self.problems.add(here, f"a shared layer (called {len(nodes)} times): each .nn statement "
                                          "is a layer with its own weights")
                    keys, call_inputs, options = parsed
                    outs = self.call(layer, here, [tensors[k] for k in keys], True, frozen, (call_inputs, options))
                    for t, ref in enumerate(outs):
                        tensors[(name, 0, t)] = ref
                    continue
                parsed = _inbound(nodes[0], here, Problems())
                if parsed is not None and any(k not in tensors for k in parsed[0]):
                    later.append((i, layer))
                    continue
                known = layer["class_name"] in (*REGISTRY, *ACTIVATION_LAYERS, *MODEL_CLASSES) and \
                    not str(layer.get("module") or "").startswith(("keras.src.ops", "keras.ops"))
                # the call of a layer that is refused anyway is not reported again
                parsed = _inbound(nodes[0], here, self.problems if known else Problems())
                if parsed is None:
                    continue
                keys, many = parsed
                if len(nodes) > 1:
                    self.problems.add(here, f"a shared layer (called {len(nodes)} times): each .nn statement is a "
                                      "layer with its own weights")
                if not many and layer["class_name"] in REGISTRY and REGISTRY[layer["class_name"]].inputs == "many":
                    many = True  # tf.keras 2 lists a merge's inputs as separate entries
                outs = self.call(layer, here, [tensors[k] for k in keys], many or len(keys) > 1, frozen)
                if len(outs) == 1 and self.graph.nodes and outs[0][0] == "node" and \
                        self.graph.nodes[outs[0][1]].spec is None:
                    outs = outs * 8  # an unsupported layer: whatever reads it is not reported again
                for t, ref in enumerate(outs):
                    for call in range(len(nodes)):  # a shared layer's other calls: reported above
                        tensors[(name, call, t)] = ref
            if not later or len(later) == len(pending):
                for i, layer in later:
                    missing = [k[0] for k in _inbound(layer["inbound_nodes"][0], "", Problems())[0] if k not in tensors]
                    self.problems.add(_describe(f"{where}layers[{i}]", layer),
                                      f"its input {', '.join(map(repr, missing))} is not produced by any layer")
                break
            pending = later
        outputs = []
        for key in _keys(cfg.get("output_layers")):
            if key in tensors:
                outputs.append(tensors[key])
            else:
                self.problems.add(where or "model", f"the model output {key[0]!r} (tensor {key[2]}) is not produced")
        return outputs

    def add_input(self, cfg: dict, where: str):
        shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
        if shape is None and cfg.get("input_shape") is not None:
            shape = [None, *cfg["input_shape"]]
        dtype = cfg.get("dtype") or "float32"
        if isinstance(dtype, dict):
            dtype = (dtype.get("config") or {}).get("name", "float32")
        if not isinstance(shape, (list, tuple)) or len(shape) < 2 or \
                not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in shape):
            self.problems.add(where, f"input shape {shape!r}: expected the batch axis and at least one more, "
                              "each a positive integer or None")
            shape = [None, 1]
        if dtype not in DTYPE_BYTES:
            self.problems.add(where, f"input dtype {dtype!r} is not supported (one of {', '.join(DTYPE_BYTES)})")
            dtype = "float32"
        for key in ("sparse", "ragged", "optional"):
            if cfg.get(key):
                self.problems.add(where, f"{key}=True inputs are not supported")
        self.graph.inputs.append(InputDef(self.graph.unique(cfg.get("name") or "input"), list(shape), dtype, where))
        return ("input", len(self.graph.inputs) - 1, 0)

    def call(self, layer: dict, where: str, refs: list, many: bool, frozen: bool, signature_call=None) -> list:
        """Add one layer (or a nested model) applied to `refs`; returns its output refs. `signature_call`:
        (call argument of each ref, call options) for a layer with a call signature."""
        if layer["class_name"] in MODEL_CLASSES:
            first = len(self.graph.nodes)
            outs = self.model(layer, f"{where} > ", refs, frozen)
            cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            params = [k[0] for k in _keys(cfg.get("input_layers"))] if layer["class_name"] != "Sequential" else ["x"]
            self.graph.groups.append(Group(cfg.get("name") or layer.get("name") or "nested", params, refs, outs,
                                           first, len(self.graph.nodes)))
            return outs
        spec = self.convert(layer, where, frozen)
        if spec is not None and signature_call is not None:
            spec.call_inputs, spec.call_options = signature_call
        if spec is not None and spec.name:
            spec.name = self.graph.unique(spec.name)
        self.graph.nodes.append(GNode(spec, refs, many, where))
        k = len(self.graph.nodes) - 1
        return [("node", k, t) for t in range(spec.outputs if spec else 1)]

    def operation(self, layer: dict, where: str, node, tensors: dict, frozen: bool):
        """An operation node (`x + h`, `x * 0.5`, `ops.mean(x, axis=1)`): its output ref (an unsupported
        one's too, with the problem recorded, so that what reads it is not reported again), or None."""
        parsed = _operation_inbound(node, where, self.problems)
        if parsed is None:
            return None
        cls = REGISTRY.get(to_snake_case(layer["class_name"]))
        if cls is None or not issubclass(cls, Operation) or cls.keras_module != layer.get("module") or \
                cls.keras_class != layer["class_name"]:
            self.problems.add(where, f"operation {layer['class_name']!r} ({layer.get('module')}) is not supported")
            self.graph.nodes.append(GNode(None, [tensors[k] for k in _tensor_keys(parsed)], False, where))
            return ("node", len(self.graph.nodes) - 1, 0)
        if isinstance(parsed[0], list):  # concatenate([a, b, ...])
            refs, operands = [tensors[k] for k in parsed[0]], (None,) * len(parsed[0])
        else:
            refs = [tensors[k] for k in parsed if isinstance(k, tuple)]
            operands = tuple(None if isinstance(k, tuple) else k for k in parsed)
        count = cls.operand_count
        if count != "list" and len(operands) != count or not refs:
            self.problems.add(where, f"{layer['class_name']} called with {len(operands)} operand(s), "
                              f"{len(refs)} of them tensors: expected {count}, one a tensor at least")
            return None
        spec = self.convert({**layer, "class_name": cls.kind, "module": "keras.layers"}, where, frozen)
        if spec is None:
            return None
        spec.operands = operands
        spec.name = self.graph.unique(spec.name) if spec.name else None
        self.graph.nodes.append(GNode(spec, refs, len(refs) > 1, where))
        return ("node", len(self.graph.nodes) - 1, 0)

    # -- layers

    def convert(self, layer: dict, where: str, frozen: bool = False, inner: str | None = None) -> Spec | None:
        """One layer config -> Spec (None, with problems recorded, when it cannot be written)."""
        kind_name = layer.get("class_name")
        cfg = layer.get("config")
        if not isinstance(cfg, dict):
            self.problems.add(where, "a layer without a config object")
            return None
        module = layer.get("module") or ""
        if kind_name in ACTIVATION_LAYERS and not module.startswith(("keras.src.ops", "keras.ops")):
            return self.activation_layer(kind_name, cfg, where, frozen)
        cls = REGISTRY.get(kind_name)
        if cls is None or (module and not module.startswith(("keras.layers", "keras.src.layers", "tensorflow",
                                                                "tf_keras", "keras"))) \
                or module.startswith(("keras.src.ops", "keras.ops")):
            close = did_you_mean(kind_name, {c.kind for c in REGISTRY.values()}) if cls is None else None
            what = f"operation {kind_name!r} ({module})" if cls is not None else f"layer {kind_name!r}"
            self.problems.add(where, f"{what} is not supported" + (f" ({close})" if close else ""))
            return None
        bad = len(self.problems.items)
        args: dict = {}
        for key, value in cfg.items():
            if key in ("name", "trainable") or key.endswith(IGNORED_SUFFIXES) or key == "activity_regularizer":
                continue
            kind = cls.args.get(key)
            if kind is None:
                if key in HARMLESS and value == HARMLESS[key]:
                    continue
                if key in ("batch_input_shape", "batch_shape", "build_input_shape"):
                    continue
                self.problems.add(where, f"argument {key}={_show_json(value)} is not supported by {kind_name}")
                continue
            if isinstance(kind, Ignored):
                continue
            if key == "mask_zero" and value is True:
                self.problems.add(where, "mask_zero=True: implicit Keras masks are not supported; the mask Keras "
                                  "attaches to the output changes later layers (attention, recurrent layers, "
                                  "pooling) that the .nn model computes unmasked: save the model with "
                                  "mask_zero=False, or give masks explicitly (Attention's mask=[query_mask, "
                                  "value_mask], MultiHeadAttention's attention_mask=)")
                continue
            if isinstance(kind, LayerArg):
                if value is None:
                    continue
                if not isinstance(value, dict) or "class_name" not in value:
                    self.problems.add(where, f"argument {key}: expected a layer config")
                    continue
                sub = self.convert(value, f"{where} > {key} {_name_of(value)}({value['class_name']})", inner=kind_name)
                if sub is not None:
                    args[key] = sub
                continue
            value = _plain(_unwrap(value))
            if key == "axis" and isinstance(value, tuple) and len(value) == 1:
                value = value[0]  # tf.keras 2 writes a normalisation's axis as a list
            if isinstance(value, dict):
                self.problems.add(where, f"argument {key}: a serialized {value.get('class_name', 'object')!r} "
                                  "is not supported (only built-in names and numbers)")
                continue
            try:
                _converted(kind, value)
            except ShapeproofError as e:
                why = f"not a supported activation (one of {', '.join(ACTIVATIONS)})" \
                    if isinstance(kind, Activation) else e.message
                self.problems.add(where, f"argument {key}={_show_json(value)}: {why}")
                continue
            args[key] = value
        if cfg.get("trainable") is False or frozen:
            args["trainable"] = False
        spec = Spec(cls.kind, self.non_defaults(cls, args, cfg, inner), cfg.get("name"), where)
        if len(self.problems.items) > bad:
            return None
        problem = _validate(spec)
        if problem:
            self.problems.add(where, problem)
            return None
        return spec

    def activation_layer(self, kind_name: str, cfg: dict, where: str, frozen: bool) -> Spec | None:
        """Softmax() over the last axis is written as Activation("softmax") (a comment names the Keras
        class); any other is refused."""
        given = {k: _plain(v) for k, v in cfg.items() if k not in ("name", "trainable", "dtype")}
        for name, defaults in ACTIVATION_LAYERS[kind_name]:
            if all(_close(given.get(k, d), d) for k, d in defaults.items()) and set(given) <= set(defaults):
                args = {"activation": name}
                if cfg.get("trainable") is False or frozen:
                    args["trainable"] = False
                return Spec("Activation", args, cfg.get("name"), where, comment=f"Keras {kind_name} layer")
        shown = ", ".join(f"{k}={_show_json(v)}" for k, v in given.items())
        forms = " or ".join(f"{kind_name}({', '.join(f'{k}={v}' for k, v in d.items())})"
                            for _, d in ACTIVATION_LAYERS[kind_name])
        self.problems.add(where, f"{kind_name}({shown}) is not supported: only {forms}, which are plain activations")
        return None

    def non_defaults(self, cls, args: dict, cfg: dict, inner: str | None) -> dict:
        """Only the arguments that differ from the registry's defaults (Keras-specific equivalences too)."""
        kept = {}
        for key, value in args.items():
            kind = cls.args[key]
            if key == "backward_layer" and isinstance(value, Spec) and isinstance(args.get("layer"), Spec) and \
                    _mirrors(args["layer"], value):
                continue
            pool_size = args.get("pool_size", cls.args["pool_size"].default) if "pool_size" in cls.args else None
            if isinstance(kind, OptionalInts) and key == "strides" and None not in (pool_size, value) and \
                    _same(Ints(len(_converted(kind, value))), value, pool_size):
                continue  # pooling's strides default to the pool size
            if key == "zero_output_for_mask" and inner == "Bidirectional" and \
                    value == bool(args.get("return_sequences", False)):
                continue  # Bidirectional sets it to return_sequences on both layers
            if cls.kind == "MultiHeadAttention" and (key == "value_dim" and value == args.get("key_dim") or
                                                     key == "attention_axes" and value in (1, (1,))):
                continue  # a built layer's config: value_dim None is key_dim, attention_axes the default (1,)
            if kind.default is not REQUIRED and not isinstance(kind, LayerArg) and _same(kind, value, kind.default):
                continue
            kept[key] = value
        return kept


def _close(a, b) -> bool:
    if isinstance(a, tuple) and len(a) == 1:
        a = a[0]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 1e-7 * max(1.0, abs(b))
    return a == b


def _describe(where: str, layer: dict) -> str:
    return f"{where} {_name_of(layer)}({layer.get('class_name')})"


def _name_of(layer: dict) -> str:
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    name = layer.get("name") or cfg.get("name")
    return f"{name!r} " if name else ""


def _mirrors(forward: Spec, backward: Spec) -> bool:
    """Whether a Bidirectional's backward layer is Keras's own copy of the forward one (go_backwards set)."""
    a = {k: v for k, v in forward.args.items() if k not in ("go_backwards",)}
    b = {k: v for k, v in backward.args.items() if k not in ("go_backwards",)}
    return forward.kind == backward.kind and a == b and backward.args.get("go_backwards") is True


def _keys(value) -> list:
    """input_layers / output_layers: [[name, node, tensor], ...], one bare [name, node, tensor], or a dict."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return []
    if len(value) >= 1 and isinstance(value[0], str):
        value = [value]
    keys = []
    for v in value:
        if isinstance(v, list) and len(v) >= 3 and isinstance(v[0], str):
            keys.append((v[0], int(v[1]), int(v[2])))
        elif isinstance(v, list):
            keys += _keys(v)
    return keys


def _inbound(node, where: str, problems: Problems):
    """One inbound node -> ([(layer, node, tensor)], called on a list). Keras 3: {"args", "kwargs"};
    tf.keras 2: [[name, node, tensor, kwargs], ...]."""
    if isinstance(node, dict):
        args, kwargs = node.get("args") or [], node.get("kwargs") or {}
        if not args:
            problems.add(where, "a layer call without tensor arguments")
            return None
        first = args[0]
        many = isinstance(first, list)
        tensors = first if many else [first]
        keys = []
        for t in tensors:
            history = (t.get("config") or {}).get("keras_history") if isinstance(t, dict) else None
            if not history:
                problems.add(where, f"a call argument that is not a tensor: {_show_json(t)}")
                return None
            keys.append((history[0], int(history[1]), int(history[2])))
        if len(args) > 1:
            problems.add(where, f"a call with {len(args)} positional arguments (only the input tensor(s) "
                         "are supported)")
        _check_kwargs(kwargs, where, problems)
        return keys, many
    if isinstance(node, list):
        keys = []
        for entry in node:
            if not (isinstance(entry, list) and len(entry) >= 3 and isinstance(entry[0], str)):
                problems.add(where, "an inbound node entry that is not [layer, node, tensor, kwargs]: "
                             f"{_show_json(entry)}")
                return None
            keys.append((entry[0], int(entry[1]), int(entry[2])))
            if len(entry) > 3 and isinstance(entry[3], dict):
                _check_kwargs(entry[3], where, problems)
        return keys, False
    problems.add(where, f"inbound nodes in an unknown format: {_show_json(node)}")
    return None


def _signature_inbound(node: dict, cls, where: str, problems: Problems):
    """A Keras 3 call with call arguments beyond one value (MultiHeadAttention's `(q, v, key=k,
    attention_mask=m, use_causal_mask=True)`): (tensor keys, the call argument of each, the call options
    that differ from their defaults), or None with the problem recorded."""
    signature = cls.call_signature
    args, kwargs = node.get("args") or [], node.get("kwargs") or {}

    def key_of(t):
        history = (t.get("config") or {}).get("keras_history") if isinstance(t, dict) else None
        return (history[0], int(history[1]), int(history[2])) if history else None

    keys, names, options = [], [], {}

    def take(t, name: str | None, problem: str) -> bool:
        """Record tensor `t` (the call argument `name`, if any); False, with `problem` recorded, if it is none."""
        found = key_of(t)
        if found is None:
            problems.add(where, f"{problem}: {_show_json(t)}")
            return False
        keys.append(found)
        if name is not None:
            names.append(name)
        return True

    if not signature.tensors:  # a list-taking layer (Attention): [query, value(, key)] first
        if len(args) != 1 or not isinstance(args[0], list):
            problems.add(where, f"a {cls.kind} call that is not on one list of tensors: {_show_json(args)}")
            return None
        for t in args[0]:
            if not take(t, None, "a call argument that is not a tensor"):
                return None
    elif len(args) > len(signature.tensors):
        problems.add(where, f"a {cls.kind} call with {len(args)} positional arguments: only "
                     f"{', '.join(signature.tensors)} are supported positionally")
        return None
    given = [*zip(signature.tensors, args), *((k, v) for k, v in kwargs.items())]
    for key, value in given:
        if key == "training" or value is None or (isinstance(value, list) and all(v is None for v in value)):
            continue
        if key in signature.tensor_lists:  # mask=[query_mask, value_mask]: each a tensor or None
            items = signature.tensor_lists[key]
            if not isinstance(value, list) or len(value) < len(items):
                problems.add(where, f"call argument {key}={_show_json(value)}: expected a list "
                             f"[{', '.join(items)}]")
                return None
            # Keras reads only these (Attention accepts a third mask, the key's, and ignores it)
            for item, v in zip(items, value):
                if v is not None and not take(v, item, f"call argument {key}: {item} is not a tensor"):
                    return None
        elif key in signature.tensors or key in signature.keyword_tensors:
            if not take(value, key, f"call argument {key} is not a tensor"):
                return None
        elif key in signature.options:
            kind = signature.options[key]
            try:
                value = kind.convert(value)
            except ShapeproofError as e:
                problems.add(where, f"call argument {key}={_show_json(value)}: {e.message}")
                return None
            if value != kind.default:
                options[key] = value
        else:
            problems.add(where, f"called with {key}={_show_json(value)}: not supported (the call arguments "
                         f"supported are {', '.join(signature.keywords)})")
            return None
    missing = [n for n in signature.tensors[:signature.required] if n not in names]
    if missing:
        problems.add(where, f"a {cls.kind} call without {', '.join(missing)}")
        return None
    return keys, tuple(names), options


def call_arguments_text(spec: Spec, given: list[str]) -> str:
    """The arguments a layer with a call signature is applied to: `q, v, key=k, use_causal_mask=True`
    (the tensors in Keras's positional order while they follow it, then keywords)."""
    signature = REGISTRY[spec.kind].call_signature
    if not signature.tensors:  # Attention: `[q, v], mask=[None, vm], use_causal_mask=True`
        n = len(given) - len(spec.call_inputs)
        parts, got = ["[" + ", ".join(given[:n]) + "]"], dict(zip(spec.call_inputs, given[n:]))
        for key, items in signature.tensor_lists.items():
            if any(item in got for item in items):
                parts.append(f"{key}=[{', '.join(got.get(item, 'None') for item in items)}]")
        return ", ".join(parts + [f"{key}={value_text(value)}" for key, value in spec.call_options.items()])
    parts, keyword = [], False
    for i, (name, value) in enumerate(zip(spec.call_inputs, given, strict=True)):
        keyword = keyword or i >= len(signature.tensors) or signature.tensors[i] != name
        parts.append(f"{name}={value}" if keyword else value)
    parts += [f"{key}={value_text(value)}" for key, value in spec.call_options.items()]
    return ", ".join(parts)


def _operation_inbound(node, where: str, problems: Problems):
    """An operation's call: its positional arguments as keys (tensors) and numbers, or [[keys]] for a
    list of tensors (concatenate); None with the problem recorded."""
    if not isinstance(node, dict) or not node.get("args"):
        problems.add(where, f"an operation call in an unknown format: {_show_json(node)}")
        return None
    items = []
    for arg in node["args"]:
        many = isinstance(arg, list)
        keys = []
        for t in arg if many else [arg]:
            if isinstance(t, (int, float)) and not isinstance(t, bool) and not many:
                keys.append(float(t))
                continue
            history = (t.get("config") or {}).get("keras_history") if isinstance(t, dict) else None
            if not history:
                problems.add(where, f"an operation argument that is neither a tensor nor a number: {_show_json(t)}")
                return None
            keys.append((history[0], int(history[1]), int(history[2])))
        items.append(keys if many else keys[0])
    _check_kwargs(node.get("kwargs") or {}, where, problems)
    return items


def _tensor_keys(parsed: list) -> list:
    return [k for item in parsed for k in (item if isinstance(item, list) else [item]) if isinstance(k, tuple)]


def _check_kwargs(kwargs: dict, where: str, problems: Problems):
    for key, value in kwargs.items():
        if key == "training" or (key == "mask" and (value is None or isinstance(value, list) and
                                                    all(v is None for v in value))):
            continue
        if key == "mask":  # Keras 3 records a mask a layer receives implicitly as this call argument
            problems.add(where, f"called with mask={_show_json(value)}: implicit Keras masks are not supported "
                         "(an earlier Embedding(mask_zero=True), or Attention's output, which carries its query "
                         "mask): only Attention's and AdditiveAttention's explicit mask=[query_mask, value_mask] "
                         "and MultiHeadAttention's attention_mask= are")
            continue
        problems.add(where, f"called with {key}={_show_json(value)}: only the input tensor(s) are supported")


def _show_json(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validate(spec: Spec) -> str | None:
    """The registry's own checks of the arguments together (e.g. data_format="channels_first")."""
    from shapeproof.analyzer.graph import Names
    from shapeproof.analyzer.layers import build_layer
    from shapeproof.analyzer.parse import parse

    line = f"    {call_text(spec, Names(), reserved=set())}"
    try:
        stmt = parse(f"model M(b):\n    input (b, 1)\n{line}\n", "<import>").models[0].body[1]
        build_layer(stmt.call, {}, Names())
    except ShapeproofError as e:
        span = e.span
        culprit = ""
        if span is not None and span.line == 3 and span.end_line == 3 and span.end_column and \
                (span.column, span.end_column) != (stmt.call.span.column, stmt.call.span.end_column):
            culprit = line[span.column - 1:span.end_column - 1]
            if culprit in spec.args and not isinstance(spec.args[culprit], Spec):
                culprit = f"{culprit}={value_text(spec.args[culprit])}"
            culprit += ": "
        return culprit + e.message + (f" ({e.hint})" if e.hint else "")
    return None


# --- graph -> .nn text ----------------------------------------------------------------------------


def value_text(value, kind=None) -> str:
    """A value as .nn source: integers, floats, strings, tuples (all-equal Ints folded), nested layers."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            raise ShapeproofError(f"the number {text} cannot be written in a .nn file")
        return text
    if isinstance(value, str):
        return f"'{value}'" if '"' in value else f'"{value}"'
    if isinstance(value, tuple):
        if isinstance(kind, (Ints, Pairs)):
            value = _fold(value)
            if not isinstance(value, tuple):
                return value_text(value)
        items = [value_text(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    raise AssertionError(f"not a value: {value!r}")


def _fold(value: tuple):
    """(3, 3) -> 3, ((1, 1), (2, 2)) -> (1, 2), ((1, 1),) -> 1: Keras's own shorthand."""
    if all(isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] for v in value):
        value = tuple(v[0] for v in value)
    if value and all(v == value[0] for v in value) and not isinstance(value[0], tuple):
        return value[0]
    return value


def call_text(spec: Spec, names: Names, reserved: set, explicit_names: bool = True) -> str:
    """`Kind(required..., key=value..., name="...")`; claims names in `names` as the analyzer will."""
    cls = REGISTRY[spec.kind]
    parts = []
    positional = True
    inner_texts = {}
    for key, value in spec.args.items():  # inner layers are built (and named) before the outer one
        if isinstance(value, Spec):
            inner_texts[key] = call_text(value, names, reserved, explicit_names=False)
    for key in cls.args:
        if key not in spec.args or key in ("name", "trainable"):
            positional = positional and key in spec.args and cls.args[key].default is REQUIRED
            continue
        value = spec.args[key]
        text = inner_texts[key] if key in inner_texts else value_text(value, cls.args[key])
        if positional and key in cls.positional and cls.args[key].default is REQUIRED:
            parts.append(text)
        else:
            positional = False
            parts.append(f"{key}={text}")
    if spec.args.get("trainable") is False:
        parts.append("trainable=False")
    name = _claim(spec, names, reserved, explicit_names)
    if name is not None:
        parts.append(f"name={value_text(name)}")
    return f"{spec.kind}({', '.join(parts)})"


def operation_text(spec: Spec, given: list[str], names: Names, reserved: set) -> str:
    """An operation as a spec writes it: `a + b`, `x * 0.5`, `-x`, `mean(x, axis=1)`; in function form
    with name= when the analyzer would not give it its Keras name by itself."""
    cls = REGISTRY[spec.kind]
    name = _claim(spec, names, reserved, keep=True)
    tensors = iter(given)
    if cls.operand_count == "list":
        operands = ["[" + ", ".join(given) + "]"]
    else:
        operands = [next(tensors) if o is None else value_text(int(o) if float(o).is_integer() else o)
                    for o in spec.operands]
    symbol = getattr(cls, "symbol", None)
    if name is None and symbol is not None:
        return f"{operands[0]} {symbol} {operands[1]}"
    if name is None and spec.kind == "negative":
        return f"-{operands[0]}"
    options = [value_text(spec.args[k], cls.args[k]) if cls.args[k].default is REQUIRED else
               f"{k}={value_text(spec.args[k], cls.args[k])}" for k in cls.args if k in spec.args and k != "trainable"]
    if name is not None:
        options.append(f"name={value_text(name)}")
    return f"{spec.kind}({', '.join(operands + options)})"


def _claim(spec: Spec, names: Names, reserved: set, keep: bool) -> str | None:
    """The name= to write (None: the analyzer's own name is right), claiming it as the analyzer will.
    A top-level layer keeps its Keras name; a wrapped layer's name is written only when the one the
    analyzer would give it is taken by another layer of the model."""
    auto = to_snake_case(spec.kind)
    probe = Names()
    probe.taken, probe.next_suffix = set(names.taken), dict(names.next_suffix)
    would_be = probe.claim(auto)
    if keep and spec.name:
        if would_be == spec.name:
            names.claim(auto)
            return None
        names.claim(spec.name, explicit=True)
        return spec.name
    if would_be not in reserved:
        names.claim(auto)
        return None
    k, fresh = 1, f"{auto}_inner"
    while fresh in reserved or fresh in names.taken:
        k, fresh = k + 1, f"{auto}_inner_{k}"
    names.claim(fresh, explicit=True)
    return fresh


def identifier(name: str, taken: set) -> str:
    """A value name for `name`: an identifier that is no keyword, reserved word or other value's name."""
    text = re.sub(r"\W", "_", name) or "v"
    if text[0].isdigit():
        text = "_" + text
    if keyword.iskeyword(text) or text in RESERVED:
        text += "_"
    base, k = text, 1
    while text in taken:
        k += 1
        text = f"{base}_{k}"
    taken.add(text)
    return text


def parse_symbolic(items: list[str] | None) -> dict:
    """`--symbolic batch,T` / `--symbolic tokens:batch,L` -> {None or input name: [name or None per axis]}."""
    result: dict = {}
    for item in items or ():
        target, sep, names = item.rpartition(":")
        target = target.strip() if sep else None
        axes = [n.strip() for n in names.split(",")]
        parsed = []
        for n in axes:
            if n in ("", "_"):
                parsed.append(None)
            elif not n.isidentifier() or keyword.iskeyword(n) or n in RESERVED:
                raise ShapeproofError(f"--symbolic {item!r}: {n!r} is not a usable symbol name",
                                      hint="names are identifiers, e.g. --symbolic batch,T (use _ to keep an axis)")
            else:
                parsed.append(n)
        if target in result:
            raise ShapeproofError(f"--symbolic given twice for {'every input' if target is None else target!r}")
        result[target] = parsed
    return result


def _input_dims(graph: Graph, symbolic: dict) -> tuple[list[list], list[str], list[str]]:
    """Per input, its dims as text; the model parameters in order; notes for the header."""
    names = {i.name for i in graph.inputs}
    for target in symbolic:
        if target is not None and target not in names:
            hint = did_you_mean(target, names)
            raise ShapeproofError(f"--symbolic {target}:...: the model has no input {target!r}",
                                  hint=hint or f"inputs: {', '.join(sorted(names))}")
    params: list[str] = []
    notes: list[str] = []
    dims_of = []
    for inp in graph.inputs:
        chosen = symbolic.get(inp.name, symbolic.get(None, []))
        if len(chosen) > len(inp.shape):
            raise ShapeproofError(f"--symbolic names {len(chosen)} axes, but input {inp.name!r} has rank "
                                  f"{len(inp.shape)} {_shape_text(inp.shape)}",
                                  hint=f"give at most {len(inp.shape)} names, the batch axis first")
        dims = []
        for axis, d in enumerate(inp.shape):
            name = chosen[axis] if axis < len(chosen) else None
            if name is None and d is None:
                name = "batch" if axis == 0 else (f"d{axis}" if len(graph.inputs) == 1 else
                                                  identifier(f"{inp.name}_d{axis}", set()))
                if axis:
                    notes.append(f"{name}: axis {axis} of input {inp.name!r} has no fixed size in Keras "
                                 "(name it with --symbolic)")
            elif name is not None and d is not None:
                notes.append(f"{name}: axis {axis} of input {inp.name!r}, {d} in the Keras model")
            if name is None:
                dims.append(str(d))
            else:
                dims.append(name)
                if name not in params:
                    params.append(name)
        dims_of.append(dims)
    return dims_of, params, list(dict.fromkeys(notes))


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _auto_input_name(name: str) -> bool:
    return bool(re.fullmatch(r"input(_layer)?(_\d+)?|.*_input", name))


def emit(graph: Graph, symbolic: dict, header: list[str], model_name: str | None = None) -> str:
    """The .nn text of one imported model (its nested models as blocks before it)."""
    dims_of, params, notes = _input_dims(graph, symbolic)
    name = identifier(model_name or graph.name, set())
    reserved = {i.name for i in graph.inputs} | {n.spec.name for n in graph.nodes if n.spec and n.spec.name}
    writer = _Writer(graph, Names(), reserved, params, name)
    units = writer.units(0, len(graph.nodes), None)
    chain = len(graph.inputs) == 1 and writer.is_chain(units, ("input", 0, 0), graph.outputs)
    body = []
    taken = set(params)
    values: dict = {}
    for i, (inp, dims) in enumerate(zip(graph.inputs, dims_of, strict=True)):
        shape = "(" + ", ".join(dims) + ")"
        dtype = "" if inp.dtype == "float32" else f" {inp.dtype}"
        if chain and _auto_input_name(inp.name) and "input" not in reserved:
            writer.names.claim("input")
            body.append(f"input {shape}{dtype}")
        else:
            inp.value = identifier(inp.name, taken)
            writer.names.claim(inp.value, explicit=True)
            values[("input", i, 0)] = inp.value
            body.append(f"{inp.value} = input {shape}{dtype}")
    body += writer.body(units, values, taken, chain, top=True)
    if not chain and (not units or writer.outputs(units[-1]) != graph.outputs or len(graph.outputs) != 1):
        body.append("output " + ", ".join(values[r] for r in graph.outputs))
    out = [f"# {line}" if line else "#" for line in header]
    out += [f"# {n}" for n in graph.notes + notes]
    for block in writer.blocks:
        out += [*block, ""]
    out.append(f"model {name}({', '.join(params)}):")
    out += ["    " + line for line in body]
    return "\n".join(out) + "\n"


class _Writer:
    """Writes graph nodes as .nn statements, a nested model's as a block called where Keras calls it,
    claiming layer names in the order the analyzer will (a block's call, then its layers)."""

    def __init__(self, graph: Graph, names: Names, reserved: set, sizes: list, model_name: str):
        self.graph, self.names, self.reserved, self.sizes = graph, names, reserved, sizes
        self.blocks: list[list[str]] = []  # block definitions' lines, each after the blocks it calls
        self.taken_blocks = {model_name}

    def units(self, first: int, end: int, inside: Group | None) -> list:
        """graph.nodes[first:end] as node indices and the outermost nested models among them (Groups)."""
        groups = [g for g in self.graph.groups if first <= g.first < g.end <= end and g is not inside]
        outermost = {g.first: g for g in groups  # groups come after those they hold: the last one holds
                     if not any(h is not g and h.first <= g.first and g.end <= h.end and
                                self.graph.groups.index(h) > self.graph.groups.index(g) for h in groups)}
        units, k = [], first
        while k < end:
            if k in outermost:
                units.append(outermost[k])
                k = outermost[k].end
            else:
                units.append(k)
                k += 1
        return units

    def outputs(self, unit) -> list:
        if isinstance(unit, Group):
            return unit.outputs
        return [("node", unit, t) for t in range(self.graph.nodes[unit].spec.outputs)]

    def is_chain(self, units: list, start, outputs: list) -> bool:
        """Each unit applied to the one before, from `start`, the last one's value the only output: written
        as a plain chain (an operation names its operands: never)."""
        previous = start
        for unit in units:
            if isinstance(unit, Group):
                if unit.inputs != [previous] or len(unit.outputs) != 1:
                    return False
            else:
                node = self.graph.nodes[unit]
                if node.spec.operands is not None or node.many or node.inputs != [previous] or \
                        node.spec.outputs != 1 or node.spec.call_inputs:
                    return False
            previous = self.outputs(unit)[0]
        return bool(units) and outputs == [previous]

    def body(self, units: list, values: dict, taken: set, chain: bool, top: bool) -> list[str]:
        lines = []
        for unit in units:
            if isinstance(unit, Group):
                name = self.block(unit, top)
                if chain:
                    lines.append(f"{name}()")
                    continue
                suffixes = [""] if len(unit.outputs) == 1 else [f"_{i}" for i in range(len(unit.outputs))]
                targets = [identifier(to_snake_case(name) + s, taken) for s in suffixes]
                for ref, target in zip(unit.outputs, targets, strict=True):
                    values[ref] = target
                lines.append(f"{', '.join(targets)} = {name}()({', '.join(values[r] for r in unit.inputs)})")
            else:
                lines.append(self.node(unit, values, taken, chain))
        return lines

    def block(self, group: Group, top: bool) -> str:
        """Write a nested model's block definition; returns its name."""
        name = self.block_name(group.name)
        if top:  # the analyzer names a call's row (nested calls share their outermost row)
            self.names.claim(to_snake_case(name))
        taken = set(self.sizes)
        wanted = group.params if len(group.params) == len(group.inputs) else ["x"] * len(group.inputs)
        params = [identifier(p, taken) for p in wanted]
        values: dict = {}
        for ref, param in zip(group.inputs, params, strict=True):
            values.setdefault(ref, param)
        units = self.units(group.first, group.end, group)
        chain = len(params) == 1 and self.is_chain(units, group.inputs[0], group.outputs)
        lines = self.body(units, values, taken, chain, top=False)
        if not chain:
            lines.append("output " + ", ".join(values[r] for r in group.outputs))
        self.blocks.append([f"block {name}({', '.join(params)}):", *("    " + line for line in lines)])
        return name

    def block_name(self, keras_name: str) -> str:
        """A CamelCase name for a nested model (`mlp_head` -> MlpHead) that no layer, block or model has."""
        base = "".join(p[:1].upper() + p[1:] for p in re.split(r"[\W_]+", keras_name) if p) or "Nested"
        base = "M" + base if base[0].isdigit() else base
        name, k = base, 1
        while name in self.taken_blocks or name in REGISTRY or name in RESERVED or to_snake_case(name) in self.reserved:
            k += 1
            name = f"{base}{k}"
        self.taken_blocks.add(name)
        return name

    def node(self, k: int, values: dict, taken: set, chain: bool) -> str:
        node = self.graph.nodes[k]
        if node.spec.operands is not None:
            target = identifier(node.spec.name or node.spec.kind, taken)
            values[("node", k, 0)] = target
            return f"{target} = {operation_text(node.spec, [values[r] for r in node.inputs], self.names, self.reserved)}"
        text = call_text(node.spec, self.names, self.reserved)
        comment = f"  # {node.spec.comment}" if node.spec.comment else ""
        if chain:
            return f"{text}{comment}"
        base = node.spec.name or to_snake_case(node.spec.kind)
        targets = [identifier(base + s, taken) for s in node.spec.output_suffixes()]
        for t, target in enumerate(targets):
            values[("node", k, t)] = target
        given = [values[r] for r in node.inputs]
        if node.spec.call_inputs or node.spec.call_options:
            arg = call_arguments_text(node.spec, given)
        else:
            arg = "[" + ", ".join(given) + "]" if node.many else given[0]
        return f"{', '.join(targets)} = {text}({arg}){comment}"


# --- the whole import -----------------------------------------------------------------------------


@dataclass
class Imported:
    text: str  # the .nn text
    program: object  # the analysed Program of that text
    concrete: object  # the analysed model with Keras's own sizes (batch symbolic), for weight checks
    info: dict  # file facts (kind, keras_version, ...)


def import_keras(path: str, symbolic: dict | None = None, weights: str | None = None,
                 model_name: str | None = None, out_name: str = "<import>", partial: bool = False) -> Imported:
    """Read a Keras model file and return its .nn text, analysed. Raises ShapeproofError (file = `path`)
    for a file that is not a Keras model, an unsupported layer or argument (all of them listed), a
    model the analyzer rejects, or weights (the archive's, or `weights`) that do not fit. `partial`:
    with unsupported layers, the model up to the first of them instead (its weights not checked)."""
    path = str(path)
    config, info = read_model_config(path)
    problems = Problems()
    try:
        graph = Converter(problems).top(config)
    except ShapeproofError as e:
        e.file = path
        raise
    if not graph.inputs and not problems.items:
        problems.add("model", "the model has no input")
    if not graph.outputs and not problems.items:
        problems.add("model", "the model has no output")
    cut = _first_unsupported(graph) if partial and problems.items else None
    if cut is not None:
        notes = _cut(graph, cut, problems)
        weights, info = None, {**info, "has_weights": False, "kind": "partial"}
    elif problems.items:
        n = len(problems.items)
        raise ShapeproofError(f"{n} unsupported layer{'s' * (n > 1)} or argument{'s' * (n > 1)} "
                              f"(nothing is imported):\n" + "\n".join(f"  - {p}" for p in problems.items),
                              file=path, hint="see the README for the supported layers and arguments (initializers, "
                              "regularizers and constraints are accepted and ignored); --partial imports the "
                              "model up to the first of them")
    version = info.get("keras_version")
    source = f"{Path(path).name}" + (f" (Keras {version})" if version else "")
    header = [f"Imported from {source} by `shapeproof import`.",
              "Layer names are Keras's; arguments at Keras's defaults are left out."]
    if cut is not None:
        header += notes
    concrete_text = emit(graph, {}, header, model_name)
    concrete = _analyse(concrete_text, path, out_name)
    concrete_text = _simplify_axes(graph, concrete, concrete_text, header, model_name)
    concrete = _analyse(concrete_text, path, out_name) if concrete_text is not None else concrete
    model = next(iter(concrete.models.values()))
    _check_build_shapes(config, model, path)
    if weights is not None or (info["kind"] == "keras" and info.get("has_weights")) or info["kind"] == "h5":
        # (a partial import's model is not the file's: its weights are left unchecked)
        check_weights(model, weights or path, path if weights is None else weights)
    if symbolic:
        text = emit(graph, symbolic, header, model_name)
        program = _analyse(text, path, out_name, symbolic=True)
        _check_still_symbolic(next(iter(program.models.values())), symbolic, path)
    else:
        text, program = concrete.source, concrete
    return Imported(text, program, model, info)


def _first_unsupported(graph: Graph) -> int | None:
    """The index of the first node that could not be converted, when a supported prefix precedes it."""
    k = next((k for k, n in enumerate(graph.nodes) if n.spec is None), None)
    return k if k else None


def _cut(graph: Graph, k: int, problems: Problems) -> list[str]:
    """Keep the nodes before `k`; their values nothing else reads become the outputs. Returns the
    header's lines naming where it stopped and every problem."""
    stop = graph.nodes[k].where
    graph.nodes = graph.nodes[:k]
    graph.groups = [g for g in graph.groups if g.end <= k]
    read = {r for n in graph.nodes for r in n.inputs}
    graph.outputs = [("node", j, t) for j, n in enumerate(graph.nodes) for t in range(n.spec.outputs)
                     if ("node", j, t) not in read]
    n = len(problems.items)
    return ["", f"PARTIAL IMPORT (--partial): stops before {stop}, the first unsupported layer;",
            "its outputs are the values nothing after reads. Weights are not checked. "
            f"{n} problem{'s' * (n > 1)} in all:", *(f"  - {p}" for p in problems.items)]


def _analyse(text: str, path: str, out_name: str, symbolic: bool = False):
    from shapeproof import analyzer

    try:
        return analyzer.loads(text, file=out_name)
    except ShapeproofError as e:
        line = ""
        if e.span is not None:
            lines = text.splitlines()
            if 0 < e.span.line <= len(lines):
                line = f"\n    {lines[e.span.line - 1].strip()}"
        why = "with the --symbolic sizes" if symbolic else "as imported"
        hint = e.hint
        if symbolic:
            hint = (hint + "; " if hint else "") + "a layer of the model fixes that axis (Reshape, Flatten + Dense): " \
                "leave it concrete"
        raise ShapeproofError(f"the model does not analyse {why}: {e.message}{line}", file=path, hint=hint) from None


def _check_still_symbolic(model, symbolic: dict, path: str):
    """A --symbolic axis that a layer pins to one size (Reshape((6, 1)) on (batch, N)) is an error:
    the report would be symbolic in name only."""
    import sympy

    chosen = {n for names in symbolic.values() for n in names if n}
    for c in model.constraints:
        if isinstance(c.condition, sympy.Equality) and {s.name for s in c.condition.free_symbols} & chosen:
            raise ShapeproofError(f"with the --symbolic sizes the model is only valid when "
                                  f"{c.condition.lhs} = {c.condition.rhs}: {c.reason}", file=path,
                                  hint="a layer of the model fixes that axis (Reshape, Flatten + Dense, ...): "
                                  "leave it concrete")


def _simplify_axes(graph: Graph, program, text: str, header, model_name):
    """Normalisation axes given from the front (tf.keras 2 writes axis=[3]) become -1 when they are the
    last axis, the default: the text is emitted again (None when nothing changed)."""
    model = next(iter(program.models.values()))
    by_name = {n.name: n for n in model.nodes}
    changed = False
    for node in graph.nodes:
        axis = node.spec.args.get("axis")
        ours = by_name.get(node.spec.name)
        if node.spec.kind in ("BatchNormalization", "LayerNormalization") and isinstance(axis, int) and axis > 0 \
                and ours is not None and axis == len(ours.input_shapes) - 1:
            del node.spec.args["axis"]
            changed = True
    return emit(graph, {}, header, model_name) if changed else None


def _check_build_shapes(config: dict, model, path: str):
    """Keras 3 records each layer's input shape (build_config): ours must agree on every fixed axis."""
    expected = {}

    def walk(entry):
        cfg = entry.get("config") if isinstance(entry, dict) else None
        layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers") if isinstance(cfg, dict) else None
        for layer in layers or []:
            if not isinstance(layer, dict):
                continue
            if layer.get("class_name") in MODEL_CLASSES:
                walk(layer)
                continue
            shape = (layer.get("build_config") or {}).get("input_shape")
            name = (layer.get("config") or {}).get("name") if isinstance(layer.get("config"), dict) else None
            if shape is not None and name:
                expected[name] = shape

    walk(config)
    for node in model.nodes:
        if node.name not in expected:
            continue
        theirs = expected[node.name]
        ours = node.input_shapes if isinstance(node.input_shapes, list) else [node.input_shapes]
        many = isinstance(node.input_shapes, list) and theirs and isinstance(theirs[0], (list, type(None)))
        theirs = theirs if many else [theirs]
        for a, b in zip(ours, theirs):  # noqa: B905  (Keras's record may be partial: compare what there is)
            if not isinstance(b, (list, tuple)) or len(a) != len(b):
                continue
            for d, k in zip(a[1:], b[1:], strict=True):
                if k is not None and d.is_number and int(d) != k:
                    raise ShapeproofError(
                        f"layer {node.name!r}: shapeproof derives the input shape {tuple(a)}, but Keras built the "
                        f"layer for {tuple(b)}", file=path,
                        hint="please report this: the import or a layer's semantics is wrong")


def check_weights(model, weights_path: str, shown: str):
    """The Keras weight file's arrays against the model's weight shapes (layer names and shapes)."""
    import sympy

    if any(not sympy.sympify(d).is_number for n in model.nodes for w in n.weights for d in w.shape):
        return
    try:
        import h5py  # noqa: F401
    except ImportError:
        return  # checked when the weights are loaded
    from .weights import read_weights

    try:
        read_weights(weights_path, model.weight_shapes, model.layer_kinds)
    except ValueError as e:
        message = str(e)
        prefix = f"{weights_path}: "
        message = message.removeprefix(prefix)
        raise ShapeproofError(f"the weights do not fit the model: {message}", file=shown,
                              hint="the weights must come from this same model (model.save or save_weights)") from None


def import_to_file(path: str, output: str | None, symbolic: list[str] | None = None, weights: str | None = None,
                   model_name: str | None = None, partial: bool = False) -> Imported:
    """The command's work: import, then write `output` (when given)."""
    result = import_keras(path, parse_symbolic(symbolic), weights, model_name, out_name=output or "<import>",
                          partial=partial)
    if output:
        try:
            Path(output).write_text(result.text, encoding="utf-8")
        except OSError as e:
            raise ShapeproofError(f"cannot write {output}: {e.strerror or e}", file=path) from None
    return result


__all__ = ["Imported", "import_keras", "import_to_file", "parse_symbolic", "read_model_config"]
