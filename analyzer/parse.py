"""Text to syntax IR: the Lark grammar in grammar/, an indentation post-lexer, and a Transformer.

Syntax errors become ShapeproofError with the offending token's line and column. Nothing in the
text is ever evaluated as Python: the tree is turned into the dataclasses of analyzer/ir.py.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import sys
from pathlib import Path

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from . import ir
from .errors import ShapeproofError, Span

TOKEN_TEXT = {
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "COLON": "':'",
    "EQUAL": "'='", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "__ANON_0": "'//'", "SLASH": "'/'",
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)", "_NL": "end of line", "_INDENT": "an indented block",
    "_DEDENT": "end of block", "$END": "end of file", "MODEL": "'model'", "ASSERT": "'assert'",
    "INPUT": "'input'", "OUTPUT": "'output'", "TRUE": "True", "FALSE": "False", "NONE": "None",
}



def _on_next_line(kind: str, indent: str, newline: Token) -> Token:
    """An _INDENT/_DEDENT token placed over the indentation of the line after `newline` (errors point
    at the line that is indented, not at the end of the one before)."""
    line = newline.end_line or newline.line
    return Token(kind, indent, newline.end_pos, line, 1, line, len(indent) + 1, newline.end_pos)


class Indenter:
    """Turns the leading whitespace after each newline into _INDENT/_DEDENT tokens.

    Brackets suppress it (a call may span lines). Indentation is compared as text, not as a
    count, so a block that mixes tabs and spaces inconsistently is an error, not a guess.
    """

    always_accept = ("_NL",)

    def __init__(self):
        self.open_brackets: list[Token] = []  # read by the error reporter: an unclosed '(' explains a lot

    def process(self, stream):
        """The tokens with _INDENT/_DEDENT after each newline whose next line changes the indentation."""
        levels = [""]
        self.open_brackets = []
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                self.open_brackets.append(token)
            elif token.type in ("RPAR", "RSQB") and self.open_brackets:
                self.open_brackets.pop()
            if token.type != "_NL":
                yield token
                continue
            if self.open_brackets:
                continue  # a newline inside brackets is just whitespace
            yield token
            last = token.value.replace("\r\n", "\n").replace("\r", "\n").rsplit("\n", 1)[1]
            indent = last.split("#", 1)[0] if "#" in last else last
            if indent == levels[-1]:
                continue
            if indent.startswith(levels[-1]):
                levels.append(indent)
                yield _on_next_line("_INDENT", indent, token)
                continue
            while indent != levels[-1]:
                if not levels[-1].startswith(indent) or len(levels) == 1:
                    raise ShapeproofError(
                        "inconsistent indentation",
                        Span(token.end_line, 1),
                        "indent every line of a block with the same spaces or tabs",
                    )
                levels.pop()
                yield _on_next_line("_DEDENT", indent, token)
        if self.open_brackets:
            raise _unclosed(self.open_brackets[-1])
        while len(levels) > 1:
            levels.pop()
            yield Token("_DEDENT", "")


def _unclosed(bracket: Token) -> ShapeproofError:
    return ShapeproofError(f"{str(bracket)!r} is never closed", Span(bracket.line, bracket.column),
                           "add the matching ')'" if str(bracket) == "(" else "add the matching ']'")


GRAMMAR = Path(__file__).parent.parent / "grammar" / "shapeproof.lark"


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser. Building its tables takes 40 ms, so the first process pickles them into the
    cache folder and later ones load them (3 ms)."""
    grammar = GRAMMAR.read_text(encoding="utf-8")
    path = _tables_file(grammar)
    if path is not None:
        try:
            return _load_tables(path)
        except Exception:  # no file yet, or a damaged one: build the tables and write them anew
            pass
    built = Lark(grammar, parser="lalr", postlex=Indenter(), propagate_positions=True, maybe_placeholders=True)
    if path is not None:
        _save_tables(built, path)
    return built


def _tables_file(grammar: str) -> Path | None:
    """The tables' file in shapeproof's cache folder (SHAPEPROOF_CACHE, default ~/.cache/shapeproof,
    as in codegen/cache.py), named by the grammar and the Lark and Python versions; None when there
    is no folder to write to."""
    try:
        folder = Path(os.environ.get("SHAPEPROOF_CACHE") or Path.home() / ".cache" / "shapeproof")
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # no home folder, or one we may not write to
        return None
    key = hashlib.sha256(f"{grammar}{lark.__version__}{sys.version_info[:2]}".encode()).hexdigest()[:16]
    return folder / f"grammar-{key}.lark-tables"


def _load_tables(path: Path) -> Lark:
    # A SHA-256 of the pickle comes first: Lark's own cache file (Lark(cache=...)) has none, and a
    # flipped bit in it can load a parser that rejects valid files.
    data = path.read_bytes()
    if hashlib.sha256(data[32:]).digest() != data[:32]:
        raise ValueError(f"{path} is damaged")
    return Lark.load(io.BytesIO(data[32:]))


