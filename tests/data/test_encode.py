"""gradcorr.data.encode: ENCODE metadata records and files, from a local mirror of ENCODE's URL layout."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from httpserver import FileServer, add_encode_file, etag_of, serve

from gradcorr.data import encode
from gradcorr.data.download import DownloadError

LOCAL = ["127.0.0.1"]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_encode_metadata_url() -> None:
    expected = "https://www.encodeproject.org/files/ENCFF710VEH/?format=json"
    assert encode.encode_metadata_url("https://www.encodeproject.org/", "ENCFF710VEH") == expected
    assert encode.encode_metadata_url("https://www.encodeproject.org", "ENCFF710VEH") == expected
    for bad in ("ENCFF710VE", "encff710veh", "ENCFF710VEH/../x", "../ENCFF710VEH"):
        with pytest.raises(ValueError, match="accession"):
            encode.encode_metadata_url("https://www.encodeproject.org", bad)


def test_encode_metadata_and_file_from_mirror(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    data = gzip.compress(b"chr1\t100\t200\tpeak1\t0\t.\t5.0\t-1\t3.2\t50\n" * 200)
    record = add_encode_file(root, "ENCFF000AAA", data, assembly="GRCh38")
    meta_path = tmp_path / "meta" / "ENCFF000AAA.json"
    with FileServer(root) as srv:
        meta = encode.fetch_encode_metadata("ENCFF000AAA", meta_path, base_url=srv.url + "/", allowed_hosts=LOCAL,
                                            backoff=0)
        assert meta == {"accession": "ENCFF000AAA", "assembly": "GRCh38", "md5sum": _md5(data),
                        "file_format": "bed", "file_type": "bed narrowPeak", "href": record["href"],
                        "output_type": "conservative IDR thresholded peaks", "status": "released"}
        assert srv.requests_for("/files/ENCFF000AAA/")[0].query == "format=json"
        assert encode.read_encode_metadata(meta_path) == meta
        assert _leftovers(meta_path.parent) == ["ENCFF000AAA.json"]
        # a second call reads the saved copy
        assert encode.fetch_encode_metadata("ENCFF000AAA", meta_path, base_url=srv.url, allowed_hosts=LOCAL) == meta
        assert srv.count("/files/ENCFF000AAA/") == 1

        bed = encode.fetch_encode_file(meta, tmp_path / "peaks" / "ENCFF000AAA.bed.gz", base_url=srv.url,
                                       allowed_hosts=LOCAL, backoff=0)
        assert bed.read_bytes() == data
        assert srv.count(record["href"]) == 1


def test_encode_file_follows_redirect_to_storage_host(tmp_path: Path) -> None:
    """Like ENCODE's @@download -> S3: the storage server must be allowed, and the md5 is checked there."""
    data = b"some bigwig bytes" * 1000
    portal, storage = tmp_path / "portal", tmp_path / "storage"
    record = add_encode_file(portal, "ENCFF000BBB", data, assembly="hg19", file_format="bigWig",
                             file_type="bigWig", ext=".bigWig")
    storage.mkdir()
    (storage / "blob").write_bytes(data)
    with FileServer(portal) as srv, FileServer(storage, host="localhost") as s3:
        (portal / record["href"].lstrip("/")).unlink()  # the portal itself only redirects
        srv.add_faults(record["href"], f"redirect:{s3.url}/blob", f"redirect:{s3.url}/blob")
        meta = encode.fetch_encode_metadata("ENCFF000BBB", tmp_path / "ENCFF000BBB.json", base_url=srv.url,
                                            allowed_hosts=LOCAL)
        with pytest.raises(DownloadError, match="not allowed"):
            encode.fetch_encode_file(meta, tmp_path / "x.bigWig", base_url=srv.url, allowed_hosts=LOCAL, backoff=0)
        assert s3.count("/blob") == 0
        path = encode.fetch_encode_file(meta, tmp_path / "x.bigWig", base_url=srv.url,
                                        allowed_hosts=[*LOCAL, "localhost"], backoff=0)
        assert path.read_bytes() == data and s3.count("/blob") == 1


