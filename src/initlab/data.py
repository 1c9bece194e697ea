"""Datasets for the initialization experiments: loading, validation, splitting, standardization.

:func:`load_dataset` turns a dataset name into a :class:`Dataset` of six arrays. Names are

* built-in (:data:`DATASET_NAMES`): ``digits`` (scikit-learn's 8x8 digits, shipped with
  scikit-learn, the default), and three scikit-learn generators with fixed sizes, noise and
  ``random_state`` so every call produces the same bytes: ``moons``, ``circles`` and
  ``gaussian_blobs`` (see :data:`N_SYNTHETIC_SAMPLES` and the ``_make_*`` functions);
* ``npz:PATH``: a ``.npz`` file holding either ``X`` and ``y``, or Keras' ``mnist.npz`` layout
  ``x_train``, ``y_train``, ``x_test``, ``y_test``;
* ``mnist:DIR``: a folder with the four MNIST (or Fashion-MNIST) IDX files, optionally gzipped.
  The IDX format is described by LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning
  applied to document recognition", and the MNIST database page; pixels are scaled to [0, 1].

Samples of any trailing shape (images) are flattened to ``(n_samples, n_features)``.

Splitting. When the data has no test set of its own, ``test_fraction`` of the samples are split
off as the test set and then ``val_fraction`` of the samples (of the whole, not of the rest) as the
validation set; the remaining samples are the training set. When the data ships with a test set
(Keras layout, MNIST's ``t10k`` files) that set is kept, unchanged and in order, as the test set;
``val_fraction`` of the shipped training set becomes the validation set and ``test_fraction`` is
not used. Each split is stratified, i.e. keeps the class proportions of the whole up to rounding:
scikit-learn's ``train_test_split(..., stratify=y, random_state=split_seed)`` with integer sizes
``round(fraction * n)``. Every class therefore needs at least ``ceil(1 / smallest fraction)``
samples, so that each split is expected to hold at least one of each class.

Standardization. Every split is transformed with the per-feature mean and standard deviation
(``ddof=0``) of the *training* split only, so no statistic of the validation or test data leaks
into training. Features that are constant in the training split (zero standard deviation, such
as the always-blank corner pixels of the digits) are only centred (divided by 1).

All steps are deterministic: the same arguments give bit-identical arrays on every call.

Training subsets. A run with ``train_fraction < 1`` trains on :func:`stratified_subset` of the
training split: per class, the first ``ceil(fraction * n_class)`` samples of a random order of
that class, drawn from a stream of the run's own (the validation and test splits never change).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from initlab import io

__all__ = [
    "DATASET_NAMES",
    "N_SYNTHETIC_SAMPLES",
    "Dataset",
    "check_dataset_name",
    "load_dataset",
    "load_prepared",
    "save_prepared",
    "select_classes",
    "stratified_subset",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Number of samples drawn by each synthetic generator (``moons``, ``circles``, ``gaussian_blobs``).
N_SYNTHETIC_SAMPLES = 2000
#: ``random_state`` of the synthetic generators: the generated data never changes.
_GENERATOR_SEED = 0
_SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A standardized train/validation/test split of one classification dataset.

    Parameters
    ----------
    name : str
        The name the dataset was loaded under, e.g. ``"digits"`` or ``"npz:data/mnist.npz"``.
    X_train : ndarray of float64, shape (n_train, n_features)
        Training inputs, standardized with their own per-feature mean and standard deviation.
    y_train : ndarray of int64, shape (n_train,)
        Training labels in ``0 .. n_classes - 1``.
    X_val : ndarray of float64, shape (n_val, n_features)
        Validation inputs, standardized with the training statistics.
    y_val : ndarray of int64, shape (n_val,)
        Validation labels.
    X_test : ndarray of float64, shape (n_test, n_features)
        Test inputs, standardized with the training statistics.
    y_test : ndarray of int64, shape (n_test,)
        Test labels.

    Raises
    ------
    ValueError
        If the dtypes or shapes are inconsistent.
    """

    name: str
    X_train: FloatArray
    y_train: IntArray
    X_val: FloatArray
    y_val: IntArray
    X_test: FloatArray
    y_test: IntArray

    def __post_init__(self) -> None:
        n_features = self.X_train.shape[1] if self.X_train.ndim == 2 else None
        for split in _SPLITS:
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X.dtype != np.float64 or X.ndim != 2 or X.shape[1] != n_features:
                raise ValueError(
                    f"Dataset {self.name!r}: X_{split} must be float64 of shape (n, {n_features}); "
                    f"got {X.dtype} of shape {X.shape}"
                )
            if y.dtype != np.int64 or y.shape != (len(X),):
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must be int64 of shape ({len(X)},); "
                    f"got {y.dtype} of shape {y.shape}"
                )

    @property
    def n_features(self) -> int:
        """Number of input features (columns of every ``X_*`` array)."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes: labels are ``0 .. n_classes - 1``."""
        return 1 + max(int(y.max(initial=-1)) for y in (self.y_train, self.y_val, self.y_test))


