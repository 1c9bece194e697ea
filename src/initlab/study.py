"""A study: a validated configuration expanded into the grid of runs it trains.

The workflow (``workflow/rules/common.smk``) calls :func:`load_study` once when it is parsed, so a
bad configuration stops Snakemake before any job runs, with one message naming the key, the value
and what is allowed. The same checks serve ``initlab check-config``.

Checks, in order: the JSON Schema (types, ranges, unknown keys, duplicates, YAML pitfalls such as
``1e-4`` read as a string or ``yes`` read as a boolean), then what a schema cannot know: names in
the grid must be built-in or defined under ``custom_*`` (with a suggestion for typos), custom
definitions must build, no number is NaN or infinite, integers are written as integers (``64``,
not ``64.0``), and the dataset must exist; a ``npz:`` or ``mnist:`` dataset is loaded and split
once, exactly as ``initlab prepare-data`` will, so bad arrays fail here too.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from initlab import activations, claims, initializers, layout, settings
from initlab.config import REAL_LIMITS, RunSpec, dataset_label

__all__ = [
    "ConfigError",
    "Study",
    "load_schema",
    "load_study",
    "numbers_from_command_line",
    "validate_config",
]

TRAINING_KEYS = tuple(
    field for field, path in settings.RUN_SETTINGS.items() if path.startswith("training.")
)
"""The run fields set under ``training:`` (from :data:`initlab.settings.RUN_SETTINGS`)."""


Point = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Chunk:
    """The networks one training job trains (:meth:`Study.chunks`).

    Attributes
    ----------
    key : str
        The chunk's folder below ``<results>/runs/`` (the training rule's wildcard).
    folder : str
        ``<results>/runs/<key>`` (:func:`initlab.layout.chunk_dir`).
    activation, depth, point
        The grid point its networks share (``point``: the values of the extra axes).
    initializers, seeds
        Its block of initializers and every seed: ``len(initializers) * len(seeds)`` runs.
    """

    key: str
    folder: str
    activation: str
    depth: int
    point: Point
    initializers: tuple[str, ...]
    seeds: tuple[int, ...]


"""Values of the extra axes of a grid: ``(("optimizer", "adam"), ("learning_rate", 0.01))``."""

# Training-split sizes of the built-in datasets (60% of 1797 digits, of 2000 synthetic samples).
DATASET_SIZES = {"digits": 1079, "moons": 1200, "circles": 1200, "gaussian_blobs": 1200}


class ConfigError(ValueError):
    """The study configuration is invalid; the message names the key and the allowed values."""


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read the JSON Schema (YAML syntax) of the study configuration."""
    with open(path, encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh))


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


_TYPE_WORDS = {
    "array": "a list",
    "object": "a mapping (key: value)",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
}


def _type_word(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPE_WORDS.get(k, k) for k in kind)
    return _TYPE_WORDS.get(kind, "a value") if kind else "a value"


def _bounds(schema: Mapping[str, Any]) -> str:
    ops = (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    )
    bounds = [f"{op} {schema[k]}" for k, op in ops if k in schema]
    return _type_word(schema) + (f" {' and '.join(bounds)}" if bounds else "")


def _pattern_words(key: str, pattern: str) -> str:
    if key == "results":
        what = (
            "a relative or absolute folder path: letters, digits, '_', '-', '.', '/'; "
            "no '..', spaces"
        )
    elif key == "study":
        what = "a letter, then letters, digits, '_' or '-'; no spaces"
    else:
        what = "a letter, then letters, digits or '_'; no spaces, path separators"
    return f"a string matching {pattern} ({what} or shell characters)"


