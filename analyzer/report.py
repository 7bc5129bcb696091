"""Results -> Rich tables and the JSON document. Formats what the analyzer derived; computes nothing.

Terminal numbers use thousands separators and `·` for products (`12,800,000·batch`); the JSON
uses plain integers where concrete and SymPy's `str()` otherwise.
"""
from __future__ import annotations

import sympy
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .assertions import Verdict
from .explain import explain
from .formatting import condition_text, pretty
from .inequalities import least_values
from .graph import DTYPE_BYTES, Model, Node, block_inputs
from .program import Program

# --- numbers and formulas --------------------------------------------------------------------


def json_value(expr):
    """A JSON integer when concrete, "all" for an unbounded receptive field, else SymPy's str()."""
    expr = sympy.sympify(expr)
    if expr is sympy.oo:
        return "all"
    if expr.is_Integer:
        return int(expr)
    return str(expr)


def shape_text(shape) -> str:
    return "(" + ", ".join(pretty(d, separators=False) for d in shape) + ")"


def nbytes(expr) -> str:
    """Bytes with a binary unit when concrete; the formula in bytes otherwise."""
    expr = sympy.sympify(expr)
    if not expr.is_number:
        return f"{pretty(expr)} B"
    value = int(expr)
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value} B"


def rf_text(sizes: list) -> str:
    shown = [pretty(s) for s in sizes if s != 0]
    if not shown:
        return "-"
    return shown[0] if len(set(shown)) == 1 and shown[0] == "all" else "×".join(shown)


# --- JSON ------------------------------------------------------------------------------------


def model_json(model: Model) -> dict:
    return {
        "name": model.name,
        "symbols": {k: (None if v is None else int(v)) for k, v in model.symbols.items()},
        "inputs": [{"name": i.name, "shape": [json_value(d) for d in i.shape], "dtype": i.dtype}
                   for i in model.inputs],
        "layers": [_layer_json(n) for n in model.nodes],
        "outputs": [{"name": name, "shape": [json_value(d) for d in shape]} for name, shape in model.outputs],
        "total_params": json_value(model.total_params),
        "trainable_params": json_value(model.trainable_params),
        "non_trainable_params": json_value(model.non_trainable_params),
        "macs": json_value(model.macs),
        "param_bytes": json_value(model.total_params * DTYPE_BYTES["float32"]),
        "peak_activation_bytes": json_value(model.peak_activation_bytes),
        "fused_peak_bytes": json_value(model.fused_peak_bytes),
        "constraints": [str(c.condition) for c in model.constraints],
    }


def _layer_json(node: Node) -> dict:
    shapes = [[json_value(d) for d in s] for s in node.output_shapes]
    return {
        "name": node.name, "type": node.type, "line": node.span.line, "inputs": node.inputs,
        "output_shape": shapes[0] if len(shapes) == 1 else shapes,
        "params": json_value(node.params), "trainable_params": json_value(node.trainable_params),
        "non_trainable_params": json_value(node.non_trainable_params),
        "macs": json_value(node.macs), "receptive_field": [json_value(s) for s in node.receptive_field],
        "activation_elements": json_value(node.elements), "activation_bytes": json_value(node.bytes),
        **({"block": node.block} if node.block else {}),
    }


def program_json(program: Program, verdicts: list[Verdict] | None, only: str | None = None,
                 training: dict | None = None) -> dict:
    models = [m for name, m in program.models.items() if only in (None, name)]
    return {"file": program.file, "models": [{**model_json(m), **_training_json((training or {}).get(m.name))}
                                             for m in models],
            "assertions": [{"line": v.line, "text": v.text, "holds": v.holds, "reason": v.reason}
                           for v in verdicts or []]}


def _training_json(memory) -> dict:
    if memory is None:
        return {}
    return {"training_memory": {"optimizer": memory.optimizer, "parameters": json_value(memory.parameters),
                                "gradients": json_value(memory.gradients),
                                "optimizer_state": json_value(memory.optimizer_state),
                                "activations": json_value(memory.activations), "total": json_value(memory.total)}}


# --- terminal --------------------------------------------------------------------------------