class _Source(NamedTuple):
    """Validated data before splitting: all samples, plus the test set if the data ships one."""

    X: FloatArray
    y: IntArray
    test: tuple[FloatArray, IntArray] | None = None


# --- built-in datasets -------------------------------------------------------------------------


def _make_digits() -> _Source:
    """Scikit-learn's 1797 8x8 handwritten digits, 10 classes, pixel values 0..16."""
    from sklearn.datasets import load_digits  # lazy: training jobs read prepared files

    X, y = load_digits(return_X_y=True)
    return _Source(X.astype(np.float64), y.astype(np.int64))


def _make_moons() -> _Source:
    """Two interleaving half circles in 2-D, Gaussian noise 0.2."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=N_SYNTHETIC_SAMPLES, noise=0.2, random_state=_GENERATOR_SEED)
    return _Source(X.astype(np.float64), y.astype(np.int64))


def _make_circles() -> _Source:
    """Two concentric circles in 2-D, radius ratio 0.5, Gaussian noise 0.1."""
    from sklearn.datasets import make_circles

    X, y = make_circles(
        n_samples=N_SYNTHETIC_SAMPLES, noise=0.1, factor=0.5, random_state=_GENERATOR_SEED
    )
    return _Source(X.astype(np.float64), y.astype(np.int64))


def _make_gaussian_blobs() -> _Source:
    """Four isotropic Gaussian clusters in 8-D with standard deviation 6.

    The centres are drawn uniformly in [-10, 10]^8; at ``cluster_std=6`` the clusters overlap and a
    linear classifier reaches about 87% accuracy (98% at 4, 100% at 2), so the task is learnable
    but not trivially separable.
    """
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=N_SYNTHETIC_SAMPLES,
        n_features=8,
        centers=4,
        cluster_std=6.0,
        random_state=_GENERATOR_SEED,
    )
    return _Source(X.astype(np.float64), y.astype(np.int64))


_BUILTINS: dict[str, Callable[[], _Source]] = {
    "digits": _make_digits,
    "moons": _make_moons,
    "circles": _make_circles,
    "gaussian_blobs": _make_gaussian_blobs,
}

#: Names of the built-in datasets; ``digits`` is the default.
DATASET_NAMES: tuple[str, ...] = tuple(_BUILTINS)


# --- validation of user data -------------------------------------------------------------------


def _features(source: str, key: str, X: npt.NDArray[Any]) -> FloatArray:
    """Check that ``X`` is finite numeric data of shape (n, ...) and flatten it to float64 2-D."""
    if X.dtype == np.bool_ or not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ValueError(
            f"{source}: key {key!r} must hold real numbers; got dtype {X.dtype} "
            "(allowed: integer or floating-point arrays)"
        )
    if X.ndim < 2 or X.size == 0:
        raise ValueError(
            f"{source}: key {key!r} must have shape (n_samples, n_features, ...) with ndim >= 2 "
            f"and at least one feature; got ndim={X.ndim}, shape {X.shape}"
        )
    X = np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise ValueError(
            f"{source}: key {key!r} contains {len(bad)} NaN/inf value(s), the first {X[row, col]} "
            f"at sample {row}, feature {col} (allowed: finite numbers)"
        )
    return X


def _labels(source: str, key: str, y: npt.NDArray[Any]) -> IntArray:
    """Check that ``y`` is a 1-D array of non-negative whole numbers and cast it to int64."""
    if y.ndim != 1:
        raise ValueError(
            f"{source}: key {key!r} must be 1-D class labels of shape (n_samples,); "
            f"got shape {y.shape}"
        )
    if np.issubdtype(y.dtype, np.floating):
        fractional = np.flatnonzero(~(np.isfinite(y) & (y == np.round(y))))
        if len(fractional):
            i = int(fractional[0])
            raise ValueError(
                f"{source}: key {key!r} must hold integer class labels; got {y[i]} at index {i} "
                "(allowed: integers, or floats with whole values)"
            )
    elif y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{source}: key {key!r} must hold integer class labels; got dtype {y.dtype} "
            "(allowed: integer arrays, or floats with whole values)"
        )
    if len(y) and y.min() < 0:
        raise ValueError(
            f"{source}: key {key!r} holds negative label {y.min()}; "
            "allowed: class labels 0 .. n_classes - 1"
        )
    return y.astype(np.int64)


def _pair(
    source: str, keys: tuple[str, str], X: npt.NDArray[Any], y: npt.NDArray[Any]
) -> tuple[FloatArray, IntArray]:
    """Validate one (inputs, labels) pair and check that they have the same length."""
    Xf, yi = _features(source, keys[0], X), _labels(source, keys[1], y)
    if len(Xf) != len(yi):
        raise ValueError(
            f"{source}: key {keys[0]!r} has {len(Xf)} samples but key {keys[1]!r} has {len(yi)} "
            "labels; they must have the same length"
        )
    return Xf, yi


def _check_classes(source: str, key: str, y: IntArray) -> int:
    """Check that the labels form the contiguous range 0..K-1 with K >= 2; return K."""
    present = np.unique(y)
    n_classes = int(present[-1]) + 1 if len(present) else 0
    if len(present) != n_classes:
        missing = sorted(set(range(n_classes)) - {int(c) for c in present})
        raise ValueError(
            f"{source}: key {key!r} labels must be the contiguous range 0..K-1; got labels "
            f"{present.tolist()[:20]} with {missing[:20]} missing"
        )
    if n_classes < 2:
        raise ValueError(
            f"{source}: key {key!r} holds {n_classes} class(es) ({present.tolist()}); "
            "classification needs at least 2 classes"
        )
    return n_classes


def _source(
    name: str, arrays: Mapping[str, npt.NDArray[Any]], x: str, y: str, test: tuple[str, str] | None
) -> _Source:
    """Validate the arrays named by the keys ``x``, ``y`` (and ``test``) of ``arrays``."""
    X, labels = _pair(name, (x, y), arrays[x], arrays[y])
    if test is None:
        _check_classes(name, y, labels)
        return _Source(X, labels)
    X_test, y_test = _pair(name, test, arrays[test[0]], arrays[test[1]])
    if arrays[test[0]].shape[1:] != arrays[x].shape[1:]:
        raise ValueError(
            f"{name}: key {test[0]!r} has samples of shape {arrays[test[0]].shape[1:]} but key "
            f"{x!r} has {arrays[x].shape[1:]}; they must match"
        )
    _check_classes(name, f"{y}+{test[1]}", np.concatenate([labels, y_test]))
    return _Source(X, labels, (X_test, y_test))


# --- user files --------------------------------------------------------------------------------

_NPZ_LAYOUTS = (("X", "y"), ("x_train", "y_train", "x_test", "y_test"))


def _check_npz_path(name: str, path: Path) -> None:
    if not path.is_file():
        raise ValueError(f"{name}: file {str(path)!r} not found (expected a .npz file)")


def _read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """``io.read_npz_arrays`` that first checks the file is a zip archive.

    ``np.load`` leaves its file handle open when a file starts like a zip archive but is not one;
    checking first avoids that leak (a ``ResourceWarning``).
    """
    if not zipfile.is_zipfile(path):
        raise ValueError("not a zip archive")
    return io.read_npz_arrays(path)


_READ_ERRORS = (OSError, ValueError, TypeError, AttributeError, EOFError, zipfile.BadZipFile)


def _load_npz(name: str, path: Path) -> _Source:
    """Read ``X``/``y`` or Keras' ``x_train``/``y_train``/``x_test``/``y_test`` from a .npz file."""
    _check_npz_path(name, path)
    try:
        arrays = _read_npz(path)
    except _READ_ERRORS as err:
        raise ValueError(f"{name}: cannot read {str(path)!r} as a .npz file ({err})") from err
    for layout in _NPZ_LAYOUTS:
        if set(layout) <= arrays.keys():
            test = None if len(layout) == 2 else (layout[2], layout[3])
            return _source(name, arrays, layout[0], layout[1], test)
    # Report the layout the file resembles most (the Keras one if it has any of its keys).
    layout = _NPZ_LAYOUTS[1] if arrays.keys() & set(_NPZ_LAYOUTS[1]) else _NPZ_LAYOUTS[0]
    missing = [k for k in layout if k not in arrays]
    raise ValueError(
        f"{name}: missing key(s) {missing} in {str(path)!r} (found keys {sorted(arrays)}); "
        "allowed layouts: 'X','y' or 'x_train','y_train','x_test','y_test'"
    )