def _text_hint(value: str) -> str:
    """Why a string may have arrived where a number was expected (YAML 1.1 pitfalls)."""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if "e" in value.lower():
        return (
            f" (PyYAML follows YAML 1.1 and reads {value} as text, not as a number: write a "
            "decimal point and a signed exponent, e.g. 1.0e-4 instead of 1e-4, or 0.0001)"
        )
    return f" (a number in quotes is text: write {value} without quotes)"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line for a schema violation: the key, the received value, what is allowed."""
    if error.validator == "anyOf" and error.context:
        return _describe_axis(error)
    key = _key_path(error)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
        hints = []
        for name in extra:
            close = difflib.get_close_matches(name, allowed, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = "at the top level" if key == "(top level)" else f"under {key!r}"
        return (
            f"config: unknown key {', '.join(hints)} {where}; allowed: "
            f"{', '.join(allowed) or '(none)'}"
        )
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in value]
        sub = schema.get("properties", {}).get(missing[0], {}) if missing else {}
        what = (
            "one of " + ", ".join(map(str, sub["enum"]))
            if "enum" in sub
            else sub.get("description", _type_word(sub)).strip()
        )
        where = "at the top level" if key == "(top level)" else f"under {key!r} (got {value!r})"
        return (
            f"config: missing required key {', '.join(map(repr, missing))} {where}; allowed: {what}"
        )
    allowed = schema.get("description", "").strip() or str(error.message)
    if error.validator == "enum":
        allowed = "one of " + ", ".join(map(str, schema["enum"]))
    elif error.validator in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        allowed = _bounds(schema)
    elif error.validator == "uniqueItems":
        allowed = "a list without duplicates"
    elif error.validator == "minItems":
        allowed = f"a list with at least {schema['minItems']} item(s)"
    elif error.validator == "maxItems":
        allowed = f"a list with at most {schema['maxItems']} item(s)"
    elif error.validator == "minLength":
        allowed = f"a string of at least {schema['minLength']} character(s)"
    elif error.validator == "pattern":
        allowed = _pattern_words(key, schema["pattern"])
    hint = ""
    if isinstance(value, str) and schema.get("type") in ("number", "integer"):
        hint = _text_hint(value)
    if isinstance(value, bool) and schema.get("type") != "boolean":
        hint = " (YAML reads yes/no/on/off/true/false as booleans)"
    if isinstance(value, float) and schema.get("type") == "integer":
        hint = " (write a whole number without a decimal point)"
    return f"config key {key}: got {value!r} ({type(value).__name__}); allowed: {allowed}{hint}"


def _describe_axis(error: jsonschema.ValidationError) -> str:
    """A setting that is a value or a list of values (an axis): describe the problem with the
    value (or with the list's items) and say that a list is allowed."""
    branch = 1 if isinstance(error.instance, list) else 0
    inner = [e for e in error.context if e.schema_path and e.schema_path[0] == branch]
    best = jsonschema.exceptions.best_match(inner or error.context)
    if best is None:  # pragma: no cover - anyOf errors always carry their branches' errors
        return f"config key {_key_path(error)}: {error.message}"
    text = _describe(best)
    return text + (" (or a list of such values, which makes it an axis)" if branch == 0 else "")


def _with_defaults(validator_cls: type[Any]) -> type[Any]:
    """A validator class that fills in ``default`` values while it validates."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


def _strict_integers(validator_cls: type[Any]) -> type[Any]:
    """JSON Schema counts 64.0 as an integer; a config value must be written as 64."""

    def is_integer(checker: Any, instance: Any) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    type_checker = validator_cls.TYPE_CHECKER.redefine("integer", is_integer)
    return jsonschema.validators.extend(validator_cls, type_checker=type_checker)


def _check_finite(value: Any, key: str = "") -> None:
    """Reject NaN and infinity anywhere (YAML's .nan/.inf; range checks let NaN through)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key {key}: got {value!r} (float); allowed: a finite number")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{key}.{i}")


def validate_config(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``config`` and return a copy with every default filled in.

    Raises
    ------
    ConfigError
        The first problem found, in one line.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config: got {config!r} ({type(config).__name__}); allowed: a mapping of keys "
            "to values (see workflow/schemas/config.schema.yaml)"
        )
    resolved = copy.deepcopy(dict(config))
    validator = _strict_integers(_with_defaults(jsonschema.Draft202012Validator))(schema)
    errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors) or errors[0]
        raise ConfigError(_describe(best))
    _check_finite(resolved)
    _check_names(resolved)
    try:
        known = {
            "initializers": sorted({*initializers.INITIALIZERS, *resolved["custom_initializers"]}),
            "activations": sorted({*activations.ACTIVATIONS, *resolved["custom_activations"]}),
            "axes": list(Study(resolved).axes),  # a claim's cell may name these only
        }
        claims.check_claims(resolved["claims"], known)
    except claims.ClaimError as err:
        raise ConfigError(str(err)) from None
    n_classes = _check_datasets(resolved)
    _check_sources(resolved, n_classes)
    study = Study(resolved)
    try:  # what the workflow builds from the config at parse time must build now
        for init in resolved["initializers"]:
            for act in resolved["activations"]:
                study.base_spec(init, act, int(resolved["depths"][0]), 0)
        for point in study.points():
            study.base_spec(resolved["initializers"][0], resolved["activations"][0], 1, 0, point)
    except ValueError as err:
        raise ConfigError(f"config: {err}") from None
    return resolved


def _check_names(config: dict[str, Any]) -> None:
    kinds = (
        ("initializers", "custom_initializers", initializers.INITIALIZERS, _build_initializer),
        ("activations", "custom_activations", activations.ACTIVATIONS, _build_activation),
    )
    for key, custom_key, builtins, build in kinds:
        custom = config[custom_key]
        for name, definition in custom.items():
            if name in builtins:
                raise ConfigError(
                    f"config key {custom_key}.{name}: {name!r} is a built-in name; "
                    "choose another name for a custom definition"
                )
            if definition["family"] != "transfer":  # checked with the sources (_check_sources)
                build(name, definition, custom_key)
        known = {**builtins, **custom}
        for name in config[key]:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"config key {key}: unknown name {name!r}{hint}; allowed: built-in "
                    f"{', '.join(sorted(builtins))}, or a name defined under {custom_key}"
                )
    # report.highlight pairs outside the grid are not an error: a grid narrowed on the command
    # line keeps the config file's pairs, which the report drops with a note on its first page
    for pair in config["report"]["highlight"]:
        for name, key, custom_key, builtins in (
            (pair[0], "initializers", "custom_initializers", initializers.INITIALIZERS),
            (pair[1], "activations", "custom_activations", activations.ACTIVATIONS),
        ):
            if name not in builtins and name not in config[custom_key]:
                raise ConfigError(
                    f"config key report.highlight: unknown name {name!r} in pair {pair!r}; "
                    f"allowed: names of {key}"
                )


