"""Files the workflow's stages pass to each other: tables (TSV) and arrays (HDF5), written atomically.

Every writer writes to a temporary name in the target directory, then renames: a crash or error
mid-write leaves any existing file untouched and no partial file behind. HDF5 files are written
without time stamps, so the same arrays give the same bytes.

The attribution file (`attribution_arrays`, `read_attributions`) holds the test rows attributed
(`index`), their inputs (`x`), the ground truth where there is one (`ground_truth`) and the raw map
under the method's name, with the model and method as root attributes.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

SPLITS: tuple[str, ...] = ("train", "valid", "test")  # every dataset file's splits, keys f"{name}_{split}"


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on error delete it.

    The temporary file is created private (mode 0600) and given the mode a plainly created file would
    have (0666 less the umask) before it is yielded, so lab-mates can read results where the umask allows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_tsv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table as tab-separated text, atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


def read_tsv(path: str | Path) -> pd.DataFrame:
    """Read a TSV written by `write_tsv`, naming the file in any parse error."""
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read table: {err}") from err


def read_tsvs(paths: Iterable[str | Path], columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of every TSV of `paths` (`read_tsv`) in one frame; empty, with `columns`, when there are none."""
    frames = [read_tsv(p) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _attr_value(value: Any) -> Any:
    """An HDF5-storable attribute: scalars as they are, anything else JSON-encoded."""
    if isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value)


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
    """Write arrays to HDF5, one gzip-compressed dataset per key, atomically and byte-for-byte reproducibly.

    No time stamps are stored (track_times=False), so the same arrays give the same file. `attrs` go
    to the root as attributes, JSON-encoded when they are not scalars.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in arrays.items():
                value = np.asarray(value)
                compression = "gzip" if value.ndim else None  # HDF5 cannot compress scalars
                f.create_dataset(key, data=value, compression=compression, track_times=False)
            for key, value in (attrs or {}).items():
                f.attrs[key] = _attr_value(value)


def open_hdf5(path: str | Path) -> h5py.File:
    """`path` opened read-only; ValueError naming it when HDF5 cannot open it (truncated, or not HDF5)."""
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(f"file not found: {path}") from None
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file (truncated or not HDF5?): {err}") from None


def read_split(path: str | Path, split: str, names: Iterable[str]) -> dict[str, np.ndarray]:
    """The arrays f"{name}_{split}" of a dataset file, by name: ValueError for a split not in `SPLITS`,
    FileNotFoundError for a missing file, KeyError naming the file and the first missing array."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    out = {}
    with open_hdf5(path) as f:
        for name in names:
            key = f"{name}_{split}"
            if key not in f:
                raise KeyError(f"{path}: missing dataset {key!r}")
            out[name] = f[key][()]
    return out


def read_xy(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """x (N, A, L) and y (N, 1) of one split ('train', 'valid', 'test') of a dataset in the published layout."""
    found = read_split(path, split, ("x", "y"))
    return found["x"], found["y"]


def read_arrays(path: str | Path, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The datasets of an HDF5 file (all, or only `keys`) as arrays; scalars come back as 0-d arrays."""
    with open_hdf5(path) as f:
        return {k: np.asarray(f[k][()]) for k in (f.keys() if keys is None else keys)}


def read_attrs(path: str | Path) -> dict[str, Any]:
    """The root attributes of an HDF5 file written by `write_arrays` (model, method, ...)."""
    with open_hdf5(path) as f:
        return dict(f.attrs)


def attribution_arrays(index: np.ndarray, x: np.ndarray, method: str, raw: np.ndarray,
                       ground_truth: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What an attribution file holds: the test rows, their inputs, the ground truth (when there is one)
    and the raw map under the method's name, float32."""
    arrays = {"index": index, "x": x.astype(np.float32)}
    if ground_truth is not None:
        arrays["ground_truth"] = ground_truth.astype(np.float32)
    arrays[method] = np.asarray(raw, dtype=np.float32)
    return arrays


def iter_attributions(paths: Iterable[str | Path], method: str | None = None) -> Iterator[dict[str, Any]]:
    """`read_attributions` of each file in turn (one in memory at a time), checked to hold the same test rows."""
    first = None
    for path in paths:
        d = read_attributions(path, method)
        if first is None:
            first = (path, d["index"])
        elif not np.array_equal(d["index"], first[1]):
            raise ValueError(f"{path}: attributed on other sequences than {first[0]}")
        yield d


def read_attributions(path: str | Path, method: str | None = None) -> dict[str, Any]:
    """An attribution file: "index", "x", "ground_truth" (when stored), the raw map as "raw", and the root
    attributes as "attrs"; `method` defaults to the file's `method` attribute."""
    with open_hdf5(path) as f:
        attrs = dict(f.attrs)
        out = {key: f[key][()] for key in ("index", "x", "ground_truth") if key in f}
        out["raw"] = f[method or str(attrs["method"])][()]
    return {**out, "attrs": attrs}