def model_table(model: Model, expand: bool = False) -> Table:
    """One row per layer, and per block call (its layers under it with `expand`, as Keras's
    expand_nested)."""
    table = Table(title=_title(model), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False, expand=False)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output shape", overflow="fold")
    table.add_column("Params", justify="right", overflow="fold")
    table.add_column("MACs", justify="right", overflow="fold")
    table.add_column("RF", justify="right", overflow="fold")
    graph = not is_chain(model)
    if graph:
        table.add_column("Connected to", overflow="fold")
    for i in model.inputs:
        table.add_row(Text(f"{i.name} (Input)", style="dim"), Text(shape_text(i.shape), style="dim"), "", "", "",
                      *([""] if graph else []))
    by_name = {n.name: n for n in model.nodes}
    calls = model.extra.get("blocks", {})
    shown = set()
    for n in model.nodes:
        if n.block is not None and n.block not in shown:
            shown.add(n.block)
            kind, outputs = calls[n.block]
            members = [m for m in model.nodes if m.block == n.block]
            last = by_name[outputs[0][0]]
            shapes = "\n".join(shape_text(by_name[name].output_shapes[k]) for name, k in outputs)
            table.add_row(Text(_label(n.block, kind), style="bold"), shapes,
                          pretty(sympy.Add(*(m.params for m in members))), pretty(sympy.Add(*(m.macs for m in members))),
                          rf_text(last.receptive_field), *([connected_to(block_inputs(members), calls, by_name,
                                                                         expand)] if graph else []))
        if n.block is not None and not expand:
            continue
        shapes = "\n".join(shape_text(s) for s in n.output_shapes)
        table.add_row(("  " if n.block else "") + _label(n.name, n.layer.keras_class), shapes, pretty(n.params), pretty(n.macs),
                      rf_text(n.receptive_field), *([connected_to(n.input_refs, calls, by_name, expand)] if graph else []))
    return table


def _label(name: str, kind: str) -> str:
    return f"{name} ({kind})" if len(name) + len(kind) < 22 else f"{name}\n({kind})"


def is_chain(model: Model) -> bool:
    """Whether every layer takes the one value before it (a Sequential model: no "Connected to")."""
    previous = [(model.inputs[0].name, 0)] if len(model.inputs) == 1 else None
    for n in model.nodes:
        if previous is None or n.input_refs != previous:
            return False
        previous = [(n.name, 0)]
    return len(model.output_refs) == 1


def connected_to(refs, calls: dict, by_name: dict, expand: bool) -> str:
    """The values a layer reads, as Keras's summary lists them (`dense`, `lstm[2]` for a later output);
    a value made inside a block call is that call's output (`encoder`, `encoder[1]`) unless expanded."""
    shown = []
    for name, k in refs:
        block = None if expand or name not in by_name else by_name[name].block
        if block is not None:
            name, k = block, calls[block][1].index((name, k))
        shown.append(name if k == 0 else f"{name}[{k}]")
    return ", ".join(shown)


def _title(model: Model) -> str:
    # A free size renamed with --set L=T reads L=T: the table's shapes say T.
    given = ", ".join((k if str(model.values.get(k, k)) == k else f"{k}={model.values[k]}") if v is None
                      else f"{k}={v}" for k, v in model.symbols.items())
    return f"Model {model.name}({given})"


def conditions_text(constraints) -> list[str]:
    """The validity conditions in words: one `H ≥ 7` per size bounded alone (the largest bound), then
    the others (`H divisible by 4`, formulas), without repeats."""
    least: dict = {}
    others = []
    for c in constraints:
        found = least_values(c.condition)
        if found:
            (s, v), = found.items()
            least[s] = max(least.get(s, 0), v)
        else:
            others.append(condition_text(c.condition))
    return [f"{s} ≥ {v}" for s, v in least.items()] + list(dict.fromkeys(others))


def model_summary(model: Model, training=None) -> Text:
    t = Text()
    total, trainable, frozen = model.total_params, model.trainable_params, model.non_trainable_params
    t.append(f"Total params: {pretty(total)} ({nbytes(total * 4)})\n", style="bold")
    t.append(f"Trainable params: {pretty(trainable)} ({nbytes(trainable * 4)})\n")
    t.append(f"Non-trainable params: {pretty(frozen)} ({nbytes(frozen * 4)})\n")
    macs = model.macs
    t.append(f"MACs: {pretty(macs)}  (FLOPs = 2·MACs = {pretty(2 * macs)})\n")
    t.append(f"Peak activation memory: {nbytes(model.peak_activation_bytes)}\n")
    if model.fused_peak_bytes is not None and model.fused_peak_bytes != model.peak_activation_bytes:
        # attention: Keras materialises the T_q x T_k scores, the generated kernels do not
        t.append(f"Peak with shapeproof's fused kernels: {nbytes(model.fused_peak_bytes)}\n")
    if model.constraints:
        t.append("Valid when: ", style="bold")
        t.append(",  ".join(conditions_text(model.constraints)) + "\n")
    if training is not None:
        t.append(f"Training memory ({training.optimizer}): ", style="bold")
        t.append(f"{nbytes(training.total)} = parameters {nbytes(training.parameters)} + gradients "
                 f"{nbytes(training.gradients)} + optimizer state {nbytes(training.optimizer_state)} + "
                 f"activations and their gradients {nbytes(training.activations)}\n")
    return t


