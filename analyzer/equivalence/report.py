"""An equivalence result -> Rich text and the JSON document. Formats what prove.py found; decides nothing.

Formulas print in a compact index notation: `Σ_{c<C} x[b, i1, c]·W[c, i2]` (sums from 0), `⌊j/n⌋`,
`(j mod n)`, `[cond]·(value)` for a zero-padded branch (Iverson bracket).
"""
from __future__ import annotations

import sympy
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sympy.printing.str import StrPrinter

from .prove import Result
from .rewrite import RULES

MAX_STEPS_SHOWN = 24
MAX_WIDTH = 400  # characters of one rewrite shown in the terminal


class _Printer(StrPrinter):
    def _print_Sum(self, expr):
        ranges = []
        for v, lo, hi in reversed(expr.limits):  # outermost first
            if lo == 0:
                ranges.append(f"{self._print(v)}<{self._print(sympy.expand(hi + 1))}")
            else:
                ranges.append(f"{self._print(v)}={self._print(lo)}..{self._print(hi)}")
        body = self._print(expr.function)
        if isinstance(expr.function, sympy.Add):
            body = f"({body})"
        return f"Σ_{{{', '.join(ranges)}}} {body}"

    def _print_floor(self, expr):
        return f"⌊{self._print(expr.args[0])}⌋"

    def _print_Mod(self, expr):
        return f"({self._print(expr.args[0])} mod {self._print(expr.args[1])})"

    def _print_Piecewise(self, expr):
        pieces = list(expr.args)
        if len(pieces) == 2 and pieces[1].expr == 0 and pieces[1].cond is sympy.true:
            return f"[{self._print(pieces[0].cond)}]·({self._print(pieces[0].expr)})"
        parts = [f"{self._print(e)} if {self._print(c)}" if c is not sympy.true else f"{self._print(e)} otherwise"
                 for e, c in pieces]
        return "{" + "; ".join(parts) + "}"

    def _print_Equality(self, expr):
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_And(self, expr):
        return " ∧ ".join(self._print(a) for a in expr.args)

    def _print_Or(self, expr):
        return " ∨ ".join(f"({self._print(a)})" for a in expr.args)


def formula(expr) -> str:
    """A formula in the compact notation above."""
    if isinstance(expr, str):
        return expr
    return _Printer().doprint(expr).replace("**", "^").replace("*", "·")


def summary(result: Result) -> str:
    """One line for `shapeproof check`: the verdict, its level and the gist of the evidence."""
    head = result.verdict + (f" ({result.level})" if result.level else "")
    if result.verdict == "proved":
        kinds = ", ".join(sorted({m.kind for m in result.weight_map})) or "no weights"
        rules = ", ".join(sorted({s.rule for _, s in result.steps} - {"apply-maps", "rename-bound"})) or "none"
        text = f"{head}: φ {kinds}; rules {rules}"
        if result.recurrences:
            text += "; induction over time"
        return text + f"; witness {_witness_short(result.witness)}"
    if result.level == "shapes":
        d = result.shape_differences[0]
        return f"{head}: the {d.where} shapes differ {d.when}: {_shape(d.a)} vs {_shape(d.b)}"
    if result.level == "counterexample" and result.separations:
        s = result.separations[0]
        names = {"A": result.a, "B": result.b}
        text = (f"{head}: at {_sizes(s.sizes)}, {names[s.dependent]}'s output {s.output} depends on input "
                f"{s.position}, which {names[s.blind]}'s never reads")
        text += _proved_inclusions(result)
        refuted = [named(i.direction, result) for i in result.inclusions if i.verdict == "refuted"]
        if refuted:
            text += f", not {' nor '.join(refuted)}"
        return text
    return f"{head}: {result.reason}" + _proved_inclusions(result)


def _proved_inclusions(result: Result) -> str:
    """"; A <= B (how B's weights are set)" for each inclusion proved along a refutation."""
    text = ""
    for i in result.inclusions:
        if i.verdict == "proved":
            kinds = "; ".join(sorted({m.kind for m in i.weight_map} - {"identity"}))
            text += f"; {named(i.direction, result)} ({kinds})"
    return text


