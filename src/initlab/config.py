"""Run specifications, argument checks and seed derivation.

A :class:`RunSpec` fully describes one training run; ``train(spec)`` is a pure function of it
(and of the dataset it names). Seeds derive from ``(base_seed, seed)`` through
:class:`numpy.random.SeedSequence`, whose children are independent streams
(:meth:`RunSpec.streams`): child 0 draws the weights, child 1 the mini-batch order, child 2 the
training subset of ``train_fraction``, child 3 the dropout masks. A child is defined by its index
alone, so adding streams left the first two unchanged, and a stream a run does not use (no subset
at ``train_fraction = 1``, no mask at ``dropout = 0``) is never drawn from. Runs that differ only
in initializer or activation therefore see the same batches (common random numbers), which
sharpens comparisons between them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from initlab import activations, initializers, layout, settings
from initlab.activations import Activation
from initlab.initializers import Initializer
from initlab.model import DROPOUT_KINDS, LOSSES, NORMS
from initlab.optim import OPTIMIZERS

__all__ = [
    "CHOICES",
    "DTYPES",
    "INT_LIMITS",
    "NAME_PATTERN",
    "REAL_LIMITS",
    "RunSpec",
    "Streams",
    "check_name",
    "check_number",
    "dataset_label",
]

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""Initializer and activation names become file paths and wildcards: letters, digits, ``_``."""

DTYPES = ("float32", "float64")

CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS,
    "dtype": DTYPES,
    "normalization": NORMS,
    "dropout_kind": DROPOUT_KINDS,
    "loss": LOSSES,
}
"""The run fields that name one of a fixed set of choices, and the choices (the schema's ``enum``
of each; a test checks that the two agree)."""

INT_LIMITS: dict[str, tuple[int, int]] = settings.int_limits()
"""Inclusive ranges of the integer run fields, from the schema (its upper limits are sanity
bounds against typos, not limits of the engine)."""

REAL_LIMITS: dict[str, tuple[float, float, bool]] = settings.real_limits()
"""``(low, high, low_inclusive)`` of the real-valued run fields, from the schema."""


def check_number(key: str, value: Any) -> int | float:
    """Check ``value`` against the type and range of ``key``; return it.

    Raises
    ------
    ValueError
        With the key, the received value and the allowed range. Booleans and strings are
        rejected even where Python would coerce them (YAML's ``yes`` and ``"1e-4"`` pitfalls).
    """
    if key in INT_LIMITS:
        lo, hi = INT_LIMITS[key]
        ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not ok or not lo <= value <= hi:
            raise ValueError(
                f"{key}: got {value!r} ({type(value).__name__}); allowed: an integer "
                f"from {lo} to {hi}"
            )
        return int(value)
    lo_f, hi_f, inclusive = REAL_LIMITS[key]
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (lo_f <= value if inclusive else lo_f < value)
    if not ok or value > hi_f:
        bracket = "[" if inclusive else "("
        raise ValueError(
            f"{key}: got {value!r} ({type(value).__name__}); allowed: a number in "
            f"{bracket}{lo_f:g}, {hi_f:g}]"
        )
    return float(value)


