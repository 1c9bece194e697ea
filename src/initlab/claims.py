"""Published claims about initialization, checked against a study's own tables.

Every check is a pure function: it takes the study's tables (pandas DataFrames read from the
tables folder, keyed ``runs``, ``layers``, ``summary``, ``theory``; columns as in the README's
data dictionary) and returns :class:`Claim` records that state *published claim -> what this
study measured -> held / did not hold*, with the numbers the verdict rests on.

The thresholds that turn numbers into a verdict are module constants fixed in advance (they are
listed below and quoted in each claim's note); nothing is fitted to the data. A claim that cannot
be decided from the tables (a combination missing from the grid, too few seeds for an interval,
a difference whose interval straddles zero) gets ``held=None`` and the reason in its note.

Studies and their checks (see ``config/studies/*.yaml``):

- ``glorot2010``: Glorot & Bengio (2010), AISTATS, §4.2 and Table 1.
- ``he2015``: He, Zhang, Ren & Sun (2015), ICCV, §2.2 and Figs. 2-3.
- ``selu2017``: Klambauer, Unterthiner, Mayr & Hochreiter (2017), NeurIPS (SELU fixed point).
- ``edge_of_chaos``: Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), ICLR (``L <~ 6 xi_c``).

:func:`evaluate_claims` dispatches on the study name through :data:`STUDY_CLAIMS`; studies
without checks (the default study) give an empty list. :func:`claims_table` turns the claims
into a DataFrame (one row per claim) for the report page and ``claims.csv``.

Examples
--------
>>> tables = {name: pd.read_csv(f"results/studies/he2015/tables/{name}.csv")
...           for name in TABLE_NAMES}  # doctest: +SKIP
>>> claims_table(evaluate_claims("he2015", tables))  # doctest: +SKIP
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
    "CONSTANT_FACTOR_SPREAD",
    "FACTOR_RTOL",
    "FLAT_RATIO",
    "SELU_MEAN_TOL",
    "SELU_VAR_TOL",
    "SHRINK_BELOW",
    "SIGMA_W2_TOL",
    "STUDY_CLAIMS",
    "TABLE_NAMES",
    "TRAINABLE_SHARE",
    "Claim",
    "claims_table",
    "edge_of_chaos_claims",
    "edge_of_chaos_trainability",
    "evaluate_claims",
    "glorot2010_claims",
    "glorot_activation_ranking",
    "glorot_backprop_shrinks",
    "glorot_normalized_better",
    "glorot_normalized_flat",
    "glorot_weight_gradients_flat",
    "he2015_claims",
    "he_deep_training",
    "he_forward_variance",
    "he_shallow_parity",
    "he_starts_earlier",
    "selu2017_claims",
    "selu_fixed_point",
    "selu_needs_unit_variance_init",
    "selu_other_activations",
]

Tables = Mapping[str, pd.DataFrame]
"""The study's tables keyed by name (``runs``, ``layers``, ``summary``, ``theory``)."""

TABLE_NAMES = ("runs", "layers", "summary", "theory")
"""The tables the checks read (``curves`` and ``timings`` are not needed)."""

CLAIM_COLUMNS = ("claim", "source", "measured", "held", "verdict", "note")
"""Columns of :func:`claims_table`."""

# --- thresholds, fixed before any study was run ----------------------------------------------

SHRINK_BELOW = 0.9
"""A back-propagated gradient "shrinks" layer by layer when every per-layer factor
``rms delta^l / rms delta^(l+1)`` is below this."""

CONSTANT_FACTOR_SPREAD = 1.5
"""Per-layer factors are "roughly constant" when their max/min ratio is at most this."""

FLAT_RATIO = 2.0
"""A per-layer profile is "roughly flat" when max/min over the hidden layers is at most this (a
band of a factor 2, i.e. +-0.15 in log10 around the geometric centre)."""

FACTOR_RTOL = 0.15
"""Relative tolerance of a measured per-layer variance factor against its prediction."""

SELU_MEAN_TOL = 0.1
"""``|mean of z| <= SELU_MEAN_TOL`` counts as "mean ~ 0" (self-normalizing fixed point)."""

SELU_VAR_TOL = 0.2
"""``|var of z - 1| <= SELU_VAR_TOL`` counts as "variance ~ 1"."""

SIGMA_W2_TOL = 0.05
"""``|sigma_w^2 - 1| <= SIGMA_W2_TOL`` counts as the SNN condition ``n Var[W] = 1``."""

TRAINABLE_SHARE = 0.75
"""The ``L <~ 6 xi_c`` boundary "holds" when at least this share of the cells inside it train
and at most ``1 - TRAINABLE_SHARE`` of the cells beyond it do."""

GLOROT = "Glorot & Bengio 2010 (AISTATS)"
HE = "He et al. 2015 (ICCV)"
SELU = "Klambauer et al. 2017 (NeurIPS)"
SCHOENHOLZ = "Schoenholz et al. 2017 (ICLR)"


@dataclass(frozen=True)
class Claim:
    """One published claim confronted with a study's measurements.

    Attributes
    ----------
    claim : str
        The published claim, in words.
    source : str
        Paper and section / figure / table it comes from.
    measured : str
        What this study measured, with the numbers.
    held : bool or None
        ``True``: the measurement supports the claim; ``False``: it does not; ``None``: the
        tables cannot decide (missing combination, too few seeds, inconclusive interval).
    note : str
        The decision rule and thresholds, and why a claim did not hold or is undecided.
    """

    claim: str
    source: str
    measured: str
    held: bool | None
    note: str = ""

    @property
    def verdict(self) -> str:
        """``"held"``, ``"did not hold"`` or ``"inconclusive"``."""
        return {True: "held", False: "did not hold", None: "inconclusive"}[self.held]


# --- table helpers ---------------------------------------------------------------------------


def _table(tables: Tables, name: str) -> pd.DataFrame:
    """``tables[name]``, or an empty frame when the table is absent."""
    frame = tables.get(name)
    return frame if frame is not None else pd.DataFrame()


def _select(df: pd.DataFrame, **equal: Any) -> pd.DataFrame:
    """Rows of ``df`` whose columns equal the given values (empty if a column is missing)."""
    if df.empty or any(col not in df.columns for col in equal):
        return df.iloc[0:0]
    mask = np.ones(len(df), dtype=bool)
    for col, value in equal.items():
        mask &= (df[col] == value).to_numpy()
    return df[mask]


