"""A small random genome and peak files for tests that need a FASTA (chipseq and others).

Chromosomes (random ACGT, seeded): chr1 12 kb, chr2 8 kb (bases 3000-3400 soft-masked, i.e.
lowercase), chr3 6 kb (an N run at N_RUN), chrUn_xyz 2 kb. FASTA lines are 60 columns.
"""

from __future__ import annotations

import gzip as gzip_module
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

CHROM_SIZES: dict[str, int] = {"chr1": 12_000, "chr2": 8_000, "chr3": 6_000, "chrUn_xyz": 2_000}
N_RUN: tuple[str, int, int] = ("chr3", 1_000, 1_100)  # chrom, start, end of the run of N
SOFT_MASKED: tuple[str, int, int] = ("chr2", 3_000, 3_400)


def write_genome(directory: str | Path, seed: int = 0, line_width: int = 60) -> tuple[Path, dict[str, str]]:
    """Write ``genome.fa`` (no .fai) into ``directory``; return its path and the sequences as written.

    The returned strings keep the FASTA's case (soft-masked bases are lowercase).
    """
    rng = np.random.default_rng(seed)
    sequences = {}
    for name, size in CHROM_SIZES.items():
        sequences[name] = "".join(np.array(list("ACGT"))[rng.integers(0, 4, size)])
    chrom, lo, hi = N_RUN
    sequences[chrom] = sequences[chrom][:lo] + "N" * (hi - lo) + sequences[chrom][hi:]
    chrom, lo, hi = SOFT_MASKED
    sequences[chrom] = sequences[chrom][:lo] + sequences[chrom][lo:hi].lower() + sequences[chrom][hi:]

    path = Path(directory) / "genome.fa"
    with open(path, "w") as fh:
        for name, seq in sequences.items():
            fh.write(f">{name} test chromosome\n")
            fh.writelines(seq[i:i + line_width] + "\n" for i in range(0, len(seq), line_width))
    return path, sequences


def write_peaks(path: str | Path, rows: Iterable[Sequence], narrowpeak: bool = True, gzip: bool = False,
                header: Sequence[str] = ()) -> Path:
    """Write peak rows to ``path``, after the ``header`` lines, tab-separated; gzip-compressed when asked.

    With ``narrowpeak`` each row is (chrom, start, end[, summit]) and becomes a 10-column narrowPeak
    line (summit -1 when not given); otherwise each row is written as it is (BED3, BED6, ...).
    """
    lines = list(header)
    for i, row in enumerate(rows):
        if narrowpeak:
            chrom, start, end, *rest = row
            summit = rest[0] if rest else -1
            row = (chrom, start, end, f"peak{i}", 100, ".", 5.0, 10.0, 8.0, summit)
        lines.append("\t".join(map(str, row)))
    text = "".join(line + "\n" for line in lines)
    path = Path(path)
    if gzip:
        with gzip_module.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path