def check_name(kind: str, name: Any) -> str:
    """Check that ``name`` is safe as a file-path component and wildcard value."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"{kind} name {name!r} is not allowed: names must match {NAME_PATTERN.pattern} "
            "(a letter, then letters, digits or '_'; no spaces, path separators or shell "
            "characters)"
        )
    return name


def dataset_label(dataset: str) -> str:
    """A short, path-safe label for a dataset name (``npz:/x/fashion.npz`` -> ``npz_fashion``)."""
    if ":" not in dataset:
        return dataset
    kind, _, path = dataset.partition(":")
    stem = re.sub(r"\.npz$", "", path.rstrip("/").rsplit("/", 1)[-1])
    return f"{kind}_" + (re.sub(r"[^A-Za-z0-9_]", "_", stem) or "data")


class Streams(NamedTuple):
    """The independent random streams of one run (children 0..3 of its ``SeedSequence``).

    Attributes
    ----------
    init : numpy.random.Generator
        Draws the initial weights (and biases when ``bias_std > 0``).
    order : numpy.random.Generator
        One permutation of the training samples per epoch (the mini-batch order).
    subset : numpy.random.Generator
        The per-class orders that choose the training subset of ``train_fraction < 1``
        (:func:`initlab.data.stratified_subset`); not drawn from otherwise.
    dropout : numpy.random.Generator
        The dropout masks of the training steps; not drawn from at ``dropout = 0``.
    """

    init: np.random.Generator
    order: np.random.Generator
    subset: np.random.Generator
    dropout: np.random.Generator


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one training run.

    ``initializer_def`` / ``activation_def`` hold the family and parameters of a user-defined
    initializer or activation (``{"family": "variance_scaling", "scale": 1.5, ...}``); they are
    ``None`` for built-ins. ``checkpoint_every`` counts epochs. Defaults and ranges are the
    study schema's (:mod:`initlab.settings`).

    ``classes`` keeps only those class labels of the dataset, relabelled ``0 .. k-1`` in sorted
    order (:func:`initlab.data.select_classes`; ``None``: every class). ``source`` is set for a
    ``transfer`` initializer only: ``{"name": <source name>, "spec": <the source run's
    to_dict() without its seed>}``, the network whose trained layers the run copies (its seed is
    the run's seed, :meth:`source_spec`). Both are left out of :meth:`to_dict` when ``None``, so
    the records of runs without them are those of earlier versions.
    """

    initializer: str
    activation: str
    depth: int
    width: int = settings.default("width")
    dataset: str = settings.default("dataset")
    seed: int = 0
    base_seed: int = settings.default("base_seed")
    optimizer: str = settings.default("optimizer")
    learning_rate: float = settings.default("learning_rate")
    momentum: float = settings.default("momentum")
    nesterov: bool = settings.default("nesterov")
    epochs: int = settings.default("epochs")
    batch_size: int = settings.default("batch_size")
    checkpoint_every: int = settings.default("checkpoint_every")
    budget_check: int = settings.default("budget_check")
    target_accuracy: float = settings.default("target_accuracy")
    probe_size: int = settings.default("probe_size")
    bias_std: float = settings.default("bias_std")
    dtype: str = settings.default("dtype")
    normalization: str = settings.default("normalization")
    dropout: float = settings.default("dropout")
    dropout_kind: str = settings.default("dropout_kind")
    weight_decay: float = settings.default("weight_decay")
    loss: str = settings.default("loss")
    train_fraction: float = settings.default("train_fraction")
    initializer_def: Mapping[str, Any] | None = None
    activation_def: Mapping[str, Any] | None = None
    axes: tuple[str, ...] = ()
    classes: tuple[int, ...] | None = None
    source: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(self.axes))
        unknown = [a for a in self.axes if a not in settings.AXIS_SETTINGS]
        if unknown:
            raise ValueError(f"axes: got {unknown}; allowed: {', '.join(settings.AXIS_SETTINGS)}")
        for key in (*INT_LIMITS, *REAL_LIMITS):
            object.__setattr__(self, key, check_number(key, getattr(self, key)))
        check_name("initializer", self.initializer)
        check_name("activation", self.activation)
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(
                    f"{key}: got {getattr(self, key)!r}; allowed: {', '.join(allowed)}"
                )
        if self.normalization == "batch_norm" and self.batch_size < 2:
            raise ValueError(
                f"batch_size: got {self.batch_size} with normalization batch_norm; allowed: an "
                "integer >= 2 (batch statistics need two samples)"
            )
        if not isinstance(self.nesterov, bool):
            raise ValueError(f"nesterov: got {self.nesterov!r}; allowed: true or false")
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset: got {self.dataset!r}; allowed: a dataset name")
        for key in ("initializer_def", "activation_def"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, Mapping) and "family" in value):
                raise ValueError(
                    f"{key}: got {value!r}; allowed: an object with a 'family' key and its "
                    "parameters"
                )
        object.__setattr__(self, "classes", _check_classes(self.classes))
        _check_source(self)
        # Resolving checks names and custom definitions now, not halfway through training.
        self.resolve_initializer()
        self.resolve_activation()

    @property
    def run_id(self) -> str:
        """``dataset__initializer__activation__d{depth}[__axis=value...]__s{seed}``: unique
        within a study (one ``__axis=value`` per extra axis of its grid, :attr:`axes`)."""
        point = "".join(
            f"__{k}={layout.axis_value_text(getattr(self, k))}"
            for k in self.axes
            if k != "dataset"  # the dataset's label leads the id
        )
        return (
            f"{dataset_label(self.dataset)}__{self.initializer}__{self.activation}"
            f"__d{self.depth}{point}__s{self.seed}"
        )

    @property
    def point(self) -> tuple[tuple[str, Any], ...]:
        """``(axis, value)`` of each extra axis of the study's grid, in :attr:`axes` order."""
        return tuple((k, getattr(self, k)) for k in self.axes)

    def resolve_initializer(self) -> Initializer:
        """The :class:`Initializer` this spec names (built-in or from ``initializer_def``)."""
        if self.initializer_def is None:
            return initializers.get(self.initializer)
        params = dict(self.initializer_def)
        family = params.pop("family", None)
        return initializers.make_initializer(self.initializer, str(family), **params)

    @property
    def transfer(self) -> Mapping[str, Any] | None:
        """The ``transfer`` initializer's definition (``source``, ``layers``, ``freeze``,
        ``base``), or ``None`` for every other initializer."""
        d = self.initializer_def
        return d if d is not None and d.get("family") == "transfer" else None

    def source_spec(self) -> RunSpec | None:
        """The run whose trained layers a transfer run copies (its seed is this run's seed);
        ``None`` for other initializers."""
        if self.source is None:
            return None
        return RunSpec.from_dict({**self.source["spec"], "seed": self.seed})

    def resolve_activation(self) -> Activation:
        """The :class:`Activation` this spec names (built-in or from ``activation_def``)."""
        if self.activation_def is None:
            return activations.get(self.activation)
        params = dict(self.activation_def)
        family = params.pop("family", None)
        return activations.make_activation(self.activation, str(family), **params)

    def streams(self) -> Streams:
        """Fresh generators of the run's four independent streams, derived from the seeds.

        ``SeedSequence(base_seed, spawn_key=(seed,))`` spawns children ``0..3``; child ``i`` has
        the spawn key ``(seed, i)`` whatever the number of children spawned, so the weight and
        order streams are those of :meth:`rngs`.
        """
        root = np.random.SeedSequence(self.base_seed, spawn_key=(self.seed,))
        return Streams(
            *(np.random.default_rng(child) for child in root.spawn(len(Streams._fields)))
        )

    def rngs(self) -> tuple[np.random.Generator, np.random.Generator]:
        """Independent generators for (weights, batch order): the first two of :meth:`streams`."""
        streams = self.streams()
        return streams.init, streams.order

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-ready), every field included."""
        d = dataclasses.asdict(self)
        d["axes"] = list(self.axes)
        for key in ("initializer_def", "activation_def"):
            if d[key] is not None:
                d[key] = dict(d[key])
        for key in ("classes", "source"):  # absent when unset: older records stay valid
            if d[key] is None:
                del d[key]
        if self.classes is not None:
            d["classes"] = list(self.classes)
        if self.source is not None:
            d["source"] = {"name": self.source["name"], "spec": dict(self.source["spec"])}
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        fields = dataclasses.fields(cls)
        names = {f.name for f in fields}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown run setting(s) {unknown}; allowed: {sorted(names)}")
        required = [f.name for f in fields if f.default is dataclasses.MISSING]
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"missing run setting(s) {missing}; required: {required}")
        return cls(**data)


def _check_classes(classes: Any) -> tuple[int, ...] | None:
    """``classes`` as a tuple of distinct labels (at least 2), or ``None``."""
    if classes is None:
        return None
    ok = isinstance(classes, list | tuple) and all(
        isinstance(c, int | np.integer) and not isinstance(c, bool) and c >= 0 for c in classes
    )
    if not ok or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(
            f"classes: got {classes!r}; allowed: null or a list of at least 2 distinct class "
            "labels (integers >= 0)"
        )
    return tuple(int(c) for c in classes)


def _check_source(spec: RunSpec) -> None:
    """A transfer initializer needs ``source``, naming its source, whose network fits: same
    dataset, width and activation, at least ``layers`` hidden layers, as deep as the run."""
    transfer, source = spec.transfer, spec.source
    if transfer is None:
        if source is not None:
            raise ValueError(f"source: got {source!r}; allowed: null (not a transfer initializer)")
        return
    ok = isinstance(source, Mapping) and isinstance(source.get("spec"), Mapping)
    if not ok or source.get("name") != transfer.get("source"):
        raise ValueError(
            f"source: got {source!r}; allowed: {{'name': {transfer.get('source')!r}, 'spec': "
            "<the source run>} for the transfer initializer " + repr(spec.initializer)
        )
    src = spec.source_spec()
    assert src is not None
    layers = transfer.get("layers")
    fits = {
        "dataset": src.dataset == spec.dataset,
        "width": src.width == spec.width,
        "activation": src.activation == spec.activation,
        "layers": isinstance(layers, int) and 0 <= layers <= min(src.depth, spec.depth),
    }
    bad = [key for key, fit in fits.items() if not fit]
    if bad:
        raise ValueError(
            f"source: the source {source['name']!r} does not fit the run in {', '.join(bad)} "
            f"(source: dataset {src.dataset}, width {src.width}, activation {src.activation}, "
            f"depth {src.depth}; run: dataset {spec.dataset}, width {spec.width}, activation "
            f"{spec.activation}, depth {spec.depth}, layers {layers}); allowed: the same "
            "dataset, width and activation, and 0 <= layers <= both depths"
        )