def _build_initializer(name: str, definition: Mapping[str, Any], key: str) -> None:
    params = dict(definition)
    family = params.pop("family")
    try:
        initializers.make_initializer(name, family, **params)
    except ValueError as err:
        raise ConfigError(f"config key {key}.{name}: {err}") from None


def _build_activation(name: str, definition: Mapping[str, Any], key: str) -> None:
    params = dict(definition)
    family = params.pop("family")
    try:
        activations.make_activation(name, family, **params)
    except ValueError as err:
        raise ConfigError(f"config key {key}.{name}: {err}") from None


FULL_CHECK_BYTES = 50_000_000


def _size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size if path.exists() else 0


DATASET_CLASSES = {"digits": 10, "moons": 2, "circles": 2, "gaussian_blobs": 4}
"""Number of classes of the built-in datasets."""


def _check_classes(
    key: str, classes: list[int] | None, dataset: str, n_classes: int | None
) -> None:
    """``classes`` (the schema checked length and duplicates) must be classes of the dataset
    (not checked for a large user file whose classes are unknown before it is loaded)."""
    if classes is None or n_classes is None:
        return
    bad = [c for c in classes if c >= n_classes]
    if bad:
        raise ConfigError(
            f"config key {key}: got {classes!r}; label(s) {bad} are not classes of {dataset}; "
            f"allowed: at least 2 distinct labels from 0 to {n_classes - 1}"
        )


