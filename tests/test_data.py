"""Tests of initlab.data: loading, validation, stratified splits, standardization, round trips."""

from __future__ import annotations

import gzip
import itertools
import math
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from initlab import data
from initlab.data import (
    DATASET_NAMES,
    Dataset,
    check_dataset_name,
    load_dataset,
    load_prepared,
    save_prepared,
    stratified_subset,
)

SPLITS = ("train", "val", "test")


def _arrays(ds: Dataset) -> dict[str, np.ndarray]:
    return {f"{xy}_{s}": getattr(ds, f"{xy}_{s}") for s in SPLITS for xy in "Xy"}


def _assert_identical(a: Dataset, b: Dataset) -> None:
    assert a.name == b.name
    for key, arr in _arrays(a).items():
        other = getattr(b, key)
        assert arr.dtype == other.dtype and arr.shape == other.shape, key
        assert arr.tobytes() == other.tobytes(), key


def _write_npz(path: Path, **arrays: object) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def _xy(n_per_class: int = 20, n_classes: int = 3, n_features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(len(y), n_features)) + y[:, None]
    return X, y


# --- built-in datasets -------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_loading_is_bit_identical(name: str) -> None:
    _assert_identical(load_dataset(name), load_dataset(name))


def test_split_seed_changes_the_split() -> None:
    a, b = load_dataset("moons", split_seed=0), load_dataset("moons", split_seed=1)
    assert a.X_train.shape == b.X_train.shape
    assert not np.array_equal(a.y_train, b.y_train) or not np.array_equal(a.X_train, b.X_train)


def test_digits_shapes() -> None:
    ds = load_dataset("digits")
    assert ds.n_features == 64 and ds.n_classes == 10
    sizes = [len(getattr(ds, f"y_{s}")) for s in SPLITS]
    assert sum(sizes) == 1797
    assert sizes == [1797 - 2 * 359, 359, 359]
    for s in SPLITS:
        X, y = getattr(ds, f"X_{s}"), getattr(ds, f"y_{s}")
        assert X.dtype == np.float64 and X.ndim == 2 and X.shape[1] == 64
        assert y.dtype == np.int64 and y.shape == (len(X),)


@pytest.mark.parametrize(
    ("name", "n_features", "n_classes"),
    [("moons", 2, 2), ("circles", 2, 2), ("gaussian_blobs", 8, 4)],
)
def test_synthetic_shapes(name: str, n_features: int, n_classes: int) -> None:
    ds = load_dataset(name)
    assert (ds.n_features, ds.n_classes) == (n_features, n_classes)
    assert sum(len(getattr(ds, f"y_{s}")) for s in SPLITS) == data.N_SYNTHETIC_SAMPLES


@pytest.mark.parametrize("name", DATASET_NAMES)
@pytest.mark.parametrize("seed", [0, 7])
def test_splits_are_stratified(name: str, seed: int) -> None:
    ds = load_dataset(name, split_seed=seed)
    y_all = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    proportions = np.bincount(y_all) / len(y_all)
    for s in SPLITS:
        y = getattr(ds, f"y_{s}")
        counts = np.bincount(y, minlength=ds.n_classes)
        assert np.all(np.abs(counts - len(y) * proportions) <= 1), (s, counts)


def test_fractions_set_split_sizes() -> None:
    ds = load_dataset("moons", val_fraction=0.1, test_fraction=0.3)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1200, 200, 600)


def test_moons_splits_are_disjoint() -> None:
    ds = load_dataset("moons")
    rows = [{row.tobytes() for row in getattr(ds, f"X_{s}")} for s in SPLITS]
    assert sum(len(r) for r in rows) == data.N_SYNTHETIC_SAMPLES
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_train_split_is_standardized(name: str) -> None:
    ds = load_dataset(name)
    assert np.all(np.abs(ds.X_train.mean(axis=0)) < 1e-12)
    std = ds.X_train.std(axis=0)
    varying = np.ptp(ds.X_train, axis=0) > 0
    assert np.allclose(std[varying], 1.0, rtol=0, atol=1e-12)
    if name == "digits":  # digits has blank pixels: centred, not divided by zero
        assert not varying.all()
        assert np.all(ds.X_train[:, ~varying] == 0)
    for s in SPLITS:
        assert np.isfinite(getattr(ds, f"X_{s}")).all()