def _save_tables(built: Lark, path: Path):
    buffer = io.BytesIO()
    built.save(buffer)
    payload = buffer.getvalue()
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)  # a process reading it meanwhile never sees half a file
    except OSError:  # a full disk, a read-only folder: build the tables again next time
        temporary.unlink(missing_ok=True)


def _span(meta) -> Span:
    return Span.of(meta)


@v_args(meta=True)
class ToIR(Transformer):
    """Builds analyzer/ir.py dataclasses; method names are the grammar's node names."""

    def start(self, meta, items):
        models = tuple(i for i in items if isinstance(i, ir.Model))
        assertions = tuple(i for i in items if isinstance(i, ir.Assertion))
        blocks = tuple(i for i in items if isinstance(i, ir.Block))
        return models, assertions, blocks

    def block(self, meta, children):
        name, params, *body = children
        return ir.Block(str(name), tuple(params or ()), tuple(body), _span(meta), Span.of(name))

    def repeat_stmt(self, meta, children):
        count, call = children
        if int(count) < 1:
            raise ShapeproofError("repeat needs a count of at least 1", Span.of(count))
        return ir.RepeatStmt(int(count), call, _span(meta))

    def model(self, meta, children):
        name, params, *body = children
        return ir.Model(str(name), tuple(params or ()), tuple(body), _span(meta), Span.of(name))

    def params(self, meta, children):
        return tuple(c for c in children if c is not None)

    def param(self, meta, children):
        name, default = children
        return ir.Param(str(name), default, _span(meta))

    def input_stmt(self, meta, children):
        targets, shape, dtype = children
        if targets and len(targets) > 1:
            raise ShapeproofError("an input has one name", targets[1].span, "write `x = input (batch, ...)`")
        return ir.InputStmt(targets[0].name if targets else None, shape, dtype and str(dtype), _span(meta),
                            Span.of(dtype) if dtype else None)

    def layer_stmt(self, meta, children):
        targets, value = children
        return _statement(targets or (), value, _span(meta))

    def targets(self, meta, children):
        return tuple(ir.Name(str(t), Span.of(t)) for t in children)

    def applied(self, meta, children):
        call, arguments = children
        values, keywords = _split_arguments(arguments or ())
        if not values:
            raise ShapeproofError(f"{call.name}(...) is applied to no value", _span(meta),
                                  f"apply it to a tensor first: `{call.name}(...)(x)`" +
                                  (f", then the options: `{call.name}(...)(x, {keywords[0].name}=...)`"
                                   if keywords else ""))
        return ir.Applied(call, values[0], _span(meta), tuple(values[1:]), tuple(keywords))

    def output_stmt(self, meta, children):
        if all(isinstance(c, ir.Name) for c in children):
            return ir.OutputStmt(tuple(children), _span(meta))
        if len(children) > 1:
            raise ShapeproofError("several outputs are named values", _value_span(children[0]),
                                  "name each value first (`y = ...`), then write `output y, z`")
        return ir.OutputStmt((), _span(meta), _statement((), children[0], _span(meta)))

    def assertion(self, meta, children):
        left, op, right = children
        return ir.Assertion(str(op), left, right, f"{ir.show(left)} {op} {ir.show(right)}", _span(meta))

    def add(self, meta, c):
        return ir.BinOp("+", c[0], c[1], _span(meta))

    def sub(self, meta, c):
        return ir.BinOp("-", c[0], c[1], _span(meta))

    def mul(self, meta, c):
        return ir.BinOp("*", c[0], c[1], _span(meta))

    def floordiv(self, meta, c):
        return ir.BinOp("//", c[0], c[1], _span(meta))

    def truediv(self, meta, c):
        return ir.BinOp("/", c[0], c[1], _span(meta))

    def neg(self, meta, c):
        return ir.Neg(c[0], _span(meta))

    def int(self, meta, c):
        return ir.Int(int(c[0]), _span(meta))

    def float(self, meta, c):
        return ir.Float(float(c[0]), _span(meta))

    def string(self, meta, c):
        return ir.Str(str(c[0])[1:-1], _span(meta))

    def true(self, meta, c):
        return ir.Const(True, _span(meta))

    def false(self, meta, c):
        return ir.Const(False, _span(meta))

    def none(self, meta, c):
        return ir.Const(None, _span(meta))

    def name(self, meta, c):
        return ir.Name(str(c[0]), _span(meta))

    def call(self, meta, children):
        name, arguments = children
        args, keywords = _split_arguments(arguments or ())
        return ir.Call(str(name), tuple(args), tuple(keywords), _span(meta), Span.of(name))

    def arguments(self, meta, children):
        return children

    def keyword(self, meta, children):
        name, value = children
        return ir.Keyword(str(name), value, Span.of(name))

    def tuple(self, meta, children):
        return ir.Tuple(tuple(c for c in children if c is not None), _span(meta))

    def list(self, meta, children):
        return ir.List(tuple(c for c in children if c is not None), _span(meta))


def _value_span(value) -> Span:
    return value.span


