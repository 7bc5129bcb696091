"""An analysed model -> the source of a Python module of Numba CPU kernels.

The module holds one `@njit` kernel per layer that computes (views need none; static sizes as
literals, sizes that depend on a free symbol read from the arrays), one compiled `forward` that
allocates every activation and chains the kernels (a forward pass is one native call), and the
shared runtime (codegen/runtime.py). It imports NumPy and Numba only (and shapeproof.keras.weights
when a Keras weight file is loaded). The text depends only on the model, so it is stable byte for
byte (golden-testable); codegen/simplify.py tidies it last.
"""
from __future__ import annotations

import re

import keyword

import sympy

from shapeproof.analyzer.graph import Model
from shapeproof.analyzer.layers import format_shape

from ..activations import CONSTANTS
from ..errors import CodegenError
from shapeproof.analyzer.exprs import shape
from ..lowering import axis_of, docstring, identifier, is_view, tables
from ..runtime import RUNTIME
from ..simplify import drop_unused, simplify, top_level_names
from ..writer import Writer, wrap_call
from . import epilogue
from .base import EMITTERS, Site
from .prelude import PRELUDE
from .work import BRANCH, SERIAL, branch_body, schedule, serial_body, serial_helpers, serial_test

RESERVED = {"math", "np", "njit", "prange", "DT", "forward"}

# Forward is compiled (a pass is one native call) when it makes at most this many kernel calls; a
# larger model's forward is plain Python calling the compiled kernels (codegen/net.py bind_forward).
# Why: Numba links every kernel a compiled function calls into that function's module and optimises
# it all again: ResNet50's compiled forward (176 calls, 38 kernels, before epilogue fusion) took 10.7 s
# of its 45 s cold build. From Python a call costs 1-2 us more (MobileNetV2, 68 calls: 0.63 ms a
# pass against 0.57 compiled; ResNet50 before fusion, 176 calls: 5.7 against 5.3). A small model's
# compiled forward builds in 1.5-1.7 s (ConvPoolLSTM, TextCNN), and its passes are short enough
# (ConvPoolLSTM: 0.02 ms at batch 1) for that to matter.
JIT_FORWARD_CALLS = 32


def emit_module(model: Model, dtype: str = "float32", source_file: str = "", parallel: bool = True) -> str:
    """The generated module's source for `model` (every weight shape must be concrete)."""
    missing = sorted({n.type for n in model.nodes if n.type not in EMITTERS and not is_view(n)})
    if missing:
        raise CodegenError(f"no CPU kernel yet for {', '.join(missing)}")
    free = model.free_symbols
    for s in free:
        if s.name in RESERVED or keyword.iskeyword(s.name):
            raise CodegenError(f"rename the symbol {s.name!r}: the generated code uses that name")
    for node in model.nodes:
        for w in node.weights:
            if not all(sympy.sympify(d).is_number for d in w.shape):
                raise CodegenError(f"{node.name}.{w.name} has shape {format_shape(w.shape)}: give its "
                                   "free sizes values with --set so that the weights have fixed shapes")
    w = Writer()
    w.lines_of(docstring(model, source_file))
    prelude = PRELUDE.format(dtype=dtype, parallel=parallel, constants=CONSTANTS)
    copies, helpers = serial_helpers(prelude)  # for kernels with small work (codegen/cpu/work.py)
    prelude += copies
    w.lines_of(prelude)
    w.line()
    tables(w, model)
    sites = [Site.of(node, "k_" + identifier(node.name)) for node in model.nodes]
    fused = epilogue.plan(model, sites)  # layer -> the layer whose kernel computes it
    written: set = set()
    shared: dict[str, str] = {}  # a kernel's text, its own name left out -> the function that has it
    for node, site in zip(model.nodes, sites):
        if is_view(node) or node.name in fused:
            continue
        part = Writer()
        _kernel(part, node, site, written, helpers, parallel)
        key = _without_name(part.lines, site.fn)
        if key in shared:  # layers of one configuration (ResNet's repeated blocks): one function, compiled once
            site.fn = shared[key]
            continue
        shared[key] = site.fn
        w.line()
        w.line()
        w.lines.extend(part.lines)
    packs: dict = {}  # packing function -> its source (layers that share a kernel share its packing)
    for site in sites:
        for weight, (body, _) in site.packs.items():
            fn = _pack_name(site, weight)
            packs[fn] = [f"def {fn}(w):", '    """The weight as the kernel reads it (see PACKED)."""',
                         *("    " + line for line in body), "    return packed"]
    for lines in packs.values():
        w.line()
        w.line()
        w.lines.extend(lines)
    w.line()
    w.line()
    _forward(w, model, sites, fused)
    w.line()
    w.line()
    w.lines_of(RUNTIME)
    return drop_unused(simplify(w.text()), top_level_names(prelude))