def _profile(
    layers: pd.DataFrame, initializer: str, activation: str, depth: int, column: str
) -> pd.DataFrame:
    """Step-0 values of ``column`` on the hidden layers: seeds x layers ``1..depth``."""
    rows = _select(layers, initializer=initializer, activation=activation, depth=depth, step=0)
    if rows.empty or column not in rows.columns:
        return pd.DataFrame()
    rows = rows[rows["layer"] <= depth]
    table = rows.pivot_table(index="seed", columns="layer", values=column, aggfunc="first")
    if list(table.columns) != list(range(1, depth + 1)):
        return pd.DataFrame()
    return table.astype("float64")


def _max_min(values: np.ndarray) -> float:
    """``max / min`` of positive finite values (NaN otherwise)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        return math.nan
    return float(v.max() / v.min())


def _summary_row(
    summary: pd.DataFrame, initializer: str, activation: str, depth: int
) -> pd.Series | None:
    rows = _select(summary, initializer=initializer, activation=activation, depth=depth)
    return None if rows.empty else rows.iloc[0]


def _acc_text(row: pd.Series) -> str:
    """``0.918 [0.909, 0.926]`` (mean final test accuracy and its 95% interval)."""
    mean = float(row["final_test_acc_mean"])
    lo, hi = float(row["final_test_acc_ci95_lo"]), float(row["final_test_acc_ci95_hi"])
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{mean:.3f}"


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean difference ``mean(a) - mean(b)`` and its Welch 95% interval (finite values only)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan, math.nan
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(sps.t.ppf(0.975, dof)) * se
    return diff, diff - half, diff + half


def _deepest(df: pd.DataFrame, **equal: Any) -> int | None:
    rows = _select(df, **equal)
    return None if rows.empty else int(rows["depth"].max())


def _missing(claim: str, source: str, what: str) -> Claim:
    return Claim(claim, source, "not measured", None, f"the tables have no {what}")


# --- Glorot & Bengio (2010) ------------------------------------------------------------------


def glorot_backprop_shrinks(
    tables: Tables,
    initializer: str = "standard_uniform",
    activation: str = "tanh",
    depth: int = 5,
) -> Claim:
    """Standard init: the back-propagated gradient shrinks by a roughly constant factor per layer.

    Glorot & Bengio (2010), §4.2.1 eqs. 6 and 13 and Fig. 7: with ``n Var[W] = 1/3`` the
    variance of ``dC/ds`` falls geometrically towards the input. Measured at step 0 on the
    hidden layers: ``rms delta^l / rms delta^(l+1)`` for ``l = 1 .. depth - 1``, averaged over
    seeds per layer. Held when every per-layer factor is below :data:`SHRINK_BELOW` and their
    max/min is at most :data:`CONSTANT_FACTOR_SPREAD`.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` is read).
    initializer, activation : str
        The combination (the paper's Fig. 7 is the standard init with tanh).
    depth : int
        Number of hidden layers (at least 3, so there are two factors to compare).

    Returns
    -------
    Claim
        The claim with the mean factor, the per-layer factors and their spread.
    """
    claim = (
        f"Standard init ({initializer}, {activation}): the rms of the back-propagated gradient "
        "dC/ds shrinks by a roughly constant factor per layer going down, at initialization"
    )
    source = f"{GLOROT}, §4.2.1 eqs. 6 and 13, Fig. 7"
    prof = _profile(_table(tables, "layers"), initializer, activation, depth, "delta_rms")
    if prof.empty or depth < 3:
        return _missing(claim, source, f"step-0 layer rows of {initializer}/{activation}/d{depth}")
    values = prof.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = values[:, :-1] / values[:, 1:]
    per_layer = factors.mean(axis=0)
    if not np.all(np.isfinite(per_layer)) or np.any(per_layer <= 0):
        return Claim(claim, source, "undefined (zero gradients)", None, "delta_rms is 0 or NaN")
    spread = _max_min(per_layer)
    listed = ", ".join(f"{f:.3f}" for f in per_layer)
    measured = (
        f"depth {depth}, {len(prof)} seeds: factor rms delta^l / rms delta^(l+1) = "
        f"{per_layer.mean():.3f} on average (geometric {math.exp(np.log(per_layer).mean()):.3f}); "
        f"per layer l = 1..{depth - 1}: {listed}; max/min {spread:.2f}; "
        f"total shrink layer {depth} -> 1: {float(np.prod(per_layer)):.3g}"
    )
    shrinks = bool(np.all(per_layer < SHRINK_BELOW))
    constant = spread <= CONSTANT_FACTOR_SPREAD
    held = shrinks and constant
    why = (
        []
        if held
        else [
            *([] if shrinks else [f"not every factor is below {SHRINK_BELOW}"]),
            *([] if constant else [f"max/min {spread:.2f} > {CONSTANT_FACTOR_SPREAD}"]),
        ]
    )
    note = (
        f"rule: every factor < {SHRINK_BELOW} and max/min <= {CONSTANT_FACTOR_SPREAD}. "
        "Reference re-run at width 1000: Var falls ~3.3x per layer (rms factor ~0.55)."
        + (f" Not held: {'; '.join(why)}." if why else "")
    )
    return Claim(claim, source, measured, held, note)


def _flatness(
    tables: Tables, initializer: str, activation: str, depth: int, column: str
) -> tuple[float, np.ndarray]:
    prof = _profile(_table(tables, "layers"), initializer, activation, depth, column)
    if prof.empty:
        return math.nan, np.array([])
    per_layer = prof.to_numpy().mean(axis=0)
    return _max_min(per_layer), per_layer


def glorot_weight_gradients_flat(
    tables: Tables,
    initializer: str = "standard_uniform",
    activation: str = "tanh",
    depth: int = 5,
) -> Claim:
    """Standard init: the weight gradients are roughly the same size in every layer at init.

    Glorot & Bengio (2010), eq. 14 and Fig. 8: ``Var[dC/dW]`` does not depend on the layer
    even when ``dC/ds`` does. Measured: ``wgrad_rms`` (rms of ``dL/dW``, i.e. per weight, so the
    64-input first layer compares with the square hidden layers) at step 0 on the hidden layers
    ``1..depth``, seed mean per layer. Held when max/min is at most :data:`FLAT_RATIO`.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` is read).
    initializer, activation : str
        The combination (Fig. 8: standard init, tanh).
    depth : int
        Number of hidden layers.

    Returns
    -------
    Claim
        The claim with the max/min ratio of the weight gradients beside that of ``delta``.
    """
    claim = (
        f"Standard init ({initializer}, {activation}): the weight gradient dC/dW is roughly the "
        "same size in every layer at initialization, although dC/ds shrinks"
    )
    source = f"{GLOROT}, §4.2.1 eq. 14, Fig. 8"
    w_ratio, w_layers = _flatness(tables, initializer, activation, depth, "wgrad_rms")
    d_ratio, _ = _flatness(tables, initializer, activation, depth, "delta_rms")
    if not w_layers.size:
        return _missing(claim, source, f"step-0 layer rows of {initializer}/{activation}/d{depth}")
    if not math.isfinite(w_ratio):
        return Claim(claim, source, "undefined (zero gradients)", None, "wgrad_rms is 0 or NaN")
    measured = (
        f"depth {depth}: rms dL/dW over hidden layers 1..{depth} = "
        f"{w_layers.min():.3g} .. {w_layers.max():.3g}, max/min {w_ratio:.2f} "
        f"(rms delta on the same layers: max/min {d_ratio:.2f})"
    )
    held = w_ratio <= FLAT_RATIO
    note = f"rule: max/min of the per-layer rms of dL/dW <= {FLAT_RATIO}." + (
        "" if held else f" Not held: max/min {w_ratio:.2f} > {FLAT_RATIO}."
    )
    return Claim(claim, source, measured, held, note)


def glorot_normalized_flat(
    tables: Tables,
    initializer: str = "glorot_uniform",
    activation: str = "tanh",
    depth: int = 5,
    reference: str = "standard_uniform",
) -> Claim:
    """Normalized init keeps both the back-propagated and the weight gradients roughly flat.

    Glorot & Bengio (2010), eqs. 12 and 16, Figs. 7 (bottom) and 9 (§4.2.1): with
    ``Var[W] = 2/(n_in + n_out)`` "no such decrease" of ``dC/ds`` towards the input. Held when
    both the per-layer ``delta_rms`` and ``wgrad_rms`` (step 0, hidden layers, seed means) have
    max/min at most :data:`FLAT_RATIO`. The standard init's ``delta_rms`` ratio is quoted for
    contrast.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` is read).
    initializer, activation : str
        The normalized-init combination.
    depth : int
        Number of hidden layers.
    reference : str
        The standard initializer quoted for contrast.

    Returns
    -------
    Claim
        The claim with both max/min ratios.
    """
    claim = (
        f"Normalized init ({initializer}, {activation}) keeps both the back-propagated gradient "
        "dC/ds and the weight gradient dC/dW roughly flat across layers at initialization"
    )
    source = f"{GLOROT}, §4.2.1 eqs. 12 and 16, Figs. 7-9"
    d_ratio, d_layers = _flatness(tables, initializer, activation, depth, "delta_rms")
    w_ratio, _ = _flatness(tables, initializer, activation, depth, "wgrad_rms")
    ref_ratio, _ = _flatness(tables, reference, activation, depth, "delta_rms")
    if not d_layers.size:
        return _missing(claim, source, f"step-0 layer rows of {initializer}/{activation}/d{depth}")
    if not (math.isfinite(d_ratio) and math.isfinite(w_ratio)):
        return Claim(claim, source, "undefined (zero gradients)", None, "gradients are 0 or NaN")
    measured = (
        f"depth {depth}: max/min over hidden layers 1..{depth} of rms dC/ds {d_ratio:.2f} and "
        f"of rms dC/dW {w_ratio:.2f}"
        + (f" ({reference}: rms dC/ds max/min {ref_ratio:.2f})" if math.isfinite(ref_ratio) else "")
    )
    held = d_ratio <= FLAT_RATIO and w_ratio <= FLAT_RATIO
    why = [
        f"{name} max/min {r:.2f} > {FLAT_RATIO}"
        for name, r in (("dC/ds", d_ratio), ("dC/dW", w_ratio))
        if r > FLAT_RATIO
    ]
    note = f"rule: both max/min <= {FLAT_RATIO}." + (f" Not held: {'; '.join(why)}." if why else "")
    return Claim(claim, source, measured, held, note)


def glorot_activation_ranking(
    tables: Tables,
    initializer: str = "standard_uniform",
    depth: int = 5,
    worst: str = "sigmoid",
    others: Sequence[str] = ("tanh", "softsign"),
) -> Claim:
    """Sigmoid is the worst of sigmoid, tanh and softsign at depth 5 (Table 1).

    Held when the mean final test accuracy of ``worst`` is strictly below that of each of
    ``others`` (same initializer and depth); the 95% intervals are quoted.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``summary`` is read).
    initializer : str
        The initializer (Table 1's sigmoid row uses the standard init).
    depth : int
        Number of hidden layers (Table 1: 5).
    worst : str
        The activation claimed to be the worst.
    others : sequence of str
        The activations it is compared with.

    Returns
    -------
    Claim
        The claim with the accuracies of every activation.
    """
    claim = f"{worst} is the worst of {', '.join([worst, *others])} at depth {depth} (test error)"
    source = f"{GLOROT}, Table 1 (5 hidden layers, standard init)"
    summary = _table(tables, "summary")
    rows = {a: _summary_row(summary, initializer, a, depth) for a in (worst, *others)}
    absent = [a for a, r in rows.items() if r is None]
    if absent:
        return _missing(claim, source, f"summary rows of {initializer} x {absent} at d{depth}")
    means = {a: float(r["final_test_acc_mean"]) for a, r in rows.items()}
    measured = f"{initializer}, depth {depth}, mean final test accuracy [95% CI]: " + "; ".join(
        f"{a} {_acc_text(r)}" for a, r in rows.items()
    )
    if not all(math.isfinite(m) for m in means.values()):
        return Claim(claim, source, measured, None, "an accuracy is undefined (diverged seeds)")
    held = all(means[worst] < means[a] for a in others)
    note = f"rule: mean test accuracy of {worst} below each of {', '.join(others)}." + (
        "" if held else f" Not held: {worst} is not the lowest."
    )
    return Claim(claim, source, measured, held, note)


def glorot_normalized_better(
    tables: Tables,
    activation: str = "tanh",
    depth: int = 5,
    normalized: str = "glorot_uniform",
    standard: str = "standard_uniform",
) -> Claim:
    """Normalized init ("Tanh N") reaches a better test accuracy than "Tanh" (standard init).

    Glorot & Bengio (2010), Table 1. Welch 95% interval of the difference of the seeds' final
    test accuracies (``runs``; diverged seeds, whose accuracy is undefined, are left out):
    held when the interval lies above 0, not held when the mean difference is <= 0,
    inconclusive when the mean difference is positive but the interval includes 0.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``runs`` and ``summary`` are read).
    activation : str
        The activation (Table 1: tanh).
    depth : int
        Number of hidden layers (Table 1: 5).
    normalized, standard : str
        The two initializers.

    Returns
    -------
    Claim
        The claim with both accuracies and the interval of the difference.
    """
    claim = (
        f"{activation} N ({normalized}) reaches a better test accuracy than {activation} "
        f"({standard}) at depth {depth}"
    )
    source = f"{GLOROT}, Table 1 (Tanh N vs Tanh)"
    runs = _table(tables, "runs")
    a = _select(runs, initializer=normalized, activation=activation, depth=depth)
    b = _select(runs, initializer=standard, activation=activation, depth=depth)
    if a.empty or b.empty:
        return _missing(claim, source, f"runs of {normalized}/{standard} x {activation} d{depth}")
    acc_a = a["final_test_acc"].to_numpy(dtype=float)
    acc_b = b["final_test_acc"].to_numpy(dtype=float)
    diff, lo, hi = _welch(acc_a, acc_b)
    n_a, n_b = int(np.isfinite(acc_a).sum()), int(np.isfinite(acc_b).sum())
    measured = (
        f"mean final test accuracy {normalized} {np.nanmean(acc_a):.3f} ({n_a} seeds) vs "
        f"{standard} {np.nanmean(acc_b):.3f} ({n_b} seeds); difference {diff:+.3f}, "
        f"Welch 95% CI [{lo:+.3f}, {hi:+.3f}]"
    )
    if not math.isfinite(diff):
        return Claim(claim, source, measured, None, "needs >= 2 finite seeds per initializer")
    rule = (
        "rule: held if the 95% CI of the difference is above 0, not held if the mean "
        "difference is <= 0, inconclusive otherwise."
    )
    if lo > 0:
        return Claim(claim, source, measured, True, rule)
    if diff <= 0:
        return Claim(claim, source, measured, False, rule + " The normalized init is not better.")
    return Claim(claim, source, measured, None, rule + " The interval includes 0.")


def glorot2010_claims(tables: Tables) -> list[Claim]:
    """The Glorot & Bengio (2010) checks at depth 5 (study ``glorot2010``).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables.

    Returns
    -------
    list of Claim
        (a) backprop shrink, (b) flat weight gradients, (c) normalized init flat,
        (d) sigmoid worst, (e) Tanh N better than Tanh.
    """
    return [
        glorot_backprop_shrinks(tables),
        glorot_weight_gradients_flat(tables),
        glorot_normalized_flat(tables),
        glorot_activation_ranking(tables),
        glorot_normalized_better(tables),
    ]


# --- He et al. (2015) ------------------------------------------------------------------------


def _geometric_factor(profile: np.ndarray) -> float:
    """Mean per-layer factor ``(x_last / x_first)^(1/(n-1))`` of the rows of ``profile``,
    geometric mean over rows (seeds)."""
    p = np.asarray(profile, dtype=float)
    if p.ndim == 1:
        p = p[None, :]
    if p.shape[1] < 2 or not np.all(np.isfinite(p)) or np.any(p <= 0):
        return math.nan
    logs = (np.log(p[:, -1]) - np.log(p[:, 0])) / (p.shape[1] - 1)
    return float(math.exp(logs.mean()))


def _predicted_factor(theory: pd.DataFrame, initializer: str, activation: str, depth: int) -> float:
    rows = _select(theory, initializer=initializer, activation=activation, depth=depth)
    if rows.empty or "q_pred" not in rows.columns:
        return math.nan
    q = rows[rows["layer"] <= depth].sort_values("layer")["q_pred"].to_numpy(dtype=float)
    return _geometric_factor(q) if len(q) == depth else math.nan


def he_forward_variance(
    tables: Tables,
    activation: str = "relu",
    initializers: Sequence[str] = ("glorot_normal", "he_normal"),
    depth: int | None = None,
) -> Claim:
    """Xavier init halves the forward signal's variance per ReLU layer; He init keeps it.

    He et al. (2015), eqs. 8-10 and 15: ``Var[y_l] = 1/2 (1 + a^2) n_l Var[w_l] Var[y_(l-1)]``,
    so a factor 1/2 per ReLU layer under Xavier (``n Var[w] = 1`` between equal widths) and 1
    under He (``n Var[w] = 2``); for a leaky ReLU of slope ``a`` both are multiplied by
    ``1 + a^2``. Measured: the per-layer factor of ``z_q`` (second moment of the
    pre-activations) at step 0, ``(z_q^depth / z_q^1)^(1/(depth-1))``, geometric mean over
    seeds, against the same factor of the mean-field ``q_pred`` (``theory``), which is exactly
    the paper's eq. 15. Held when every initializer is within :data:`FACTOR_RTOL` of its
    prediction.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` and ``theory`` are read).
    activation : str
        The rectifier.
    initializers : sequence of str
        Xavier and He initializers.
    depth : int, optional
        Number of hidden layers; default the deepest in the grid.

    Returns
    -------
    Claim
        The claim with the measured and predicted factors.
    """
    claim = (
        f"Forward variance per {activation} layer at init: halves under Xavier "
        "(factor 1/2 (1 + a^2) n Var[w] = 1/2 (1 + a^2)), stays constant under He "
        "(factor (1 + a^2); exactly 1 for ReLU)"
    )
    source = f"{HE}, §2.2 eqs. 8-10 and 15"
    layers, theory = _table(tables, "layers"), _table(tables, "theory")
    depth = depth if depth is not None else _deepest(layers, activation=activation)
    if depth is None or depth < 2:
        return _missing(claim, source, f"{activation} nets with >= 2 hidden layers")
    parts, ok, undecided = [], [], []
    for init in initializers:
        prof = _profile(layers, init, activation, depth, "z_q")
        meas = _geometric_factor(prof.to_numpy()) if not prof.empty else math.nan
        pred = _predicted_factor(theory, init, activation, depth)
        if not (math.isfinite(meas) and math.isfinite(pred)):
            undecided.append(init)
            parts.append(f"{init}: not measured")
            continue
        ok.append(abs(meas / pred - 1.0) <= FACTOR_RTOL)
        parts.append(f"{init}: {meas:.3f} per layer (predicted {pred:.3f})")
    measured = f"depth {depth}, z_q factor per hidden layer at step 0: " + "; ".join(parts)
    rule = f"rule: |measured / predicted - 1| <= {FACTOR_RTOL} for every initializer."
    if undecided:
        return Claim(claim, source, measured, None, rule + f" Missing: {', '.join(undecided)}.")
    held = all(ok)
    return Claim(claim, source, measured, held, rule + ("" if held else " Outside tolerance."))


def _loss_drop(runs: pd.DataFrame, initializer: str, activation: str, depth: int) -> float:
    """Mean relative decrease of the training loss, ``1 - final / init`` (diverged seeds: NaN)."""
    rows = _select(runs, initializer=initializer, activation=activation, depth=depth)
    if rows.empty:
        return math.nan
    drop = 1.0 - rows["final_train_loss"].astype(float) / rows["init_train_loss"].astype(float)
    return float(drop.mean())


def _training_text(summary_row: pd.Series, drop: float) -> str:
    steps = float(summary_row["steps_to_target_mean"])
    steps_text = f"{steps:.0f}" if math.isfinite(steps) else "never"
    return (
        f"test acc {_acc_text(summary_row)}, verdict {summary_row['verdict']}, "
        f"reached target {float(summary_row['share_reached_target']):.0%} of seeds "
        f"(mean steps {steps_text}), train loss -{drop:.0%}"
    )


def he_deep_training(
    tables: Tables,
    activation: str = "relu",
    depth: int = 30,
    he: str = "he_normal",
    xavier: str = "glorot_normal",
) -> Claim:
    """The 30-layer net converges with He init and "completely stalls" with Xavier (Fig. 3).

    Held when the He combination's verdict is ``trains`` (mean final test accuracy >= the
    study's target) and the Xavier combination's is ``fails`` (below chance + 1/4 of the way to
    perfect: no learning to speak of). A diverged Xavier net does not count as stalled.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``summary`` and ``runs`` are read).
    activation : str
        The rectifier (the paper: ReLU).
    depth : int
        Number of hidden layers.
    he, xavier : str
        The two initializers.

    Returns
    -------
    Claim
        The claim with accuracy, verdict, steps to target and train-loss decrease of both.
    """
    claim = f"{depth}-layer {activation} net: He init converges, Xavier init stalls"
    source = f"{HE}, Fig. 3 (30-layer model, ReLU)" + (
        ""
        if depth == 30
        else f"; applied at {depth} layers (the paper's 22-layer model "
        "converged with Xavier too, Fig. 2)"
    )
    summary, runs = _table(tables, "summary"), _table(tables, "runs")
    rows = {init: _summary_row(summary, init, activation, depth) for init in (he, xavier)}
    if any(r is None for r in rows.values()):
        return _missing(claim, source, f"summary rows of {he}/{xavier} x {activation} d{depth}")
    measured = "; ".join(
        f"{init}: {_training_text(r, _loss_drop(runs, init, activation, depth))}"
        for init, r in rows.items()
    )
    he_trains = rows[he]["verdict"] == "trains"
    xavier_stalls = rows[xavier]["verdict"] == "fails"
    held = bool(he_trains and xavier_stalls)
    why = [
        *([] if he_trains else [f"{he} does not reach the target ({rows[he]['verdict']})"]),
        *([] if xavier_stalls else [f"{xavier} does not stall ({rows[xavier]['verdict']})"]),
    ]
    note = f"rule: {he} verdict 'trains' and {xavier} verdict 'fails' (summary.csv verdicts)." + (
        f" Not held: {'; '.join(why)}." if why else ""
    )
    return Claim(claim, source, measured, held, note)


def he_starts_earlier(
    tables: Tables,
    activation: str = "relu",
    depth: int = 22,
    he: str = "he_normal",
    xavier: str = "glorot_normal",
) -> Claim:
    """At 22 layers both inits converge, He "starts reducing error earlier" (Fig. 2).

    Held when both combinations reach the verdict ``trains`` and every He seed reaches the
    target accuracy, in fewer mean steps than the Xavier seeds (a Xavier seed that never reaches
    it counts as later).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``summary`` and ``runs`` are read).
    activation : str
        The rectifier (the paper: ReLU).
    depth : int
        Number of hidden layers.
    he, xavier : str
        The two initializers.

    Returns
    -------
    Claim
        The claim with accuracy, verdict, steps to target and train-loss decrease of both.
    """
    claim = (
        f"{depth}-layer {activation} net: both He and Xavier init converge, He starts "
        "reducing the error earlier"
    )
    source = f"{HE}, Fig. 2 (22-layer model B, ReLU)"
    summary, runs = _table(tables, "summary"), _table(tables, "runs")
    rows = {init: _summary_row(summary, init, activation, depth) for init in (he, xavier)}
    if any(r is None for r in rows.values()):
        return _missing(claim, source, f"summary rows of {he}/{xavier} x {activation} d{depth}")
    measured = "; ".join(
        f"{init}: {_training_text(r, _loss_drop(runs, init, activation, depth))}"
        for init, r in rows.items()
    )
    both = all(r["verdict"] == "trains" for r in rows.values())
    steps = {i: float(r["steps_to_target_mean"]) for i, r in rows.items()}
    reached = {i: float(r["share_reached_target"]) for i, r in rows.items()}
    he_first = reached[he] == 1.0 and (
        reached[xavier] < 1.0 or not math.isfinite(steps[xavier]) or steps[he] < steps[xavier]
    )
    held = bool(both and he_first)
    why = [
        *(
            []
            if both
            else [
                "not both reach the 'trains' verdict: "
                + ", ".join(f"{i} {r['verdict']}" for i, r in rows.items())
            ]
        ),
        *([] if he_first else [f"{he} does not reach the target first"]),
    ]
    note = (
        f"rule: both verdicts 'trains', every {he} seed reaches the target, in fewer mean steps "
        f"than {xavier}." + (f" Not held: {'; '.join(why)}." if why else "")
    )
    return Claim(claim, source, measured, held, note)


def he_shallow_parity(
    tables: Tables,
    activation: str = "relu",
    depth: int | None = None,
    he: str = "he_normal",
    xavier: str = "glorot_normal",
) -> Claim:
    """In a shallow net He and Xavier init end equally well ("no clear superiority").

    He et al. (2015), Table 2: on the 14-layer model Xavier reaches 33.90 / 13.44 and He
    33.82 / 13.34 top-1 / top-5 error. Welch 95% interval of the difference of the seeds' final
    test accuracies (He minus Xavier, ``runs``) at the shallowest depth of the grid: held when
    it includes 0, not held when it excludes 0 (one initializer is clearly better).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``runs`` is read).
    activation : str
        The rectifier.
    depth : int, optional
        Number of hidden layers; default the shallowest of the activation.
    he, xavier : str
        The two initializers.

    Returns
    -------
    Claim
        The claim with both accuracies and the interval of the difference.
    """
    runs = _table(tables, "runs")
    if depth is None:
        rows = _select(runs, activation=activation)
        depth = None if rows.empty else int(rows["depth"].min())
    claim = f"Shallow {activation} net: He and Xavier init end equally well (no clear superiority)"
    source = f"{HE}, Table 2 (14-layer model: Xavier 33.90 vs He 33.82 top-1 error)"
    if depth is None:
        return _missing(claim, source, f"runs of {activation}")
    claim = (
        f"{depth}-layer {activation} net (shallow reference): He and Xavier init end "
        "equally well (no clear superiority)"
    )
    a = _select(runs, initializer=he, activation=activation, depth=depth)
    b = _select(runs, initializer=xavier, activation=activation, depth=depth)
    if a.empty or b.empty:
        return _missing(claim, source, f"runs of {he}/{xavier} x {activation} d{depth}")
    acc_a = a["final_test_acc"].to_numpy(dtype=float)
    acc_b = b["final_test_acc"].to_numpy(dtype=float)
    diff, lo, hi = _welch(acc_a, acc_b)
    measured = (
        f"mean final test accuracy {he} {np.nanmean(acc_a):.3f} vs {xavier} "
        f"{np.nanmean(acc_b):.3f}; difference {diff:+.3f}, Welch 95% CI [{lo:+.3f}, {hi:+.3f}]"
    )
    rule = "rule: held if the 95% CI of the difference (He - Xavier) includes 0."
    if not math.isfinite(diff):
        return Claim(claim, source, measured, None, rule + " Needs >= 2 finite seeds each.")
    held = bool(lo <= 0.0 <= hi)
    better = he if diff > 0 else xavier
    return Claim(
        claim, source, measured, held, rule + ("" if held else f" {better} is clearly better.")
    )


def he2015_claims(tables: Tables) -> list[Claim]:
    """The He et al. (2015) checks for ReLU and the leaky ReLU ``prelu025`` (study ``he2015``).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables.

    Returns
    -------
    list of Claim
        For each rectifier present: forward variance per layer, shallow parity, 22-layer
        "He earlier" (Fig. 2), 22- and 30-layer "Xavier stalls" (Fig. 3).
    """
    layers = _table(tables, "layers")
    present = set(layers["activation"]) if "activation" in layers.columns else set()
    acts = [a for a in ("relu", "prelu025") if a in present] or ["relu"]
    out: list[Claim] = []
    for act in acts:
        out.append(he_forward_variance(tables, activation=act))
        out.append(he_shallow_parity(tables, activation=act))
        out.append(he_starts_earlier(tables, activation=act, depth=22))
        out.append(he_deep_training(tables, activation=act, depth=22))
        out.append(he_deep_training(tables, activation=act, depth=30))
    return out


# --- Klambauer et al. (2017) -----------------------------------------------------------------


def _moments(
    layers: pd.DataFrame, initializer: str, activation: str, depth: int, first: int = 1
) -> tuple[float, float, float] | None:
    """Max |z_mean|, min and max z_var over hidden layers ``first..depth`` and seeds at step 0."""
    mean = _profile(layers, initializer, activation, depth, "z_mean")
    var = _profile(layers, initializer, activation, depth, "z_var")
    if mean.empty or var.empty:
        return None
    m, v = mean.loc[:, first:].to_numpy(), var.loc[:, first:].to_numpy()
    return float(np.abs(m).max()), float(v.min()), float(v.max())


def _normalized(moments: tuple[float, float, float]) -> bool:
    max_mean, var_lo, var_hi = moments
    return bool(
        max_mean <= SELU_MEAN_TOL
        and abs(var_lo - 1.0) <= SELU_VAR_TOL
        and abs(var_hi - 1.0) <= SELU_VAR_TOL
    )


def _moments_text(moments: tuple[float, float, float]) -> str:
    max_mean, var_lo, var_hi = moments
    return f"max |mean z| {max_mean:.3g}, var z in [{var_lo:.3g}, {var_hi:.3g}]"


_SELU_RULE = (
    f"rule: 'stays at (0, 1)' = |mean z| <= {SELU_MEAN_TOL} and |var z - 1| <= {SELU_VAR_TOL} on "
    "every hidden layer and seed at step 0."
)
_SELU_DEEP_RULE = (
    f"rule: 'ends at (0, 1)' = |mean z| <= {SELU_MEAN_TOL} and |var z - 1| <= {SELU_VAR_TOL} on "
    "every layer of the deeper half of the net (layers > depth/2) and every seed at step 0; the "
    "first layers are left out because the fixed point is a statement about where the signal "
    "goes with depth (the first layer's variance is set by the input and that layer's own "
    "fan-in / fan-out)."
)


def _deep_half(depth: int) -> int:
    """First layer of the deeper half of a ``depth``-layer net."""
    return depth // 2 + 1


def selu_fixed_point(
    tables: Tables,
    initializer: str = "lecun_normal",
    activation: str = "selu",
    depth: int | None = None,
    min_depth: int = 32,
) -> Claim:
    """SELU with LeCun normal init keeps the pre-activations at mean 0, variance 1 through depth.

    Klambauer et al. (2017): ``(mu, nu) = (0, 1)`` is an attracting fixed point when
    ``sum w = 0`` and ``sum w^2 = n Var[W] = 1``. Measured: ``z_mean`` and ``z_var`` on every
    hidden layer and seed at step 0 of the deepest net; held when all lie within
    :data:`SELU_MEAN_TOL` of 0 and :data:`SELU_VAR_TOL` of 1. Inconclusive when the deepest net
    is shallower than ``min_depth``.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` is read).
    initializer, activation : str
        The combination.
    depth : int, optional
        Number of hidden layers; default the deepest of the combination.
    min_depth : int
        Depth the claim is to be checked at (at least).

    Returns
    -------
    Claim
        The claim with the largest deviations from (0, 1).
    """
    claim = (
        f"{activation} + {initializer} keeps the pre-activations at mean ~0 and variance ~1 "
        f"through >= {min_depth} layers at initialization (self-normalizing fixed point)"
    )
    source = f"{SELU}, Theorem 1 / fixed point (0, 1) for omega = 0, tau = 1"
    layers = _table(tables, "layers")
    if depth is None:
        depth = _deepest(layers, initializer=initializer, activation=activation)
    moments = None if depth is None else _moments(layers, initializer, activation, depth)
    if depth is None or moments is None:
        return _missing(claim, source, f"step-0 layer rows of {initializer}/{activation}")
    n_seeds = len(_profile(layers, initializer, activation, depth, "z_var"))
    measured = f"depth {depth}, {n_seeds} seeds, hidden layers 1..{depth}: " + _moments_text(
        moments
    )
    _, var_lo, var_hi = moments
    deviation = max(abs(var_lo - 1.0), abs(var_hi - 1.0))
    measured += f" (max |var - 1| {deviation:.3g})"
    if depth < min_depth:
        return Claim(claim, source, measured, None, f"deepest net {depth} < {min_depth} layers")
    held = _normalized(moments)
    return Claim(claim, source, measured, held, _SELU_RULE + ("" if held else " Outside."))


def _sigma_w2(theory: pd.DataFrame, initializer: str, activation: str, depth: int) -> float:
    """fan_in Var[W] of the hidden-to-hidden layers (layer 2) from ``theory``."""
    rows = _select(theory, initializer=initializer, activation=activation, depth=depth, layer=2)
    return math.nan if rows.empty else float(rows["sigma_w2"].iloc[0])


def selu_needs_unit_variance_init(
    tables: Tables,
    activation: str = "selu",
    reference: str = "lecun_normal",
    depth: int | None = None,
) -> Claim:
    """SELU nets end at (0, 1) only when ``n Var[W] = 1``: other initializers drift away.

    Klambauer et al. (2017): the attracting fixed point (0, 1) requires ``tau = n Var[W] = 1``.
    For every initializer besides ``reference`` the hidden-to-hidden ``sigma_w^2`` (``theory``,
    layer 2) predicts whether the deep layers should be at (0, 1)
    (``|sigma_w^2 - 1| <= SIGMA_W2_TOL``; Glorot's init is 1 between equal widths). Measured:
    the moments on the deeper half of the net (layers ``> depth/2``, every seed, step 0). Held
    when the measurement agrees with that prediction for every initializer.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` and ``theory`` are read).
    activation : str
        The self-normalizing activation.
    reference : str
        The LeCun initializer (reported by :func:`selu_fixed_point`, excluded here).
    depth : int, optional
        Number of hidden layers; default the deepest of the activation.

    Returns
    -------
    Claim
        The claim with each initializer's ``sigma_w^2`` and deviation from (0, 1).
    """
    claim = (
        f"{activation} nets are attracted to (mean, var) = (0, 1) only with n Var[W] = 1: "
        "initializers with another fan_in Var[W] drift away from it with depth"
    )
    source = f"{SELU}, fixed point (0, 1) requires tau = n Var[W] = 1"
    layers, theory = _table(tables, "layers"), _table(tables, "theory")
    if depth is None:
        depth = _deepest(layers, activation=activation)
    inits = (
        []
        if depth is None
        else [
            i
            for i in dict.fromkeys(
                _select(layers, activation=activation, depth=depth)["initializer"]
            )
            if i != reference
        ]
    )
    if not inits:
        return _missing(claim, source, f"{activation} nets with an initializer besides {reference}")
    parts, agree, undecided = [], [], []
    first = _deep_half(depth) if depth is not None else 1
    for init in inits:
        moments = _moments(layers, init, activation, depth, first)
        every = _moments(layers, init, activation, depth)
        sw2 = _sigma_w2(theory, init, activation, depth)
        if moments is None or every is None or not math.isfinite(sw2):
            undecided.append(init)
            continue
        expect = abs(sw2 - 1.0) <= SIGMA_W2_TOL
        stays = _normalized(moments)
        agree.append(expect == stays)
        parts.append(
            f"{init} (sigma_w^2 {sw2:.3g}, predicted to {'stay' if expect else 'drift'}): "
            f"{_moments_text(moments)} -> {'stays' if stays else 'drifts'} "
            f"(all layers: var z in [{every[1]:.3g}, {every[2]:.3g}])"
        )
    measured = f"depth {depth}, layers {first}..{depth}: " + "; ".join(parts)
    rule = _SELU_DEEP_RULE + f" Predicted to stay iff |sigma_w^2 - 1| <= {SIGMA_W2_TOL}."
    if undecided:
        return Claim(claim, source, measured, None, rule + f" Missing: {', '.join(undecided)}.")
    held = all(agree)
    return Claim(
        claim, source, measured, held, rule + ("" if held else " A measurement disagrees.")
    )


def selu_other_activations(
    tables: Tables,
    initializer: str = "lecun_normal",
    activations: Sequence[str] = ("relu", "elu"),
    depth: int | None = None,
) -> Claim:
    """With the same LeCun init, ReLU and ELU nets do not keep (0, 1): only SELU self-normalizes.

    Held when every listed activation is outside the (0, 1) band (:data:`SELU_MEAN_TOL`,
    :data:`SELU_VAR_TOL`) somewhere in the deeper half (layers ``> depth/2``) of the deepest net
    at step 0.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``layers`` is read).
    initializer : str
        The LeCun initializer.
    activations : sequence of str
        The non-self-normalizing activations.
    depth : int, optional
        Number of hidden layers; default the deepest of the initializer.

    Returns
    -------
    Claim
        The claim with each activation's deviation from (0, 1).
    """
    claim = (
        f"Only SELU self-normalizes: with the same {initializer} init, "
        f"{' and '.join(activations)} nets leave (mean, var) = (0, 1) with depth"
    )
    source = f"{SELU}, §2-3 (SNN vs ReLU / ELU networks)"
    layers = _table(tables, "layers")
    if depth is None:
        depth = _deepest(layers, initializer=initializer)
    if depth is None:
        return _missing(claim, source, f"{initializer} nets")
    parts, leaves, undecided = [], [], []
    first = _deep_half(depth)
    for act in activations:
        moments = _moments(layers, initializer, act, depth, first)
        if moments is None:
            undecided.append(act)
            continue
        stays = _normalized(moments)
        leaves.append(not stays)
        parts.append(f"{act}: {_moments_text(moments)} -> {'stays' if stays else 'leaves'}")
    measured = f"depth {depth}, layers {first}..{depth}: " + (
        "; ".join(parts) if parts else "nothing measured"
    )
    if undecided:
        return Claim(claim, source, measured, None, _SELU_DEEP_RULE + f" Missing: {undecided}.")
    held = all(leaves)
    return Claim(claim, source, measured, held, _SELU_DEEP_RULE + ("" if held else " One stays."))


def selu2017_claims(tables: Tables) -> list[Claim]:
    """The Klambauer et al. (2017) checks (study ``selu2017``).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables.

    Returns
    -------
    list of Claim
        SELU + LeCun fixed point, other initializers, other activations.
    """
    return [
        selu_fixed_point(tables),
        selu_needs_unit_variance_init(tables),
        selu_other_activations(tables),
    ]


# --- Schoenholz et al. (2017) ----------------------------------------------------------------


def edge_of_chaos_trainability(
    tables: Tables, activation: str = "tanh", multiple: float = 6.0
) -> Claim:
    """Random nets are trainable when their depth ``L <~ 6 xi_c`` and not beyond.

    Schoenholz et al. (2017): the correlation depth scale ``xi_c`` (``theory``: one value per
    initializer, i.e. per ``sigma_w^2`` at the study's ``sigma_b^2``; infinite on the edge of
    chaos) bounds the trainable depth. Every (initializer, depth) cell of ``summary`` is
    *inside* when ``depth <= multiple * xi_c`` and *trains* when its verdict is ``trains``
    (mean final test accuracy >= the study's target). Held when at least
    :data:`TRAINABLE_SHARE` of the inside cells train and at most ``1 - TRAINABLE_SHARE`` of the
    cells beyond do; inconclusive when either group is empty.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables (``summary`` and ``theory`` are read).
    activation : str
        The activation of the sweep.
    multiple : float
        The multiple of ``xi_c`` (the paper: 6).

    Returns
    -------
    Claim
        The claim with the share of trained cells on each side and the cells that disagree.
    """
    claim = (
        f"Random {activation} nets are trainable when depth L <~ {multiple:g} xi_c and "
        "untrainable beyond (xi_c diverges on the edge of chaos)"
    )
    source = f"{SCHOENHOLZ}, trainability vs 6 xi_c (MNIST / CIFAR-10, sigma_b^2 = 0.05)"
    summary, theory = _table(tables, "summary"), _table(tables, "theory")
    cells = _select(summary, activation=activation)
    xi_rows = _select(theory, activation=activation)
    if cells.empty or xi_rows.empty:
        return _missing(claim, source, f"summary and theory rows of {activation}")
    xi = xi_rows.groupby(["initializer", "depth"], sort=False)["xi_c"].first().astype(float)
    sw2 = _select(xi_rows, layer=2).groupby("initializer", sort=False)["sigma_w2"].first()
    records = []
    for row in cells.itertuples():
        xi_c = float(xi.get((row.initializer, row.depth), math.nan))
        if math.isnan(xi_c):
            continue
        records.append(
            {
                "cell": f"{row.initializer}/d{row.depth}",
                "sw2": float(sw2.get(row.initializer, math.nan)),
                "depth": int(row.depth),
                "bound": multiple * xi_c,
                "inside": row.depth <= multiple * xi_c,
                "trains": row.verdict == "trains",
                "learns": row.verdict in ("trains", "partial"),
                "acc": float(row.final_test_acc_mean),
            }
        )
    frame = pd.DataFrame(records)
    if frame.empty:
        return _missing(claim, source, "xi_c for the summary's cells")
    inside, beyond = frame[frame["inside"]], frame[~frame["inside"]]

    def side(part: pd.DataFrame, name: str) -> str:
        if part.empty:
            return f"{name}: no cells"
        return (
            f"{name}: {int(part['trains'].sum())}/{len(part)} cells train "
            f"({part['trains'].mean():.0%}; mean test acc {part['acc'].mean():.3f})"
        )

    def learns(part: pd.DataFrame) -> str:
        return f"{int(part['learns'].sum())}/{len(part)}"

    bounds = frame.groupby("sw2", sort=True)["bound"].first()
    by_depth = inside.groupby("depth", sort=True)["trains"].agg(["sum", "size"])
    measured = (
        f"{side(inside, f'depth <= {multiple:g} xi_c')}; {side(beyond, 'beyond')}. "
        f"For context, not the rule: counting verdict 'partial' as learning too, inside "
        f"{learns(inside)}, beyond {learns(beyond)}. Inside cells that train, by depth: "
        + ", ".join(f"d{d} {int(r['sum'])}/{int(r['size'])}" for d, r in by_depth.iterrows())
        + f". {multiple:g} xi_c by sigma_w^2: "
        + ", ".join(f"{s:.3g}: {b:.3g}" for s, b in bounds.items())
    )
    wrong = pd.concat([inside[~inside["trains"]], beyond[beyond["trains"]]])
    wrong_text = ", ".join(
        f"{r.cell} ({'inside' if r.inside else 'beyond'}, acc {r.acc:.3f})"
        for r in wrong.itertuples()
    )
    rule = (
        f"rule: >= {TRAINABLE_SHARE:.0%} of inside cells and <= {1 - TRAINABLE_SHARE:.0%} of "
        "cells beyond have verdict 'trains'."
    )
    note = rule + (f" Cells against the boundary: {wrong_text}." if wrong_text else "")
    if inside.empty or beyond.empty:
        return Claim(claim, source, measured, None, note + " One side of the boundary is empty.")
    held = bool(
        inside["trains"].mean() >= TRAINABLE_SHARE
        and beyond["trains"].mean() <= 1.0 - TRAINABLE_SHARE
    )
    return Claim(claim, source, measured, held, note)


def edge_of_chaos_claims(tables: Tables) -> list[Claim]:
    """The Schoenholz et al. (2017) check (study ``edge_of_chaos``).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The study's tables.

    Returns
    -------
    list of Claim
        The ``L <~ 6 xi_c`` trainability boundary.
    """
    return [edge_of_chaos_trainability(tables)]


# --- dispatch and table ----------------------------------------------------------------------

StudyClaims = Callable[[Tables], list[Claim]]

STUDY_CLAIMS: Mapping[str, StudyClaims] = {
    "glorot2010": glorot2010_claims,
    "he2015": he2015_claims,
    "selu2017": selu2017_claims,
    "edge_of_chaos": edge_of_chaos_claims,
}
"""Study name -> the function that checks its claims (studies not listed have none)."""


def _no_claims(tables: Tables) -> list[Claim]:
    return []


def evaluate_claims(study_name: str, tables: Tables) -> list[Claim]:
    """Check the published claims a study was designed for.

    Parameters
    ----------
    study_name : str
        The study's ``study`` name (a key of :data:`STUDY_CLAIMS`).
    tables : mapping of str to DataFrame
        The study's tables keyed ``runs``, ``layers``, ``summary``, ``theory`` (absent tables
        make the claims that need them inconclusive).

    Returns
    -------
    list of Claim
        The claims in a fixed order; empty for studies without claims (e.g. ``default``).
    """
    return STUDY_CLAIMS.get(study_name, _no_claims)(tables)


def claims_table(claims: Iterable[Claim]) -> pd.DataFrame:
    """One row per claim, columns :data:`CLAIM_COLUMNS`.

    ``held`` is ``True`` / ``False`` / ``None`` (object dtype; an empty cell in a CSV), and
    ``verdict`` the same as text (``held``, ``did not hold``, ``inconclusive``) for display.

    Parameters
    ----------
    claims : iterable of Claim
        The claims, e.g. from :func:`evaluate_claims`.

    Returns
    -------
    DataFrame
        The table (no rows, same columns, when there are no claims).
    """
    rows = [
        {
            "claim": c.claim,
            "source": c.source,
            "measured": c.measured,
            "held": c.held,
            "verdict": c.verdict,
            "note": c.note,
        }
        for c in claims
    ]
    table = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
    table["held"] = table["held"].astype(object)
    return table