def test_val_and_test_use_training_statistics(tmp_path: Path) -> None:
    n = 60
    rng = np.random.default_rng(1)
    ids = np.arange(n, dtype=np.float64)  # column 0 identifies each sample
    X = np.column_stack([ids, np.full(n, 7.0), rng.normal(size=n)])
    y = np.arange(n) % 3
    ds = load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y))
    # All splits share one affine map of the ids: recover it from the union of the splits.
    col = np.concatenate([ds.X_train[:, 0], ds.X_val[:, 0], ds.X_test[:, 0]])
    slope, intercept = np.polyfit(np.sort(col), np.arange(n), 1)
    train_ids = np.rint(ds.X_train[:, 0] * slope + intercept)
    assert np.isclose(intercept, train_ids.mean()) and np.isclose(slope, train_ids.std())
    assert not np.isclose(ds.X_val[:, 0].mean(), 0.0)  # val is not standardized by itself
    for s in SPLITS:  # the constant column is only centred
        assert np.all(getattr(ds, f"X_{s}")[:, 1] == 0.0)


def test_n_classes_counts_all_splits() -> None:
    ds = load_dataset("gaussian_blobs")
    assert ds.n_classes == 4 == len(np.unique(ds.y_test))


# --- .npz files --------------------------------------------------------------------------------


def test_npz_xy_layout(tmp_path: Path) -> None:
    X, y = _xy()
    images = X.reshape(len(X), 2, 2)  # trailing shape is flattened
    name = _write_npz(tmp_path / "xy.npz", X=images, y=y)
    ds = load_dataset(name)
    assert ds.name == name
    assert ds.n_features == 4 and ds.n_classes == 3
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (36, 12, 12)
    _assert_identical(ds, load_dataset(name))


def test_npz_float_labels_with_whole_values_are_accepted(tmp_path: Path) -> None:
    X, y = _xy()
    ds = load_dataset(_write_npz(tmp_path / "f.npz", X=X, y=y.astype(np.float32)))
    assert ds.y_train.dtype == np.int64 and ds.n_classes == 3


def test_npz_keras_layout_keeps_the_test_set(tmp_path: Path) -> None:
    X, y = _xy(n_per_class=20)
    X_test, y_test = _xy(n_per_class=3, seed=1)
    x_train = (X.reshape(-1, 2, 2) * 40 + 100).clip(0, 255).astype(np.uint8)
    x_test = (X_test.reshape(-1, 2, 2) * 40 + 100).clip(0, 255).astype(np.uint8)
    name = _write_npz(
        tmp_path / "mnist.npz", x_train=x_train, y_train=y, x_test=x_test, y_test=y_test
    )
    ds = load_dataset(name, val_fraction=0.25, test_fraction=0.5)
    assert np.array_equal(ds.y_test, y_test)  # kept, in order
    assert len(ds.y_val) == 15 and len(ds.y_train) == 45  # val carved from the 60 train samples
    # the test rows are the given images under the training affine map: orders are preserved
    given = x_test.reshape(9, 4)
    for j in range(4):
        assert np.array_equal(
            np.argsort(ds.X_test[:, j], kind="stable"), np.argsort(given[:, j], kind="stable")
        )
    _assert_identical(ds, load_dataset(name, val_fraction=0.25, test_fraction=0.5))


# --- MNIST IDX folders -------------------------------------------------------------------------


def _idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes()


