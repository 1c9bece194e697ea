"""Every file initlab reads or writes goes through this module.

Writes are atomic: the bytes go to a temporary file in the destination folder, are flushed and
fsynced, and the temporary file is renamed over the destination (``os.replace`` is atomic on
POSIX). A killed process therefore leaves either the previous file or no file, never half of one.
Readers check what they read and name the file and the way to regenerate it when it is damaged.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CorruptFileError",
    "ParquetAppender",
    "atomic_write_bytes",
    "atomic_write_text",
    "format_value",
    "json_text",
    "read_idx",
    "read_json",
    "read_npz_arrays",
    "read_parquet",
    "write_columns_csv",
    "write_json",
    "write_npz_arrays",
    "write_parquet",
]


class CorruptFileError(ValueError):
    """A results file exists but cannot be parsed; the message names it and how to regenerate it."""


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    with _atomic_target(Path(path)) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` with ``\\n`` line endings to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def _finite_or_null(obj: Any) -> Any:
    """Replace non-finite floats by ``None``: strict JSON has no NaN or Infinity."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_null(v) for v in obj]
    return obj


def json_text(obj: Mapping[str, Any], indent: int | None = None) -> str:
    """``obj`` as sorted, strict JSON text (NaN/inf become ``null``, numpy values plain)."""
    return json.dumps(_finite_or_null(obj), indent=indent, sort_keys=True, default=_json_default)


def write_json(path: str | os.PathLike[str], obj: Mapping[str, Any]) -> None:
    """Write ``obj`` as sorted, indented, strict JSON (NaN/inf become ``null``), atomically."""
    atomic_write_text(path, json_text(obj, indent=2) + "\n")


def write_parquet(path: str | os.PathLike[str], table: pa.Table) -> None:
    """Write an Arrow table as one Parquet file (zstd-compressed), atomically.

    The same table gives the same bytes: the file's metadata holds the schema and the writer's
    version, no time stamps.
    """
    import pyarrow.parquet as pq

    with _atomic_target(Path(path)) as tmp:
        pq.write_table(table, tmp, compression="zstd")


class ParquetAppender:
    """Append Arrow tables to one Parquet file in row groups of exactly ``row_group_rows`` rows
    (the last one shorter); the file appears, atomically, only when :meth:`commit` is called.

    The rows are buffered until a row group is full, and each row group is written from
    contiguous columns, so the file's bytes depend only on the rows appended, in order, and not
    on how they were split between :meth:`append` calls (a study read in chunks of 2 or of 64
    networks gives the same file). At most one row group (plus one appended table) is held in
    memory. Until :meth:`commit` the rows go to a temporary file in ``tmp_dir`` (default: the
    destination's folder), so a failed aggregation leaves neither a partial table nor, with
    ``tmp_dir`` outside it, the destination folder.

    Parameters
    ----------
    path : path
        The Parquet file to write.
    schema : pyarrow.Schema
        Every appended table is cast to it (:class:`pyarrow.ArrowInvalid` if it cannot be).
    row_group_rows : int
        Rows per row group.
    dictionary_columns : sequence of str
        Columns written with dictionary encoding (the repeated text columns); the others are
        written plain (a column of distinct floats would overflow a dictionary anyway).
    tmp_dir : path, optional
        An existing folder on the destination's file system for the temporary file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: pa.Schema,
        row_group_rows: int,
        dictionary_columns: Sequence[str] = (),
        tmp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.schema = schema
        self.row_group_rows = int(row_group_rows)
        self.rows = 0
        folder = Path(tmp_dir) if tmp_dir is not None else self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        self._tmp = Path(tmp)
        self._writer: Any = pq.ParquetWriter(
            self._tmp,
            schema,
            compression="zstd",
            use_dictionary=list(dictionary_columns),
            write_statistics=True,
        )
        self._buffer: list[pa.Table] = []
        self._buffered = 0

    def append(self, table: pa.Table) -> None:
        """Append ``table``'s rows (cast to the schema); write every row group it completes."""
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        while self._buffered >= self.row_group_rows:
            self._write_group(self.row_group_rows)

    def _write_group(self, n: int) -> None:
        import pyarrow as pa

        whole = pa.concat_tables(self._buffer)
        self._writer.write_table(whole.slice(0, n).combine_chunks(), row_group_size=n)
        rest = whole.slice(n)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def finish(self) -> None:
        """Write the last row group and close the temporary file (nothing is in place yet)."""
        if self._writer is None:
            return
        if self._buffered:
            self._write_group(self._buffered)
        self._writer.close()
        self._writer = None

    def commit(self) -> None:
        """:meth:`finish`, then put the file in place atomically (fsync, rename)."""
        self.finish()
        with open(self._tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(self._tmp, 0o644)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Discard the rows: the temporary file is removed and nothing is written to ``path``."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


def read_parquet(
    path: str | os.PathLike[str],
    columns: list[str] | None = None,
    *,
    regenerate_hint: str = "",
) -> pa.Table:
    """Read a Parquet file (``columns``: only these); raise :class:`CorruptFileError` naming
    the file and ``regenerate_hint`` if it is missing a column, truncated or not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(Path(path), columns=columns)
    except (pa.ArrowException, OSError, KeyError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        problem = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = f" {regenerate_hint}" if regenerate_hint else ""
        raise CorruptFileError(f"{path}: not a readable Parquet file ({problem}).{hint}") from None


def read_json(path: str | os.PathLike[str], *, regenerate_hint: str = "") -> dict[str, Any]:
    """Read a JSON object; raise :class:`CorruptFileError` naming the file if it is damaged."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        hint = f" {regenerate_hint}" if regenerate_hint else ""
        raise CorruptFileError(f"{path}: not valid JSON ({err}).{hint}") from err
    if not isinstance(obj, dict):
        raise CorruptFileError(f"{path}: expected a JSON object, found {type(obj).__name__}.")
    return obj


def read_npz_arrays(path: str | os.PathLike[str]) -> dict[str, npt.NDArray[Any]]:
    """Read every array of a ``.npz`` file (``allow_pickle=False``: no code runs on load)."""
    with np.load(Path(path), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_npz_arrays(path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write arrays to an uncompressed ``.npz`` file atomically."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike[str]) -> npt.NDArray[Any]:
    """Read an IDX file (the MNIST format), optionally gzip-compressed.

    The header is two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian uint32 sizes (LeCun et al., MNIST database documentation).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes) "
            f"but the file holds {len(raw) - header} bytes"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def format_value(value: Any) -> str:
    """CSV text of one value: integers as is, floats with 10 significant digits, NaN empty."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.10g}" if np.isfinite(value) else ("" if np.isnan(value) else str(value))
    return str(value)


def write_columns_csv(path: str | os.PathLike[str], columns: Mapping[str, Any]) -> None:
    """Write equal-length columns as a CSV file with a header row, atomically.

    Values are formatted by :func:`format_value` so the same numbers give the same bytes.
    """
    names = list(columns)
    data = [list(columns[c]) for c in names]
    n = len(data[0]) if data else 0
    if any(len(col) != n for col in data):
        raise ValueError(f"{path}: columns have unequal lengths")
    lines = [",".join(names)]
    lines.extend(",".join(format_value(col[i]) for col in data) for i in range(n))
    atomic_write_text(path, "\n".join(lines) + "\n")
