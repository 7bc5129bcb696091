"""The one error type of shapeproof: a message, the source span it is about, and a hint.

Raised where the fact is known (parser, layer registry, shape inference); rendered once, at the
CLI boundary, as `FILE:LINE:COL: error: MESSAGE` with the source line and a caret.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A 1-based line/column range in a .nn file."""

    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    @classmethod
    def of(cls, meta) -> "Span | None":
        """The span of a Lark tree's `meta` or of a token (None when it has no position)."""
        line = getattr(meta, "line", None)
        if line is None:
            return None
        return cls(line, meta.column, getattr(meta, "end_line", None), getattr(meta, "end_column", None))


class ShapeproofError(Exception):
    """A user-facing error: a message, where it happened and how to fix it."""

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None, file: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.file = file

    def located(self, span: Span | None) -> "ShapeproofError":
        """This error, given `span` when it has none yet."""
        if self.span is None:
            self.span = span
        return self

    def render(self, source: str | None = None) -> str:
        """`FILE:LINE:COL: error: MESSAGE`, then the line and a caret under the culprit, then the hint."""
        file = self.file or "shapeproof"  # an error about the command line, not a file
        if self.span is None:
            out = [f"{file}: error: {self.message}"]
        else:
            out = [f"{file}:{self.span.line}:{self.span.column}: error: {self.message}"]
            lines = (source or "").splitlines()
            if 0 < self.span.line <= len(lines):
                text = lines[self.span.line - 1].replace("\t", " ")
                width = 1
                if self.span.end_line == self.span.line and self.span.end_column:
                    width = max(1, self.span.end_column - self.span.column)
                out.append(f"    {text}")
                out.append("    " + " " * (self.span.column - 1) + "^" + "~" * (width - 1))
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)
