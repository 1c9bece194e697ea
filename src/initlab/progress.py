"""Progress lines of the long steps (aggregation, the report): done / total, elapsed, time left.

Few lines: one each time another ``step`` (5%) of the work is done, and no two within
``interval`` seconds, plus the last; a short step logs only its last line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["Progress", "clock", "echo"]


def clock(seconds: float) -> str:
    """``"42 s"``, ``"3:07"`` (minutes:seconds) or ``"?"`` for an unknown time."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def echo(line: str) -> None:
    """Print ``line`` to stdout at once (a log file sees it while the step runs)."""
    print(line, flush=True)


class Progress:
    """Progress lines of a long loop: done / total, elapsed, an estimate of the time left.

    A line is written at the end and when the share done has passed the next ``step`` (5%) and
    at least ``interval`` seconds have passed since the previous line, so a long loop logs at
    most about 1 / ``step`` lines, a short one just the last.
    """

    def __init__(
        self,
        what: str,
        total: int,
        log: Callable[[str], None],
        step: float = 0.05,
        interval: float = 5.0,
    ) -> None:
        self.what, self.total, self.log = what, total, log
        self.step, self.interval = step, interval
        self.start = self.last = time.perf_counter()
        self.next_share = step

    def __call__(self, done: int, note: str = "") -> None:
        """Record that ``done`` of ``total`` are done; log a line if one is due."""
        now = time.perf_counter()
        share = done / self.total if self.total else 1.0
        if done < self.total and (share < self.next_share or now - self.last < self.interval):
            return
        while self.next_share <= share:
            self.next_share += self.step
        self.last = now
        elapsed = now - self.start
        left = elapsed / done * (self.total - done) if done else math.nan
        self.log(
            f"{self.what}: {done}/{self.total} ({share:.0%}); elapsed {clock(elapsed)}, "
            f"about {clock(left)} left" + (f"; {note}" if note else "")
        )