def _mnist_folder(folder: Path, gz: bool, n_train: int = 30, n_test: int = 9):
    rng = np.random.default_rng(3)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 4, 4), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train) % 3,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 4, 4), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 3,
    }
    folder.mkdir()
    for stem, arr in files.items():
        raw = _idx_images(arr) if arr.ndim == 3 else _idx_labels(arr)
        path = folder / (stem + ".gz" if gz else stem)
        path.write_bytes(gzip.compress(raw) if gz else raw)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_folder(tmp_path: Path, gz: bool) -> None:
    files = _mnist_folder(tmp_path / "mnist", gz)
    name = f"mnist:{tmp_path / 'mnist'}"
    check_dataset_name(name)
    ds = load_dataset(name)
    assert ds.n_features == 16 and ds.n_classes == 3
    assert np.array_equal(ds.y_test, files["t10k-labels-idx1-ubyte"])
    assert (len(ds.y_train), len(ds.y_val)) == (24, 6)
    raw = data._resolve(name)()  # before standardization: pixels scaled to [0, 1]
    assert np.array_equal(raw.X, files["train-images-idx3-ubyte"].reshape(30, 16) / 255.0)
    assert raw.test is not None and raw.test[0].max() <= 1.0
    _assert_identical(ds, load_dataset(name))


def test_mnist_missing_file(tmp_path: Path) -> None:
    _mnist_folder(tmp_path / "m", gz=False)
    (tmp_path / "m" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=r"'t10k-labels-idx1-ubyte'.*not found"):
        load_dataset(f"mnist:{tmp_path / 'm'}")


def test_mnist_images_with_wrong_magic(tmp_path: Path) -> None:
    _mnist_folder(tmp_path / "m", gz=False)
    labels = (tmp_path / "m" / "train-labels-idx1-ubyte").read_bytes()
    (tmp_path / "m" / "train-images-idx3-ubyte").write_bytes(labels)
    with pytest.raises(ValueError, match=r"'train-images-idx3-ubyte'.*0x00000803.*shape \(30,\)"):
        load_dataset(f"mnist:{tmp_path / 'm'}")


# --- prepared datasets -------------------------------------------------------------------------


def test_prepared_round_trip(tmp_path: Path) -> None:
    ds = load_dataset("gaussian_blobs", split_seed=3)
    save_prepared(ds, tmp_path / "prep.npz")
    _assert_identical(load_prepared(tmp_path / "prep.npz"), ds)


def test_prepared_missing_key_is_reported(tmp_path: Path) -> None:
    ds = load_dataset("moons")
    arrays = {k: v for k, v in _arrays(ds).items() if k != "y_val"}
    np.savez(tmp_path / "p.npz", name=np.array("moons"), **arrays)
    with pytest.raises(ValueError, match=r"p\.npz.*expected.*'y_val'.*delete it and rerun"):
        load_prepared(tmp_path / "p.npz")


def test_prepared_wrong_shape_is_reported(tmp_path: Path) -> None:
    ds = load_dataset("moons")
    arrays = _arrays(ds) | {"y_test": ds.y_test[:-1]}
    np.savez(tmp_path / "p.npz", name=np.array("moons"), **arrays)
    with pytest.raises(ValueError, match=r"p\.npz.*y_test.*delete it and rerun"):
        load_prepared(tmp_path / "p.npz")


def test_prepared_garbage_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "p.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"p\.npz.*delete it and rerun"):
        load_prepared(tmp_path / "p.npz")


# --- names -------------------------------------------------------------------------------------


def test_dataset_names() -> None:
    assert DATASET_NAMES == ("digits", "moons", "circles", "gaussian_blobs")
    for name in DATASET_NAMES:
        check_dataset_name(name)


def test_check_dataset_name_accepts_existing_npz(tmp_path: Path) -> None:
    X, y = _xy()
    check_dataset_name(_write_npz(tmp_path / "ok.npz", X=X, y=y))


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(ValueError, match=r"'digitz'.*moons.*npz:.*mnist:.*did you mean 'digits'"):
        load_dataset("digitz")


def test_unknown_prefix_suggests_closest() -> None:
    with pytest.raises(ValueError, match=r"'mnst:/x'.*did you mean 'mnist:/x'"):
        check_dataset_name("mnst:/x")


def test_npz_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.npz.*not found"):
        check_dataset_name(f"npz:{tmp_path / 'nope.npz'}")


