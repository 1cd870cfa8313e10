"""The files stages pass to each other: written atomically and deterministically, read back as written."""

import os
import stat

import numpy as np
import pandas as pd
import pytest
from random_maps import random_maps

from gradcorr import angles
from gradcorr.data.io import (
    attribution_arrays,
    iter_attributions,
    read_arrays,
    read_attributions,
    read_attrs,
    read_split,
    read_tsv,
    read_tsvs,
    read_xy,
    write_arrays,
    write_tsv,
)


def test_angle_summary_round_trip(tmp_path):
    """A summary (arrays and 0-d scalars) and its attributes come back as written, and still combine."""
    s = angles.model_angle_summary(*random_maps(5, 40, seed=1))
    path = tmp_path / "m.angles.h5"
    write_arrays(path, s, {"model": "cnn_deep_exp_0", "method": "saliency", "thresholds": [30, 45]})
    back = read_arrays(path)
    assert set(back) == set(s)
    for key in s:
        np.testing.assert_array_equal(back[key], s[key], err_msg=key)
    assert int(angles.combine_summaries([back, back])["angle_n_all"]) == 2 * int(s["angle_n_all"])
    assert read_attrs(path)["model"] == "cnn_deep_exp_0" and read_attrs(path)["thresholds"] == "[30, 45]"
    assert set(read_arrays(path, ["angle_edges", "n_models"])) == {"angle_edges", "n_models"}


def test_same_arrays_give_the_same_bytes(tmp_path):
    arrays = {"x": np.arange(12.0).reshape(3, 4), "n": np.asarray(3)}
    write_arrays(tmp_path / "a.h5", arrays, {"model": "m"})
    write_arrays(tmp_path / "b.h5", arrays, {"model": "m"})
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "t.tsv"
    write_tsv(pd.DataFrame({"a": [1.0]}), path)
    with pytest.raises(TypeError):
        write_arrays(tmp_path / "t.h5", {"x": object()})
    with pytest.raises(AttributeError):
        write_tsv(None, path)
    assert read_tsv(path)["a"].tolist() == [1.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tsv"]


def test_attribution_files_with_and_without_ground_truth(tmp_path):
    raw, x, gt = random_maps(4, 30, seed=2)
    index = np.array([3, 5, 8, 9])
    write_arrays(tmp_path / "s.h5", attribution_arrays(index, x, "saliency", raw, ground_truth=gt),
                 {"model": "m0", "method": "saliency"})
    write_arrays(tmp_path / "v.h5", attribution_arrays(index, x, "saliency", raw),
                 {"model": "m1", "method": "saliency"})
    full, bare = read_attributions(tmp_path / "s.h5"), read_attributions(tmp_path / "v.h5")
    np.testing.assert_array_equal(full["raw"], raw.astype(np.float32))
    np.testing.assert_array_equal(full["ground_truth"], gt.astype(np.float32))
    assert "ground_truth" not in bare and bare["attrs"]["model"] == "m1"
    assert [d["attrs"]["model"] for d in iter_attributions([tmp_path / "s.h5", tmp_path / "v.h5"])] == ["m0", "m1"]
    write_arrays(tmp_path / "w.h5", attribution_arrays(index + 1, x, "saliency", raw), {"method": "saliency"})
    with pytest.raises(ValueError, match="w.h5: attributed on other sequences than .*s.h5"):
        list(iter_attributions([tmp_path / "s.h5", tmp_path / "w.h5"]))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_outputs_take_the_umask_not_a_private_mode(tmp_path, umask, mode):
    """Written files get 0666 less the umask, as a plainly created file would (mkstemp alone gives 0600)."""
    old = os.umask(umask)
    try:
        write_tsv(pd.DataFrame({"a": [1]}), tmp_path / "t.tsv")
        write_arrays(tmp_path / "a.h5", {"x": np.arange(3)})
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    for name in ("t.tsv", "a.h5", "plain"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


@pytest.mark.parametrize("content", [b"", b"not hdf5 at all\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_unreadable_hdf5_is_refused_naming_the_file(tmp_path, content):
    """A truncated or foreign file gives a ValueError naming it, not h5py's bare OSError."""
    path = tmp_path / "broken.h5"
    path.write_bytes(content)
    for read in (read_arrays, read_attrs, read_attributions, lambda p: read_xy(p, "train")):
        with pytest.raises(ValueError, match=f"{path}: not a readable HDF5 file"):
            read(path)


def test_read_tsvs_stacks_every_table_in_order_and_keeps_the_columns_when_there_are_none(tmp_path):
    paths = [tmp_path / "a.tsv", tmp_path / "b.tsv"]
    write_tsv(pd.DataFrame({"x": [1, 2], "y": ["p", "q"]}), paths[0])
    write_tsv(pd.DataFrame({"x": [3], "y": ["r"]}), paths[1])
    both = read_tsvs(paths)
    assert both["x"].tolist() == [1, 2, 3] and both.index.tolist() == [0, 1, 2]
    assert read_tsvs(paths[::-1])["y"].tolist() == ["r", "p", "q"]
    empty = read_tsvs([], ["x", "y"])
    assert empty.empty and empty.columns.tolist() == ["x", "y"]
    (tmp_path / "bad.tsv").write_bytes(b"\xff\x00")
    with pytest.raises(ValueError, match="bad.tsv"):
        read_tsvs([paths[0], tmp_path / "bad.tsv"])


def test_read_split_names_the_file_and_what_is_missing(tmp_path):
    path = tmp_path / "data.h5"
    write_arrays(path, {"x_test": np.zeros((2, 4, 3)), "y_test": np.ones((2, 1))})
    found = read_split(path, "test", ["y", "x"])
    assert list(found) == ["y", "x"] and found["x"].shape == (2, 4, 3)
    with pytest.raises(KeyError, match=r"data.h5: missing dataset 'signal_test'"):
        read_split(path, "test", ["x", "signal"])
    with pytest.raises(ValueError, match="split must be one of"):
        read_split(path, "tset", ["x"])
    with pytest.raises(FileNotFoundError, match="other.h5"):
        read_split(tmp_path / "other.h5", "test", ["x"])