#: The four IDX files of an MNIST folder: key -> (file name, dimensions, what it holds).
_MNIST_FILES = {
    "x_train": ("train-images-idx3-ubyte", 3, "images"),
    "y_train": ("train-labels-idx1-ubyte", 1, "labels"),
    "x_test": ("t10k-images-idx3-ubyte", 3, "images"),
    "y_test": ("t10k-labels-idx1-ubyte", 1, "labels"),
}


def _mnist_files(name: str, folder: Path) -> dict[str, Path]:
    """Locate the four IDX files (plain or ``.gz``) in ``folder``."""
    if not folder.is_dir():
        raise ValueError(f"{name}: folder {str(folder)!r} not found (expected a directory)")
    found = {}
    for key, (stem, _, _) in _MNIST_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        existing = [p for p in candidates if p.is_file()]
        if not existing:
            raise ValueError(
                f"{name}: file {stem!r} (or {stem + '.gz'!r}) not found in {str(folder)!r}; "
                f"an MNIST folder needs {[v[0] for v in _MNIST_FILES.values()]}"
            )
        found[key] = existing[0]
    return found


def _load_mnist(name: str, folder: Path) -> _Source:
    """Read MNIST IDX files (LeCun et al. 1998); images are scaled from 0..255 to [0, 1]."""
    arrays, keys = {}, {}
    for key, path in _mnist_files(name, folder).items():
        _, ndim, what = _MNIST_FILES[key]
        arr = io.read_idx(path)
        if arr.dtype != np.uint8 or arr.ndim != ndim:
            raise ValueError(
                f"{name}: file {path.name!r} must hold unsigned-byte {what} with {ndim} "
                f"dimension(s) (IDX magic 0x{0x800 + ndim:08X}); got {arr.dtype} of shape "
                f"{arr.shape}"
            )
        keys[key] = path.name  # error messages name the file
        arrays[path.name] = arr / 255.0 if what == "images" else arr
    return _source(name, arrays, keys["x_train"], keys["y_train"], (keys["x_test"], keys["y_test"]))