def _check_datasets(config: dict[str, Any]) -> int | None:
    """Every dataset must exist and load, their labels must differ (they name the data files
    and run folders), ``classes`` must fit each, and sources need a single dataset; returns the
    (first) dataset's class count."""
    names = config["dataset"] if isinstance(config["dataset"], list) else [config["dataset"]]
    labels: dict[str, str] = {}
    counts = []
    for k, name in enumerate(names):
        key = "dataset" if len(names) == 1 else f"dataset.{k}"
        try:
            counts.append(_check_dataset(name))
        except ConfigError as err:
            raise ConfigError(
                str(err).replace("config key dataset:", f"config key {key}:")
            ) from None
        label = dataset_label(name)
        if label in labels:
            raise ConfigError(
                f"config key {key}: got {name!r}, whose label {label!r} is the label of "
                f"{labels[label]!r}; allowed: datasets with distinct labels (rename a file)"
            )
        labels[label] = name
        _check_classes("classes", config["classes"], name, counts[-1])
    if len(names) > 1 and config["sources"]:
        raise ConfigError(
            f"config key sources: got {sorted(config['sources'])}; allowed: no sources in a "
            "study with a dataset axis (a transfer init needs one target dataset)"
        )
    return counts[0]


def _check_sources(config: dict[str, Any], n_classes: int | None) -> None:
    """Every source must train (classes of the dataset, a known non-transfer initializer, the
    study's dataset and a single width) and every transfer initializer must fit its source."""
    builtins = initializers.INITIALIZERS
    custom = config["custom_initializers"]
    for name, src in config["sources"].items():
        key = f"sources.{name}"
        _check_classes(f"{key}.classes", src["classes"], config["dataset"], n_classes)
        init = src["initializer"]
        if init not in builtins and custom.get(init, {}).get("family", "transfer") == "transfer":
            close = difflib.get_close_matches(init, [*builtins, *custom], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"config key {key}.initializer: got {init!r}{hint}; allowed: a built-in "
                "initializer or a custom one that is not a transfer"
            )
        for field in ("dataset", "width"):
            if field in src and src[field] != config[field]:
                raise ConfigError(
                    f"config key {key}.{field}: got {src[field]!r}; allowed: the study's "
                    f"{field} ({config[field]!r}): a transfer init whose source does not fit "
                    "the target shape is rejected"
                )
    transfers = [n for n, d in custom.items() if d["family"] == "transfer"]
    if transfers:
        _check_transfer_normalization(config)
    for name in transfers:
        _check_transfer(config, name, custom[name])


def _check_transfer_normalization(config: dict[str, Any]) -> None:
    """Copied layers must meet the normalization they were trained with: one normalization
    for the study and its sources, and not batch norm (its running statistics are not copied)."""
    norm = config["training"]["normalization"]
    if isinstance(norm, list) or norm == "batch_norm":
        raise ConfigError(
            f"config key training.normalization: got {norm!r}; allowed: none or layer_norm, "
            "one value, in a study with transfer initializers (sources are trained with the "
            "study's normalization, and batch norm's running statistics are not copied)"
        )
    for name, src in config["sources"].items():
        if src.get("normalization", norm) != norm:
            raise ConfigError(
                f"config key sources.{name}.normalization: got {src['normalization']!r}; "
                f"allowed: the study's normalization ({norm!r})"
            )


