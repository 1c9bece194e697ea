"""Transfer learning between networks: save a trained network, copy its first layers.

A ``transfer`` initializer (:func:`initlab.initializers.transfer`) draws a network exactly as its
``base`` initializer would, then :func:`copy_layers` replaces the weights and biases (and, for a
normalized network, the gains and shifts) of the first ``layers`` hidden layers with those of a
trained source network of the same activation and seed, saved by :func:`save_params`. With
``freeze`` the optimizer leaves the copied layers as they are ("AnB"); otherwise they are
fine-tuned with the rest ("AnB+"). The output layer is never copied: the source was trained on
other classes.

References
----------
- Yosinski, Clune, Bengio & Lipson (2014), "How transferable are features in deep neural
  networks?", NeurIPS.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy.typing as npt

from initlab import io
from initlab.model import Layer

__all__ = ["PARAMS_FILE", "copy_layers", "load_params", "save_params"]

PARAMS_FILE = "params.npz"
"""File name of a source run's trained parameters, beside its ``summary.json``."""

_SLOTS = ("W", "b", "gamma", "beta")


def save_params(params: Sequence[Layer], path: str | os.PathLike[str]) -> None:
    """Write a network's parameters to one ``.npz`` file, atomically.

    Parameters
    ----------
    params : sequence of Layer
        The network, ``depth + 1`` layers; layer ``l`` (1-based) is stored as ``W<l>`` of shape
        ``(fan_in, fan_out)``, ``b<l>`` of shape ``(fan_out,)`` and, when normalized,
        ``gamma<l>``, ``beta<l>``.
    path : str or os.PathLike
        Destination file; read it back with :func:`load_params`.
    """
    arrays: dict[str, npt.NDArray[Any]] = {}
    for i, layer in enumerate(params, start=1):
        for slot in _SLOTS:
            value = getattr(layer, slot)
            if value is not None:
                arrays[f"{slot}{i}"] = value
    io.write_npz_arrays(path, arrays)


def load_params(path: str | os.PathLike[str]) -> list[Layer]:
    """Read a network written by :func:`save_params`, bit for bit.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    initlab.io.CorruptFileError
        The file is damaged or does not hold a network's layers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source parameters not found")
    try:
        arrays = io.read_npz_arrays(path)
    except (OSError, ValueError, EOFError) as err:
        raise io.CorruptFileError(f"{path}: damaged source parameters ({err}); delete it") from err
    n = sum(1 for key in arrays if key.startswith("W"))
    layers = []
    for i in range(1, n + 1):
        if f"W{i}" not in arrays or f"b{i}" not in arrays:
            raise io.CorruptFileError(f"{path}: layer {i} has no W{i} or b{i}; delete it")
        layers.append(Layer(*(arrays.get(f"{slot}{i}") for slot in _SLOTS)))  # type: ignore[arg-type]
    if n < 2:
        raise io.CorruptFileError(f"{path}: holds {n} layer(s), not a network; delete it")
    return layers


def copy_layers(params: Sequence[Layer], source: Sequence[Layer], layers: int) -> list[Layer]:
    """``params`` with its first ``layers`` hidden layers replaced by copies of ``source``'s.

    Parameters
    ----------
    params : sequence of Layer
        The drawn network, ``depth + 1`` layers (not modified).
    source : sequence of Layer
        The trained source network, ``source_depth + 1`` layers.
    layers : int
        Hidden layers to copy, ``0 <= layers <= min(depth, source_depth)`` (0: ``params``).

    Returns
    -------
    list of Layer
        New layers: copies of ``source[:layers]`` (``W``, ``b`` and, where both networks are
        normalized, ``gamma``, ``beta``, in ``params``' dtype), then ``params[layers:]``.

    Raises
    ------
    ValueError
        ``layers`` out of range, or a copied layer whose shape differs from the drawn one.
    """
    if not 0 <= layers <= min(len(params), len(source)) - 1:
        raise ValueError(
            f"layers: got {layers}; allowed: 0 to {min(len(params), len(source)) - 1} (hidden "
            "layers of both the network and its source)"
        )
    out = list(params)
    for i in range(layers):
        mine, theirs = params[i], source[i]
        if mine.W.shape != theirs.W.shape or mine.b.shape != theirs.b.shape:
            raise ValueError(
                f"layers: hidden layer {i + 1} of the source has W {theirs.W.shape}, the network "
                f"{mine.W.shape}; a transfer init whose source does not fit the target shape is "
                "rejected"
            )
        dtype = mine.W.dtype
        norm = mine.gamma is not None and theirs.gamma is not None and theirs.beta is not None
        out[i] = Layer(
            theirs.W.astype(dtype, copy=True),
            theirs.b.astype(dtype, copy=True),
            theirs.gamma.astype(dtype, copy=True) if norm else mine.gamma,  # type: ignore[union-attr]
            theirs.beta.astype(dtype, copy=True) if norm else mine.beta,  # type: ignore[union-attr]
        )
    return out