#: ``prefix`` -> (form shown in errors, check that the path exists, load the data).
_PATH_LOADERS: dict[str, tuple[str, Callable[[str, Path], Any], Callable[[str, Path], _Source]]] = {
    "npz": ("npz:FILE.npz", _check_npz_path, _load_npz),
    "mnist": ("mnist:DIR", _mnist_files, _load_mnist),
}


def _resolve(name: str) -> Callable[[], _Source]:
    """Return the loader of ``name`` after checking the name (and that its path exists)."""
    if not isinstance(name, str):
        raise ValueError(f"dataset: name must be a string; got {name!r} ({type(name).__name__})")
    if name in _BUILTINS:
        return _BUILTINS[name]
    prefix, colon, path = name.partition(":")
    if colon and prefix in _PATH_LOADERS:
        if not path:
            raise ValueError(f"dataset {name!r}: missing path after {prefix + ':'!r}")
        _, check, load = _PATH_LOADERS[prefix]
        check(name, Path(path).expanduser())
        return functools.partial(load, name, Path(path).expanduser())
    forms = [form for form, _, _ in _PATH_LOADERS.values()]
    if colon:
        close = difflib.get_close_matches(prefix, _PATH_LOADERS, n=1)
        guess = f"{close[0]}:{path}" if close else None
    else:
        close = difflib.get_close_matches(name, DATASET_NAMES, n=1)
        guess = close[0] if close else None
    hint = f"; did you mean {guess!r}?" if guess else ""
    raise ValueError(
        f"dataset: unknown name {name!r}; allowed: {', '.join(DATASET_NAMES)}, "
        f"{', '.join(forms)}{hint}"
    )


