"""Published claims, declared in a study's configuration and checked against its tables.

A study lists its claims under ``claims:`` (see ``config/studies/*.yaml`` and the schema):
each names the paper it comes from, states the claim in words, picks one of the :data:`RULES`
below, the cells and columns it reads, a threshold, and the reason for that threshold. The rules
are small pure functions of the study's tables (pandas DataFrames keyed ``runs``, ``layers``,
``curves``, ``summary``, ``theory``; columns as in the README's data dictionary).

Every outcome is one of four verdicts:

- ``held``: the measurement supports the claim by the rule;
- ``did not hold``: it contradicts the claim by the rule;
- ``inconclusive``: measured, but the interval is too wide to decide either way;
- ``not measurable``: an input is missing from the tables, not finite, or too small a sample
  (fewer than two seeds for an interval); the reason is given. Missing data never decides a
  claim.

Rules
-----
``difference``
    A per-seed measurement (:ref:`measures <measures>`) of ``cell`` minus that of ``versus``;
    Welch's interval of the difference. ``test: greater`` holds when the 95% interval lies
    above ``threshold`` and fails when it lies below it; ``test: equivalent`` is a two
    one-sided tests (TOST, Schuirmann 1987) procedure: it holds when the 90% interval lies
    inside ``[-threshold, threshold]`` and fails when it lies entirely outside.
``deviation``
    A per-seed measurement of ``cell`` minus a reference: a number (``reference: {value: x}``)
    or the same measurement applied to a ``theory.csv`` column (``reference: {theory: col}``);
    one-sample t interval, tests as for ``difference``.
``verdicts``
    Every listed cell has one of the listed ``summary.csv`` verdicts (a verdict is computed over
    all seeds, a diverged seed counting as a failed run).
``moment_band``
    Post-activation moments ``(mu, nu) = (a_mean, a_std^2)`` of hidden layers at step 0, every
    seed: ``inside`` the band ``|mu| <= threshold`` and ``band[0] <= nu <= band[1]`` on every
    layer checked, or ``outside`` it somewhere, as each cell ``expect``-s.
``difference`` and ``deviation`` take an optional ``requires_verdict`` list: a claim about
    trained nets is ``not measurable`` for cells whose verdict is not in it.
``depth_bound``
    Share of ``summary.csv`` cells of ``activation`` with verdict ``trains`` inside
    ``depth <= multiple * scale`` (a ``theory.csv`` depth scale) at least ``threshold``, and
    beyond it at most ``1 - threshold``.

.. _measures:

Seeds are paired across cells: one seed draws the same weight stream (scaled by each
initializer) and batch order for every initializer, so a ReLU net's He and Xavier draws differ
by exactly sqrt(2). Welch's interval ignores that pairing, which makes it conservative when the
paired values correlate positively.

Measures (per seed) take ``table`` ``runs`` (a column; a diverged seed's missing accuracy
counts at chance), ``curves`` (a column at ``epoch``; an accuracy of a seed that diverged
earlier counts at chance, any other column is then missing), or ``layers`` with
``slope: true``: the least-squares slope of ``log10(column)`` over hidden layers
``first_layer..depth`` at step 0, in decades per layer going up (a gradient that shrinks towards
the input has a positive slope).

Examples
--------
>>> spec = {"id": "tanh_n_better", "rule": "difference", "test": "greater", "threshold": 0.0,
...         "measure": {"table": "runs", "column": "final_test_acc"},
...         "cell": {"initializer": "glorot_uniform", "activation": "tanh", "depth": 5},
...         "versus": {"initializer": "standard_uniform", "activation": "tanh", "depth": 5},
...         "statement": "...", "source": "...", "reason": "..."}
>>> evaluate_claims([spec], tables)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "CLAIM_COLUMNS",
    "RULES",
    "TABLE_NAMES",
    "VERDICTS",
    "Claim",
    "check_claims",
    "claim_cells",
    "claims_table",
    "evaluate_claims",
    "one_sample_interval",
    "welch_interval",
]

Tables = Mapping[str, pd.DataFrame]
"""The study's tables keyed by name."""

TABLE_NAMES = ("runs", "layers", "curves", "summary", "theory")
"""The tables the rules read (``timings`` never is)."""

CLAIM_COLUMNS = (
    "id",
    "claim",
    "source",
    "rule",
    "measured",
    "threshold",
    "reason",
    "held",
    "verdict",
    "note",
    "caveat",
)
"""Columns of :func:`claims_table` (``claims.csv``)."""

VERDICTS = ("held", "did not hold", "inconclusive", "not measurable")

