"""Generated source without trivial arithmetic: `op0 * 1 + t1 * 1 - pad1` -> `op0 + t1 - pad1`,
`for t1 in range(1):` -> `t1 = 0` and its body one level up (with `t1` replaced by 0 where it reads).

Emitters print general loop nests whose trip counts and strides are often 1 for a given layer; this
pass, run on a finished module by both targets, removes what that leaves behind. It works line by
line and rewrites only a line that parses on its own and changed, so comments, wrapped calls and
the emitters' layout stay as written. Only integer literals are folded (`x * 1`, `x + 0`, `0 * i`
with `i` a name or an integer expression), so float results are unchanged bit for bit.
"""
from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from collections import Counter

LOOP_OF_ONE = re.compile(r"^(\s*)for (\w+) in range\(1\):\s*$")


def simplify(text: str) -> str:
    """The module text with single-trip loops unrolled, integer identities folded and pure
    assignments that nothing reads dropped (a padding of 0 that no loop uses any more)."""
    lines = text.split("\n")
    lines = _unroll_single_trips(lines)
    strings = _in_strings(lines)
    lines = [line if inside else _fold_line(line) for line, inside in zip(lines, strings)]
    return "\n".join(_drop_dead_stores(lines))


PURE_CALLS = ("max", "min", "int")
WORD = re.compile(r"\w+")  # a name is read on a line when it is one of the line's words


def _drop_dead_stores(lines: list[str]) -> list[str]:
    """Lines `name = <pure expression>` inside a function whose name the function never reads."""
    strings = _in_strings(lines)
    starts = [i for i, line in enumerate(lines) if line.startswith("def ")] + [len(lines)]
    dead = set()
    for start, end in zip(starts, starts[1:]):
        stores = {}  # line -> the name it assigns, for the pure assignments
        for i in range(start + 1, end):
            match = None if strings[i] else re.match(r"^\s+(\w+) = (.+)$", lines[i])
            if match and _pure(match.group(2)):
                stores[i] = match.group(1)
        words = {i: WORD.findall(lines[i]) for i in range(start + 1, end)}
        uses = Counter(word for line_words in words.values() for word in line_words)  # of the lines still kept
        changed = True
        while changed:
            changed = False
            for i, name in stores.items():
                if i not in dead and uses[name] == words[i].count(name):  # read nowhere else
                    dead.add(i)
                    uses.subtract(words[i])
                    changed = True
    return [line for i, line in enumerate(lines) if i not in dead]


@functools.lru_cache(maxsize=4096)  # kernels repeat their statements
def _pure(expression: str) -> bool:
    """An expression with no effect but its value: names, numbers, arithmetic, .shape, max/min/int."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in PURE_CALLS):
                return False
        elif not isinstance(node, (ast.Expression, ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator,
                                   ast.unaryop, ast.Load, ast.Attribute, ast.Subscript, ast.Tuple)):
            return False
    return True


def drop_unused(text: str, candidates: set[str]) -> str:
    """The module without the top-level definitions (functions, single-name assignments) among
    `candidates` that nothing else in it uses: the preludes define every shared helper and constant,
    a model keeps what its kernels read."""
    while True:
        lines = text.split("\n")
        spans = {}
        for node in ast.parse(text).body:
            name = (node.name if isinstance(node, ast.FunctionDef) else
                    node.targets[0].id if isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) else None)
            if name in candidates:
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                spans[name] = (first - 1, node.end_lineno)
        words = [WORD.findall(line) for line in lines]
        uses = Counter(word for line_words in words for word in line_words)
        unused = [name for name, (a, b) in spans.items()  # read nowhere outside its own definition
                  if uses[name] == sum(line_words.count(name) for line_words in words[a:b])]
        imports = _unused_imports(lines, candidates, words, uses)
        if not unused and not imports:
            return text
        for index, replacement in imports.items():
            lines[index] = replacement
        lines = [line for line in lines if line is not None]
        if imports:
            text = "\n".join(lines)
            continue
        for a, b in sorted((spans[n] for n in unused), reverse=True):
            while b < len(lines) and not lines[b].strip() and (a == 0 or not lines[a - 1].strip()):
                b += 1  # the blank lines after a removed definition go with it
            del lines[a:b]
        text = "\n".join(lines)


def _unused_imports(lines: list[str], candidates: set[str], words: list[list[str]], uses: Counter) -> dict:
    """{line index: the import line without its unused candidate names, or None to drop it}; `words`
    are the words of each line, `uses` their counts in the whole text."""
    changes = {}
    for index, line in enumerate(lines):
        if not line.startswith(("import ", "from ")):  # top-level, one line each (wrapped ones are kept)
            continue
        try:
            node = ast.parse(line).body[0]
        except SyntaxError:
            continue
        own = words[index]
        kept = [a for a in node.names if (a.asname or a.name) not in candidates or
                uses[a.asname or a.name] > own.count(a.asname or a.name)]
        if len(kept) == len(node.names):
            continue
        if not kept:
            changes[index] = None
        else:
            node.names = kept
            changes[index] = ast.unparse(node)
    return changes


def top_level_names(text: str) -> set[str]:
    """The functions, single-name assignments and imports a piece of module text defines at its top level."""
    names = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name) for a in node.names}
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names.add(node.targets[0].id)
    return names


def _unroll_single_trips(lines: list[str]) -> list[str]:
    """`for v in range(1):` + body -> `v = 0` + the body dedented (the assignment keeps any use of
    `v` that the folding below cannot see, in a wrapped line, correct)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = LOOP_OF_ONE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent, var = match.groups()
        body_end = i + 1
        while body_end < len(lines) and (not lines[body_end].strip() or
                                         _indent(lines[body_end]) > len(indent)):
            body_end += 1
        while body_end > i + 1 and not lines[body_end - 1].strip():
            body_end -= 1  # trailing blank lines belong to what follows
        body = [line[4:] if line.startswith(indent + "    ") else line for line in lines[i + 1:body_end]]
        if any(line.strip() in ("break", "continue") for line in body):
            out.append(lines[i])  # the jump belongs to this loop: keep it
            i += 1
            continue
        substituted = [_substitute(line, var) for line in body]
        function_end = next((j for j in range(body_end, len(lines)) if lines[j].strip() and not _indent(lines[j])),
                            len(lines))
        uses = any(_parse(line) is None and _reads(line, var) for line in substituted) or \
            _read_before_bound(lines[body_end:function_end], var)
        lines[i:body_end] = ([f"{indent}{var} = 0"] if uses else []) + substituted
        # re-scan from the same place: the body may start with another single-trip loop
    return out