def test_mnist_folder_not_found(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"folder .*nowhere.*not found"):
        load_dataset(f"mnist:{tmp_path / 'nowhere'}")


def test_empty_path() -> None:
    with pytest.raises(ValueError, match=r"missing path after 'npz:'"):
        check_dataset_name("npz:")


# --- validation of user data -------------------------------------------------------------------


def test_npz_missing_key(tmp_path: Path) -> None:
    X, _ = _xy()
    with pytest.raises(ValueError, match=r"missing key\(s\) \['y'\].*found keys \['X'\]"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X))


def test_npz_keras_missing_key(tmp_path: Path) -> None:
    X, y = _xy()
    name = _write_npz(tmp_path / "d.npz", x_train=X, y_train=y, x_test=X)
    with pytest.raises(ValueError, match=r"missing key\(s\) \['y_test'\]"):
        load_dataset(name)


def test_npz_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "d.npz").write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"d\.npz.*cannot read"):
        load_dataset(f"npz:{tmp_path / 'd.npz'}")


def test_x_not_numeric(tmp_path: Path) -> None:
    _, y = _xy()
    X = np.full((len(y), 2), "a")
    with pytest.raises(ValueError, match=r"key 'X' must hold real numbers; got dtype <U1"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y))


def test_x_wrong_ndim(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'X'.*got ndim=1"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X[:, 0], y=y))


def test_y_not_integer(tmp_path: Path) -> None:
    X, y = _xy()
    y = y.astype(np.float64)
    y[5] = 0.5
    with pytest.raises(ValueError, match=r"key 'y' must hold integer class labels; got 0\.5"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y))