CELL_KEYS = ("initializer", "activation", "depth")
VERDICT_NAMES = ("trains", "partial", "fails", "diverged")


@dataclass(frozen=True)
class Claim:
    """One declared claim confronted with a study's measurements.

    Attributes
    ----------
    id, claim, source, rule : str
        The declaration: identifier, the claim in words, where it is published, the rule.
    measured : str
        What this study measured, with the numbers and the number of seeds.
    threshold : str
        The decision rule with its threshold, in words.
    reason : str
        Why that threshold (from the declaration).
    verdict : str
        One of :data:`VERDICTS`.
    note : str
        Why the verdict is what it is (the failed condition, the missing input).
    caveat : str
        A limit of the check stated in the declaration (e.g. a budget calibrated on one cell).
    """

    id: str
    claim: str
    source: str
    rule: str
    measured: str
    threshold: str
    reason: str
    verdict: str
    note: str = ""
    caveat: str = ""

    @property
    def held(self) -> bool | None:
        """``True`` / ``False`` for held / did not hold, ``None`` otherwise."""
        return {"held": True, "did not hold": False}.get(self.verdict)


@dataclass(frozen=True)
class Outcome:
    """What a rule returns: the measurement text, the rule text, the verdict and why."""

    measured: str
    threshold: str
    verdict: str
    note: str = ""


class NotMeasurable(Exception):
    """Raised inside a rule when an input is missing, not finite or too small a sample."""


# --- statistics ------------------------------------------------------------------------------