def named(direction: str, result: Result) -> str:
    """"A <= B" with the models' names."""
    names = {"A": result.a, "B": result.b}
    left, right = direction.split(" <= ")
    return f"{names[left]} <= {names[right]}"


def _witness_short(w) -> str:
    if w is None:
        return "none"
    if w.skipped:
        return "skipped (too many weights at these sizes)"
    return f"max |A - B| = {max(r.max_abs_diff for r in w.runs):.1e} ({len(w.runs)} sizes, seed {w.seed})"


def _index(idx) -> str:
    return ", ".join(formula(i) for i in idx)


def _map_text(m) -> tuple[str, str, str]:
    return formula(m.lhs()), formula(m.value), m.kind


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "(no symbols)"


def _witness_json(w):
    if w is None:
        return None
    return {"seed": w.seed, "dtype": "float64", "passed": w.passed, "skipped": w.skipped,
            "runs": [{"sizes": r.sizes, "max_abs_diff": r.max_abs_diff, "max_abs_output": r.scale} for r in w.runs]}


def _witness_text(w) -> str:
    if w is None:
        return "none"
    if w.skipped:
        return f"skipped: {w.skipped}"
    runs = "; ".join(f"{_sizes(r.sizes)}: max |A - B| = {r.max_abs_diff:.2e}" for r in w.runs)
    return f"seed {w.seed}, float64, random weights mapped by φ and random inputs — {runs}"


def to_json(result: Result, file: str | None = None) -> dict:
    """The JSON document of `shapeproof equiv --json`."""
    doc = {
        "file": file, "a": result.a, "b": result.b, "relation": result.relation,
        "verdict": result.verdict, "holds": result.holds, "level": result.level, "reason": result.reason,
        "statement": result.statement,
        "symbols": [str(s) for s in result.symbols], "assumptions": result.assumptions,
        "formulas": [{"label": c.label, "index": [formula(i) for i in c.index],
                      "A": formula(c.source), "B": formula(c.target),
                      "A_normal": formula(c.source_normal) if c.source_normal is not None else None,
                      "B_normal": formula(c.target_normal) if c.target_normal is not None else None,
                      "canonical": formula(c.target_canonical) if c.equal else None}
                     for c in result.compared],
        "input_map": [dict(zip(("target", "value", "kind"), _map_text(m))) for m in result.input_maps],
        "output_map": result.output_maps,
        "weight_map": [dict(zip(("target", "value", "kind"), _map_text(m))) for m in result.weight_map],
        "state_map": [dict(zip(("target", "value", "kind"), _map_text(m))) for m in result.state_maps],
        "recurrences": [{"A": a, "B": b} for a, b in result.recurrences],
        "steps": [{"side": side, "rule": s.rule, "before": formula(s.before), "after": formula(s.after)}
                  for side, s in result.steps],
        "rules": {r: RULES[r] for r in sorted({s.rule for _, s in result.steps}) if r in RULES},
        "witness": _witness_json(result.witness),
        "shape_differences": [{"where": d.where, "A": [str(x) for x in d.a], "B": [str(x) for x in d.b], "when": d.when}
                              for d in result.shape_differences],
        "counterexample": [{"dependent": s.dependent, "blind": s.blind, "sizes": s.sizes, "seed": s.seed,
                            "output": list(s.output), "input": list(s.position), "change": s.change,
                            "dependent_reads": [list(p) for p in s.dependent_reads],
                            "blind_reads": [list(p) for p in s.blind_reads]} for s in result.separations],
        "inclusions": [{"direction": i.direction, "verdict": i.verdict, "reason": i.reason,
                        "weight_map": [dict(zip(("target", "value", "kind"), _map_text(m))) for m in i.weight_map],
                        "witness": _witness_json(i.witness)} for i in result.inclusions],
        "candidates_tried": result.candidates,
        "seconds": round(result.seconds, 4),
    }
    return doc


STYLE = {"proved": "bold green", "refuted": "bold red", "unknown": "bold yellow"}