def test_y_string_labels(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'y'.*dtype <U"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y.astype(str)))


def test_y_wrong_ndim(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'y' must be 1-D.*\(60, 1\)"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y[:, None]))


def test_length_mismatch(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"'X' has 60 samples but key 'y' has 59"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y[:-1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_x(tmp_path: Path, bad: float) -> None:
    X, y = _xy()
    X[4, 2] = bad
    with pytest.raises(ValueError, match=rf"key 'X'.*NaN/inf.*{bad}.*sample 4, feature 2"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y))


def test_negative_labels(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'y' holds negative label -1"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y - 1))


def test_non_contiguous_labels(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'y'.*contiguous.*\[0, 2, 4\].*\[1, 3\] missing"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=2 * y))


def test_keras_labels_contiguous_over_train_and_test(tmp_path: Path) -> None:
    X, y = _xy()
    name = _write_npz(tmp_path / "d.npz", x_train=X, y_train=y, x_test=X[:3], y_test=[0, 1, 5])
    with pytest.raises(ValueError, match=r"'y_train\+y_test'.*\[3, 4\] missing"):
        load_dataset(name)


def test_keras_test_shape_mismatch(tmp_path: Path) -> None:
    X, y = _xy()
    name = _write_npz(tmp_path / "d.npz", x_train=X, y_train=y, x_test=X[:3, :3], y_test=y[:3])
    with pytest.raises(ValueError, match=r"key 'x_test' has samples of shape \(3,\)"):
        load_dataset(name)


def test_single_class(tmp_path: Path) -> None:
    X, y = _xy()
    with pytest.raises(ValueError, match=r"key 'y' holds 1 class.*at least 2 classes"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=np.zeros_like(y)))


def test_too_few_samples_in_a_class(tmp_path: Path) -> None:
    X, y = _xy()
    y[44:] = 0  # class 2 keeps 4 of its 20 samples; fractions 0.2 need 5 per class
    with pytest.raises(ValueError, match=r"class 2 has only 4 sample\(s\).*needs at least 5"):
        load_dataset(_write_npz(tmp_path / "d.npz", X=X, y=y))


def test_too_few_samples_for_small_fraction(tmp_path: Path) -> None:
    X, y = _xy()  # 20 per class: enough for 0.2, not for 0.04 (needs 25)
    name = _write_npz(tmp_path / "d.npz", X=X, y=y)
    load_dataset(name)
    with pytest.raises(
        ValueError, match=r"only 20 sample\(s\).*val fraction 0\.04 needs at least 25"
    ):
        load_dataset(name, val_fraction=0.04)


@pytest.mark.parametrize("key", ["val_fraction", "test_fraction"])
@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_fraction_outside_unit_interval(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"{key} must be in the open interval \(0, 1\); got"):
        load_dataset("moons", **{key: value})


def test_fraction_not_a_number() -> None:
    with pytest.raises(ValueError, match=r"val_fraction must be a number.*got '0\.2'"):
        load_dataset("moons", val_fraction="0.2")  # type: ignore[arg-type]


@pytest.mark.parametrize(("val", "test"), [(0.5, 0.5), (0.6, 0.5)])
def test_fractions_summing_to_one(val: float, test: float) -> None:
    with pytest.raises(ValueError, match=rf"val_fraction={val} \+ test_fraction={test}"):
        load_dataset("moons", val_fraction=val, test_fraction=test)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_bad_split_seed(seed: object) -> None:
    with pytest.raises(ValueError, match=r"split_seed must be"):
        load_dataset("moons", split_seed=seed)  # type: ignore[arg-type]


def test_name_not_a_string() -> None:
    with pytest.raises(ValueError, match=r"name must be a string; got 3"):
        check_dataset_name(3)  # type: ignore[arg-type]


# --- training subsets --------------------------------------------------------------------------


def _labels(sizes: list[int], seed: int = 0) -> np.ndarray:
    """Class ``c`` ``sizes[c]`` times, shuffled."""
    y = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(seed).permutation(y)


FRACTIONS = [1e-6, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 1.0]


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_subset_is_exactly_stratified(fraction: float) -> None:
    """Counted: class c keeps ceil(fraction x n_c) samples, the ceiling taken in exact decimals
    (0.1 x 10 is 1, 0.7 x 10 is 7), and at least one."""
    sizes = [10, 100, 7, 1, 178, 33, 20, 3]
    y = _labels(sizes)
    keep = stratified_subset(y, fraction, np.random.default_rng(1))
    expected = [max(1, math.ceil(Decimal(str(fraction)) * n)) for n in sizes]
    np.testing.assert_array_equal(np.bincount(y[keep], minlength=len(sizes)), expected)
    assert keep.dtype == np.intp
    assert np.all(np.diff(keep) > 0)  # increasing: unique, in the split's order
    assert keep.min() >= 0 and keep.max() < len(y)


def test_subsets_are_nested_across_fractions() -> None:
    """The same seed gives nested subsets: each fraction's subset lies inside the next one's."""
    y = _labels([50, 37, 64, 5, 90])
    subsets = [set(stratified_subset(y, f, np.random.default_rng(3)).tolist()) for f in FRACTIONS]
    for smaller, larger in itertools.pairwise(subsets):
        assert smaller <= larger
    assert subsets[-1] == set(range(len(y)))


def test_subset_draws_depend_on_the_class_sizes_only() -> None:
    """Determinism, and the generator advances the same for every fraction (one permutation per
    class), so streams after it would not depend on the fraction either; another seed, another
    subset."""
    y = _labels([40, 40, 40])
    after = []
    for fraction in (0.2, 0.6, 1.0):
        rng = np.random.default_rng(7)
        first = stratified_subset(y, fraction, rng)
        np.testing.assert_array_equal(
            first, stratified_subset(y, fraction, np.random.default_rng(7))
        )
        after.append(rng.random())
    assert after[0] == after[1] == after[2]
    a = stratified_subset(y, 0.5, np.random.default_rng(7))
    b = stratified_subset(y, 0.5, np.random.default_rng(8))
    assert not np.array_equal(a, b)


def test_subset_of_the_whole_split_and_bad_fractions() -> None:
    y = _labels([3, 4, 5])
    np.testing.assert_array_equal(
        stratified_subset(y, 1.0, np.random.default_rng(0)), np.arange(12)
    )
    for bad in (0.0, -0.5, 1.01, True):
        with pytest.raises(ValueError, match="train_fraction"):
            stratified_subset(y, bad, np.random.default_rng(0))