def _kernel(w: Writer, node, site: Site, written: set, helpers: list[str], parallel: bool = True):
    emitter = EMITTERS[node.type]
    shapes_in = " + ".join(format_shape(s) for s in site.inputs)
    shapes_out = ", ".join(format_shape(s) for s in site.outputs)
    w.lines.extend(wrap_call(f"# {node.name}: {node.text}"))
    for stage in site.epilogue:
        w.lines.extend(wrap_call(f"#   then {stage.name}: {stage.text}"))
    w.line(f"#   {shapes_in} -> {shapes_out}")
    body = Writer()
    body.level = 1
    if emitter.reads_sizes:
        _read_sizes(site, emitter.reads_sizes)
    epilogue.tables(site, body)
    emitter(site, body)
    for helper in site.helpers:
        if helper in written:  # shared helpers (recurrent GEMMs, ...) are written once
            continue
        written.add(helper)
        w.lines_of(helper)
        w.line()
        w.line()
    # codegen/cpu/work.py; a serial build (parallel=False) needs no second, serial body
    mode = schedule(node) if parallel and getattr(emitter, "parallel", True) else SERIAL
    site.schedule = mode  # read by _forward (an emitter may set `parallel` per site)
    flag = ", parallel=PARALLEL" if mode != SERIAL else ""
    w.line(f"@njit(cache=True{flag}, fastmath=FASTMATH)")
    w.lines.extend(wrap_call(f"def {site.fn}({', '.join(site.args() + (['serial'] if mode == BRANCH else []))}):"))
    if mode == BRANCH:
        w.lines.extend(branch_body(body.lines, helpers))
    else:
        w.lines.extend(serial_body(body.lines, helpers) if mode == SERIAL else body.lines)


def _read_sizes(site: Site, which: str):
    """Make sizes of the site above 1 symbols (equal sizes one symbol), so that its kernel reads them off
    its arrays and layers of one kind that differ only in them share one kernel: `which` is "all" (the
    kernels printed from element formulas: DenseNet121's 65 BatchNormalization kernels became one) or
    "spatial" (the input's axes between batch and channels: global pooling). Sizes of 1 stay literal:
    they say where an operand broadcasts."""
    symbols: dict = {}

    def generic(d):
        d = sympy.sympify(d)
        if not d.is_number or d == 1:
            return d
        return symbols.setdefault(d, sympy.Symbol(f"size{len(symbols)}", integer=True, positive=True))

    if which == "spatial":
        site.inputs = [(s[0], *map(generic, s[1:-1]), s[-1]) for s in site.inputs]
        return
    site.inputs = [tuple(map(generic, s)) for s in site.inputs]
    site.outputs = [tuple(map(generic, s)) for s in site.outputs]


def _name_for(fn: str, types: tuple, calls: dict, aliases: dict) -> str:
    """The name forward calls kernel `fn` by with argument `types`: `fn` itself, or an alias where `fn`
    was called with other types (a plain-Python forward binds each name to one compiled version)."""
    for name in [fn] + [a for a, f in aliases.items() if f == fn]:
        if calls.setdefault(name, types) == types:
            return name
    alias = f"{fn}_as_{len(aliases)}"
    aliases[alias] = fn
    calls[alias] = types
    return alias


def _pack_name(site: Site, weight: str) -> str:
    """The function that packs `weight` for the site's kernel (one per kernel function: shared with it)."""
    return f"pack_{site.fn[2:] if site.fn.startswith('k_') else site.fn}_{weight}"


def _without_name(lines: list[str], fn: str) -> str:
    """A kernel's source without its comments and with its own name replaced: equal for two layers
    whose kernels compute the same thing on the same sizes."""
    code = "\n".join(line for line in lines if not line.startswith("#"))
    return re.sub(rf"\b{re.escape(fn)}\b", "KERNEL", code)