def render(result: Result, console: Console, steps: int = MAX_STEPS_SHOWN):
    """The proof, refutation or unknown, for the terminal."""
    asked = {"==": "==", "!=": "==", "<=": "<="}[result.relation]
    console.print(f"[bold]{escape(result.a)} {asked} {escape(result.b)}[/]: [{STYLE[result.verdict]}]"
                  f"{result.verdict}[/]" + (f" ({result.level})" if result.level else "")
                  + f"   [dim]{result.seconds:.2f} s[/]")
    console.print(f"  A = {escape(result.a)}, B = {escape(result.b)}")
    if result.statement:
        label = {"proved": "Statement", "refuted": "Claim (refuted)", "unknown": "Claim (not decided)"}[result.verdict]
        console.print(f"[bold]{label}[/]  {escape(result.statement)}")
    for d in result.shape_differences:
        console.print(f"[bold]Shapes[/]  {escape(d.where)}: A {escape(_shape(d.a))}, B {escape(_shape(d.b))} — differ {escape(d.when)}")
    if result.compared:
        console.print("[bold]Element formulas[/]")
        for c in result.compared:
            console.print(escape(f"  {c.label}, element [{_index(c.index)}]:"))
            console.print(f"    A: {escape(formula(c.source))}")
            console.print(f"    B: {escape(formula(c.target))}")
    for title, maps in (("Input map", result.input_maps), ("Weight map φ (B's weights from A's)", result.weight_map),
                        ("State map (induction hypothesis)", result.state_maps)):
        if maps:
            console.print(f"[bold]{title}[/]")
            for lhs, rhs, kind in map(_map_text, maps):
                console.print(f"  {escape(lhs)} := {escape(rhs)}   [dim]{escape(kind)}[/]")
    if any(k == "reshape" for k in result.output_maps):
        console.print("[bold]Output map[/]  B's output read as A's by a row-major reshape")
    if result.recurrences:
        pairs = ", ".join(f"{a} ~ {b}" for a, b in result.recurrences)
        console.print(f"[bold]Induction over time[/]  {escape(pairs)}: both start from zero states; if the mapped "
                      "states agree at step t - 1, one cell step (compared below) makes them agree at t; so they "
                      "agree at every step, for every T.")
    if result.steps:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title_justify="left",
                      title=f"Rewrite steps ({len(result.steps)})", title_style="bold")
        table.add_column("", style="dim")
        table.add_column("rule")
        table.add_column("rewrite", overflow="fold")
        for side, s in result.steps[:steps]:
            text = f"{formula(s.before)}  →  {formula(s.after)}"
            table.add_row(side, s.rule, escape(text if len(text) <= MAX_WIDTH else text[:MAX_WIDTH] + " …"))
        console.print(table)
        if len(result.steps) > steps:
            console.print(f"  [dim]... {len(result.steps) - steps} more (--json lists them all)[/]")
    if result.verdict == "proved" or any(c.equal for c in result.compared):
        console.print("[bold]Canonical form (shared)[/]")
        for c in result.compared:
            if c.equal:
                console.print(f"  {escape(c.label)}: {escape(formula(c.target_canonical))}")
    if result.witness is not None:
        console.print(f"[bold]Witness[/]  {escape(_witness_text(result.witness))}")
    for s in result.separations[:1]:
        console.print(f"[bold]Counterexample[/]  at {escape(_sizes(s.sizes))}, seed {s.seed}: {s.dependent}'s output "
                      f"{s.output} changes by {s.change:.3g} when input {s.position} changes by 1; {s.blind}'s output "
                      f"{s.output} reads only {len(s.blind_reads)} input element(s), never {s.position}")
    for inc in result.inclusions:
        style = STYLE[inc.verdict]
        console.print(f"[bold]Inclusion[/] {escape(named(inc.direction, result))}: [{style}]{inc.verdict}[/] — "
                      f"{escape(inc.reason)}")
        if inc.verdict == "proved" and result.relation != "<=":
            for lhs, rhs, kind in map(_map_text, inc.weight_map):
                console.print(f"    {escape(lhs)} := {escape(rhs)}   [dim]{escape(kind)}[/]")
            if inc.witness is not None:
                console.print(f"    witness: {escape(_witness_text(inc.witness))}")
    level = f" ({result.level})" if result.level else ""
    console.print(f"[bold]Verdict[/]  [{STYLE[result.verdict]}]{result.verdict}[/]{level}: {escape(result.reason)}")


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"
