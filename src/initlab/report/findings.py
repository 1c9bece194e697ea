"""Plainly worded findings derived from the tables, each backed by the numbers it rests on.

Every function is pure: it takes DataFrames (``summary.csv``, ``runs.csv``, ...) and the grid
and returns statements as strings, so the wording and the numbers can be unit-tested without
rendering anything. :func:`derive_findings` collects them, with a heading each, for the findings
page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
import pandas as pd

from initlab.layout import BUDGET_OUTCOMES, TIE_MARGIN
from initlab.records import SATURATION_THRESHOLD
from initlab.report.data import Combination, Grid

__all__ = [
    "TIE_RULE",
    "TIE_TOLERANCE",
    "Finding",
    "best_initializer_per_activation",
    "budget_check",
    "depth_robustness",
    "derive_findings",
    "diverged_runs",
    "exploding_gradients",
    "never_trained",
    "tied_best",
    "unhealthy_units",
    "vanishing_gradients",
    "verdict_counts",
]

MAX_ITEMS = 14
"""Longest list of combinations spelled out in one statement (the appendix has all of them)."""

VANISHING_LOG10 = -3.0
EXPLODING_LOG10 = 3.0
DEAD_SHARE = 0.5
SATURATED_SHARE = 0.6


@dataclass(frozen=True)
class Finding:
    """One paragraph of the findings page."""

    heading: str
    statements: tuple[str, ...]


def _acc(mean: float, lo: float, hi: float, n: int) -> str:
    """``0.912 [0.894, 0.930] (95% CI, 2 seeds)``; without the interval when it is undefined.

    Accuracy intervals are clipped to [0, 1] in ``summary.csv``, so they are printed as
    bounds, not as a symmetric half-width."""
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{mean:.3f} [{lo:.3f}, {hi:.3f}] (95% CI, {seeds})"
    return f"{mean:.3f} ({seeds}, no interval)"


def _ordered(df: pd.DataFrame, grid: Grid) -> pd.DataFrame:
    """Rows of ``df`` in configuration order (initializer, activation, depth)."""
    io = {n: k for k, n in enumerate(grid.initializers)}
    ao = {n: k for k, n in enumerate(grid.activations)}
    # plain integer arrays: mapping an Arrow-backed text column may keep a text dtype
    inits = np.array([io[n] for n in df["initializer"]], dtype=np.int64)
    acts = np.array([ao[n] for n in df["activation"]], dtype=np.int64)
    key = inits * 10_000 + acts * 1_000 + df["depth"].to_numpy(dtype=np.int64)
    return df.assign(_key=key).sort_values("_key", kind="stable").drop(columns="_key")


def _join(items: Sequence[str], limit: int = MAX_ITEMS) -> str:
    """``a; b; c`` with the tail beyond ``limit`` items summarised."""
    if len(items) <= limit:
        return "; ".join(items)
    return "; ".join(items[:limit]) + f"; and {len(items) - limit} more (see the appendix)"


def _depth_list(depths: Sequence[int]) -> str:
    d = [str(x) for x in depths]
    return d[0] if len(d) == 1 else ", ".join(d[:-1]) + " and " + d[-1]


def group_combinations(
    combos: Iterable[Combination], grid: Grid, values: dict[Combination, str] | None = None
) -> list[str]:
    """Describe a set of combinations compactly, in configuration order.

    An initializer present with every activation at every depth becomes ``init x every
    activation at every depth``; an (initializer, activation) pair present at every depth
    becomes ``init x act (all depths)``; otherwise the depths are listed. ``values`` adds a
    number per combination (then depths are always listed).
    """
    have = set(combos)
    items: list[str] = []
    for init in grid.initializers:
        full = all((init, a, d) in have for a in grid.activations for d in grid.depths)
        if full and values is None and len(grid.activations) > 1:
            items.append(f"{init} \u00d7 every activation at every depth")
            continue
        for act in grid.activations:
            depths = [d for d in grid.depths if (init, act, d) in have]
            if not depths:
                continue
            if values is not None:
                parts = [f"{d} ({values[(init, act, d)]})" for d in depths]
                word = "depth" if len(depths) == 1 else "depths"
                items.append(f"{init} \u00d7 {act} at {word} {_depth_list(parts)}")
            elif len(depths) == len(grid.depths) and len(grid.depths) > 1:
                items.append(f"{init} \u00d7 {act} (all depths)")
            else:
                word = "depth" if len(depths) == 1 else "depths"
                items.append(f"{init} \u00d7 {act} at {word} {_depth_list(depths)}")
    return items


TIE_TOLERANCE = TIE_MARGIN
"""Initializers whose mean final test accuracy is within this of the best (0.5 percentage
point, :data:`initlab.layout.TIE_MARGIN`) are reported as tied with it."""

TIE_RULE = (
    "Ties: initializers whose mean final test accuracy is within 0.005 (0.5 percentage point) "
    "of the best are named together as a tie (identical per-seed accuracies have equal means "
    "and always tie); when every combination of an activation fails (below chance + 0.25 "
    "(1 - chance)) or diverged, no best is named"
)
"""The tie rule of :func:`best_initializer_per_activation`, for the findings page's footnote."""