def welch_interval(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` and its Welch ``level`` two-sided interval.

    Raises :class:`NotMeasurable` with fewer than two values on a side or non-finite values.
    """
    a, b = _finite(a, "a"), _finite(b, "b")
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(sps.t.ppf(0.5 + level / 2, dof)) * se
    return diff, diff - half, diff + half


def one_sample_interval(a: np.ndarray, level: float) -> tuple[float, float, float]:
    """``mean(a)`` and its Student-t ``level`` two-sided interval (at least two values)."""
    a = _finite(a, "the cell")
    mean = float(a.mean())
    se = float(a.std(ddof=1)) / math.sqrt(len(a))
    half = float(sps.t.ppf(0.5 + level / 2, len(a) - 1)) * se
    return mean, mean - half, mean + half


def _finite(values: np.ndarray, side: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise NotMeasurable(f"{side} has {int((~np.isfinite(v)).sum())} non-finite value(s)")
    if len(v) < 2:
        raise NotMeasurable(f"{side} has {len(v)} seed(s); an interval needs at least 2")
    return v


def _decide(
    estimate: Callable[[float], tuple[float, float, float]], test: str, threshold: float
) -> tuple[str, str, tuple[float, float, float]]:
    """Verdict of an interval test; ``estimate(level)`` gives (point, lo, hi)."""
    if test == "greater":
        point, lo, hi = estimate(0.95)
        verdict = "held" if lo > threshold else "did not hold" if hi < threshold else "inconclusive"
        return verdict, "95%", (point, lo, hi)
    if test == "less":
        point, lo, hi = estimate(0.95)
        verdict = "held" if hi < threshold else "did not hold" if lo > threshold else "inconclusive"
        return verdict, "95%", (point, lo, hi)
    point, lo, hi = estimate(0.90)  # TOST at alpha = 0.05 uses the 90% interval
    if -threshold < lo and hi < threshold:
        verdict = "held"
    elif lo > threshold or hi < -threshold:
        verdict = "did not hold"
    else:
        verdict = "inconclusive"
    return verdict, "90%", (point, lo, hi)


def _rule_text(test: str, threshold: float, what: str, level: str) -> str:
    if test == "greater":
        return f"held if the {level} interval of {what} lies above {threshold:g}"
    if test == "less":
        return f"held if the {level} interval of {what} lies below {threshold:g}"
    return (
        f"equivalence (TOST): held if the {level} interval of {what} lies inside "
        f"[-{threshold:g}, {threshold:g}], did not hold if it lies outside"
    )


# --- measures --------------------------------------------------------------------------------


def _select(df: pd.DataFrame | None, **equal: Any) -> pd.DataFrame:
    if df is None or df.empty or any(col not in df.columns for col in equal):
        return pd.DataFrame()
    mask = np.ones(len(df), dtype=bool)
    for col, value in equal.items():
        mask &= (df[col] == value).to_numpy()
    return df[mask]


_NOT_CELL = ("verdict", "expect")
"""Keys of a claim's cell that are not coordinates (the rest: CELL_KEYS and extra axes)."""


def _cell_text(cell: Mapping[str, Any]) -> str:
    axes = [f"{k}={v}" for k, v in cell.items() if k not in (*CELL_KEYS, *_NOT_CELL)]
    text = f"{cell['initializer']}/{cell['activation']}/d{cell['depth']}"
    return text + (f" [{', '.join(axes)}]" if axes else "")


def _cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's coordinates: initializer, activation, depth and any extra-axis values."""
    return {k: v for k, v in cell.items() if k not in _NOT_CELL}


def _chance(tables: Tables, cell: Mapping[str, Any]) -> float:
    runs = _select(tables.get("runs"), **_cell(cell))
    if runs.empty or "n_classes" not in runs.columns:
        raise NotMeasurable(f"no runs of {_cell_text(cell)} to take the class count from")
    return 1.0 / float(runs["n_classes"].iloc[0])


def _log_slopes(profile: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``log10(profile)`` against the layer index, one per row."""
    if profile.shape[1] < 2:
        raise NotMeasurable("a slope needs at least two layers")
    if not np.all(np.isfinite(profile)) or np.any(profile <= 0):
        raise NotMeasurable("a layer value is 0 or not finite (log of it undefined)")
    x = np.arange(profile.shape[1], dtype=np.float64)
    x -= x.mean()
    y = np.log10(profile)
    return (y - y.mean(axis=1, keepdims=True)) @ x / float(x @ x)


def measure(tables: Tables, cell: Mapping[str, Any], spec: Mapping[str, Any]) -> np.ndarray:
    """Per-seed values of the measurement ``spec`` on ``cell`` (see the module docstring).

    Raises
    ------
    NotMeasurable
        The cell or column is missing or a seed's value is missing.
    """
    table, column = spec["table"], spec["column"]
    name = _cell_text(cell)
    if table == "runs":
        rows = _select(tables.get("runs"), **_cell(cell))
        if rows.empty or column not in rows.columns:
            raise NotMeasurable(f"runs.csv has no {column} for {name} (not in this grid?)")
        values = rows.sort_values("seed")[column].astype("float64").to_numpy().copy()
        if column.endswith("_acc") and "diverged" in rows.columns:
            # a diverged seed's final accuracy is undefined: a failed run at chance (an
            # accuracy it did record, such as best_val_acc, is kept)
            diverged = rows.sort_values("seed")["diverged"].astype(bool).to_numpy()
            missing = diverged & ~np.isfinite(values)
            if missing.any():
                values[missing] = _chance(tables, cell)
        return values
    if table == "curves":
        runs = _select(tables.get("runs"), **_cell(cell))
        curves = _select(tables.get("curves"), **_cell(cell))
        if runs.empty or curves.empty or column not in curves.columns:
            raise NotMeasurable(f"the curves table has no {column} for {name}")
        at = curves[np.isclose(curves["epoch"].astype(float), float(spec["epoch"]))]
        by_seed = at.groupby("seed")[column].first()
        values = []
        for seed, diverged in runs.sort_values("seed")[["seed", "diverged"]].itertuples(
            index=False
        ):
            if seed in by_seed.index and math.isfinite(float(by_seed[seed])):
                values.append(float(by_seed[seed]))
            elif bool(diverged) and column.endswith("_acc"):
                values.append(_chance(tables, cell))
            else:
                raise NotMeasurable(
                    f"seed {seed} of {name} has no {column} at epoch {spec['epoch']}"
                )
        return np.asarray(values)
    # layers: slope of log10(column) over hidden layers first_layer..depth at step 0
    first = _first_layer(spec, int(cell["depth"]))
    rows = _select(tables.get("layers"), **_cell(cell), step=0)
    if rows.empty or column not in rows.columns:
        raise NotMeasurable(f"the layers table has no step-0 {column} for {name}")
    rows = rows[(rows["layer"] >= first) & (rows["layer"] <= int(cell["depth"]))]
    profile = rows.pivot_table(index="seed", columns="layer", values=column, aggfunc="first")
    if list(profile.columns) != list(range(first, int(cell["depth"]) + 1)):
        raise NotMeasurable(
            f"the layers table lacks some of layers {first}..{cell['depth']} of {name}"
        )
    return _log_slopes(profile.to_numpy(dtype=np.float64))


def _first_layer(spec: Mapping[str, Any], depth: int) -> int:
    first = spec.get("first_layer", 1)
    return depth // 2 + 1 if first == "deep_half" else int(first)


def predicted_slope(tables: Tables, cell: Mapping[str, Any], spec: Mapping[str, Any]) -> float:
    """The ``layers`` slope measurement applied to the ``theory.csv`` column ``spec['theory']``."""
    column = spec["theory"]
    first = _first_layer(spec, int(cell["depth"]))
    rows = _select(tables.get("theory"), **_cell(cell))
    if rows.empty or column not in rows.columns:
        raise NotMeasurable(f"theory.csv has no {column} for {_cell_text(cell)}")
    rows = rows[(rows["layer"] >= first) & (rows["layer"] <= int(cell["depth"]))]
    profile = rows.sort_values("layer")[column].to_numpy(dtype=np.float64)[None, :]
    return float(_log_slopes(profile)[0])


def _measure_text(spec: Mapping[str, Any]) -> str:
    if spec["table"] == "layers":
        first = spec.get("first_layer", 1)
        layers = "the deeper half of the" if first == "deep_half" else f"layer {first} to the last"
        return f"per-layer slope of log10 {spec['column']} (decades per layer, {layers} hidden)"
    if spec["table"] == "curves":
        return f"{spec['column']} at epoch {spec['epoch']:g}"
    return str(spec["column"])


def _values_text(values: np.ndarray, digits: int = 3) -> str:
    return "[" + ", ".join(f"{v:.{digits}g}" for v in values) + "]"


# --- rules -----------------------------------------------------------------------------------


def _require_verdicts(tables: Tables, spec: Mapping[str, Any], cells: Sequence[Any]) -> None:
    """A claim about trained nets (``requires_verdict``) does not apply to cells that did not
    train: two nets stalled at chance are not "equally good"."""
    allowed = spec.get("requires_verdict")
    if not allowed:
        return
    for cell in cells:
        row = _select(tables.get("summary"), **_cell(cell))
        if row.empty:
            raise NotMeasurable(f"summary.csv has no row for {_cell_text(cell)}")
        got = str(row.iloc[0]["verdict"])
        if got not in allowed:
            raise NotMeasurable(
                f"the claim is about nets that {' or '.join(allowed)}; {_cell_text(cell)} is "
                f"'{got}'"
            )


def rule_difference(tables: Tables, spec: Mapping[str, Any]) -> Outcome:
    """``measure(cell) - measure(versus)``, Welch interval, ``test`` against ``threshold``."""
    m, test, threshold = spec["measure"], spec["test"], float(spec["threshold"])
    _require_verdicts(tables, spec, (spec["cell"], spec["versus"]))
    a_name, b_name = _cell_text(spec["cell"]), _cell_text(spec["versus"])
    what = f"{_measure_text(m)} of {a_name} minus {b_name}"
    a = measure(tables, spec["cell"], m)
    b = measure(tables, spec["versus"], m)
    verdict, level, (diff, lo, hi) = _decide(lambda lev: welch_interval(a, b, lev), test, threshold)
    measured = (
        f"{_measure_text(m)}: {a_name} mean {np.mean(a):.4g} over {len(a)} seeds "
        f"{_values_text(a)}; {b_name} mean {np.mean(b):.4g} over {len(b)} seeds "
        f"{_values_text(b)}; difference {diff:+.4g}, Welch {level} interval "
        f"[{lo:+.4g}, {hi:+.4g}]"
    )
    return Outcome(measured, _rule_text(test, threshold, what, level), verdict)


def rule_deviation(tables: Tables, spec: Mapping[str, Any]) -> Outcome:
    """``measure(cell) - reference``, one-sample t interval, ``test`` against ``threshold``."""
    m, test, threshold = spec["measure"], spec["test"], float(spec["threshold"])
    _require_verdicts(tables, spec, (spec["cell"],))
    name = _cell_text(spec["cell"])
    values = measure(tables, spec["cell"], m)
    ref_spec = spec["reference"]
    if "theory" in ref_spec:
        reference = predicted_slope(tables, spec["cell"], {**m, "theory": ref_spec["theory"]})
        ref_text = f"the same slope of theory.csv {ref_spec['theory']} ({reference:+.4g})"
    else:
        reference = float(ref_spec["value"])
        ref_text = f"{reference:g}"
    if not math.isfinite(reference):
        raise NotMeasurable(f"the reference {ref_text} is not finite")
    verdict, level, (point, lo, hi) = _decide(
        lambda lev: one_sample_interval(values - reference, lev), test, threshold
    )
    measured = (
        f"{_measure_text(m)} of {name}: mean {np.mean(values):+.4g} over {len(values)} seeds "
        f"{_values_text(values)}; reference {ref_text}; deviation {point:+.4g}, {level} "
        f"interval [{lo:+.4g}, {hi:+.4g}]"
    )
    what = f"the deviation of {_measure_text(m)} of {name} from {ref_text}"
    return Outcome(measured, _rule_text(test, threshold, what, level), verdict)


def rule_verdicts(tables: Tables, spec: Mapping[str, Any]) -> Outcome:
    """Every cell of ``spec['cells']`` has one of its ``verdict`` values in ``summary.csv``."""
    parts, wrong = [], []
    for cell in spec["cells"]:
        row = _select(tables.get("summary"), **_cell(cell))
        if row.empty:
            raise NotMeasurable(f"summary.csv has no row for {_cell_text(cell)}")
        r = row.iloc[0]
        got = str(r["verdict"])
        n_div = round(float(r["share_diverged"]) * int(r["n_seeds"]))
        parts.append(
            f"{_cell_text(cell)}: {got} (test acc over all {int(r['n_seeds'])} seeds "
            f"{float(r['final_test_acc_mean']):.3f}, {n_div} diverged)"
        )
        if got not in cell["verdict"]:
            wrong.append(f"{_cell_text(cell)} is '{got}', not {' or '.join(cell['verdict'])}")
    rule = "held if " + "; ".join(
        f"{_cell_text(c)} is {' or '.join(repr(v) for v in c['verdict'])}" for c in spec["cells"]
    )
    verdict = "did not hold" if wrong else "held"
    return Outcome("; ".join(parts), rule, verdict, "; ".join(wrong))


def rule_moment_band(tables: Tables, spec: Mapping[str, Any]) -> Outcome:
    """Post-activation moments of each cell inside / outside the band, as it expects."""
    mean_tol, (lo, hi) = float(spec["threshold"]), (float(b) for b in spec["band"])
    first_spec = spec.get("first_layer", 1)
    parts, wrong = [], []
    for cell in spec["cells"]:
        depth = int(cell["depth"])
        first = _first_layer({"first_layer": first_spec}, depth)
        rows = _select(tables.get("layers"), **_cell(cell), step=0)
        if rows.empty or not {"a_mean", "a_std"} <= set(rows.columns):
            raise NotMeasurable(
                f"the layers table has no step-0 a_mean/a_std for {_cell_text(cell)}"
            )
        rows = rows[(rows["layer"] >= first) & (rows["layer"] <= depth)]
        if first > depth or rows["layer"].nunique() != depth - first + 1:
            raise NotMeasurable(f"the layers table lacks hidden layers of {_cell_text(cell)}")
        mu = rows["a_mean"].to_numpy(dtype=np.float64)
        nu = rows["a_std"].to_numpy(dtype=np.float64) ** 2
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(nu))):
            raise NotMeasurable(f"a moment of {_cell_text(cell)} is not finite")
        inside = bool(np.all(np.abs(mu) <= mean_tol) and np.all((nu >= lo) & (nu <= hi)))
        n_seeds = rows["seed"].nunique()
        parts.append(
            f"{_cell_text(cell)} (layers {first}..{depth}, {n_seeds} seeds): max |mu| "
            f"{np.abs(mu).max():.3g}, nu in [{nu.min():.3g}, {nu.max():.3g}] -> "
            f"{'inside' if inside else 'outside'}"
        )
        if inside != (cell["expect"] == "inside"):
            wrong.append(f"{_cell_text(cell)} is {'inside' if inside else 'outside'}")
    layers = (
        "the deeper half of the hidden layers"
        if first_spec == "deep_half"
        else (f"hidden layers {first_spec}..depth")
    )
    rule = (
        f"band: |mu| <= {mean_tol:g} and {lo:g} <= nu <= {hi:g} on every one of {layers} and "
        "every seed at step 0; held if each cell is inside / outside the band as it expects ("
        + ", ".join(f"{_cell_text(c)}: {c['expect']}" for c in spec["cells"])
        + ")"
    )
    return Outcome("; ".join(parts), rule, "did not hold" if wrong else "held", "; ".join(wrong))


def rule_depth_bound(tables: Tables, spec: Mapping[str, Any]) -> Outcome:
    """Cells inside ``depth <= multiple * scale`` train, cells beyond do not."""
    act, scale, multiple = spec["activation"], spec["scale"], float(spec["multiple"])
    share = float(spec["threshold"])
    point = dict(spec.get("point", {}))  # the baseline of the extra axes (evaluate_claims)
    summary = _select(tables.get("summary"), activation=act, **point)
    theory = _select(tables.get("theory"), activation=act, **point)
    if summary.empty or theory.empty or scale not in theory.columns:
        raise NotMeasurable(f"summary.csv / theory.csv have no {scale} rows of {act}")
    per = theory.groupby(["initializer", "depth"], sort=False)[scale].first()
    inside, beyond = [], []
    for row in summary.itertuples(index=False):
        xi = float(per.get((row.initializer, row.depth), math.nan))
        if math.isnan(xi):
            raise NotMeasurable(f"theory.csv has no {scale} for {row.initializer}/d{row.depth}")
        (inside if row.depth <= multiple * xi else beyond).append(row.verdict == "trains")
    if not inside or not beyond:
        raise NotMeasurable(
            f"every cell lies {'beyond' if not inside else 'inside'} {multiple:g} {scale}: "
            "the grid does not test the boundary"
        )
    f_in, f_out = float(np.mean(inside)), float(np.mean(beyond))
    measured = (
        f"depth <= {multiple:g} {scale}: {sum(inside)}/{len(inside)} cells train ({f_in:.0%}); "
        f"beyond: {sum(beyond)}/{len(beyond)} ({f_out:.0%})"
    )
    rule = (
        f"held if >= {share:.0%} of the cells inside train and <= {1 - share:.0%} of the cells "
        "beyond do (verdict 'trains')"
    )
    why = [
        *([f"only {f_in:.0%} inside train"] if f_in < share else []),
        *([f"{f_out:.0%} beyond train"] if f_out > 1 - share else []),
    ]
    return Outcome(measured, rule, "did not hold" if why else "held", "; ".join(why))


RULES: Mapping[str, Callable[[Tables, Mapping[str, Any]], Outcome]] = {
    "difference": rule_difference,
    "deviation": rule_deviation,
    "verdicts": rule_verdicts,
    "moment_band": rule_moment_band,
    "depth_bound": rule_depth_bound,
}
"""Rule name -> the function that decides a claim declared with it."""


# --- declarations: validation ----------------------------------------------------------------

_COMMON = {"id", "statement", "source", "rule", "reason", "caveat"}
_RULE_KEYS: Mapping[str, tuple[set[str], set[str]]] = {  # required, optional
    "difference": ({"cell", "versus", "measure", "test", "threshold"}, {"requires_verdict"}),
    "deviation": ({"cell", "measure", "reference", "test", "threshold"}, {"requires_verdict"}),
    "verdicts": ({"cells"}, set()),
    "moment_band": ({"cells", "threshold", "band"}, {"first_layer"}),
    "depth_bound": ({"activation", "scale", "multiple", "threshold"}, set()),
}
_TESTS = ("greater", "less", "equivalent")
_MEASURE_TABLES = ("runs", "curves", "layers")


_Grid = Mapping[str, Sequence[Any]]
"""``initializers`` and ``activations``: the names a study knows (built-in and custom)."""


class ClaimError(ValueError):
    """A claim declaration that cannot be checked, named by its config key."""


def _fail(key: str, value: Any, allowed: str) -> ClaimError:
    return ClaimError(f"config key {key}: got {value!r}; allowed: {allowed}")


def _check_cell(key: str, cell: Any, grid: _Grid, extra: set[str]) -> None:
    if not isinstance(cell, Mapping):
        raise _fail(key, cell, "a mapping with initializer, activation, depth")
    axes = list(grid.get("axes", ()))
    unknown = set(cell) - set(CELL_KEYS) - extra - set(axes)
    if unknown:
        allowed = ", ".join([*CELL_KEYS, *sorted(extra)])
        allowed += f", or an extra axis of this study ({', '.join(axes) or 'it has none'})"
        raise _fail(f"{key}.{sorted(unknown)[0]}", cell[sorted(unknown)[0]], allowed)
    for k in CELL_KEYS:
        if k not in cell:
            raise ClaimError(f"config key {key}: '{k}' is missing")
    for k, plural in (("initializer", "initializers"), ("activation", "activations")):
        if cell[k] not in grid[plural]:
            raise _fail(f"{key}.{k}", cell[k], f"a known {k} name ({', '.join(grid[plural])})")
    depth = cell["depth"]
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise _fail(f"{key}.depth", depth, "a number of hidden layers >= 1")


def _check_measure(key: str, m: Any) -> None:
    if not isinstance(m, Mapping) or m.get("table") not in _MEASURE_TABLES:
        raise _fail(
            f"{key}.table",
            None if not isinstance(m, Mapping) else m.get("table"),
            " | ".join(_MEASURE_TABLES),
        )
    allowed = {"table", "column", "epoch", "slope", "first_layer"}
    unknown = set(m) - allowed
    if unknown:
        raise _fail(
            f"{key}.{sorted(unknown)[0]}", m[sorted(unknown)[0]], f"one of {sorted(allowed)}"
        )
    if not isinstance(m.get("column"), str):
        raise _fail(f"{key}.column", m.get("column"), "a column name")
    if m["table"] == "curves" and not isinstance(m.get("epoch"), int | float):
        raise _fail(f"{key}.epoch", m.get("epoch"), "a number (curves are read at an epoch)")
    if m["table"] == "layers" and m.get("slope") is not True:
        raise _fail(f"{key}.slope", m.get("slope"), "true (layers are measured as a slope)")


def _verdict_list(key: str, value: Any) -> None:
    if not isinstance(value, list) or not value or any(v not in VERDICT_NAMES for v in value):
        raise _fail(key, value, f"a list of {' | '.join(VERDICT_NAMES)}")


def _check_keys(key: str, spec: Mapping[str, Any]) -> None:
    """The rule exists, its required keys are there and no key is unknown."""
    rule = spec.get("rule")
    if rule not in RULES:
        raise _fail(f"{key}.rule", rule, " | ".join(RULES))
    required, optional = _RULE_KEYS[rule]
    missing = required - set(spec)
    if missing:
        raise ClaimError(f"config key {key}: rule {rule} needs '{sorted(missing)[0]}'")
    unknown = set(spec) - required - optional - _COMMON
    if unknown:
        name = sorted(unknown)[0]
        raise _fail(
            f"{key}.{name}", spec[name], f"the keys of rule {rule}: {sorted(required | optional)}"
        )


def _check_interval_rule(key: str, spec: Mapping[str, Any], grid: _Grid) -> None:
    """``difference`` and ``deviation``: test, margin, cells, measure, reference."""
    if spec["test"] not in _TESTS:
        raise _fail(f"{key}.test", spec["test"], " | ".join(_TESTS))
    if spec["test"] == "equivalent" and not spec["threshold"] > 0:
        raise _fail(f"{key}.threshold", spec["threshold"], "a margin > 0 for 'equivalent'")
    if "requires_verdict" in spec:
        _verdict_list(f"{key}.requires_verdict", spec["requires_verdict"])
    for name in ("cell", "versus"):
        if name in spec:
            _check_cell(f"{key}.{name}", spec[name], grid, set())
    _check_measure(f"{key}.measure", spec["measure"])
    ref = spec.get("reference")
    if spec["rule"] != "deviation":
        return
    if not (
        isinstance(ref, Mapping)
        and len(ref) == 1
        and (isinstance(ref.get("value"), int | float) or isinstance(ref.get("theory"), str))
    ):
        raise _fail(f"{key}.reference", ref, "{value: <number>} or {theory: <column>}")
    if "theory" in ref and spec["measure"]["table"] != "layers":
        raise _fail(f"{key}.reference", ref, "a theory column only with a layers slope")


def _check_verdicts(key: str, spec: Mapping[str, Any], grid: _Grid) -> None:
    for j, cell in enumerate(spec["cells"]):
        _check_cell(f"{key}.cells.{j}", cell, grid, {"verdict"})
        _verdict_list(f"{key}.cells.{j}.verdict", cell.get("verdict"))


def _check_moment_band(key: str, spec: Mapping[str, Any], grid: _Grid) -> None:
    first = spec.get("first_layer", 1)
    for j, cell in enumerate(spec["cells"]):
        _check_cell(f"{key}.cells.{j}", cell, grid, {"expect"})
        if cell.get("expect") not in ("inside", "outside"):
            raise _fail(f"{key}.cells.{j}.expect", cell.get("expect"), "inside | outside")
        if first != "deep_half" and first > cell["depth"]:
            raise _fail(
                f"{key}.first_layer",
                first,
                f"a hidden layer of every cell (<= {cell['depth']}) or deep_half",
            )
    band = spec["band"]
    if not (isinstance(band, list) and len(band) == 2 and band[0] < band[1]):
        raise _fail(f"{key}.band", band, "[low, high] with low < high")


def _check_depth_bound(key: str, spec: Mapping[str, Any], grid: _Grid) -> None:
    if not 0 < spec["threshold"] <= 1:
        raise _fail(f"{key}.threshold", spec["threshold"], "a share in (0, 1]")
    if spec["activation"] not in grid["activations"]:
        raise _fail(
            f"{key}.activation",
            spec["activation"],
            f"a known activation name ({', '.join(grid['activations'])})",
        )


_RULE_CHECKS: Mapping[str, Callable[[str, Mapping[str, Any], _Grid], None]] = {
    "difference": _check_interval_rule,
    "deviation": _check_interval_rule,
    "verdicts": _check_verdicts,
    "moment_band": _check_moment_band,
    "depth_bound": _check_depth_bound,
}


def check_claims(claims: Sequence[Mapping[str, Any]], grid: _Grid) -> None:
    """Check every claim declaration against the rules and the study's grid.

    Parameters
    ----------
    claims : sequence of mapping
        The config's ``claims`` list (the schema has checked types and the common keys).
    grid : mapping
        ``initializers`` and ``activations``: every name the study knows (built-in and custom).
        A claim may name a cell outside the study's grid (a grid narrowed with ``--config``
        keeps the config file's claims): it is then "not measurable", not an error; a name
        that does not exist at all is an error.

    Raises
    ------
    ClaimError
        The first problem, naming the key (``claims.2.cell.depth``), the value and what is
        allowed.
    """
    seen: set[str] = set()
    for i, spec in enumerate(claims):
        key = f"claims.{i}"
        _check_keys(key, spec)
        if spec["id"] in seen:
            raise _fail(f"{key}.id", spec["id"], "an id not used by another claim")
        seen.add(spec["id"])
        _RULE_CHECKS[spec["rule"]](key, spec, grid)


# --- evaluation ------------------------------------------------------------------------------


def evaluate_claim(spec: Mapping[str, Any], tables: Tables) -> Claim:
    """Decide one declared claim on ``tables`` (a missing input gives ``not measurable``)."""
    head = {
        "id": str(spec["id"]),
        "claim": str(spec["statement"]),
        "source": str(spec["source"]),
        "rule": str(spec["rule"]),
        "reason": str(spec["reason"]),
        "caveat": str(spec.get("caveat", "")),
    }
    try:
        out = RULES[spec["rule"]](tables, spec)
    except NotMeasurable as why:
        return Claim(
            **head, measured="not measured", threshold="", verdict="not measurable", note=str(why)
        )
    return Claim(
        **head, measured=out.measured, threshold=out.threshold, verdict=out.verdict, note=out.note
    )


def _at_baseline(spec: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` with every cell completed by the baseline value of each extra axis it does not
    name (a cell without axis keys means the baseline point); ``point``: the baseline, for the
    rules that read whole activations (depth_bound)."""
    out = {**spec, "point": dict(baseline)}
    for name in ("cell", "versus"):
        if isinstance(out.get(name), Mapping):
            out[name] = {**baseline, **out[name]}
    if isinstance(out.get("cells"), list):
        out["cells"] = [{**baseline, **c} if isinstance(c, Mapping) else c for c in out["cells"]]
    return out


def evaluate_claims(
    specs: Iterable[Mapping[str, Any]], tables: Tables, baseline: Mapping[str, Any] | None = None
) -> list[Claim]:
    """Decide every declared claim, in declaration order.

    Parameters
    ----------
    specs : iterable of mapping
        The config's ``claims`` (checked by :func:`check_claims`).
    tables : mapping of str to DataFrame
        The study's tables keyed ``runs``, ``layers``, ``curves``, ``summary``, ``theory``
        (``runs`` with its ``n_classes`` column, for chance accuracy), with one column per
        extra axis of the grid (theory: rows at the baseline only).
    baseline : mapping, optional
        The baseline value of every extra axis: a cell that does not name an axis is at it.

    Returns
    -------
    list of Claim
    """
    return [evaluate_claim(_at_baseline(spec, baseline or {}), tables) for spec in specs]


def claim_cells(
    specs: Iterable[Mapping[str, Any]], baseline: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The coordinates of every cell the claims name (``cell``, ``versus``, ``cells``), each
    completed with the ``baseline`` of the axes it does not name, as :func:`evaluate_claims`
    completes them: the only cells whose ``layers`` and ``curves`` rows the rules read.

    Parameters
    ----------
    specs : iterable of mapping
        The config's ``claims``.
    baseline : mapping, optional
        The baseline value of every extra axis.

    Returns
    -------
    list of dict
        One mapping of column -> value per cell named (a run is in the cell when every one of
        its columns holds the value).
    """
    cells = []
    for spec in specs:
        full = _at_baseline(spec, baseline or {})
        named = [full.get("cell"), full.get("versus"), *(full.get("cells") or [])]
        cells.extend(_cell(c) for c in named if isinstance(c, Mapping))
    return cells


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """One row per claim, columns :data:`CLAIM_COLUMNS` (``held`` empty unless decided)."""
    rows = [{c: getattr(claim, c) for c in CLAIM_COLUMNS} for claim in claims]
    table = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    table["held"] = table["held"].astype(object)
    return table
