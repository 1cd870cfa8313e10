"""Datasets and the files they come from.

- `synthetic`: the billboard dataset with its ground-truth sequence models.
- `chipseq`: balanced in vivo datasets from ChIP-seq and DNase peak files, and processed files.
- `download`: checked downloads from allowed hosts (resumed, md5-verified, atomic); genomes.
- `encode`: ENCODE file metadata and files.
- `io`: atomic writes, tables, and the HDF5 files the workflow passes between stages.
"""