def _forward(w: Writer, model: Model, sites: list[Site], fused: dict[str, str]):
    inputs = {i.name: "x_" + identifier(i.name) for i in model.inputs}
    params = list(inputs.values())
    # each array's (rank, dtype) as forward holds it, for KERNEL_ARGS ("float": DT; all C-contiguous)
    kinds = {inputs[i.name]: (len(i.shape), "float" if i.dtype.startswith("float") else i.dtype)
             for i in model.inputs}
    weight_names: list[list[str]] = []
    taken = set(params)
    packed = []  # (index among forward's weights, packing function, packed rank)
    for node, site in zip(model.nodes, sites):
        names = []
        for weight in node.weights:
            name = f"w_{identifier(node.name)}_{weight.name}"
            k = 1
            while name in taken:
                name, k = f"w_{identifier(node.name)}_{weight.name}_{k}", k + 1
            taken.add(name)
            names.append(name)
            kinds[name] = (len(weight.shape), "float")
            if weight.name in site.packs:  # forward takes it re-laid out (pack_weights)
                fn, packed_shape = _pack_name(site, weight.name), site.packs[weight.name][1]
                kinds[name] = (len(packed_shape), "float")
                packed.append((len(params) - len(inputs) + len(names) - 1, fn, len(packed_shape)))
        weight_names.append(names)
        params += names
    calls: dict = {}  # name forward calls a kernel by -> its argument types
    aliases: dict = {}  # another name of a kernel, called on arrays of other ranks or dtypes -> the kernel
    jit = sum(not is_view(node) and node.name not in fused for node in model.nodes) <= JIT_FORWARD_CALLS
    chains: dict[str, list] = {}  # a layer -> the layers fused into its kernel (their names, weights)
    for node, names in zip(model.nodes, weight_names):
        if node.name in fused:
            chains.setdefault(fused[node.name], []).append((node.name, names))
    if jit:
        w.line("@njit(cache=True)")
    else:
        w.line("# plain Python: compiled, it would link every kernel into one module and take seconds to build")
    head = wrap_call(f"def forward({', '.join(params)}):")
    w.lines.extend(head[:-1])
    with w.block(head[-1][:-1]):
        w.line('"""Every layer in order; inputs first, then the weights in WEIGHT_SHAPES order."""')
        for s in model.free_symbols:
            w.line(f"{s.name} = {axis_of(model, s, inputs)}")
        values = {(i.name, 0): inputs[i.name] for i in model.inputs}
        outputs = set(model.output_refs)
        for node, site, names in zip(model.nodes, sites, weight_names):
            if node.name in fused:  # its kernel's call wrote it
                continue
            if is_view(node):
                var = "v_" + identifier(node.name)
                copy = ".copy()" if (node.name, 0) in outputs else ""  # the caller's array is its own
                w.line(f"{var} = {values[node.input_refs[0]]}.reshape({shape(node.output_shapes[0])}){copy}")
                values[(node.name, 0)] = var
                kinds[var] = (len(node.output_shapes[0]), kinds[values[node.input_refs[0]]][1])
                continue
            outs = []
            chain = chains.get(node.name, [])
            for k, out_shape in enumerate(node.output_shapes):
                # `__k`: outputs of `lstm` must not collide with the next layer, `lstm_1`
                var = "v_" + identifier(node.name) + (f"__{k}" if len(node.output_shapes) > 1 else "")
                if chain:  # the array holds the last fused layer's output
                    var = "v_" + identifier(chain[-1][0])
                w.line(f"{var} = np.empty({shape(out_shape)}, dtype=DT)")
                values[(node.name, k)] = var
                outs.append(var)
                kinds[var] = (len(out_shape), "float")
            for name, weights in chain:
                values[(name, 0)] = outs[0]
                names = names + weights
            given = [values[ref] for ref in node.input_refs]
            serial = [serial_test(node)] if getattr(site, "schedule", None) == BRANCH else []
            types = tuple(kinds[v] for v in given + names + outs) + ((0, "bool"),) * len(serial)
            fn = _name_for(site.fn, types, calls, aliases)
            for line in wrap_call(f"{fn}({', '.join(given + names + outs + serial)})", 120 - 4 * w.level):
                w.line(line)
        results = [values[ref] for ref in model.output_refs]
        w.line("return " + (results[0] if len(results) == 1 else "(" + ", ".join(results) + ")"))
    w.line()
    w.line()
    if aliases:
        w.line("# kernels forward also calls on arrays of other ranks or dtypes (one text, as LayerNormalization")
        w.line("# reads a (batch, 1, 1, C) and a (batch, C) array): each such call gets its own compiled version")
        for alias, fn in aliases.items():
            w.line(f"{alias} = {fn}")
    w.line("# forward is compiled (else plain Python, calling each kernel's compiled entry point)")
    w.line(f"JIT_FORWARD = {jit}")
    w.line("# (index among forward's weight arguments, packing function, rank): weights forward takes re-laid")
    w.line("# out, by pack_weights once when they are set")
    w.line("PACKED = (")
    for i, fn, rank in packed:
        w.line(f"    ({i}, {fn}, {rank}),")
    w.line(")")
    w.line("# each kernel's argument types as forward calls it, `<rank><dtype>` (float: DT; every array")
    w.line("# C-contiguous; 0bool a flag): codegen/net.py may compile kernels ahead of forward, in several processes")
    w.line("KERNEL_ARGS = (")
    for fn, args in calls.items():
        w.line(f"    ({fn!r}, {' '.join(f'{rank}{dtype}' for rank, dtype in args)!r}),")
    w.line(")")