def _check_transfer(config: dict[str, Any], name: str, definition: Mapping[str, Any]) -> None:
    """One transfer initializer: its keys, source, layers, base, and the study's shape."""
    key = f"custom_initializers.{name}"
    extra = sorted(set(definition) - {"family", "source", "layers", "freeze", "base"})
    missing = [k for k in ("source", "layers", "base") if k not in definition]
    if extra or missing:
        raise ConfigError(
            f"config key {key}: got {dict(definition)!r}; allowed: family transfer with source, "
            "layers, base and optionally freeze"
        )
    sources, custom = config["sources"], config["custom_initializers"]
    src = sources.get(definition["source"])
    if src is None:
        close = difflib.get_close_matches(definition["source"], list(sources), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"config key {key}.source: got {definition['source']!r}{hint}; allowed: a name "
            f"defined under sources ({', '.join(sources) or 'none defined'})"
        )
    layers = definition["layers"]
    if not 1 <= layers <= src["depth"]:
        raise ConfigError(
            f"config key {key}.layers: got {layers}; allowed: an integer from 1 to "
            f"{src['depth']} (the depth of source {definition['source']})"
        )
    base = definition["base"]
    if base not in initializers.INITIALIZERS and custom.get(base, {}).get("family", "transfer") == (
        "transfer"
    ):
        raise ConfigError(
            f"config key {key}.base: got {base!r}; allowed: a built-in initializer or a custom "
            "one that is not a transfer"
        )
    if name not in config["initializers"]:
        return
    shallow = [d for d in config["depths"] if d < layers]
    if shallow:
        raise ConfigError(
            f"config key depths: got {config['depths']!r}; depth(s) {shallow} have fewer hidden "
            f"layers than {key}.layers = {layers}; allowed: depths >= {layers} with {name}"
        )
    if isinstance(config["width"], list):
        raise ConfigError(
            f"config key width: got {config['width']!r} (an axis) with the transfer "
            f"initializer {name}; allowed: a single width (a transfer init whose source does not "
            "fit the target shape is rejected)"
        )


def _check_dataset(name: str) -> int | None:
    """The dataset name must be known and, for ``npz:``/``mnist:`` data, the files must load;
    return its number of classes (``None`` for a large user file, not loaded here).

    User files up to :data:`FULL_CHECK_BYTES` are loaded (and split) here, exactly as
    ``initlab prepare-data`` will, so a file with the wrong keys, shapes, dtypes or labels fails
    before any job runs. Larger files (MNIST-sized data takes seconds and ~1.5 GB to load, and
    every cluster job parses the workflow again) are only checked for existence here; their
    contents are checked by the ``prepare_data`` job, which runs before any training job.
    """
    from initlab import data

    try:
        data.check_dataset_name(name)
        kind, _, path = name.partition(":")
        if kind in ("npz", "mnist") and _size_on_disk(Path(path)) <= FULL_CHECK_BYTES:
            return data.load_dataset(name).n_classes
    except (ValueError, OSError) as err:
        message = str(err).removeprefix("dataset: ")
        raise ConfigError(f"config key dataset: {message}") from None
    return DATASET_CLASSES.get(name)