def check_dataset_name(name: str) -> None:
    """Check a dataset name without loading the data (for validating configurations).

    Parameters
    ----------
    name : str
        A built-in name from :data:`DATASET_NAMES`, ``npz:PATH`` with an existing file, or
        ``mnist:DIR`` with an existing folder holding the four IDX files.

    Raises
    ------
    ValueError
        If the name is unknown (the message suggests the closest valid name) or its path is missing.
    """
    _resolve(name)


# --- splitting and standardization -------------------------------------------------------------


def _check_split_args(split_seed: int, val_fraction: float, test_fraction: float) -> None:
    if isinstance(split_seed, bool) or not isinstance(split_seed, int | np.integer):
        raise ValueError(f"dataset: split_seed must be an integer; got {split_seed!r}")
    if not 0 <= split_seed < 2**32:
        raise ValueError(f"dataset: split_seed must be in [0, 2**32); got {split_seed}")
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"dataset: {key} must be a number in (0, 1); got {value!r}")
        if not 0 < value < 1:
            raise ValueError(f"dataset: {key} must be in the open interval (0, 1); got {value}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"dataset: val_fraction + test_fraction must be < 1 to leave training data; got "
            f"val_fraction={val_fraction} + test_fraction={test_fraction} = "
            f"{val_fraction + test_fraction}"
        )


def _check_class_sizes(name: str, y: IntArray, fractions: dict[str, float]) -> None:
    """Every class needs >= ceil(1 / smallest fraction) samples to appear in every split."""
    split, fraction = min(fractions.items(), key=lambda item: item[1])
    needed = math.ceil(1 / fraction - 1e-9)
    counts = np.bincount(y)
    small = int(np.argmin(counts))
    if counts[small] < needed:
        raise ValueError(
            f"{name}: class {small} has only {counts[small]} sample(s); a stratified split with "
            f"the {split} fraction {fraction:g} needs at least {needed} per class "
            f"(fractions: {', '.join(f'{k}={v:g}' for k, v in fractions.items())})"
        )


def _stratified_split(
    X: FloatArray, y: IntArray, n_holdout: int, seed: int
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Split off ``n_holdout`` samples, keeping the class proportions: (X_rest, X_out, ...)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X, y, test_size=n_holdout, stratify=y, random_state=seed)


def _standardize(X_train: FloatArray, *others: FloatArray) -> list[FloatArray]:
    """Standardize all arrays with the training mean/std; constant features are only centred."""
    mean = X_train.mean(axis=0)
    scale = np.where(np.ptp(X_train, axis=0) > 0, X_train.std(axis=0), 1.0)
    return [np.ascontiguousarray((X - mean) / scale) for X in (X_train, *others)]