def tied_best(rows: pd.DataFrame, tolerance: float = TIE_TOLERANCE) -> pd.DataFrame:
    """The rows of ``rows`` whose ``final_test_acc_mean`` is within ``tolerance`` of the
    highest, highest first (ties in the order of ``rows``).

    Parameters
    ----------
    rows : DataFrame
        Candidate ``summary.csv`` rows with a finite ``final_test_acc_mean``.
    tolerance : float
        Largest shortfall from the best mean that still counts as a tie.

    Returns
    -------
    DataFrame
        One row (a clear winner) or several (a tie).
    """
    ranked = rows.sort_values("final_test_acc_mean", ascending=False, kind="stable")
    best = float(ranked["final_test_acc_mean"].iloc[0])
    # a small slack keeps 0.9 - 0.895 (0.00500000000000001 in floating point) a tie
    return ranked[ranked["final_test_acc_mean"] >= best - tolerance - 1e-12]


def _none_trains(act: str, depth: int, rows: pd.DataFrame, n_diverged: int) -> str:
    """Statement for an activation where every candidate fails: the range of the means, no
    winner."""
    lo, hi = rows["final_test_acc_mean"].min(), rows["final_test_acc_mean"].max()
    span = f"{hi:.3f}" if round(lo, 3) == round(hi, 3) else f"{lo:.3f} to {hi:.3f}"
    seeds = _seed_text(rows)
    text = (
        f"{act} at depth {depth}: no initializer trains it at this budget (mean test accuracy "
        f"{span} over {len(rows)} initializers, {seeds}, every one below chance + 0.25 "
        "(1 - chance))"
    )
    if n_diverged:
        text += f"; {n_diverged} more diverged"
    return text + "."


def _seed_text(rows: pd.DataFrame) -> str:
    """``2 seeds each`` (or ``2-5 seeds each``) for the rows' ``n_seeds``."""
    counts = sorted({int(n) for n in rows["n_seeds"]})
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f"{n} seed{'s' if counts[-1] != 1 else ''} each"


def _tie_text(act: str, depth: int, tied: pd.DataFrame) -> str:
    """``tanh at depth 30: tie: a 0.909 [0.89, 0.93], b 0.906 [0.88, 0.93] (95% CI, 2 seeds
    each; within 0.005 of the best), verdict trains``."""
    each = ", ".join(
        f"{r.initializer} {r.final_test_acc_mean:.3f}"
        + (
            f" [{r.final_test_acc_ci95_lo:.3f}, {r.final_test_acc_ci95_hi:.3f}]"
            if np.isfinite(r.final_test_acc_ci95_lo) and np.isfinite(r.final_test_acc_ci95_hi)
            else " (no interval)"
        )
        for r in tied.itertuples()
    )
    verdicts = list(dict.fromkeys(str(v) for v in tied["verdict"]))
    word = "verdict" if len(verdicts) == 1 else "verdicts"
    return (
        f"{act} at depth {depth}: tie: {each} (95% CI, {_seed_text(tied)}; means within "
        f"{TIE_TOLERANCE:g} of the best), {word} {', '.join(verdicts)}"
    )


