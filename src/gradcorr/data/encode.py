"""ENCODE files: their metadata records, the files they describe (md5-checked), and the assembly a
TF's ChIP-seq and DNase files share. Standard library only, so the workflow's DAG code can use it."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from gradcorr.data.download import MD5_RE, discard_partial, fetch

__all__ = ["ACCESSION_RE", "encode_metadata_url", "fetch_encode_file", "fetch_encode_metadata", "paired_assembly",
           "read_encode_metadata"]

log = logging.getLogger(__name__)

ACCESSION_RE = re.compile(r"^ENC[A-Z]{2}\d{3}[A-Z]{3}$")


def encode_metadata_url(base_url: str, accession: str) -> str:
    """URL of an ENCODE file's metadata JSON, `{base_url}/files/{accession}/?format=json`."""
    if not isinstance(accession, str) or not ACCESSION_RE.match(accession):
        raise ValueError(f"not an ENCODE accession (like ENCFF710VEH): {accession!r}")
    return f"{base_url.rstrip('/')}/files/{accession}/?format=json"


_REQUIRED_FIELDS = ("accession", "assembly", "md5sum", "href", "file_format")
_OPTIONAL_FIELDS = ("file_type", "output_type", "status")


def _validate_encode_record(record: object, label: str) -> dict:
    """The fields we use from an ENCODE file-metadata record; ValueError naming `label` and the field."""
    hint = "is this an ENCODE file-metadata record (/files/<accession>/?format=json)?"
    if not isinstance(record, dict):
        raise ValueError(f"{label}: expected a JSON object, got {type(record).__name__}; {hint}")
    out = {}
    for field in _REQUIRED_FIELDS:
        value = record.get(field)
        if value is None:
            raise ValueError(f"{label}: no {field!r} field; {hint}")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{label}: field {field!r} must be a non-empty string, got {value!r}")
        out[field] = value.strip()
    if not ACCESSION_RE.match(out["accession"]):
        raise ValueError(f"{label}: field 'accession' is not an ENCODE accession: {out['accession']!r}")
    if not MD5_RE.match(out["md5sum"].lower()):
        raise ValueError(f"{label}: field 'md5sum' is not 32 hex digits: {out['md5sum']!r}")
    out["md5sum"] = out["md5sum"].lower()
    if not out["href"].startswith("/"):
        raise ValueError(f"{label}: field 'href' should be a path starting with '/', got {out['href']!r}")
    for field in _OPTIONAL_FIELDS:
        value = record.get(field)
        out[field] = value if isinstance(value, str) else ""
    return out


def read_encode_metadata(path: str | Path) -> dict:
    """Parse a saved ENCODE file-metadata JSON into the fields used here.

    Returns accession, assembly, md5sum, file_format, href (required; ValueError naming the file
    and field when missing or invalid) and file_type, output_type, status ("" when missing). When
    the file's stem looks like an accession, the record's accession must equal it, which catches
    a record saved under the wrong name.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    out = _validate_encode_record(record, str(path))
    if ACCESSION_RE.match(path.stem) and out["accession"] != path.stem:
        raise ValueError(f"{path}: field 'accession' is {out['accession']!r} but the file is named for {path.stem!r}")
    return out


def fetch_encode_metadata(accession: str, dest: str | Path, *, base_url: str, allowed_hosts: Sequence[str],
                          retries: int = 4, backoff: float = 1.0) -> dict:
    """Download an ENCODE file's metadata JSON to `dest` (if not there already), validate it and return it.

    The JSON is downloaded to `<dest>.new`, validated (`read_encode_metadata` fields, and the
    accession asked for), and only then renamed to `dest`; an invalid record raises ValueError and
    leaves nothing behind. An existing valid `dest` is returned without a request; an invalid one is
    replaced. What a crash left (`<dest>.new`, and the `.part` of a download to it) is removed first,
    so every download of the metadata starts afresh.
    """
    url = encode_metadata_url(base_url, accession)
    dest = Path(dest)

    def validated(path: Path, label: str) -> dict:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{label}: not valid JSON ({e})") from e
        out = _validate_encode_record(record, label)
        if out["accession"] != accession:
            raise ValueError(f"{label}: field 'accession' is {out['accession']!r}, expected {accession!r}")
        return out

    if dest.exists():
        try:
            record = validated(dest, str(dest))
            log.info("%s: skipping, verified copy exists", dest)
            return record
        except ValueError as e:
            log.warning("%s; downloading it again", e)
            dest.unlink()
    tmp = dest.with_name(dest.name + ".new")
    tmp.unlink(missing_ok=True)  # left by a crash, like the part of a download to it: the record is
    discard_partial(tmp)  # downloaded afresh, as it may have changed since
    fetch(url, tmp, allowed_hosts=allowed_hosts, retries=retries, backoff=backoff)
    try:
        record = validated(tmp, f"{dest} (from {url})")
    except ValueError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return record


def fetch_encode_file(metadata: dict, dest: str | Path, *, base_url: str, allowed_hosts: Sequence[str],
                      retries: int = 4, backoff: float = 1.0) -> Path:
    """Download the file an ENCODE metadata record describes (`base_url + href`), verified by its md5sum.

    ENCODE answers `@@download` with a redirect to its storage host (an S3 bucket); that host must
    be in `allowed_hosts` as well.
    """
    missing = [k for k in ("href", "md5sum") if not metadata.get(k)]
    if missing:
        raise ValueError(f"ENCODE metadata for {metadata.get('accession', '?')} lacks {', '.join(missing)}")
    url = base_url.rstrip("/") + metadata["href"]
    return fetch(url, dest, allowed_hosts=allowed_hosts, md5=metadata["md5sum"], retries=retries, backoff=backoff)


def paired_assembly(tf: str, chip_meta: str | Path, dnase_meta: str | Path) -> str:
    """The assembly shared by a TF's ChIP-seq and DNase files; an error naming both when they differ."""
    chip, dnase = read_encode_metadata(chip_meta), read_encode_metadata(dnase_meta)
    if chip["assembly"] != dnase["assembly"]:
        raise ValueError(
            f"{tf}: ChIP-seq file {chip['accession']} is on {chip['assembly']} but DNase file "
            f"{dnase['accession']} is on {dnase['assembly']}; coordinates of different assemblies cannot be "
            f"paired. Pick accessions on one assembly in the in vivo table.")
    return chip["assembly"]


def common_assembly(metadata_paths: Sequence[str | Path]) -> str:
    """The one assembly of several ENCODE files (the multi-task study's peak files, one per cell type).

    Parameters
    ----------
    metadata_paths : sequence of str or Path
        The files' downloaded metadata (`fetch_encode_metadata`).

    Returns
    -------
    str
        Their assembly; ValueError naming the files of each assembly when they differ (coordinates of
        different assemblies cannot be merged into one set of windows), or when there are none.
    """
    if not metadata_paths:
        raise ValueError("no ENCODE files: the multi-task table needs at least one peak file")
    by_assembly: dict[str, list[str]] = {}
    for path in metadata_paths:
        record = read_encode_metadata(path)
        by_assembly.setdefault(record["assembly"], []).append(record["accession"])
    if len(by_assembly) > 1:
        found = "; ".join(f"{assembly}: {', '.join(files)}" for assembly, files in sorted(by_assembly.items()))
        raise ValueError(f"the peak files are on different assemblies ({found}); pick accessions on one assembly "
                         "in the multi-task table")
    return next(iter(by_assembly))
