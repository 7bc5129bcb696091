"""A small indenting source writer (the pattern of PyTorch Inductor's IndentedBuffer)."""
from __future__ import annotations

from contextlib import contextmanager


class Writer:
    """Collects lines of Python source at the current indentation."""

    def __init__(self, indent: str = "    "):
        self.lines: list[str] = []
        self.level = 0
        self.indent = indent

    def line(self, text: str = "") -> "Writer":
        self.lines.append(self.indent * self.level + text if text else "")
        return self

    def lines_of(self, text: str) -> "Writer":
        """Several lines at once, each indented at the current level."""
        for line in text.splitlines():
            self.line(line)
        return self

    @contextmanager
    def block(self, header: str):
        """`header:` then an indented body."""
        self.line(header + ":")
        self.level += 1
        try:
            yield self
        finally:
            self.level -= 1

    def open(self, header: str):
        """`header:` and one level deeper, for loops nested to a depth known only at run time of the
        emitter (one per spatial axis); `close` goes back up."""
        self.line(header + ":")
        self.level += 1

    def close(self, levels: int = 1):
        self.level -= levels

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def wrap_call(line: str, limit: int = 120) -> list[str]:
    """A statement ending in a call (or a `def` line), cut at the call's top-level commas into lines of
    at most `limit` characters (a kernel launch passes many arrays): the module stays ruff-clean."""
    if line.lstrip().startswith("#"):  # a layer's DSL line: shortened, not cut into code
        return [line if len(line) <= limit else line[:limit - 3] + "..."]
    if line.endswith("):"):
        lines = wrap_call(line[:-1], limit - 1)
        return [*lines[:-1], lines[-1] + ":"]
    if len(line) <= limit or not line.endswith(")"):
        return [line]
    depth, open_at = 0, None
    for i in range(len(line) - 1, -1, -1):  # the opening parenthesis of the call that ends the line
        depth += {")": 1, "(": -1}.get(line[i], 0)
        if depth == 0:
            open_at = i
            break
    if not open_at:
        return [line]
    args, depth, start = [], 0, open_at + 1
    for i in range(open_at + 1, len(line) - 1):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(line[i], 0)
        if line[i] == "," and depth == 0:
            args.append(line[start:i].strip())
            start = i + 1
    args.append(line[start:-1].strip())
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    lines, current = [line[:open_at + 1]], indent
    for arg in args:
        piece = arg + ", "
        if current.strip() and len(current) + len(piece) > limit:
            lines.append(current.rstrip())
            current = indent
        current += piece
    lines.append(current.rstrip().rstrip(",") + ")")
    return lines
