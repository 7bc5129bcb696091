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