def explain_text(model: Model) -> Text:
    t = Text()
    for n in model.nodes:
        e = explain(n)
        t.append(f"{n.name} ({n.layer.keras_class})", style="bold")
        t.append(f"  line {n.span.line}: {n.text}\n")
        if e.generic_input is not None:
            subst = ", ".join(f"{k}={pretty(v)}" for k, v in e.substitution.items())
            outs = " | ".join(shape_text(s) for s in e.generic_output)
            t.append(f"    output  {shape_text(e.generic_input)} -> {outs}   with {subst}\n")
        t.append(f"            = {' | '.join(shape_text(s) for s in n.output_shapes)}\n")
        if n.weights:
            generic = " + ".join(_product(g) for _, g, _ in e.weight_terms)
            real = " + ".join(_product(r) for _, _, r in e.weight_terms)
            names = ", ".join(f"{name} {shape_text(r)}" for name, _, r in e.weight_terms)
            steps = [generic, pretty(e.params_formula), pretty(sympy.factor_terms(e.params_formula))] \
                if e.params_formula is not None else []
            t.append(f"    params  {_chain(steps + [real, pretty(n.params)])}   [{names}]\n")
        if n.macs != 0:
            steps = [pretty(e.macs_formula)] if e.macs_formula is not None else []
            t.append(f"    MACs    {_chain(steps + [pretty(n.macs)])}\n")
        t.append(f"    memory  {pretty(n.elements)} elements, {nbytes(n.bytes)} ({n.dtype})\n")
        t.append(f"    receptive field  {rf_text(n.receptive_field)}\n")
    return t


def _chain(steps: list[str]) -> str:
    """`a = b = c`, each distinct step once."""
    return " = ".join(dict.fromkeys(steps))


def _product(shape) -> str:
    return "·".join(pretty(d) if not (sympy.sympify(d).is_Add) else f"({pretty(d)})" for d in shape) or "1"


def verdict_text(verdicts: list[Verdict]) -> Text:
    t = Text()
    marks = {True: ("holds", "green"), False: ("FAILS", "red"), None: ("undecided", "yellow")}
    for v in verdicts:
        word, style = marks[v.holds]
        t.append(f"line {v.line}: assert {v.text}: ")
        t.append(word, style=f"bold {style}")
        t.append(f" ({v.reason})\n")
    return t


def render_report(program: Program, console: Console, only: str | None = None, explain_layers: bool = False,
                  verdicts: list[Verdict] | None = None, training: dict | None = None, expand: bool = False):
    """Every model's table and summary (`training`: {model name: TrainingMemory} to add that line;
    `expand`: the layers of each block call under its row)."""
    for name, model in program.models.items():
        if only not in (None, name):
            continue
        parts = [model_table(model, expand), Text(), model_summary(model, (training or {}).get(name))]
        if explain_layers:
            parts += [explain_text(model)]
        console.print(Group(*parts))
    if verdicts:
        console.print(Text("Assertions", style="bold"))
        console.print(verdict_text(verdicts))


def layer_catalog(name: str | None = None) -> list[dict]:
    """Every registered layer kind (or the one called `name`, aliases included): its Keras name, call
    signature, aliases, what it computes (its docstring) and whether the prover has its element formula."""
    from .layers import REGISTRY
    from .layers.base import Layer, signature

    kinds: dict[str, list[str]] = {}
    for key, cls in REGISTRY.items():
        kinds.setdefault(cls.kind, [])
        if key != cls.kind:
            kinds[cls.kind].append(key)
    if name is not None:
        cls = REGISTRY.get(name)
        if cls is None:
            from .errors import ShapeproofError
            from .values import did_you_mean

            raise ShapeproofError(f"no layer kind named {name!r}",
                                  hint=did_you_mean(name, REGISTRY) or "`shapeproof layers` lists them all")
        kinds = {cls.kind: kinds[cls.kind]}
    rows = []
    for kind in sorted(kinds):
        cls = REGISTRY[kind]
        element = cls.element is not Layer.element
        rows.append({"kind": kind, "signature": signature(cls), "aliases": sorted(kinds[kind]),
                     "doc": " ".join((cls.__doc__ or "").split()),
                     "element_formula": element, "no_element_formula": None if element else cls.no_element_formula})
    return rows


def render_layers(rows: list[dict], console: Console, detail: bool = False):
    """The catalogue as a table, or one kind in full."""
    if detail:
        row = rows[0]
        console.print(Text(row["signature"], style="bold"))
        console.print(Text(row["doc"]))
        if row["aliases"]:
            console.print("also called: " + ", ".join(row["aliases"]))
        console.print("equivalence prover: " + ("has its element formula" if row["element_formula"] else
                                               f"no element formula ({row['no_element_formula']})"))
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("layer")
    table.add_column("what it computes")
    for row in rows:
        table.add_row(row["kind"], Text(row["doc"]))
    console.print(table)
    console.print(f"{len(rows)} layer kinds; `shapeproof layers NAME` shows one with its arguments")
