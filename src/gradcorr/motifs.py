"""From attribution maps to motifs: TF-MoDISco (modisco-lite) inputs and runs, TOMTOM matches (memelite)
against JASPAR (read offline through pyjaspar), and motif recovery against known embedded motifs.

Maps go to modisco-lite as hypothetical contribution scores: the attribution of every nucleotide at every
position, raw or gradient-corrected. modisco-lite multiplies them by the one-hot sequence, so correction
changes what it sees exactly where it matters: the observed base's score loses the per-position mean.

Arrays are in this package's layout, (N, A, L); the modisco-lite inputs are written in its own (the same
(N, 4, L), as ``arr_0`` of an ``.npz``), so ``modisco motifs -s X.npz -a Y.npz`` reads them too.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import pandas as pd

from gradcorr.data.io import atomic_path
from gradcorr.metrics import information_content

log = logging.getLogger(__name__)

__all__ = ["METACLUSTERS", "write_modisco_array", "read_modisco_array", "discover_motifs", "read_patterns",
           "results_note", "trim_bounds", "trimmed_ppm", "jaspar_motifs", "benjamini_hochberg", "tomtom_matches",
           "pattern_information", "base_id", "match_patterns", "embedded_positions", "seqlet_precision",
           "ground_truth_classes"]

METACLUSTERS: tuple[str, ...] = ("pos_patterns", "neg_patterns")


# --------------------------------------------------------------------------- modisco-lite inputs and runs


def write_modisco_array(path: str | Path, array: np.ndarray) -> None:
    """Write one modisco-lite input as ``arr_0`` of a compressed ``.npz``, atomically.

    Parameters
    ----------
    path : str or Path
        The file to write (its folder must exist).
    array : numpy.ndarray, shape (N, 4, L)
        One-hot sequences or hypothetical scores; stored as float32.

    Returns
    -------
    None
    """
    array = np.asarray(array, dtype=np.float32)
    if array.ndim != 3 or array.shape[1] != 4:
        raise ValueError(f"{path}: modisco-lite reads (N, 4, L) arrays, got shape {array.shape}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a file object: np.savez would append .npz to a temporary name
            np.savez_compressed(handle, arr_0=array)


def read_modisco_array(path: str | Path) -> np.ndarray:
    """One modisco-lite input written by :func:`write_modisco_array` (or by anyone, as ``arr_0``).

    Parameters
    ----------
    path : str or Path
        An ``.npz`` holding ``arr_0``.

    Returns
    -------
    numpy.ndarray
        Its ``arr_0``, shape (N, 4, L) for a modisco-lite input.
    """
    with np.load(path) as archive:
        if "arr_0" not in archive:
            raise ValueError(f"{path}: no arr_0 member; modisco-lite inputs hold their array as arr_0")
        return archive["arr_0"]


def discover_motifs(x: np.ndarray, hypothetical: np.ndarray, out: str | Path, *, window: int = 20,
                    flank: int = 5, target_fdr: float = 0.05, max_seqlets: int = 20000, n_leiden_runs: int = 2,
                    trim_to_window_size: int = 30, initial_flank_to_add: int = 10,
                    final_min_cluster_size: int = 20, min_metacluster_size: int = 100) -> str:
    """Run TF-MoDISco (modisco-lite) on one-hot sequences and their hypothetical scores; save its results file.

    When modisco-lite finds nothing, `out` is still a valid results file, with no patterns, and the note says
    why, so that the stages after it write a row that says so. Maps whose contributions are all equal (a dead
    model) cannot be thresholded; modisco-lite's seqlet extraction fails on them, so they are caught before it
    runs. The defaults are modisco-lite's command line's (``modisco motifs``); its clustering is seeded, so
    the same inputs give the same patterns.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, 4, L)
        One-hot sequences.
    hypothetical : numpy.ndarray, shape (N, 4, L)
        Hypothetical contribution scores: an attribution map, raw or corrected.
    out : str or Path
        The HDF5 results file to write (modisco-lite's layout), atomically.
    window, flank : int
        Sliding window of seqlet calling and the flank added to each seqlet (``--size``,
        ``--seqlet-flank-size``).
    target_fdr : float
        FDR of the seqlet threshold.
    max_seqlets : int
        Most seqlets per metacluster (``--max-seqlets``).
    n_leiden_runs : int
        Leiden clusterings per round (``--n-leiden``).
    trim_to_window_size, initial_flank_to_add : int
        Pattern trimming and the flank added after it (``--trim-size``, ``--initial-flank-to-add``).
    final_min_cluster_size : int
        Fewest seqlets a pattern keeps.
    min_metacluster_size : int
        Fewest seqlets of one sign that are clustered at all.

    Returns
    -------
    str
        "" when modisco-lite ran, else why it found nothing.
    """
    import modiscolite

    x = np.asarray(x, dtype=np.float32)
    hypothetical = np.asarray(hypothetical, dtype=np.float32)
    if x.shape != hypothetical.shape or x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"sequences {x.shape} and maps {hypothetical.shape} must both be (N, 4, L)")
    if not np.isfinite(hypothetical).all():
        raise ValueError("the maps hold NaN or infinite values")
    contributions = (x * hypothetical).sum(axis=1)
    note = ""
    if x.shape[2] < window + 2 * flank:
        note = f"sequences of {x.shape[2]} bp are shorter than a seqlet ({window} + 2 x {flank} flank)"
    elif np.ptp(contributions) == 0:
        note = "every contribution score is the same: nothing to threshold"
    patterns = (None, None)
    if not note:
        patterns = modiscolite.tfmodisco.TFMoDISco(
            one_hot=x.transpose(0, 2, 1), hypothetical_contribs=hypothetical.transpose(0, 2, 1),
            sliding_window_size=window, flank_size=flank, target_seqlet_fdr=target_fdr,
            max_seqlets_per_metacluster=max_seqlets, n_leiden_runs=n_leiden_runs,
            trim_to_window_size=trim_to_window_size, initial_flank_to_add=initial_flank_to_add,
            final_min_cluster_size=final_min_cluster_size, min_metacluster_size=min_metacluster_size)
        if patterns == (None, None):
            note = f"fewer than {min_metacluster_size} seqlets of either sign passed the FDR {target_fdr}"
    with atomic_path(out) as tmp:
        modiscolite.io.save_hdf5(str(tmp), patterns[0], patterns[1], x.shape[2])
        with h5py.File(tmp, "a") as f:
            f.attrs["note"] = note
    return note


def read_patterns(path: str | Path) -> list[dict[str, Any]]:
    """The patterns of a modisco-lite results file, positive metacluster first, each in modisco's order.

    Parameters
    ----------
    path : str or Path
        A results file of :func:`discover_motifs` or of ``modisco motifs``.

    Returns
    -------
    list of dict
        Per pattern (most seqlets first within a metacluster): "pattern" ("pos_patterns.pattern_0"), "sign"
        (+1 or -1), "cwm", "hypothetical_cwm" and "ppm" (each (W, 4)), "n_seqlets", and "seqlets" (a frame:
        example_idx, start, end, is_revcomp; coordinates on the forward strand of the input rows).
    """
    out = []
    with h5py.File(path, "r") as f:
        for sign, group in zip((1, -1), METACLUSTERS):
            if group not in f:
                continue
            for name in sorted(f[group], key=lambda n: int(n.rsplit("_", 1)[-1])):
                p = f[group][name]
                seqlets = pd.DataFrame({key: p["seqlets"][key][()]
                                        for key in ("example_idx", "start", "end", "is_revcomp")})
                out.append({"pattern": f"{group}.{name}", "sign": sign, "cwm": p["contrib_scores"][()],
                            "hypothetical_cwm": p["hypothetical_contribs"][()], "ppm": p["sequence"][()],
                            "n_seqlets": len(seqlets), "seqlets": seqlets})
    return out


def results_note(path: str | Path) -> str:
    """The note :func:`discover_motifs` left in a results file.

    Parameters
    ----------
    path : str or Path
        A results file of :func:`discover_motifs`.

    Returns
    -------
    str
        Why modisco-lite found nothing, or "" when it ran (and for files it wrote itself).
    """
    with h5py.File(path, "r") as f:
        return str(f.attrs.get("note", ""))


# --------------------------------------------------------------------------- TOMTOM against a database


def trim_bounds(cwm: np.ndarray, threshold: float = 0.3) -> tuple[int, int]:
    """The span modisco-lite keeps of a pattern before TOMTOM and in its reports.

    From the first to the last position whose summed absolute CWM reaches `threshold` times its maximum; an
    all-zero CWM keeps every position.

    Parameters
    ----------
    cwm : numpy.ndarray, shape (W, 4)
        A pattern's contribution weight matrix.
    threshold : float, default 0.3
        Share of the largest position's score a kept end position reaches.

    Returns
    -------
    tuple of int
        [lo, hi), positions of the pattern.
    """
    score = np.abs(np.asarray(cwm)).sum(axis=1)
    if score.max() <= 0:
        return 0, len(score)
    keep = np.flatnonzero(score >= threshold * score.max())
    return int(keep[0]), int(keep[-1]) + 1


def trimmed_ppm(pattern: dict[str, Any], threshold: float = 0.3) -> np.ndarray:
    """A pattern's PPM over its trimmed span (:func:`trim_bounds`), as a TOMTOM query.

    Parameters
    ----------
    pattern : dict
        A pattern of :func:`read_patterns` ("cwm" and "ppm").
    threshold : float, default 0.3
        As :func:`trim_bounds`.

    Returns
    -------
    numpy.ndarray, shape (4, w)
        Probabilities, alphabet first.
    """
    lo, hi = trim_bounds(pattern["cwm"], threshold)
    return np.ascontiguousarray(pattern["ppm"][lo:hi].T, dtype=np.float64)


def jaspar_motifs(release: str, *, collection: str = "CORE", tax_group: str | None = "vertebrates",
                  ids: Sequence[str] | None = None) -> pd.DataFrame:
    """JASPAR motifs read offline through pyjaspar (its bundled database; no network).

    Parameters
    ----------
    release : str
        A release pyjaspar ships, e.g. "JASPAR2024".
    collection : str, default "CORE"
        The collection, when `ids` is None.
    tax_group : str or None, default "vertebrates"
        The taxonomic group, when `ids` is None (None: all).
    ids : sequence of str, optional
        Exactly these matrix IDs instead; an unknown one raises ValueError naming it.

    Returns
    -------
    pandas.DataFrame
        Columns id, name, pwm ((4, w) probabilities, alphabet first), sorted by id; of a collection and
        group, the latest version of each matrix.
    """
    from pyjaspar import jaspar_releases, jaspardb

    from gradcorr.data.synthetic import jaspar_pwm

    if release not in jaspar_releases:
        raise ValueError(f"unknown JASPAR release {release!r}; pyjaspar ships {sorted(jaspar_releases)}")
    db = jaspardb(release=release)
    if ids is None:
        motifs = db.fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyjaspar warns and returns None for an unknown ID
            motifs = [db.fetch_motif_by_id(i) for i in ids]
        missing = [i for i, m in zip(ids, motifs) if m is None]
        if missing:
            raise ValueError(f"JASPAR IDs not in {release}: {missing}")
    rows = [{"id": m.matrix_id, "name": m.name, "pwm": jaspar_pwm(m)} for m in motifs]
    if not rows:
        raise ValueError(f"{release} holds no {collection} motif of tax group {tax_group!r}")
    return pd.DataFrame(rows).sort_values("id", ignore_index=True)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis, as TOMTOM reports a query's matches.

    Parameters
    ----------
    p : numpy.ndarray, shape (..., T)
        p-values, each row one query's against T targets.

    Returns
    -------
    numpy.ndarray, shape (..., T)
        q-values, at most 1.
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q


def tomtom_matches(queries: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """TOMTOM (memelite, both strands): the p-value and strand of each query's best alignment with each target.

    Parameters
    ----------
    queries : sequence of numpy.ndarray, each shape (4, w)
        Probability matrices, e.g. :func:`trimmed_ppm` of each pattern.
    targets : sequence of numpy.ndarray, each shape (4, w)
        The database's probability matrices.

    Returns
    -------
    p : numpy.ndarray, shape (Q, T)
        p-values of the best alignment of each query with each target.
    reverse : numpy.ndarray of bool, shape (Q, T)
        True where that alignment is with the target's reverse complement.
    """
    from memelite import tomtom

    if not queries:
        return np.zeros((0, len(targets))), np.zeros((0, len(targets)), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # memelite warns below 25 targets; the tables carry the count
        p, _, _, _, strands = tomtom(list(queries), list(targets))
    return np.asarray(p, dtype=np.float64), np.asarray(strands) == 1


def pattern_information(ppm: np.ndarray) -> float:
    """Mean information of a probability matrix, bits per position against a uniform background.

    memelite's TOMTOM scores a near-uniform query as a strong match to long motifs with uniform columns (a
    uniform 12-mer matches a CTCF matrix at p ~ 1e-16); this column shows such patterns.

    Parameters
    ----------
    ppm : numpy.ndarray, shape (4, w)
        Probabilities, alphabet first.

    Returns
    -------
    float
        Bits per position, 0 (uniform) to 2 (one base each).
    """
    return float(information_content(np.asarray(ppm, dtype=np.float64)[None])[0].mean())


def base_id(matrix_id: str) -> str:
    """A JASPAR matrix ID without its version, to match a motif across releases.

    Parameters
    ----------
    matrix_id : str
        E.g. "MA0062.4".

    Returns
    -------
    str
        E.g. "MA0062".
    """
    return str(matrix_id).split(".")[0]


def match_patterns(patterns: list[dict[str, Any]], database: pd.DataFrame, *, q_threshold: float = 0.05,
                   own_ids: Sequence[str] = (), trim_threshold: float = 0.3) -> pd.DataFrame:
    """Each pattern's best TOMTOM match in a database, and where the TF's own motif ranks among its matches.

    Ranks count from 1 over the database sorted by p-value. q-values are Benjamini-Hochberg over the whole
    database, per pattern, as TOMTOM's.

    Parameters
    ----------
    patterns : list of dict
        Patterns of :func:`read_patterns`.
    database : pandas.DataFrame
        Columns id, name, pwm, as :func:`jaspar_motifs` returns.
    q_threshold : float, default 0.05
        A match counts ("matched") at a q-value at most this.
    own_ids : sequence of str, default ()
        The TF's own matrix IDs; any version of them counts (:func:`base_id`).
    trim_threshold : float, default 0.3
        As :func:`trim_bounds`.

    Returns
    -------
    pandas.DataFrame
        One row per pattern: pattern, sign, n_seqlets, width (trimmed), information
        (:func:`pattern_information`), match_id, match_name, match_p, match_q, matched, match_strand ("-": the
        pattern aligns with the match's reverse complement), own_rank and own_q
        (of the best-ranked own matrix; empty without `own_ids`), n_targets. No pattern, no row.
    """
    queries = [trimmed_ppm(pt, trim_threshold) for pt in patterns]
    p, reverse = tomtom_matches(queries, list(database["pwm"]))
    q = benjamini_hochberg(p) if len(p) else p
    own = np.flatnonzero(database["id"].map(base_id).isin({base_id(i) for i in own_ids}).to_numpy())
    rows = []
    for i, pt in enumerate(patterns):
        order = np.argsort(p[i], kind="stable")
        best = order[0]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        own_best = own[np.argmin(rank[own])] if len(own) else None
        lo, hi = trim_bounds(pt["cwm"], trim_threshold)
        rows.append({"pattern": pt["pattern"], "sign": pt["sign"], "n_seqlets": pt["n_seqlets"], "width": hi - lo,
                     "information": pattern_information(queries[i]),
                     "match_id": database["id"].iat[best], "match_name": database["name"].iat[best],
                     "match_p": p[i, best], "match_q": q[i, best], "matched": bool(q[i, best] <= q_threshold),
                     "match_strand": "-" if reverse[i, best] else "+",
                     "own_rank": int(rank[own_best]) if own_best is not None else None,
                     "own_q": q[i, own_best] if own_best is not None else np.nan,
                     "n_targets": len(database)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- ground truth (synthetic data)


def embedded_positions(ground_truth: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Where motifs are embedded in synthetic sequences: the columns of the sequence model that are not uniform.

    Parameters
    ----------
    ground_truth : numpy.ndarray, shape (N, A, L)
        Sequence models M; the billboard data fill every column without a motif with 1 / A.
    atol : float, default 1e-6
        Tolerance of "uniform".

    Returns
    -------
    numpy.ndarray of bool, shape (N, L)
        True on embedded motifs.
    """
    gt = np.asarray(ground_truth)
    return np.abs(gt - 1.0 / gt.shape[1]).max(axis=1) > atol


def seqlet_precision(seqlets: pd.DataFrame, bounds: tuple[int, int], embedded: np.ndarray) -> np.ndarray:
    """Per seqlet, the share of its pattern's trimmed span that lies on embedded motifs.

    Parameters
    ----------
    seqlets : pandas.DataFrame
        A pattern's seqlets (:func:`read_patterns`): example_idx, start, end, is_revcomp.
    bounds : tuple of int
        [lo, hi) within the pattern (:func:`trim_bounds`); mirrored for a reverse-complement seqlet, whose
        pattern position k is forward position end - 1 - k.
    embedded : numpy.ndarray of bool, shape (N, L)
        :func:`embedded_positions` of the rows the seqlets index.

    Returns
    -------
    numpy.ndarray, shape (n_seqlets,)
        Shares from 0 to 1; seqlets placed at random score embedded.mean() on average.
    """
    if seqlets.empty:
        return np.zeros(0)
    start, end = seqlets["start"].to_numpy(), seqlets["end"].to_numpy()
    revcomp = seqlets["is_revcomp"].to_numpy().astype(bool)
    lo, hi = bounds
    first = np.where(revcomp, end - hi, start + lo)
    offsets = np.arange(hi - lo)
    positions = first[:, None] + offsets[None, :]
    inside = (positions >= 0) & (positions < embedded.shape[1])
    rows = seqlets["example_idx"].to_numpy()[:, None]
    on_motif = embedded[rows, positions.clip(0, embedded.shape[1] - 1)] & inside
    return on_motif.sum(axis=1) / (hi - lo)


def ground_truth_classes(matches: pd.DataFrame, core_ids: Sequence[str]) -> pd.Series:
    """What each pattern is, matched against a synthetic dataset's own motif pool.

    Parameters
    ----------
    matches : pandas.DataFrame
        :func:`match_patterns` against the pool (its core and background motifs).
    core_ids : sequence of str
        The core motifs, any version (:func:`base_id`).

    Returns
    -------
    pandas.Series
        Per pattern "core" (its best match, passing q, is a core motif), "background" (another motif of the
        pool) or "none" (no match passes).
    """
    core = {base_id(i) for i in core_ids}
    is_core = matches["match_id"].map(base_id).isin(core)
    return pd.Series(np.where(~matches["matched"], "none", np.where(is_core, "core", "background")),
                     index=matches.index)