def load_dataset(
    name: str, *, split_seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> Dataset:
    """Load, validate, split (stratified) and standardize a dataset.

    Parameters
    ----------
    name : str
        A built-in name from :data:`DATASET_NAMES` (``"digits"`` is the default of the library),
        ``"npz:PATH"`` or ``"mnist:DIR"`` (see the module documentation).
    split_seed : int, default 0
        ``random_state`` of the stratified splits, in ``[0, 2**32)``.
    val_fraction : float, default 0.2
        Size of the validation split as a fraction of all samples, or of the shipped training set
        when the data has its own test set. In (0, 1).
    test_fraction : float, default 0.2
        Size of the test split as a fraction of all samples; unused when the data has its own test
        set. In (0, 1), and ``val_fraction + test_fraction < 1``.

    Returns
    -------
    Dataset
        ``X_*`` float64 of shape ``(n_split, n_features)`` standardized with the training mean and
        standard deviation, ``y_*`` int64 of shape ``(n_split,)``. Bit-identical across calls.

    Raises
    ------
    ValueError
        One line naming the dataset or file, the offending key and value, and what is allowed.
    """
    _check_split_args(split_seed, val_fraction, test_fraction)
    source = _resolve(name)()
    if source.test is None:
        n = len(source.y)
        _check_class_sizes(
            name,
            source.y,
            {"train": 1 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction},
        )
        X_rest, X_test, y_rest, y_test = _stratified_split(
            source.X, source.y, round(test_fraction * n), split_seed
        )
        n_val = round(val_fraction * n)
    else:
        X_rest, y_rest = source.X, source.y
        X_test, y_test = source.test
        _check_class_sizes(name, y_rest, {"train": 1 - val_fraction, "val": val_fraction})
        n_val = round(val_fraction * len(y_rest))
    X_train, X_val, y_train, y_val = _stratified_split(X_rest, y_rest, n_val, split_seed)
    X_train, X_val, X_test = _standardize(X_train, X_val, X_test)
    return Dataset(name, X_train, y_train, X_val, y_val, X_test, y_test)


def _subset_size(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, at least 1 and at most ``n``; a product that exceeds a whole number
    by float rounding only (``0.1 * 10``) counts as that number."""
    return min(n, max(1, math.ceil(fraction * n - 1e-9)))


def stratified_subset(
    y: npt.NDArray[np.integer[Any]], fraction: float, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """Indices of a stratified subset holding ``fraction`` of each class of ``y``.

    For each class ``c`` present in ``y``, in increasing order, one permutation of its ``n_c``
    indices is drawn from ``rng`` and its first ``ceil(fraction * n_c)`` entries are kept (at
    least 1: every class stays represented; a product ``fraction * n_c`` within 1e-9 above a
    whole number counts as that number). The draws depend on the class sizes only, not on
    ``fraction``, so generators in the same state give nested subsets: for ``f1 <= f2`` the
    ``f1`` subset lies inside the ``f2`` subset. ``fraction = 1`` keeps every sample.

    Parameters
    ----------
    y : ndarray of int, shape (n,)
        Class labels of the training split.
    fraction : float
        Share of each class to keep, in ``(0, 1]``.
    rng : numpy.random.Generator
        Source of the per-class orders (one ``permutation`` per class; advanced by the call).

    Returns
    -------
    ndarray of intp, shape (m,)
        Increasing indices into ``y`` (the subset keeps the split's order), with
        ``m = sum_c ceil(fraction * n_c)``.

    Raises
    ------
    ValueError
        ``fraction`` outside ``(0, 1]``.
    """
    if isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise ValueError(f"train_fraction: got {fraction!r}; allowed: a number in (0, 1]")
    labels = np.asarray(y)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        order = rng.permutation(len(members))
        keep.append(members[order[: _subset_size(fraction, len(members))]])
    if not keep:
        return np.empty(0, dtype=np.intp)
    return np.sort(np.concatenate(keep)).astype(np.intp, copy=False)


def select_classes(ds: Dataset, classes: Sequence[int]) -> Dataset:
    """The samples of ``ds`` whose label is one of ``classes``, relabelled ``0 .. k - 1``.

    Every split (train, validation, test) keeps its order and only the samples of the listed
    classes; label ``classes_sorted[i]`` becomes ``i`` (sorted order, whatever the order of
    ``classes``). The features are not standardized again: the subset keeps the full dataset's
    standardization, so a network trained on one class subset reads the same inputs as one
    trained on another (what transfer between class subsets needs).

    Parameters
    ----------
    ds : Dataset
        The full dataset, with ``n_classes`` classes.
    classes : sequence of int, length k >= 2
        Distinct labels of ``ds`` to keep.

    Returns
    -------
    Dataset
        ``X_*`` of shape ``(n_*', n_features)``, ``y_*`` of shape ``(n_*',)`` in ``0 .. k - 1``;
        ``n_classes == k``. Its name is ``ds.name``.

    Raises
    ------
    ValueError
        ``classes: ...`` naming the bad value: fewer than 2 labels, duplicates, or a label that
        is not a class of ``ds``.
    """
    labels = [int(c) for c in classes]
    allowed = f"at least 2 distinct labels from 0 to {ds.n_classes - 1} (the classes of {ds.name})"
    bad = [c for c in labels if not 0 <= c < ds.n_classes]
    if len(labels) < 2 or len(set(labels)) != len(labels) or bad:
        raise ValueError(f"classes: got {list(classes)!r}; allowed: {allowed}")
    keep = np.asarray(sorted(labels), dtype=np.int64)
    relabel = np.full(ds.n_classes, -1, dtype=np.int64)
    relabel[keep] = np.arange(len(keep), dtype=np.int64)
    arrays = {}
    for split in _SPLITS:
        X, y = getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}")
        rows = np.flatnonzero(relabel[y] >= 0)
        arrays[f"X_{split}"], arrays[f"y_{split}"] = X[rows], relabel[y[rows]]
    return Dataset(name=ds.name, **arrays)


# --- prepared datasets on disk -----------------------------------------------------------------

_PREPARED_KEYS = ("name", *(f"{xy}_{split}" for split in _SPLITS for xy in "Xy"))


def save_prepared(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` (its arrays and name) to one uncompressed ``.npz`` file, atomically.

    Parameters
    ----------
    ds : Dataset
        The dataset to save.
    path : str or os.PathLike
        Destination file; read it back with :func:`load_prepared`.
    """
    arrays = {key: getattr(ds, key) for key in _PREPARED_KEYS[1:]}
    io.write_npz_arrays(path, {"name": np.array(ds.name), **arrays})


def load_prepared(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset written by :func:`save_prepared`, checking its keys, dtypes and shapes.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_prepared`.

    Returns
    -------
    Dataset
        The saved dataset, bit for bit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    initlab.io.CorruptFileError
        A ``ValueError`` naming the file and saying to delete it and rerun if it is damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prepared dataset not found")
    advice = "delete it and rerun to prepare the dataset again"
    try:
        arrays = _read_npz(path)
    except _READ_ERRORS as err:
        raise io.CorruptFileError(f"{path}: damaged prepared dataset ({err}); {advice}") from err
    if sorted(arrays) != sorted(_PREPARED_KEYS):
        raise io.CorruptFileError(
            f"{path}: damaged prepared dataset (keys {sorted(arrays)}, expected "
            f"{sorted(_PREPARED_KEYS)}); {advice}"
        )
    name = arrays.pop("name")
    if name.shape != () or name.dtype.kind != "U":
        raise io.CorruptFileError(
            f"{path}: damaged prepared dataset (name has dtype {name.dtype}, shape {name.shape}); "
            f"{advice}"
        )
    try:
        return Dataset(name=str(name), **arrays)
    except ValueError as err:
        raise io.CorruptFileError(f"{path}: damaged prepared dataset ({err}); {advice}") from err