def best_initializer_per_activation(
    summary: pd.DataFrame, grid: Grid, depth: int | None = None
) -> list[str]:
    """For each activation, the initializer with the highest mean test accuracy at ``depth``
    (default: the deepest), with its 95% interval and the runner-up; ties are named as ties.

    Combinations whose verdict is ``diverged`` are not candidates. Tie rule: every candidate
    whose mean final test accuracy is within :data:`TIE_TOLERANCE` (0.005, half a percentage
    point) of the best is named with it as a tie (identical per-seed accuracies give equal
    means, so they always tie); the runner-up is then the best candidate outside the tie, by
    the same rule, and is not named when every other candidate fails. When
    no candidate trains (every verdict is ``fails``: mean test accuracy below chance + 0.25
    (1 - chance)), no best is named: the statement says that no initializer trains the
    activation at this budget and gives the range of the means.
    """
    depth = grid.deepest if depth is None else depth
    out = []
    for act in grid.activations:
        here = summary[(summary["activation"] == act) & (summary["depth"] == depth)]
        rows = here[(here["verdict"] != "diverged") & here["final_test_acc_mean"].notna()]
        if rows.empty:
            out.append(f"{act} at depth {depth}: every initializer diverged.")
            continue
        rows = _ordered(rows, grid)
        if (rows["verdict"] == "fails").all():
            out.append(_none_trains(act, depth, rows, int((here["verdict"] == "diverged").sum())))
            continue
        tied = tied_best(rows)
        top = tied.iloc[0]
        if len(tied) > 1:
            text = _tie_text(act, depth, tied)
        else:
            acc = _acc(
                top["final_test_acc_mean"],
                top["final_test_acc_ci95_lo"],
                top["final_test_acc_ci95_hi"],
                int(top["n_seeds"]),
            )
            text = (
                f"{act} at depth {depth}: best initializer {top['initializer']}, mean test "
                f"accuracy {acc}, verdict {top['verdict']}"
            )
        out.append(text + _runner_up(rows[~rows.index.isin(tied.index)]) + ".")
    return out


def _runner_up(rest: pd.DataFrame) -> str:
    """``; runner-up b 0.853``, ``; runner-up tie: b, c 0.853`` (same tie rule), or, when
    every other candidate fails, ``; the other 7 fail (0.100 to 0.102)`` without a name."""
    if rest.empty:
        return ""
    if (rest["verdict"] == "fails").all():
        lo, hi = rest["final_test_acc_mean"].min(), rest["final_test_acc_mean"].max()
        span = f"{hi:.3f}" if round(lo, 3) == round(hi, 3) else f"{lo:.3f} to {hi:.3f}"
        n = len(rest)
        return f"; the other {n} fail{'s' if n == 1 else ''} ({span})"
    second = tied_best(rest)
    names = ", ".join(str(n) for n in second["initializer"])
    tie = "tie: " if len(second) > 1 else ""
    return f"; runner-up {tie}{names} {second['final_test_acc_mean'].iloc[0]:.3f}"


def vanishing_gradients(
    summary: pd.DataFrame,
    grid: Grid,
    zero_gradient: AbstractSet[Combination] = frozenset(),
    threshold: float = VANISHING_LOG10,
) -> list[str]:
    """Combinations whose first hidden layer's gradient at init is below ``10**threshold``
    times the last hidden layer's (mean ``log10_delta_ratio_hidden`` over seeds), and those
    where it is exactly 0."""
    sel = _ordered(summary[summary["log10_delta_ratio_hidden_mean"] < threshold], grid)
    combos = {(r.initializer, r.activation, int(r.depth)) for r in sel.itertuples()}
    values = {
        (r.initializer, r.activation, int(r.depth)): f"{r.log10_delta_ratio_hidden_mean:.1f}"
        for r in sel.itertuples()
    }
    out = []
    if combos:
        out.append(
            f"At initialization the first hidden layer's back-propagated gradient (rms of dL/dz) "
            f"is below 1e{threshold:.0f} of the last hidden layer's (mean log10 ratio < "
            f"{threshold:.0f}) in {len(combos)} of {len(summary)} combinations: "
            + _join(group_combinations(combos, grid, values))
            + "."
        )
    else:
        out.append(
            f"No combination has a first hidden layer gradient below 1e{threshold:.0f} of the "
            "last hidden layer's at initialization."
        )
    if zero_gradient:
        out.append(
            f"The first-layer gradient is exactly zero in every seed (log10 ratio -inf, left "
            f"empty in the tables) for {len(zero_gradient)} combinations: "
            + _join(group_combinations(zero_gradient, grid))
            + ". Zero weights send no error signal back, so these layers never change."
        )
    return out