def _split_arguments(arguments) -> tuple[list, list]:
    """(positional values, keywords) of a call's arguments, positional first as in Python."""
    args, keywords = [], []
    for a in arguments:
        if isinstance(a, ir.Keyword):
            if any(k.name == a.name for k in keywords):
                raise ShapeproofError(f"argument {a.name!r} given twice", a.span)
            keywords.append(a)
        elif keywords:
            raise ShapeproofError("positional argument after a keyword argument", _value_span(a),
                                  "put positional arguments first, as in Python")
        else:
            args.append(a)
    return args, keywords


def _statement(targets: tuple, value, span: Span):
    """A layer statement (`Dense(4)`, `Dense(4)(x)`) or tensor arithmetic (`x + h`, `relu(x)`): which a
    bare call is (a layer applied to the value before, or a function of its arguments) is decided by
    the analyzer, which knows the names."""
    if isinstance(value, ir.Call):
        return ir.LayerStmt(targets, value, None, span)
    if isinstance(value, ir.Applied):
        return ir.LayerStmt(targets, value.call, value.applied_to, span, value.more, value.keywords)
    return ir.ExprStmt(targets, value, span)


def parse(source: str, file: str = "<input>") -> ir.Program:
    """Parse .nn source into the syntax IR; raises ShapeproofError on any syntax error."""
    text = source if source.endswith(("\n", "\r")) else source + "\n"
    try:
        tree = parser().parse(text)
        models, assertions, blocks = ToIR().transform(tree)
    except VisitError as e:  # an error raised inside a Transformer method
        if isinstance(e.orig_exc, ShapeproofError):
            raise _with_file(e.orig_exc, file) from None
        raise
    except ShapeproofError as e:
        raise _with_file(e, file) from None
    except UnexpectedInput as e:
        raise _with_file(_syntax_error(e, text), file) from None
    _check_unique((*models, *blocks), file)
    if blocks or len(models) > 1:  # each model carries the blocks and the other models it may use as layers
        models = tuple(dataclasses.replace(m, blocks=blocks + models) for m in models)
    return ir.Program(file, source, models, assertions, blocks)


def _check_unique(definitions, file: str):
    """Blocks and models share one namespace: either may be used as a layer of a model."""
    seen = {}
    for d in sorted(definitions, key=lambda d: (d.span.line, d.span.column)):
        kind = "model" if isinstance(d, ir.Model) else "block"
        if d.name in seen:
            raise _with_file(ShapeproofError(f"{kind} {d.name!r} is defined twice", d.name_span,
                                             f"rename one: {d.name} is also defined at line {seen[d.name]}"), file)
        seen[d.name] = d.name_span.line


def _with_file(error: ShapeproofError, file: str) -> ShapeproofError:
    error.file = file
    return error


def _syntax_error(e: UnexpectedInput, text: str) -> ShapeproofError:
    if isinstance(e, UnexpectedCharacters):
        char = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        hint = None
        if char in "\"'":
            hint = "close the string on the same line"
        elif char == ";":
            hint = "put one statement per line, without ';'"
        return ShapeproofError(f"unexpected character {char!r}", Span(e.line, e.column), hint)
    expected = sorted({TOKEN_TEXT.get(t, t) for t in getattr(e, "expected", ()) or ()})
    if isinstance(e, UnexpectedEOF):
        return ShapeproofError("unexpected end of file", _end_span(text), _expected(expected))
    token = e.token
    if token.type == "$END":
        return ShapeproofError("unexpected end of file", _end_span(text), _expected(expected))
    if token.type == "_NL":
        line, column = token.line, token.column
        what = "unexpected end of line"
        hint = _expected(expected)
        if "')'" in expected or "']'" in expected:
            hint = "a bracket is not closed on this line; " + hint
        return ShapeproofError(what, Span(line, column), hint)
    if token.type == "_INDENT":
        return ShapeproofError("unexpected indentation", Span(token.line, 1, token.line, token.end_column or 2),
                               "only the statements of a model's body are indented")
    if token.type == "_DEDENT":
        return ShapeproofError("unexpected end of block", Span(token.line or 1, 1),
                               "a model needs at least one indented statement after 'model NAME(...):'")
    opened = parser().options.postlex.open_brackets
    if opened and opened[-1].line < token.line:
        return _unclosed(opened[-1])
    span = Span(token.line, token.column, token.end_line, token.end_column)
    return ShapeproofError(f"unexpected {TOKEN_TEXT.get(token.type, repr(str(token)))}"
                           f"{'' if token.type in TOKEN_TEXT and token.type != 'NAME' else ''} {str(token)!r}"
                           if token.type not in ("STRING",) else f"unexpected string {str(token)}",
                           span, _expected(expected))


def _expected(expected: list[str]) -> str:
    return "expected " + (", ".join(expected[:-1]) + " or " + expected[-1] if len(expected) > 1 else
                          (expected[0] if expected else "something else"))


def _end_span(text: str) -> Span:
    lines = text.splitlines() or [""]
    return Span(len(lines), len(lines[-1]) + 1)