def _read_before_bound(lines: list[str], var: str) -> bool:
    """Whether the code after a loop reads its variable before binding it again."""
    for line in lines:
        if _reads(line, var):
            return True
        parsed = _parse(line)
        if parsed and any(isinstance(n, ast.Name) and n.id == var and isinstance(n.ctx, ast.Store)
                          for n in ast.walk(parsed[0])):
            return False
    return False


def _reads(line: str, var: str) -> bool:
    """Whether a line may read `var` (a line that does not parse alone: whenever the name appears)."""
    if not re.search(rf"\b{var}\b", line):
        return False
    parsed = _parse(line)
    if parsed is None:
        return not line.strip().startswith("#")
    return any(isinstance(n, ast.Name) and n.id == var and isinstance(n.ctx, ast.Load) for n in ast.walk(parsed[0]))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _in_strings(lines: list[str]) -> list[bool]:
    """Whether each line lies inside a triple-quoted string (a docstring spanning lines)."""
    inside, result = False, []
    for line in lines:
        result.append(inside)
        if line.count('"""') % 2:
            inside = not inside
    return result


def _parse(line: str):
    """The statement on one line as an AST (a block header parsed with a dummy body), or None."""
    code = line.strip()
    if not code or code.startswith("#") or code.startswith(("def ", "@", "class ")):
        return None
    header = code.endswith(":")
    try:
        tree = ast.parse(code + (" pass" if header else ""))
    except SyntaxError:
        return None
    return tree, header


def _substitute(line: str, var: str) -> str:
    parsed = _parse(line)
    if parsed is None or not re.search(rf"\b{var}\b", line):
        return line
    tree, header = parsed
    if any(isinstance(n, ast.Name) and n.id == var and not isinstance(n.ctx, ast.Load) for n in ast.walk(tree)):
        return line
    new = _Fold(var).visit(tree)
    return _unparse(line, new, header)


# An integer 0 or 1 beside an operator: a line without one has nothing to fold (most lines; parsing
# each one took a third of a warm ResNet50 build's code generation).
FOLDABLE = re.compile(r"[*+/-]\s*\(*\s*[01]\b|\b[01]\s*\)*\s*[*+-]")  # see _Fold: * + - and //


@functools.lru_cache(maxsize=4096)
def _fold_line(line: str) -> str:
    return _fold_parsed(line) if FOLDABLE.search(line) else line


def _fold_parsed(line: str) -> str:
    parsed = _parse(line)
    if parsed is None:
        return line
    tree, header = parsed
    before = ast.dump(tree)
    new = _Fold(None).visit(tree)
    return line if ast.dump(new) == before else _unparse(line, new, header)


def _unparse(line: str, tree, header: bool) -> str:
    text = ast.unparse(tree)
    if header:  # `for ...:\n    pass` -> the header alone
        text = text.split("\n")[0]
    return " " * _indent(line) + text + _comment(line)


def _comment(line: str) -> str:
    """The line's trailing `  # ...` comment, or ''."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip()).readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return next(("  " + t.string for t in tokens if t.type == tokenize.COMMENT), "")


class _Fold(ast.NodeTransformer):
    """Integer identities: x * 1, 1 * x, x + 0, 0 + x, x - 0, 0 * i, x // 1; `var` (if given) read as 0.
    FOLDABLE must match every line a new rule can change (tests/test_codegen_simplify.py checks it)."""

    def __init__(self, var: str | None):
        self.var = var

    def visit_Name(self, node):
        if node.id == self.var and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(0), node)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if isinstance(node.op, ast.Mult):
            if _is_int(right, 1):
                return left
            if _is_int(left, 1):
                return right
            if (_is_int(left, 0) and _integral(right)) or (_is_int(right, 0) and _integral(left)):
                return ast.copy_location(ast.Constant(0), node)
        if isinstance(node.op, ast.Add):  # -0.0 + 0 is 0.0: only where the other side is an integer
            if _is_int(right, 0) and _integral(left):
                return left
            if _is_int(left, 0) and _integral(right):
                return right
        if isinstance(node.op, ast.Sub) and _is_int(right, 0):
            return left
        if isinstance(node.op, ast.Sub) and _is_int(left, 0) and _integral(right):
            return ast.copy_location(ast.UnaryOp(ast.USub(), right), node)
        if isinstance(node.op, ast.FloorDiv) and _is_int(right, 1):
            return left
        return node


def _is_int(node, value: int) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == value


def _integral(node) -> bool:
    """An expression of names, integer literals and + - * // %: an index, never a float array read."""
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _integral(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)):
        return _integral(node.left) and _integral(node.right)
    return False