def exploding_gradients(
    summary: pd.DataFrame, grid: Grid, threshold: float = EXPLODING_LOG10
) -> list[str]:
    """Combinations whose first hidden layer's gradient at init exceeds ``10**threshold``
    times the last hidden layer's."""
    sel = _ordered(summary[summary["log10_delta_ratio_hidden_mean"] > threshold], grid)
    if sel.empty:
        return []
    combos = {(r.initializer, r.activation, int(r.depth)) for r in sel.itertuples()}
    values = {
        (r.initializer, r.activation, int(r.depth)): f"+{r.log10_delta_ratio_hidden_mean:.1f}"
        for r in sel.itertuples()
    }
    return [
        f"The first hidden layer's gradient exceeds 1e{threshold:.0f} times the last hidden "
        "layer's "
        f"(exploding) in {len(combos)} combination{'' if len(combos) == 1 else 's'}: "
        + _join(group_combinations(combos, grid, values))
        + "."
    ]


def never_trained(summary: pd.DataFrame, grid: Grid) -> list[str]:
    """Combinations whose verdict is ``fails`` or ``diverged``."""
    out = []
    for verdict, what in (
        (
            "fails",
            "never trained (verdict fails: mean test accuracy below chance + 0.25 (1 - chance))",
        ),
        ("diverged", "diverged in more than half of their seeds (verdict diverged)"),
    ):
        sel = summary[summary["verdict"] == verdict]
        if sel.empty:
            continue
        combos = {(r.initializer, r.activation, int(r.depth)) for r in sel.itertuples()}
        out.append(
            f"{len(combos)} of {len(summary)} combinations {what}: "
            + _join(group_combinations(combos, grid))
            + "."
        )
    if not out:
        out.append("Every combination trained at least partially; none diverged.")
    return out


def budget_check(summary: pd.DataFrame, grid: Grid, epochs: int) -> list[str]:
    """The budget check's outcome for every combination that fails or trains partially.

    ``summary.csv``'s ``budget_outcome`` (slow, improving, stuck, diverges) groups them; without
    a budget check (``budget_epochs`` equal to the study's ``epochs``) one line says how to
    ask for one.
    """
    below = summary[summary["verdict"].isin(["fails", "partial"])]
    if below.empty or epochs < 1:
        return []
    if "budget_epochs" not in summary or int(summary["budget_epochs"].max()) <= epochs:
        return [
            f"No budget check: whether the {len(below)} combinations below the target are slow "
            "or stuck is not measured (set training.budget_check, e.g. 3, to train their "
            "failing seeds on to 3\u00d7 the epochs)."
        ]
    longer = int(summary["budget_epochs"].max())
    out = [
        f"Budget check: the seeds below the target trained on to {longer} epochs "
        f"({longer // epochs}\u00d7 the study's {epochs}); verdicts there, of the {len(below)} "
        "combinations that fail or train partially at the study's budget:"
    ]
    for outcome, meaning in BUDGET_OUTCOMES.items():
        sel = below[below["budget_outcome"] == outcome]
        if sel.empty:
            continue
        combos = {(r.initializer, r.activation, int(r.depth)) for r in sel.itertuples()}
        out.append(
            f"{len(combos)} {outcome} ({meaning}): " + _join(group_combinations(combos, grid)) + "."
        )
    return out


def diverged_runs(runs: pd.DataFrame, grid: Grid) -> list[str]:
    """Every run whose loss became non-finite, grouped by combination, with the step."""
    div = runs[runs["diverged"]]
    if div.empty:
        return [f"No run diverged (0 of {len(runs)} runs)."]
    items = []
    for (init, act, depth), grp in _ordered(div, grid).groupby(
        ["initializer", "activation", "depth"], sort=False
    ):
        n_all = int(
            (
                (runs["initializer"] == init)
                & (runs["activation"] == act)
                & (runs["depth"] == depth)
            ).sum()
        )
        steps = ", ".join(
            str(int(s)) if np.isfinite(s) else "?"
            for s in grp.sort_values("seed")["diverged_step"].astype(float)
        )
        word = "step" if len(grp) == 1 else "steps"
        items.append(
            f"{init} \u00d7 {act} at depth {depth}: {len(grp)}/{n_all} seeds ({word} {steps})"
        )
    return [
        f"{len(div)} of {len(runs)} runs diverged (non-finite loss; step = optimizer "
        "step): " + _join(items) + "."
    ]


