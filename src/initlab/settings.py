"""The study configuration's schema, as the one definition of every setting.

``config.schema.yaml`` (shipped inside the package; ``workflow/schemas/config.schema.yaml`` links
to it) states each key's type, range, default and meaning. Everything else is generated from it:
:class:`initlab.config.RunSpec`'s defaults and range checks, the options of ``initlab run`` (their
defaults and help texts), Snakemake's validation and defaults. A setting changed in the schema
changes everywhere at once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "AXIS_SETTINGS",
    "RUN_SETTINGS",
    "default",
    "describe",
    "int_limits",
    "real_limits",
    "schema",
    "schema_path",
    "setting",
]


def schema_path() -> str:
    """File path of the packaged ``config.schema.yaml``."""
    return str(resources.files("initlab") / "config.schema.yaml")


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed JSON schema of a study configuration (cached; do not modify)."""
    return yaml.safe_load(resources.files("initlab").joinpath("config.schema.yaml").read_text())


RUN_SETTINGS: Mapping[str, str] = {
    "depth": "depths.items",
    "seed": "seeds.items",
    "width": "width",
    "bias_std": "bias_std",
    "dataset": "dataset",
    "classes": "classes",
    **{key: f"training.{key}" for key in schema()["properties"]["training"]["properties"]},
}
"""Each field of a run -> its key path in the schema (``items``: the elements of a list); the
training fields are the schema's ``training`` keys."""


def setting(path: str) -> Mapping[str, Any]:
    """The schema node of a key path such as ``"training.epochs"`` or ``"depths.items"``.

    For a setting that may be an axis (``anyOf``: a value, or a list of values) this is the
    node of one value, with the setting's ``default`` and ``description``.
    """
    node: Mapping[str, Any] = schema()
    for part in path.split("."):
        node = node["items"] if part == "items" else node["properties"][part]
    if "anyOf" in node:
        return {**node["anyOf"][0], **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


AXIS_SETTINGS: tuple[str, ...] = tuple(
    field
    for field, path in RUN_SETTINGS.items()
    if "anyOf"
    in functools.reduce(
        lambda node, part: node["items"] if part == "items" else node["properties"][part],
        path.split("."),
        schema(),
    )
)
"""Run fields a study may give as a list of values, which makes them an axis of its grid (in
schema order); ``initializer``, ``activation``, ``depth`` and ``seed`` are the grid's own axes."""


def default(field: str) -> Any:
    """The schema's default of a run field (:data:`RUN_SETTINGS`)."""
    return setting(RUN_SETTINGS[field])["default"]


_AXIS_NOTE = "A list of values makes it an axis of the grid."
"""A sentence of the schema's descriptions that is about study configs, not single runs."""


def describe(field: str) -> str:
    """Help text of a run field: the schema's description and its default."""
    node = setting(RUN_SETTINGS[field])
    text = str(node.get("description", field)).replace(_AXIS_NOTE, "").strip().rstrip(".")
    if "enum" in node:
        text += f" ({'|'.join(str(v) for v in node['enum'])})"
    return f"{text} (default {node['default']})" if "default" in node else text


def int_limits() -> dict[str, tuple[int, int]]:
    """Inclusive ``(low, high)`` of every integer run field."""
    return {
        field: (int(node["minimum"]), int(node["maximum"]))
        for field, path in RUN_SETTINGS.items()
        if (node := setting(path)).get("type") == "integer"
    }


def real_limits() -> dict[str, tuple[float, float, bool]]:
    """``(low, high, low_inclusive)`` of every real-valued run field."""
    out = {}
    for field, path in RUN_SETTINGS.items():
        node = setting(path)
        if node.get("type") == "number":
            inclusive = "exclusiveMinimum" not in node
            low = node["minimum"] if inclusive else node["exclusiveMinimum"]
            out[field] = (float(low), float(node["maximum"]), inclusive)
    return out
