"""Motif discovery on the studies' maps, one function per workflow stage: does correction (or ensembling)
change the motifs one finds?

Each attribution file becomes modisco-lite inputs, one per map kind: a model's map "raw" and "corrected";
for an in vivo ensemble file also the ensemble average, "ensemble_raw" and "ensemble_corrected" (the
raw maps are those of member 0). modisco-lite runs on each kind; every pattern is matched to JASPAR with
TOMTOM, and on the synthetic data also to the dataset's own motif pool, whose embedded positions are known:
which of the core motifs are recovered, how many patterns are background motifs or nothing, and how many
seqlets sit on an embedded motif. In vivo windows with genome coordinates also become bigWig tracks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from gradcorr import motifs, tracks
from gradcorr.correction import correct
from gradcorr.data.io import read_arrays, read_attrs, read_tsv, write_tsv
from gradcorr.data.synthetic import reverse_complement

log = logging.getLogger(__name__)

SINGLE_KINDS: tuple[str, ...] = ("raw", "corrected")
ENSEMBLE_KINDS: tuple[str, ...] = ("ensemble_raw", "ensemble_corrected")
MAP_KINDS: tuple[str, ...] = SINGLE_KINDS + ENSEMBLE_KINDS


def map_kinds(path: str | Path) -> dict[str, np.ndarray]:
    """The one-hot sequences ("x") and every map kind of an attribution file: a model's file (its raw map under
    its method's name) or an in vivo ensemble file (member 0's map and the ensemble average)."""
    attrs = read_attrs(path)
    if "method" in attrs:
        arrays = read_arrays(path, ("x", str(attrs["method"])))
        raw, ensemble = arrays[str(attrs["method"])], None
    elif "model_type" in attrs:
        arrays = read_arrays(path, ("x", "member0", "ensemble"))
        raw, ensemble = arrays["member0"], arrays["ensemble"]
    else:
        raise ValueError(f"{path}: neither a model's attribution file (no method attribute) nor an ensemble file")
    kinds = {"x": arrays["x"], "raw": raw, "corrected": correct(raw)}
    if ensemble is not None:
        kinds.update(ensemble_raw=ensemble, ensemble_corrected=correct(ensemble))
    return kinds


def export_maps(path: str | Path, out: dict[str, str | Path]) -> None:
    """modisco-lite inputs of an attribution file: `out["ohe"]` the one-hot sequences and `out[kind]` the
    hypothetical scores of each map kind the file has (each an .npz in modisco-lite's (N, 4, L) layout)."""
    kinds = map_kinds(path)
    missing = sorted(set(out) - set(kinds) - {"ohe"})
    if missing:
        raise ValueError(f"{path}: holds no {', '.join(missing)} map (it has {', '.join(sorted(kinds))})")
    motifs.write_modisco_array(out["ohe"], kinds["x"])
    for kind, target in out.items():
        if kind != "ohe":
            motifs.write_modisco_array(target, kinds[kind])
    log.info("%s: %d sequences exported for modisco-lite (%s)", path, len(kinds["x"]), ", ".join(o for o in out))


def run_modisco(ohe: str | Path, hypothetical: str | Path, out: str | Path, options: dict[str, Any]) -> None:
    """modisco-lite on one exported map kind; `options` are :func:`gradcorr.motifs.discover_motifs`'s."""
    x, hyp = motifs.read_modisco_array(ohe), motifs.read_modisco_array(hypothetical)
    log.info("modisco-lite on %s: %d sequences of %d bp, options %s", hypothetical, len(x), x.shape[2], options)
    note = motifs.discover_motifs(x, hyp, out, **options)
    found = motifs.read_patterns(out)
    log.info("%s: %d patterns, %d seqlets in them%s", out, len(found), sum(p["n_seqlets"] for p in found),
             f" ({note})" if note else "")


def pattern_table(results: str | Path, out: str | Path, *, label: dict[str, Any], release: str,
                  collection: str = "CORE", tax_group: str | None = "vertebrates", q_threshold: float = 0.05,
                  own_ids: Sequence[str] = (), truth: str | Path | None = None,
                  dataset: str | Path | None = None) -> None:
    """The patterns of one modisco-lite run matched to JASPAR (:func:`gradcorr.motifs.match_patterns`), one row
    each after the `label` columns; with `truth` (the synthetic attribution file, holding the sequence models)
    and `dataset` (the billboard file, naming its motif pool), the ground-truth columns of
    :func:`truth_columns`. No pattern gives one row whose note says why."""
    patterns = motifs.read_patterns(results)
    embedded = None if truth is None else motifs.embedded_positions(read_arrays(truth, ("ground_truth",))
                                                                     ["ground_truth"])
    if patterns:
        table = motifs.match_patterns(patterns, motifs.jaspar_motifs(release, collection=collection,
                                                                     tax_group=tax_group),
                                      q_threshold=q_threshold, own_ids=own_ids)
        table["own_found"] = table["own_q"] <= q_threshold
        table["note"] = np.where(table["matched"], "", f"no JASPAR match at q <= {q_threshold}")
        if embedded is not None:
            table = pd.concat([table, truth_columns(patterns, embedded, dataset, q_threshold)], axis=1)
    else:
        note = motifs.results_note(results) or "modisco-lite found no pattern"
        table = pd.DataFrame([{"pattern": "", "n_seqlets": 0, "matched": False, "own_found": False, "note": note}])
        if embedded is not None:
            table["motif_fraction"] = embedded.mean()
    table.insert(0, "own_ids", ",".join(own_ids))
    for i, (key, value) in enumerate(label.items()):
        table.insert(i, key, value)
    write_tsv(table, out)
    log.info("%s: %d patterns, %d matched to %s at q <= %g", results, len(patterns),
             int(table["matched"].sum()), release, q_threshold)


def truth_columns(patterns: list[dict[str, Any]], embedded: np.ndarray, dataset: str | Path,
                  q_threshold: float) -> pd.DataFrame:
    """Per pattern, against the known truth of the synthetic data (`embedded`, (N, L), the motif positions of
    the rows modisco-lite saw): the best match in the dataset's own motif pool (its core and background motifs,
    from the dataset's attributes), its class ("core", "background", "none"), and the mean share of its
    seqlets' trimmed span on embedded motifs (`seqlet_precision`; `motif_fraction`, the share of all positions
    that are, is its chance level)."""
    attrs = read_attrs(dataset)
    core, background = (json.loads(attrs[key]) for key in ("core_ids", "background_ids"))  # write_arrays' JSON
    pool = motifs.jaspar_motifs(str(attrs["release"]), ids=core + background)
    matches = motifs.match_patterns(patterns, pool, q_threshold=q_threshold)
    precision = [motifs.seqlet_precision(p["seqlets"], motifs.trim_bounds(p["cwm"]), embedded).mean()
                 for p in patterns]
    return pd.DataFrame({"pool_match_id": matches["match_id"], "pool_match_name": matches["match_name"],
                         "pool_match_q": matches["match_q"],
                         "truth": motifs.ground_truth_classes(matches, core), "seqlet_precision": precision,
                         "motif_fraction": embedded.mean(), "n_core": len(core)})


def summary_table(tables: Sequence[str | Path], out: str | Path, patterns_out: str | Path) -> pd.DataFrame:
    """One row per attribution file and map kind from its pattern table (its label columns first, those before
    `own_ids`): patterns, seqlets, the top pattern's match, whether the TF's own motif is found (in which
    pattern, 1-based, and at which rank of its matches); with ground truth also the core motifs recovered,
    the patterns matching background motifs or nothing, and seqlet precision (beside `motif_fraction`, its
    chance level). Writes `out`, and every pattern table stacked to `patterns_out`; returns the summary."""
    frames = [read_tsv(path) for path in tables]
    table = pd.DataFrame([_summary_row(t) for t in frames])
    write_tsv(pd.concat(frames, ignore_index=True), patterns_out)
    write_tsv(table, out)
    return table


def _summary_row(t: pd.DataFrame) -> dict[str, Any]:
    """The summary of one pattern table (see :func:`summary_table`)."""
    row = {c: t[c].iat[0] for c in t.columns[:t.columns.get_loc("own_ids")]}
    found = t[t["n_seqlets"] > 0]
    has_own = isinstance(t["own_ids"].iat[0], str)  # the synthetic data have no TF of their own
    if found.empty:
        row.update(n_patterns=0, n_seqlets=0, n_matched=0, top_match="", own_found=False if has_own else None,
                   own_pattern=None, own_rank=None)
    else:
        own = found[found["own_found"].astype(bool)]
        row.update(n_patterns=len(found), n_seqlets=int(found["n_seqlets"].sum()),
                   n_matched=int(found["matched"].sum()),
                   top_match=found["match_name"].iat[0] if found["matched"].iat[0] else "",
                   own_found=bool(len(own)) if has_own else None,
                   own_pattern=int(own.index[0]) + 1 if len(own) else None,
                   own_rank=int(own["own_rank"].iat[0]) if len(own) else None)
    if "motif_fraction" in t:
        truth = found["truth"] if not found.empty else pd.Series(dtype=str)
        core = found[truth == "core"]
        row.update(core_recovered=core["pool_match_id"].map(motifs.base_id).nunique() if len(core) else 0,
                   patterns_core=len(core), patterns_background=int((truth == "background").sum()),
                   patterns_none=int((truth == "none").sum()),
                   seqlet_precision=(found["seqlet_precision"] * found["n_seqlets"]).sum() / row["n_seqlets"]
                   if row["n_seqlets"] else np.nan,
                   motif_fraction=float(t["motif_fraction"].iat[0]))
    row["note"] = "" if len(found) else str(t["note"].iat[0])
    return row


def plot_pattern_logos(results: str | Path, patterns: str | Path, out: dict[str, str | Path], *, release: str,
                       top: int, title: str) -> None:
    """CWM and PWM logos of the `top` patterns (most seqlets first) beside their JASPAR match, for the report; the
    match drawn on the strand TOMTOM aligned the pattern with."""
    from gradcorr.studies import motifs_plots, plotting

    found = motifs.read_patterns(results)[:top]
    table = read_tsv(patterns).set_index("pattern")
    ids = [table.at[p["pattern"], "match_id"] for p in found if table.at[p["pattern"], "matched"]]
    known = motifs.jaspar_motifs(release, ids=sorted(set(ids))).set_index("id") if ids else None
    rows = []
    for p in found:
        match = table.loc[p["pattern"]]
        matched = bool(match["matched"])
        rows.append({**p, "match_name": match["match_name"] if matched else None,
                     "match_id": match["match_id"] if matched else None,
                     "match_q": float(match["match_q"]) if matched else None,
                     "match_ppm": _on_strand(known.at[match["match_id"], "pwm"], match["match_strand"]).T
                     if matched else None})
    fig = motifs_plots.fig_pattern_logos(rows, title)
    plotting.save_figure(fig, out["pdf"], out["png"])


def _on_strand(pwm: np.ndarray, strand: str) -> np.ndarray:
    """A (4, w) ACGT matrix on the strand TOMTOM aligned the pattern with ("-": its reverse complement)."""
    return reverse_complement(pwm) if strand == "-" else pwm


def write_tracks(ensemble: str | Path, dataset: str | Path, chrom_sizes: str | Path,
                 out: dict[str, str | Path]) -> None:
    """A bigWig per map kind (`out[kind]`) of the per-base contribution of an in vivo ensemble file's maps, at the
    genome coordinates its windows have in the dataset; overlapping windows are averaged
    (:func:`gradcorr.tracks.coverage_mean`)."""
    kinds = map_kinds(ensemble)
    index = read_arrays(ensemble, ("index",))["index"]
    coords = read_arrays(dataset, ("chrom_test", "start_test"))
    chrom = np.asarray(coords["chrom_test"]).astype(str)[index]
    start = np.asarray(coords["start_test"])[index]
    sizes = tracks.read_chrom_sizes(chrom_sizes)
    for kind, path in out.items():
        tracks.write_bigwig(path, tracks.contribution_scores(kinds[kind], kinds["x"]), chrom, start, sizes)
        log.info("%s: %s track of %d windows", path, kind, len(index))