def depth_robustness(summary: pd.DataFrame, grid: Grid) -> list[str]:
    """The activation whose best initializer loses the least test accuracy from the shallowest
    to the deepest depth (and the one that loses the most)."""
    if len(grid.depths) < 2:
        return ["Only one depth in the grid: robustness to depth is not assessed."]
    lo_d, hi_d = grid.shallowest, grid.deepest
    ok = summary[(summary["verdict"] != "diverged") & summary["final_test_acc_mean"].notna()]
    rows = []
    for act in grid.activations:
        best = {}
        for d in (lo_d, hi_d):
            sel = ok[(ok["activation"] == act) & (ok["depth"] == d)]
            best[d] = float(sel["final_test_acc_mean"].max()) if len(sel) else 0.0
        rows.append((act, best[lo_d], best[hi_d], best[hi_d] - best[lo_d]))
    # most robust: smallest loss, then highest deep accuracy; stable in config order
    ranked = sorted(rows, key=lambda r: (-round(r[3], 12), -r[2]))
    top, worst = ranked[0], ranked[-1]
    text = (
        f"Most robust to depth: {top[0]}. With its best initializer the mean test accuracy "
        f"goes from {top[1]:.3f} at depth {lo_d} to {top[2]:.3f} at depth {hi_d} "
        f"({top[3]:+.3f})."
    )
    if worst[0] != top[0]:
        text += f" Least robust: {worst[0]} ({worst[1]:.3f} -> {worst[2]:.3f}, {worst[3]:+.3f})."
    return [text]


def unhealthy_units(summary: pd.DataFrame, grid: Grid) -> list[str]:
    """Combinations with mostly dead or saturated hidden units at initialization."""
    out = []
    for col, share, what in (
        ("dead_frac_init_mean", DEAD_SHARE, "dead (derivative ~0 for every probe example)"),
        (
            "saturated_frac_init_mean",
            SATURATED_SHARE,
            f"saturated (derivative below {SATURATION_THRESHOLD:.0%} of its maximum)",
        ),
    ):
        sel = summary[summary[col] > share]
        if sel.empty:
            continue
        combos = {(r.initializer, r.activation, int(r.depth)) for r in sel.itertuples()}
        out.append(
            f"More than {share:.0%} of the hidden units are {what} at initialization in "
            f"{len(combos)} combinations: " + _join(group_combinations(combos, grid)) + "."
        )
    return out


def verdict_counts(summary: pd.DataFrame) -> dict[str, int]:
    """Number of combinations per verdict, in the order trains, partial, fails, diverged."""
    counts = summary["verdict"].value_counts()
    return {v: int(counts.get(v, 0)) for v in ("trains", "partial", "fails", "diverged")}


def derive_findings(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    grid: Grid,
    zero_gradient: AbstractSet[Combination] = frozenset(),
) -> list[Finding]:
    """Every finding of the findings page, in reading order.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv``.
    runs : DataFrame
        ``runs.csv`` (for the diverged runs and their steps).
    grid : Grid
        The study's grid, which fixes the order of every list.
    zero_gradient : set of (initializer, activation, depth)
        Combinations whose first-layer gradient is exactly zero at init.

    Returns
    -------
    list of Finding
        Headings with their statements.
    """
    counts = verdict_counts(summary)
    epochs = int(runs["epochs"].max()) if "epochs" in runs and len(runs) else 0
    overview = (
        f"{len(summary)} combinations ({len(grid.initializers)} initializers \u00d7 "
        f"{len(grid.activations)} activations \u00d7 {len(grid.depths)} depths, "
        f"{len(grid.seeds)} seeds each): " + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."
    )
    findings = [
        Finding("Overview", (overview,)),
        Finding(
            f"Best initializer per activation at the deepest depth ({grid.deepest}; means "
            f"within {TIE_TOLERANCE:g} of the best are named as a tie)",
            tuple(best_initializer_per_activation(summary, grid)),
        ),
        Finding("Robustness to depth", tuple(depth_robustness(summary, grid))),
        Finding(
            "Gradient flow at initialization",
            tuple(
                vanishing_gradients(summary, grid, zero_gradient)
                + exploding_gradients(summary, grid)
            ),
        ),
        Finding(
            "Combinations that did not train",
            tuple(never_trained(summary, grid) + budget_check(summary, grid, epochs)),
        ),
        Finding("Diverged runs", tuple(diverged_runs(runs, grid))),
    ]
    units = unhealthy_units(summary, grid)
    if units:
        findings.append(Finding("Dead and saturated units", tuple(units)))
    return findings
