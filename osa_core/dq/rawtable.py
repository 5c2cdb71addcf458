"""Read a few columns of one PyTables table, fast, exactly as PyTables would.

Why not just PyTables: a datacheck row is ~650 kB (2-D histograms we never look at) and
PyTables spends ~12 ms per table only to open it (it parses ~160 attributes and builds a
nested description), so a night of 10,000 subrun files x 3 tables took minutes. The rows
lstchain writes are stored one per HDF5 chunk, compressed with the Blosc filter (HDF5
filter 32001, registered by PyTables) and protected by HDF5's Fletcher-32 checksum. h5py
reads the raw chunks in microseconds; we verify the checksum, let ``blosc2`` (a PyTables
dependency) decompress, and view the bytes with the dataset's own compound dtype. That is
3-5x faster. Anything else (another filter pipeline, a partially filtered chunk, a bad
checksum, no ``blosc2``) falls back to PyTables, which then reads or reports the error
itself. tests/unit/test_dq_reader.py checks both paths give identical values on real files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import h5py
    from numpy.typing import NDArray

BLOSC_FILTER = 32001
FLETCHER32_FILTER = 3


class TableMissing(LookupError):
    """The file has no table at that path (lstchain omits tables with < 2 events)."""


def fletcher32_ok(data: bytes, stored: bytes) -> bool:
    """HDF5's Fletcher-32 (H5_checksum_fletcher32) of ``data``, compared with ``stored``.

    HDF5 sums big-endian 16-bit words in ones'-complement arithmetic (mod 65535) and stores
    ``sum2 << 16 | sum1`` little-endian after the chunk; old HDF5 versions wrote it
    byte-swapped, which HDF5 also accepts, and so do we.
    """
    if len(data) % 2:
        data = data + b"\0"
    words = np.frombuffer(data, dtype=">u2").astype(np.int64)
    weights = np.arange(len(words), 0, -1, dtype=np.int64)
    sum1 = int(words.sum()) % 65535
    sum2 = int((words * weights).sum()) % 65535
    for order in ("little", "big"):
        value = int.from_bytes(stored, order)
        if (value & 0xFFFF) % 65535 == sum1 and (value >> 16) % 65535 == sum2:
            return True
    return False


def _fast_read(h5: h5py.File, table_path: str, fields: tuple[str, ...]) -> dict[str, NDArray[Any]]:
    """Raw-chunk read from an open h5py file; raises ``_Unsupported`` whenever PyTables
    should read the table instead."""
    import h5py  # heavy (~0.2 s): only when a datacheck file is read

    try:
        import blosc2  # heavy (~0.4 s), and optional: without it PyTables reads
    except ImportError as err:
        raise _Unsupported("no blosc2") from err
    dataset = h5.get(table_path)
    if dataset is None:
        raise TableMissing(table_path)
    if not isinstance(dataset, h5py.Dataset):
        raise _Unsupported("not a table")
    dtype = dataset.dtype  # h5py rebuilds it at every access: once only
    if dtype.names is None:
        raise _Unsupported("not a table")
    plist = dataset.id.get_create_plist()
    pipeline = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if pipeline not in ([BLOSC_FILTER], [BLOSC_FILTER, FLETCHER32_FILTER]):
        raise _Unsupported(f"filters {pipeline}")
    checksum = pipeline[-1] == FLETCHER32_FILTER
    fields = tuple(name for name in fields if name in dtype.names)  # absent ones: caller's call
    rows = dataset.shape[0]
    chunk_rows = max(dataset.chunks[0] if dataset.chunks else rows, 1)
    out = {name: np.empty((rows, *dtype[name].shape), dtype=dtype[name].base) for name in fields}
    for start in range(0, rows, chunk_rows):
        mask, raw = dataset.id.read_direct_chunk((start,))
        if mask:
            raise _Unsupported("partially filtered chunk")
        if checksum:
            raw, stored = raw[:-4], raw[-4:]
            if not fletcher32_ok(raw, stored):
                raise _Unsupported("checksum mismatch")
        count = min(chunk_rows, rows - start)
        records = np.frombuffer(blosc2.decompress(raw), dtype=dtype, count=count)
        for name in fields:
            out[name][start : start + count] = records[name]
    return out


class _Unsupported(Exception):
    """The fast path does not apply; PyTables will read the table."""


def _pytables_read(path: Path, table_path: str, fields: tuple[str, ...]) -> dict[str, NDArray[Any]]:
    import tables  # heavy (~0.2 s): only when the fast path does not apply

    with tables.open_file(path, "r") as h5:
        try:
            node = h5.get_node(table_path)
        except tables.NoSuchNodeError:
            raise TableMissing(table_path) from None
        if not isinstance(node, tables.Table):
            raise TableMissing(table_path)
        fields = tuple(name for name in fields if name in node.colnames)
        records = node.read()
        return {name: np.array(records[name]) for name in fields}


def read_tables(
    path: Path, wanted: Mapping[str, Iterable[str]], fast: bool = True
) -> dict[str, dict[str, NDArray[Any]] | None]:
    """For each table path in ``wanted``, its requested columns (``None``: no such table).

    Requested columns the table does not have are left out of its dict: whether that is
    fatal is the caller's decision. The file is opened once. ``fast=False`` forces
    PyTables (the tests compare both). A file HDF5 cannot open raises ``OSError``.
    """
    result: dict[str, dict[str, NDArray[Any]] | None] = {}
    pending = {table: tuple(fields) for table, fields in wanted.items()}
    if fast:
        import h5py  # heavy (~0.2 s): only when a datacheck file is read

        with h5py.File(path, "r", locking=False) as h5:
            for table, fields in list(pending.items()):
                try:
                    result[table] = _fast_read(h5, table, fields)
                except TableMissing:
                    result[table] = None
                except _Unsupported:
                    continue
                del pending[table]
    for table, fields in pending.items():
        try:
            result[table] = _pytables_read(path, table, fields)
        except TableMissing:
            result[table] = None
    return result


def column_names(path: Path, table_path: str) -> tuple[str, ...]:
    """Column names of a table (cheap: reads the HDF5 type only)."""
    import h5py  # heavy (~0.2 s): only when a datacheck file is read

    with h5py.File(path, "r", locking=False) as h5:
        dataset = h5.get(table_path)
        if dataset is None:
            raise TableMissing(table_path)
        return tuple(dataset.dtype.names or ())