@dataclass(frozen=True)
class Study:
    """A validated study configuration and the grid it expands to."""

    config: dict[str, Any]

    @property
    def name(self) -> str:
        """The study's name."""
        return str(self.config["study"])

    @property
    def results(self) -> str:
        """The results folder, without a trailing slash."""
        return str(self.config["results"]).rstrip("/")

    @property
    def datasets(self) -> list[str]:
        """The study's datasets (one, or the values of a ``dataset`` axis), in config order."""
        value = self.config["dataset"]
        return list(value) if isinstance(value, list) else [value]

    @property
    def dataset_label(self) -> str:
        """Path-safe label of the (baseline) dataset."""
        return dataset_label(self.datasets[0])

    @property
    def dataset_labels(self) -> dict[str, str]:
        """Label -> dataset name of every dataset of the study (labels name the data files and
        the first level of the run folders)."""
        return {dataset_label(name): name for name in self.datasets}

    def table_point(self, point: Point) -> Point:
        """``point`` as the tables write it: a dataset by its label (their ``dataset`` column)."""
        return tuple((a, dataset_label(v) if a == "dataset" else v) for a, v in point)

    @property
    def table_axes(self) -> dict[str, list[Any]]:
        """:attr:`axes` as the tables write their values (datasets by label)."""
        return {
            a: [dataset_label(v) for v in vs] if a == "dataset" else vs
            for a, vs in self.axes.items()
        }

    def setting(self, field: str) -> Any:
        """The configured value of a run field (:data:`initlab.settings.RUN_SETTINGS`): a value,
        or a list of values for an extra axis."""
        path = settings.RUN_SETTINGS[field]
        section, _, key = path.rpartition(".")
        node = self.config[section] if section else self.config
        # a setting newer than the study.json (e.g. classes) is at the schema's default
        return node[key] if key in node else settings.default(field)

    @property
    def axes(self) -> dict[str, list[Any]]:
        """The grid's extra axes: every run field given as a list, in
        :data:`initlab.settings.AXIS_SETTINGS` order, with its values as the runs record them
        (reals as floats)."""
        out = {}
        for field in settings.AXIS_SETTINGS:
            value = self.setting(field)
            if isinstance(value, list):
                out[field] = [
                    float(v) if field in REAL_LIMITS and not isinstance(v, bool) else v
                    for v in value
                ]
        return out

    def points(self) -> list[Point]:
        """Every point of the extra axes (one empty point without extra axes): the axes in
        :data:`initlab.settings.AXIS_SETTINGS` order, the first varying slowest, each axis's
        values in config order."""
        axes = self.axes
        return [
            tuple(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
        ]

    @property
    def baseline(self) -> Point:
        """The first value of every extra axis: the point the report's core pages show."""
        return tuple((field, values[0]) for field, values in self.axes.items())

    def base_spec(
        self, initializer: str, activation: str, depth: int, seed: int, point: Point | None = None
    ) -> RunSpec:
        """The :class:`RunSpec` of one grid point (``point``: values of the extra axes; default
        :attr:`baseline`)."""
        cfg = self.config
        values = {
            field: self.setting(field)
            for field in settings.RUN_SETTINGS
            if field not in ("depth", "seed")
        }
        values.update(self.baseline if point is None else point)
        definition = cfg["custom_initializers"].get(initializer)
        source = None
        transfer = self.transfer_def(initializer)
        if transfer is not None:
            base_def = cfg["custom_initializers"].get(transfer["base"])
            definition = {**transfer, **({"base_def": base_def} if base_def else {})}
            src = self.source_spec(transfer["source"], activation).to_dict()
            del src["seed"]
            source = {"name": transfer["source"], "spec": src}
        return RunSpec(
            initializer=initializer,
            activation=activation,
            depth=int(depth),
            seed=int(seed),
            initializer_def=definition,
            activation_def=cfg["custom_activations"].get(activation),
            axes=tuple(self.axes),
            source=source,
            **values,
        )

    def transfer_def(self, initializer: str) -> dict[str, Any] | None:
        """The configured definition of a ``transfer`` initializer (``None`` for others)."""
        definition = self.config["custom_initializers"].get(initializer)
        return definition if definition and definition["family"] == "transfer" else None

    def source_spec(self, name: str, activation: str, seed: int = 0) -> RunSpec:
        """The run of source ``name`` (``sources``) for one activation and seed: the study's
        dataset and width, the source's classes, depth and initializer, its training settings
        where it gives them and the study's baseline ones otherwise; no extra axes."""
        cfg, src = self.config, self.config.get("sources", {})[name]
        values = {
            field: self.setting(field)
            for field in settings.RUN_SETTINGS
            if field not in ("depth", "seed")
        }
        values.update(self.baseline)
        values.update({k: v for k, v in src.items() if k in values})
        values["budget_check"] = 1  # a source is the network its record describes
        return RunSpec(
            initializer=src["initializer"],
            activation=activation,
            depth=int(src["depth"]),
            seed=int(seed),
            initializer_def=cfg["custom_initializers"].get(src["initializer"]),
            activation_def=cfg["custom_activations"].get(activation),
            **values,
        )

    def source_uses(self) -> list[tuple[str, str]]:
        """Every (source, activation) the grid's transfer initializers need, in config order:
        one ``train_source`` job each."""
        uses = {}
        for init in self.config["initializers"]:
            transfer = self.transfer_def(init)
            if transfer is not None:
                for act in self.config["activations"]:
                    uses[(transfer["source"], act)] = None
        return list(uses)

    def source_dir(self, name: str, activation: str) -> str:
        """Folder of one source's runs (:func:`initlab.layout.source_dir`)."""
        return layout.source_dir(self.results, name, activation)

    def source_json(self, name: str, activation: str) -> str:
        """The source run's spec without its seed, as canonical JSON (a rule parameter)."""
        spec = self.source_spec(name, activation).to_dict()
        del spec["seed"]
        return json.dumps(spec, sort_keys=True, separators=(",", ":"))

    def combinations(self) -> Iterator[tuple[str, str, int, Point]]:
        """Every (initializer, activation, depth, point of the extra axes), in config order."""
        points = self.points()
        for init in self.config["initializers"]:
            for act in self.config["activations"]:
                for depth in self.config["depths"]:
                    for point in points:
                        yield init, act, int(depth), point

    def specs(self) -> Iterator[RunSpec]:
        """Every run of the grid: combinations x seeds."""
        for init, act, depth, point in self.combinations():
            for seed in self.config["seeds"]:
                yield self.base_spec(init, act, depth, seed, point)

    @property
    def chunk_size(self) -> int:
        """Most networks one training job trains (``chunk_size``)."""
        return int(self.config.get("chunk_size", settings.setting("chunk_size")["default"]))

    def chunks(self) -> list[Chunk]:
        """Every training chunk of the grid, in the order the tables list their runs.

        The networks of one dataset x activation x depth x point of the extra axes share
        their shape; they are split into blocks of whole initializers (every seed of an
        initializer in the same chunk), ``max(1, chunk_size // n_seeds)`` initializers per block
        in config order. Activations vary slowest, then depths, then the points of the extra
        axes (a dataset axis among them), then the blocks. Adding a value of any axis but the
        initializers and seeds adds chunks and leaves the others as they are; an initializer
        added at the end of the list joins the last block of each of its groups.
        """
        seeds = tuple(int(s) for s in self.config["seeds"])
        inits = list(self.config["initializers"])
        per = max(1, self.chunk_size // len(seeds))
        out = []
        for act in self.config["activations"]:
            for depth in self.config["depths"]:
                for point in self.points():
                    label = dataset_label(dict(point).get("dataset", self.datasets[0]))
                    for index, start in enumerate(range(0, len(inits), per)):
                        folder = layout.chunk_dir(
                            self.results, label, act, int(depth), point, index
                        )
                        out.append(
                            Chunk(
                                key=folder.removeprefix(f"{self.results}/runs/"),
                                folder=folder,
                                activation=act,
                                depth=int(depth),
                                point=point,
                                initializers=tuple(inits[start : start + per]),
                                seeds=seeds,
                            )
                        )
        return out

    def chunk_specs(self, chunk: Chunk) -> list[RunSpec]:
        """The runs of a chunk in training order: its initializers, every seed of each."""
        return [
            self.base_spec(init, chunk.activation, chunk.depth, seed, chunk.point)
            for init in chunk.initializers
            for seed in chunk.seeds
        ]

    def chunk_json(self, chunk: Chunk) -> str:
        """What a chunk's job trains, as canonical JSON (a rule parameter, so that changing any
        of its runs' settings retrains exactly the affected chunks): one spec per initializer
        without its seed, the seeds, and the folder of the trained sources of each transfer
        initializer (:class:`initlab.chunks.ChunkPlan`)."""
        specs = []
        sources = {}
        for init in chunk.initializers:
            spec = self.base_spec(init, chunk.activation, chunk.depth, 0, chunk.point).to_dict()
            del spec["seed"]
            specs.append(spec)
            transfer = self.transfer_def(init)
            if transfer is not None:
                sources[init] = self.source_dir(transfer["source"], chunk.activation)
        definition = {"specs": specs, "seeds": list(chunk.seeds), "sources": sources}
        return json.dumps(definition, sort_keys=True, separators=(",", ":"))

    def job_resources(self, spec: RunSpec, n_runs: int, attempt: int = 1) -> dict[str, int]:
        """Memory (MB) and runtime (minutes) for one training job, from the network's size.

        The cost of a run is about ``6 * params * samples * epochs`` floating-point operations
        (forward, two backward products) plus checkpoint evaluations; runtime assumes a
        pessimistic 0.5 GFLOP/s per core and a 5-minute floor. Memory covers the interpreter
        and libraries (~250 MB), the dataset, the activations of a 4096-sample
        evaluation chunk and the ensemble trained side by side (its probe passes and
        parameters); it doubles with every retry (``attempt``) so an out-of-memory kill
        on a cluster is followed by a larger request.
        """
        width, epochs, depth = spec.width, spec.epochs * spec.budget_check, spec.depth
        n_train = DATASET_SIZES.get(spec.dataset, 60_000)
        n_in = 784 if ":" in spec.dataset else 64
        n_params = n_in * width + (depth - 1) * width * width + width * 10
        flops = 6.0 * n_params * n_train * epochs * 1.5 * n_runs
        runtime = max(5, int(flops / 0.5e9 / 60) + 1)
        activations_mb = 4096 * width * (depth + 1) * 8 * 3 / 1e6
        data_mb = n_train * n_in * 8 * 2 / 1e6
        # networks trained side by side: the probe passes of one ensemble
        # (initlab.train.ENSEMBLE_MEMORY_MB), a layer of their evaluation chunks each, their
        # parameters and optimizer state
        from initlab.train import ENSEMBLE_MEMORY_MB, ensemble_size

        side = min(n_runs, ensemble_size(spec))
        ensemble_mb = ENSEMBLE_MEMORY_MB + side * (4096 * width * 4 * 3 + n_params * 4 * 6) / 1e6
        mem_mb = int(250 + activations_mb + data_mb + ensemble_mb)
        return {"mem_mb": mem_mb * 2 ** (attempt - 1), "runtime": runtime * attempt}

    def to_json(self) -> str:
        """The resolved configuration as canonical JSON."""
        return json.dumps(self.config, sort_keys=True, indent=2) + "\n"


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?")


def _typed_number(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` as a number (or boolean) if it is text spelling one and ``schema`` asks for it."""
    kind = schema.get("type")
    if not isinstance(value, str):
        return value
    if kind == "boolean" and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if kind == "integer" and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    if kind == "number" and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value) if not _INTEGER_TEXT.fullmatch(value.strip()) else int(value)
    return value


def numbers_from_command_line(
    config: Mapping[str, Any], typed: Mapping[str, Any], schema: Mapping[str, Any]
) -> dict[str, Any]:
    """``config`` with the numbers typed on the command line read as numbers.

    ``snakemake --config depths=[1,2]`` parses list values with YAML's base loader, so every
    element arrives as text (``['1', '2']``). In the keys the user typed (``typed``, Snakemake's
    ``--config`` values) text that spells a number is read as one wherever ``schema`` asks for
    an integer or a number; everything else, and every value from a config file, is left as it
    is (a quoted number in a YAML file stays an error that explains the quotes).

    Parameters
    ----------
    config : mapping
        The merged configuration (config file, then command line).
    typed : mapping
        The values given with ``--config`` only.
    schema : mapping
        The JSON schema (``workflow/schemas/config.schema.yaml``).

    Returns
    -------
    dict
        A copy of ``config``.
    """
    out = copy.deepcopy(dict(config))

    def walk(target: dict[str, Any], given: Mapping[str, Any], node: Mapping[str, Any]) -> None:
        props = node.get("properties", {})
        for key, value in given.items():
            sub = props.get(key, node.get("additionalProperties"))
            if not isinstance(sub, Mapping) or key not in target:
                continue
            if "anyOf" in sub:  # an axis: a value, or a list of such values
                sub = {**sub["anyOf"][0], "items": sub["anyOf"][0]}
            if isinstance(value, Mapping) and isinstance(target[key], dict):
                walk(target[key], value, sub)
            elif isinstance(target[key], list) and isinstance(sub.get("items"), Mapping):
                target[key] = [_typed_number(v, sub["items"]) for v in target[key]]
            else:
                target[key] = _typed_number(target[key], sub)

    walk(out, typed, schema)
    return out


def load_study(config: Mapping[str, Any], schema: Mapping[str, Any]) -> Study:
    """Validate ``config`` against ``schema`` and the registries; return the :class:`Study`."""
    return Study(validate_config(config, schema))
