"""One error type for input the user can fix, so that the CLI can print it without a traceback."""

from __future__ import annotations

from pathlib import Path


class GenrecError(Exception):
    """Bad input or configuration: says what is wrong, where, and what to do."""

    def __init__(
        self,
        what: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.what, self.path, self.line, self.key, self.fix = what, path, line, key, fix
        super().__init__(self.message)

    @property
    def where(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(str(self.path) + (f":{self.line}" if self.line is not None else ""))
        if self.key is not None:
            parts.append(f"key '{self.key}'")
        return ", ".join(parts)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text}\n  -> {self.fix}" if self.fix else text
