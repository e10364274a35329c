"""One error type for bad user input, so the CLI can print it cleanly and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input a user can fix: a suite, a probe file, a policy, a CLI argument.

    The message names the file, the line and the field where known, and says how to fix it,
    because the CLI prints exactly this text (never a traceback).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.fix = fix
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        field = f"field '{self.field}': " if self.field else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        text = f"{where}{field}{self.detail}.{fix}".replace("..", ".")
        return " ".join(text.split())  # one line, whatever a parser's message held
