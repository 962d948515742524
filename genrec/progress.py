"""Progress bars with the project's defaults (stderr, so they land in Snakemake's `log:` files)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> tqdm:
    """Wrap a long loop in a progress bar (iterate it; `set_postfix` shows live figures); refreshes at most
    every 2 s outside a terminal."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, mininterval=0.5, maxinterval=2.0,
                dynamic_ncols=True, leave=False)