def test_encode_file_md5_mismatch(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    add_encode_file(root, "ENCFF000CCC", b"real data", assembly="GRCh38", md5="0" * 32)
    with FileServer(root) as srv:
        meta = encode.fetch_encode_metadata("ENCFF000CCC", tmp_path / "ENCFF000CCC.json", base_url=srv.url,
                                            allowed_hosts=LOCAL)
        dest = tmp_path / "f.bed.gz"
        with pytest.raises(DownloadError, match=f"expected {'0' * 32}, got {_md5(b'real data')}"):
            encode.fetch_encode_file(meta, dest, base_url=srv.url, allowed_hosts=LOCAL, retries=2, backoff=0)
        assert srv.count(meta["href"]) == 2
    assert not dest.exists() and not (tmp_path / "f.bed.gz.part").exists()


def test_fetch_encode_metadata_rejects_invalid_record(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    add_encode_file(root, "ENCFF000DDD", b"x", assembly=None)
    dest = tmp_path / "meta" / "ENCFF000DDD.json"
    with serve(root) as base_url:
        with pytest.raises(ValueError, match="no 'assembly' field"):
            encode.fetch_encode_metadata("ENCFF000DDD", dest, base_url=base_url, allowed_hosts=LOCAL, backoff=0)
    assert _leftovers(dest.parent) == []


def test_fetch_encode_metadata_discards_what_a_crash_left(tmp_path: Path) -> None:
    """A crash leaves `<dest>.new` and the part of a download to it (with a validator that still matches):
    neither is reused, so the record is downloaded whole and afresh."""
    root = tmp_path / "mirror"
    record = add_encode_file(root, "ENCFF000EEE", b"x", assembly="GRCh38")
    served = (root / "files" / "ENCFF000EEE" / "index.json").read_bytes()
    dest = tmp_path / "meta" / "ENCFF000EEE.json"
    dest.parent.mkdir()
    (dest.parent / "ENCFF000EEE.json.new").write_text('{"accession": "ENCFF000EEE"}')
    part = dest.parent / "ENCFF000EEE.json.new.part"
    part.write_bytes(b'{"garbage": ' + b" " * 40)
    part.with_name(part.name + ".validator").write_text(etag_of(served) + "\n")
    with FileServer(root) as srv:
        meta = encode.fetch_encode_metadata("ENCFF000EEE", dest, base_url=srv.url, allowed_hosts=LOCAL, backoff=0)
        (request,) = srv.requests_for("/files/ENCFF000EEE/")
    assert meta["md5sum"] == record["md5sum"] and dest.read_bytes() == served
    assert "Range" not in request.headers and request.sent == len(served)
    assert _leftovers(dest.parent) == ["ENCFF000EEE.json"]


def test_fetch_encode_metadata_missing_accession_is_404(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    with FileServer(tmp_path / "mirror") as srv:
        with pytest.raises(DownloadError, match="HTTP 404") as info:
            encode.fetch_encode_metadata("ENCFF999ZZZ", tmp_path / "ENCFF999ZZZ.json", base_url=srv.url,
                                         allowed_hosts=LOCAL, retries=2, backoff=0)
        assert "/files/ENCFF999ZZZ/?format=json" in str(info.value)
        assert srv.count("/files/ENCFF999ZZZ/") == 1
    assert _leftovers(tmp_path) == ["mirror"]


def _write_record(path: Path, **changes: object) -> Path:
    record = {"accession": "ENCFF116EXQ", "assembly": "GRCh38", "md5sum": "a" * 32, "file_format": "bed",
              "file_type": "bed narrowPeak", "output_type": "conservative IDR thresholded peaks",
              "href": "/files/ENCFF116EXQ/@@download/ENCFF116EXQ.bed.gz", "status": "released",
              "lab": {"name": "x"}, "file_size": 12}
    record.update(changes)
    record = {k: v for k, v in record.items() if v is not None}
    path.write_text(json.dumps(record))
    return path


def test_read_encode_metadata_valid_and_optional_fields(tmp_path: Path) -> None:
    meta = encode.read_encode_metadata(_write_record(tmp_path / "ENCFF116EXQ.json", md5sum="A" * 32))
    assert meta["md5sum"] == "a" * 32 and meta["assembly"] == "GRCh38" and "lab" not in meta
    meta = encode.read_encode_metadata(_write_record(tmp_path / "other.json", file_type=None, output_type=None,
                                                     status=None))
    assert meta["file_type"] == meta["output_type"] == meta["status"] == ""


@pytest.mark.parametrize(("changes", "message"), [
    ({"assembly": None}, "no 'assembly' field"),
    ({"md5sum": "not-an-md5"}, "'md5sum' is not 32 hex"),
    ({"href": None}, "no 'href' field"),
    ({"file_format": ""}, "'file_format' must be a non-empty string"),
    ({"accession": "ENCFF000XXX"}, "named for 'ENCFF116EXQ'"),
    ({"accession": "nonsense"}, "not an ENCODE accession"),
])
def test_read_encode_metadata_errors_name_file_and_field(tmp_path: Path, changes: dict, message: str) -> None:
    path = _write_record(tmp_path / "ENCFF116EXQ.json", **changes)
    with pytest.raises(ValueError, match=message) as info:
        encode.read_encode_metadata(path)
    assert "ENCFF116EXQ.json" in str(info.value)


def test_read_encode_metadata_not_json(tmp_path: Path) -> None:
    path = tmp_path / "ENCFF116EXQ.json"
    path.write_text("<html>error</html>")
    with pytest.raises(ValueError, match="ENCFF116EXQ.json: not valid JSON"):
        encode.read_encode_metadata(path)
