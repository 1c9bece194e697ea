"""Name lookup shared by the initializer and activation registries."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["lookup"]

T = TypeVar("T")


def lookup(kind: str, name: str, table: Mapping[str, T]) -> T:
    """Return ``table[name]``, or raise a ValueError naming the closest match and every
    allowed name (``kind`` is "initializer", "activation", ...)."""
    if name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), table, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown {kind} {name!r}{hint}; allowed: {', '.join(sorted(table))}")
