"""File helpers shared by every stage: reading JSON lines (plain or gzip) and atomic writes."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from genrec.errors import GenrecError


def open_text(path: str | Path):
    """Open a text file for reading, transparently decompressing `.gz`."""
    path = Path(path)
    if not path.exists():
        raise GenrecError("file not found", path=path, fix="check the path in config/datasets.yaml or run the download rule")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line) of a text file, skipping blank lines.

    A truncated or corrupt gzip stream becomes a GenrecError naming the file and the last good line,
    instead of an EOFError deep inside a loader.
    """
    lineno = 0
    try:
        with open_text(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    yield lineno, line
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise GenrecError(
            f"compressed file is truncated or corrupt after line {lineno} ({exc})",
            path=path,
            fix="delete it and download it again (an interrupted download leaves such a file)",
        ) from None
    except UnicodeDecodeError as exc:
        raise GenrecError(f"not UTF-8 text after line {lineno} ({exc})", path=path) from None


def parse_json_line(path: str | Path, lineno: int, line: str, parse: Callable[[str], Any] = json.loads) -> Any:
    """Parse one record, turning a syntax error into a message with file and line."""
    try:
        return parse(line)
    except (ValueError, SyntaxError) as exc:
        raise GenrecError(
            f"malformed record ({type(exc).__name__}: {exc})",
            path=path,
            line=lineno,
            fix="fix or remove that line, or download the file again",
        ) from None


def read_json(path: str | Path) -> Any:
    """Read a whole JSON document (plain or .gz) with a clear error on bad syntax."""
    with open_text(path) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as exc:
            raise GenrecError(f"malformed JSON ({exc.msg})", path=path, line=exc.lineno) from None
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise GenrecError(f"compressed file is truncated or corrupt ({exc})", path=path,
                              fix="delete it and download it again") from None


@contextlib.contextmanager
def atomic_outputs(*targets: str | Path) -> Iterator[list[Path]]:
    """Yield temporary paths to write; move them onto `targets` only if the block succeeds.

    A block may replace a temporary file by a directory of the same name (e.g. `save_pretrained`).
    All temporaries live beside their targets (same file system, so `os.replace` is atomic) and are
    removed on failure, so an interrupted or failed job never leaves a half-written artifact and never
    touches a finished one.
    """
    finals = [Path(t) for t in targets]
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield temps
        for tmp, final in zip(temps, finals):
            if tmp.is_dir() and final.is_dir():
                shutil.rmtree(final)   # a directory artifact (a checkpoint) is replaced whole
            os.replace(tmp, final)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                if tmp.is_dir():
                    shutil.rmtree(tmp)
                else:
                    tmp.unlink()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a canonical parquet table (list columns come back as Python lists)."""
    frame = pq.read_table(path).to_pandas()
    for column in ("history", "categories"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: [] if v is None else v.tolist())
    return frame
