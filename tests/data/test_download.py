"""gradcorr.data.download against a real local HTTP server (tests/helpers/httpserver.py), no mocks."""

from __future__ import annotations

import gzip
import hashlib
import logging
import random
import re
import time
from pathlib import Path

import pyfaidx
import pytest
from httpserver import FileServer, corrupt, etag_of, serve

from gradcorr.data import download as dl

LOCAL = ["127.0.0.1"]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def payload() -> bytes:
    return random.Random(7).randbytes(300_000)


@pytest.fixture
def server(tmp_path: Path, payload: bytes):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.bin").write_bytes(payload)
    with FileServer(root) as srv:
        yield srv


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "sub" / "data.bin"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _part(dest: Path, data: bytes, validator: str | None) -> Path:
    """A part an interrupted fetch to `dest` left: `<dest>.part` and, unless None, `<dest>.part.validator`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data)
    if validator is not None:
        part.with_name(part.name + ".validator").write_text(validator + "\n")
    return part


def _other_version(data: bytes) -> bytes:
    """Another version of a file: same length, different bytes from the first on."""
    return bytes(b ^ 0x5A for b in data)


# ---------------------------------------------------------------------------------------------- fetch


def test_fetch_verifies_md5_and_skips_verified_copy(server: FileServer, payload: bytes, out: Path, caplog) -> None:
    url = server.url + "/data.bin"
    assert dl.fetch(url, out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0) == out
    assert out.read_bytes() == payload
    assert _leftovers(out.parent) == ["data.bin"]
    assert server.count("/data.bin") == 1
    assert server.requests_for("/data.bin")[0].headers["User-Agent"].startswith("gradcorr")
    mtime = out.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="gradcorr.data.download"):
        dl.fetch(url, out, allowed_hosts=LOCAL, md5=_md5(payload).upper(), backoff=0)
    assert server.count("/data.bin") == 1
    assert out.stat().st_mtime_ns == mtime
    assert "skipping, verified copy" in caplog.text


def test_fetch_without_md5_downloads_existing_file_again(server: FileServer, payload: bytes, out: Path,
                                                        caplog) -> None:
    out.parent.mkdir(parents=True)
    out.write_bytes(b"stale copy of another version")
    with caplog.at_level(logging.INFO, logger="gradcorr.data.download"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert out.read_bytes() == payload
    assert server.count("/data.bin") == 1
    assert _leftovers(out.parent) == ["data.bin"]
    assert "no md5 was given to verify it; downloading it again" in caplog.text
    assert "verified copy exists" not in caplog.text


def test_fetch_without_md5_keeps_existing_file_when_download_fails(server: FileServer, out: Path) -> None:
    out.parent.mkdir(parents=True)
    out.write_bytes(b"the copy we have")
    server.add_faults("/data.bin", "truncate", "404")
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=3, backoff=0)
    assert out.read_bytes() == b"the copy we have"
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_replaces_copy_with_wrong_md5(server: FileServer, payload: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True)
    out.write_bytes(b"stale")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    assert server.count("/data.bin") == 1


def test_fetch_gives_up_on_persistent_md5_mismatch(server: FileServer, payload: bytes, out: Path) -> None:
    url = server.url + "/data.bin"
    server.add_faults("/data.bin", *["corrupt"] * 10)
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch(url, out, allowed_hosts=LOCAL, md5=_md5(payload), retries=3, backoff=0)
    msg = str(info.value)
    assert url in msg and str(out) in msg
    assert _md5(payload) in msg and _md5(corrupt(payload)) in msg
    assert server.count("/data.bin") == 3  # retries counts the attempts in all
    assert all("Range" not in r.headers for r in server.requests_for("/data.bin"))  # corrupt parts not resumed
    assert _leftovers(out.parent) == []


def test_fetch_retries_after_one_corrupt_transfer(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "corrupt")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    first, second = server.requests_for("/data.bin")
    assert "Range" not in second.headers and second.status == 200


def test_fetch_resumes_after_truncated_transfer(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "truncate")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    first, second = server.requests_for("/data.bin")
    assert second.headers.get("Range") == f"bytes={len(payload) // 2}-"
    assert second.headers.get("If-Range") == etag_of(payload)
    assert second.status == 206
    assert first.sent + second.sent == len(payload)  # nothing sent twice
    assert _leftovers(out.parent) == ["data.bin"]


@pytest.mark.parametrize("validators", ["etag", "last-modified"])
def test_fetch_resumes_same_file_by_either_validator(tmp_path: Path, payload: bytes, out: Path,
                                                     validators: str) -> None:
    (tmp_path / "data.bin").write_bytes(payload)
    with FileServer(tmp_path, validators=validators) as srv:
        srv.add_faults("/data.bin", "truncate")
        dl.fetch(srv.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)  # no md5: resumed all the same
        first, second = srv.requests_for("/data.bin")
    assert out.read_bytes() == payload
    assert (second.status, second.headers.get("Range")) == (206, f"bytes={len(payload) // 2}-")
    assert second.headers["If-Range"].startswith('"') == (validators == "etag")
    assert first.sent + second.sent == len(payload)
    assert _leftovers(out.parent) == ["data.bin"]


@pytest.mark.parametrize("validators", ["etag", "last-modified"])
@pytest.mark.parametrize("with_md5", [False, True])
def test_fetch_does_not_splice_a_file_changed_during_retries(tmp_path: Path, payload: bytes, out: Path,
                                                             validators: str, with_md5: bool) -> None:
    new = _other_version(payload)
    (tmp_path / "data.bin").write_bytes(payload)
    with FileServer(tmp_path, validators=validators) as srv:
        srv.add_faults("/data.bin", "truncate")
        srv.replace("/data.bin", new, after=1)  # published while the first transfer is cut short
        dl.fetch(srv.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(new) if with_md5 else None, backoff=0)
        first, second = srv.requests_for("/data.bin")
    assert out.read_bytes() == new
    assert "If-Range" in second.headers and second.status == 200 and second.sent == len(new)
    assert _leftovers(out.parent) == ["data.bin"]


@pytest.mark.parametrize("with_md5", [False, True])
def test_fetch_does_not_splice_a_stale_part_of_another_version(server: FileServer, payload: bytes, out: Path,
                                                               with_md5: bool) -> None:
    old = _other_version(payload)
    _part(out, old[:len(old) // 3], etag_of(old))  # left by a run killed while an older version was served
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload) if with_md5 else None, backoff=0)
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert request.headers.get("If-Range") == etag_of(old) and request.status == 200
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_detects_change_when_server_ignores_if_range(server: FileServer, payload: bytes, out: Path) -> None:
    old = _other_version(payload)
    _part(out, old[:1000], etag_of(old))
    server.add_faults("/data.bin", "ignore-if-range")  # 206 for the new file, but it says its new ETag
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert out.read_bytes() == payload
    assert [(r.headers.get("Range"), r.status) for r in server.requests_for("/data.bin")] == [
        ("bytes=1000-", 206), (None, 200)]
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_part_without_validator_starts_over(server: FileServer, payload: bytes, out: Path) -> None:
    _part(out, b"x" * 1000, None)  # left by an older version of this code, or a server that sent no validator
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert "Range" not in request.headers and "If-Range" not in request.headers
    assert request.sent == len(payload)
    assert _leftovers(out.parent) == ["data.bin"]


@pytest.mark.parametrize("validators", ["none", "weak-etag"])
def test_fetch_without_strong_validator_does_not_resume(tmp_path: Path, payload: bytes, out: Path,
                                                        validators: str) -> None:
    (tmp_path / "data.bin").write_bytes(payload)
    with FileServer(tmp_path, validators=validators) as srv:
        srv.add_faults("/data.bin", "truncate")
        dl.fetch(srv.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
        first, second = srv.requests_for("/data.bin")
    assert out.read_bytes() == payload
    assert "Range" not in second.headers and second.status == 200 and second.sent == len(payload)
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_does_not_resume_a_response_without_validators(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "truncate+no-validators")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert out.read_bytes() == payload
    first, second = server.requests_for("/data.bin")
    assert "Range" not in second.headers and second.status == 200 and second.sent == len(payload)
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_truncated_without_md5_is_not_accepted(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "truncate", "truncate")
    with pytest.raises(dl.DownloadError, match="connection closed after"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=2, backoff=0)
    assert _leftovers(out.parent) == []


def test_fetch_resumes_existing_part(server: FileServer, payload: bytes, out: Path) -> None:
    half = len(payload) // 3
    _part(out, payload[:half], etag_of(payload))
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert request.headers.get("Range") == f"bytes={half}-"
    assert request.headers.get("If-Range") == etag_of(payload)
    assert request.status == 206 and request.sent == len(payload) - half
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_restarts_when_server_ignores_range(server: FileServer, payload: bytes, out: Path) -> None:
    _part(out, b"x" * 1000, etag_of(payload))  # would corrupt the result if appended to
    server.add_faults("/data.bin", "no-range")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)  # no md5: nothing would catch it
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert "Range" in request.headers and request.status == 200


def test_fetch_rejects_resume_from_wrong_offset(server: FileServer, payload: bytes, out: Path) -> None:
    _part(out, payload[:1000], etag_of(payload))
    server.add_faults("/data.bin", "wrong-range")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)  # no md5: nothing else would catch it
    assert out.read_bytes() == payload
    assert [(r.headers.get("Range"), r.status) for r in server.requests_for("/data.bin")] == [
        ("bytes=1000-", 206), (None, 200)]


def test_fetch_complete_part_answered_416(server: FileServer, payload: bytes, out: Path) -> None:
    _part(out, payload, etag_of(payload))
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    assert [r.status for r in server.requests_for("/data.bin")] == [416]
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_oversized_part_starts_over(server: FileServer, payload: bytes, out: Path) -> None:
    _part(out, payload + b"junk", etag_of(payload))
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert out.read_bytes() == payload
    assert [r.status for r in server.requests_for("/data.bin")] == [416, 200]


@pytest.mark.parametrize("code", ["404", "403"])
def test_fetch_client_error_fails_at_once(server: FileServer, out: Path, code: str) -> None:
    server.add_faults("/data.bin", code)
    url = server.url + "/data.bin"
    with pytest.raises(dl.DownloadError, match=f"HTTP {code}") as info:
        dl.fetch(url, out, allowed_hosts=LOCAL, retries=3, backoff=0)
    assert url in str(info.value)
    assert server.count("/data.bin") == 1
    assert _leftovers(out.parent) == []


def test_fetch_missing_file_is_404(server: FileServer, out: Path) -> None:
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.fetch(server.url + "/nope.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert server.count("/nope.bin") == 1


@pytest.mark.parametrize("code", ["500", "503", "429"])
def test_fetch_retries_server_errors(server: FileServer, payload: bytes, out: Path, code: str) -> None:
    server.add_faults("/data.bin", code)
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    assert [r.status for r in server.requests_for("/data.bin")] == [int(code), 200]


def test_fetch_persistent_server_error(server: FileServer, out: Path) -> None:
    server.add_faults("/data.bin", *["500"] * 5)
    with pytest.raises(dl.DownloadError, match="after 2 attempt.*HTTP 500"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=2, backoff=0)
    assert server.count("/data.bin") == 2
    with pytest.raises(dl.DownloadError, match="after 1 attempt.*HTTP 500"):  # retries=1: a single try
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=1, backoff=0)
    assert server.count("/data.bin") == 3
    with pytest.raises(ValueError, match="retries"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=0)


def test_fetch_backoff_doubles(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "500", "500")
    start = time.monotonic()
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0.1)
    assert time.monotonic() - start >= 0.3  # 0.1 s after the first failure, 0.2 s after the second
    assert server.count("/data.bin") == 3


def test_fetch_retries_timeouts(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "delay:0.5")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0, timeout=0.2)
    assert out.read_bytes() == payload
    assert server.count("/data.bin") == 2


def test_fetch_connection_refused_is_retried_then_fails(tmp_path: Path, out: Path) -> None:
    with FileServer(tmp_path) as srv:
        url = srv.url + "/data.bin"
    with pytest.raises(dl.DownloadError, match="after 3 attempt") as info:
        dl.fetch(url, out, allowed_hosts=LOCAL, retries=3, backoff=0)
    assert url in str(info.value)


# ------------------------------------------------------------------------------------------- check_url


@pytest.mark.parametrize("url", [
    "https://www.encodeproject.org/files/ENCFF710VEH/?format=json",
    "https://WWW.EncodeProject.ORG/x",
    "http://127.0.0.1:8000/x",
    "http://localhost/x",
    "http://[::1]:8000/x",
])
def test_check_url_accepts(url: str) -> None:
    dl.check_url(url, ["www.encodeproject.org", "127.0.0.1", "localhost", "::1"])


@pytest.mark.parametrize("url", [
    "https://evil.example.org/x",  # host not listed
    "http://www.encodeproject.org/x",  # plain http to a remote host
    "ftp://www.encodeproject.org/x",
    "https://www.encodeproject.org.evil.com/x",  # suffix tricks
    "https://evil.com/www.encodeproject.org",
    "https://www.encodeproject.org@evil.com/x",  # userinfo trick
    "https://evil.com\\@www.encodeproject.org/x",  # urllib: www.encodeproject.org; browsers: evil.com
    "https://evil.com\\.www.encodeproject.org/x",
    "https://user@www.encodeproject.org/x",  # userinfo, even before an allowed host
    "https://user:secret@www.encodeproject.org/x",
    "https://www.encodeproject.org/a b",
    "https://www.encodeproject.org/x\n",
    "https://www.encodeproject.org\t/x",
    "https://www.encodeproject.org/x\x00",
    "https://www.encodeproject.org/x\x7f",
    "https://www.encodeproject.org/x\u2028",
    "https://encodeproject.org/x",  # parent domain is a different host
    "https://evil.www.encodeproject.org/x",  # so is a subdomain
    "https://xwww.encodeproject.org/x",
    "/files/x",
])
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(dl.DownloadError, match="refusing"):
        dl.check_url(url, ["www.encodeproject.org"])


@pytest.mark.parametrize(("url", "reason"), [
    ("https://evil.com\\@www.encodeproject.org/x", "backslash at position 16"),
    ("https://www.encodeproject.org/a b", "whitespace or a control character ' ' at position 31"),
    ("https://www.encodeproject.org/\x01", "control character '\\x01' at position 30"),
    ("https://me@www.encodeproject.org/x", "user information before the host (user@host)"),
])
def test_check_url_says_why(url: str, reason: str) -> None:
    with pytest.raises(dl.DownloadError, match=re.escape(reason)) as info:
        dl.check_url(url, ["www.encodeproject.org"])
    assert repr(url) in str(info.value)


def test_redirect_with_backslash_is_not_followed(server: FileServer, out: Path) -> None:
    server.add_faults("/data.bin", f"redirect:http://evil.example\\@127.0.0.1:{server.port}/data.bin")
    with pytest.raises(dl.DownloadError, match="backslash"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)
    assert server.count("/data.bin") == 1
    assert _leftovers(out.parent) == []


def test_check_url_rejects_bare_string() -> None:
    with pytest.raises(TypeError):
        dl.check_url("https://a.org/x", "a.org")


def test_fetch_refuses_host_without_request(server: FileServer, out: Path) -> None:
    with pytest.raises(dl.DownloadError, match="refusing"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=["localhost"], backoff=0)
    assert server.count("/data.bin", method=None) == 0
    assert not out.parent.exists()


def test_redirect_to_unlisted_host_is_not_followed(server: FileServer, tmp_path: Path, payload: bytes,
                                                   out: Path) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "data.bin").write_bytes(payload)
    with FileServer(other_root) as other:
        server.add_faults("/data.bin", f"redirect:http://localhost:{other.port}/data.bin")
        with pytest.raises(dl.DownloadError, match="localhost") as info:
            dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=3, backoff=0)
        assert "redirect" in str(info.value)
        assert server.count("/data.bin") == 1  # not retried
        assert other.count("/data.bin", method=None) == 0
        assert _leftovers(out.parent) == []
        # control: the same redirect to a listed host is followed
        server.add_faults("/data.bin", f"redirect:{other.url}/data.bin")
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
        assert other.count("/data.bin") == 1
    assert out.read_bytes() == payload


def test_resume_through_redirect_keeps_range(server: FileServer, tmp_path: Path, payload: bytes, out: Path) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "data.bin").write_bytes(payload)
    _part(out, payload[:1000], etag_of(payload))
    with FileServer(other_root) as other:
        server.add_faults("/data.bin", f"redirect:{other.url}/data.bin")
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
        (request,) = other.requests_for("/data.bin")
    assert request.headers.get("Range") == "bytes=1000-" and request.status == 206
    assert request.headers.get("If-Range") == etag_of(payload)
    assert out.read_bytes() == payload


def test_md5sum_streams(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(3 * dl.CHUNK + 17)
    (tmp_path / "f").write_bytes(data)
    assert dl.md5sum(tmp_path / "f") == _md5(data)


def test_fetch_rejects_malformed_md5(server: FileServer, out: Path) -> None:
    with pytest.raises(ValueError, match="md5"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5="abc")
    assert server.count("/data.bin") == 0


# ---------------------------------------------------------------------------------------------- genome


def _fasta_text() -> tuple[str, dict[str, str]]:
    rng = random.Random(3)
    seqs = {"chr1": "".join(rng.choice("ACGT") for _ in range(3000)),
            "chr2": "".join(rng.choice("ACGTN") for _ in range(1530))}
    lines = []
    for name, seq in seqs.items():
        lines.append(f">{name}")
        lines.extend(seq[i:i + 60] for i in range(0, len(seq), 60))
    return "\n".join(lines) + "\n", seqs


def _publish_md5s(folder: Path, *names: str, extra: str = "") -> Path:
    """Write UCSC's `md5sum.txt` for files of `folder` ("<md5>  <name>" lines), after `extra` lines."""
    lines = [f"{_md5((folder / name).read_bytes())}  {name}\n" for name in names]
    listing = folder / "md5sum.txt"
    listing.write_text(extra + "".join(lines))
    return listing


@pytest.fixture
def genome_site(tmp_path: Path) -> tuple[Path, bytes, str]:
    """A UCSC-like folder, goldenPath/hg_test/bigZips, with g.fa.gz and other files: (folder, bytes, FASTA text)."""
    text, _ = _fasta_text()
    folder = tmp_path / "www" / "goldenPath" / "hg_test" / "bigZips"
    folder.mkdir(parents=True)
    raw = gzip.compress(text.encode(), mtime=0)
    (folder / "g.fa.gz").write_bytes(raw)
    (folder / "g.chrom.sizes").write_text("chr1\t3000\nchr2\t1530\n")
    return folder, raw, text


GENOME_PATH = "/goldenPath/hg_test/bigZips/g.fa.gz"
LISTING_PATH = "/goldenPath/hg_test/bigZips/md5sum.txt"


@pytest.mark.parametrize("binary_mode", [False, True])
def test_fetch_genome_verified_by_published_md5sum(genome_site, tmp_path: Path, binary_mode: bool) -> None:
    folder, raw, text = genome_site
    listing = _publish_md5s(folder, "g.chrom.sizes", "g.fa.gz")
    if binary_mode:  # md5sum -b writes "<md5> *<name>"
        listing.write_text(listing.read_text().replace("  ", " *"))
    fasta = tmp_path / "genome" / "g.fa"
    with FileServer(tmp_path / "www") as srv:
        dl.fetch_genome(srv.url + GENOME_PATH, fasta, allowed_hosts=LOCAL, backoff=0)
        assert (srv.count(LISTING_PATH), srv.count(GENOME_PATH)) == (1, 1)
    assert fasta.read_text() == text
    assert _leftovers(fasta.parent) == ["g.fa", "g.fa.fai"]


def test_fetch_genome_corrupt_download_fails_md5_and_leaves_nothing(genome_site, tmp_path: Path) -> None:
    folder, raw, _ = genome_site
    _publish_md5s(folder, "g.fa.gz")
    out_dir = tmp_path / "genome"
    out_dir.mkdir()
    (out_dir / "g.fa").write_text(">stale\nACGT\n")  # no index: to be rebuilt
    (out_dir / "g.fa.tmp").write_text("left by a crash")
    with FileServer(tmp_path / "www") as srv:
        srv.add_faults(GENOME_PATH, "corrupt", "corrupt")
        url = srv.url + GENOME_PATH
        with pytest.raises(dl.DownloadError, match=f"md5 mismatch: expected {_md5(raw)}") as info:
            dl.fetch_genome(url, out_dir / "g.fa", allowed_hosts=LOCAL, retries=2, backoff=0)
        assert srv.count(GENOME_PATH) == 2
    assert url in str(info.value)
    assert _leftovers(out_dir) == []


def test_fetch_genome_without_md5sum_txt_says_to_give_md5(genome_site, tmp_path: Path) -> None:
    out_dir = tmp_path / "genome"
    with FileServer(tmp_path / "www") as srv:
        url, listing_url = srv.url + GENOME_PATH, srv.url + LISTING_PATH
        with pytest.raises(dl.DownloadError, match="publishes no md5sum.txt") as info:
            dl.fetch_genome(url, out_dir / "g.fa", allowed_hosts=LOCAL, retries=3, backoff=0)
        assert (srv.count(LISTING_PATH), srv.count(GENOME_PATH)) == (1, 0)  # 404 is not retried
    message = str(info.value)
    assert url in message and listing_url in message
    assert "invivo.genomes.<assembly>: {url: ..., md5: ...}" in message
    assert info.value.status == 404
    assert _leftovers(out_dir) == []


@pytest.mark.parametrize(("listing", "reason"), [
    ("0123456789abcdef0123456789abcdef  other.fa.gz\n", "has no line for g.fa.gz"),
    ("<html>Index of /bigZips</html>\n", "has no line for g.fa.gz"),
    ("", "has no line for g.fa.gz"),
    ("not-an-md5  g.fa.gz\n", "line 1 names g.fa.gz but is not '<md5>  g.fa.gz'"),
    ("0123456789abcdef0123456789abcdef  g.fa.gz extra\n", "line 1 names g.fa.gz but is not"),
    ("0123456789abcdef0123456789abcdef  g.fa.gz\nfedcba9876543210fedcba9876543210  g.fa.gz\n",
     "different checksums"),
])
def test_fetch_genome_unusable_md5sum_txt_says_to_give_md5(genome_site, tmp_path: Path, listing: str,
                                                          reason: str) -> None:
    folder, _, _ = genome_site
    (folder / "md5sum.txt").write_text(listing)
    out_dir = tmp_path / "genome"
    with FileServer(tmp_path / "www") as srv:
        url = srv.url + GENOME_PATH
        with pytest.raises(dl.DownloadError, match=reason) as info:
            dl.fetch_genome(url, out_dir / "g.fa", allowed_hosts=LOCAL, backoff=0)
        assert srv.count(GENOME_PATH) == 0
    assert url in str(info.value) and "md5: ...}" in str(info.value)
    assert _leftovers(out_dir) == []


def test_fetch_genome_explicit_md5_skips_lookup(genome_site, tmp_path: Path) -> None:
    folder, raw, text = genome_site
    (folder / "md5sum.txt").write_text(f"{'0' * 32}  g.fa.gz\n")  # would fail, if it were read
    fasta = tmp_path / "g.fa"
    with FileServer(tmp_path / "www") as srv:
        dl.fetch_genome(srv.url + GENOME_PATH, fasta, allowed_hosts=LOCAL, md5=_md5(raw), backoff=0)
        assert (srv.count(LISTING_PATH), srv.count(GENOME_PATH)) == (0, 1)
    assert fasta.read_text() == text


@pytest.mark.parametrize(("served_name", "compress"), [
    ("hg_test.fa.gz", True),
    ("plain.fa", False),
    ("misnamed.fa", True),  # gzip detected by magic bytes, not by name
    ("misnamed.fa.gz", False),
])
def test_fetch_genome(tmp_path: Path, served_name: str, compress: bool) -> None:
    text, seqs = _fasta_text()
    raw = gzip.compress(text.encode()) if compress else text.encode()
    root = tmp_path / "www"
    root.mkdir()
    (root / served_name).write_bytes(raw)
    fasta = tmp_path / "genome" / "test.fa"
    with FileServer(root) as srv:
        url = f"{srv.url}/{served_name}"
        assert dl.fetch_genome(url, fasta, allowed_hosts=LOCAL, md5=_md5(raw), backoff=0) == fasta
        assert fasta.read_text() == text
        assert _leftovers(fasta.parent) == ["test.fa", "test.fa.fai"]
        with pyfaidx.Fasta(str(fasta)) as genome:
            assert sorted(genome.keys()) == ["chr1", "chr2"]
            assert genome["chr2"][100:250].seq == seqs["chr2"][100:250]
            assert genome["chr1"][2950:3000].seq == seqs["chr1"][2950:3000]
        dl.fetch_genome(url, fasta, allowed_hosts=LOCAL, md5=_md5(raw), backoff=0)
        assert srv.count(f"/{served_name}") == 1


def test_fetch_genome_rebuilds_missing_index(tmp_path: Path) -> None:
    text, _ = _fasta_text()
    root = tmp_path / "www"
    root.mkdir()
    (root / "g.fa.gz").write_bytes(gzip.compress(text.encode()))
    _publish_md5s(root, "g.fa.gz")
    fasta = tmp_path / "g.fa"
    with FileServer(root) as srv:
        dl.fetch_genome(srv.url + "/g.fa.gz", fasta, allowed_hosts=LOCAL, backoff=0)
        (tmp_path / "g.fa.fai").unlink()
        dl.fetch_genome(srv.url + "/g.fa.gz", fasta, allowed_hosts=LOCAL, backoff=0)
        assert srv.count("/g.fa.gz") == 2
    assert fasta.read_text() == text and (tmp_path / "g.fa.fai").exists()


@pytest.mark.parametrize("content", [
    b"<html><body>Not the genome</body></html>\n",
    gzip.compress(b"<html>gzipped error page</html>\n", mtime=0),
    b">chr1\nACGTACGT\nACG\nACGTACGT\n",  # inconsistent line lengths: pyfaidx refuses to index
    gzip.compress(b">chr1\n" + b"ACGT" * 5000, mtime=0)[:-100],  # truncated gzip stream
], ids=["html", "gzipped-html", "ragged-lines", "truncated-gzip"])
def test_fetch_genome_bad_content_leaves_nothing(tmp_path: Path, content: bytes) -> None:
    root = tmp_path / "www"
    root.mkdir()
    (root / "g.fa.gz").write_bytes(content)
    _publish_md5s(root, "g.fa.gz")  # the host vouches for it: the content is what is wrong
    out_dir = tmp_path / "genome"
    with serve(root) as base_url:
        with pytest.raises(dl.DownloadError, match="could not prepare genome"):
            dl.fetch_genome(base_url + "/g.fa.gz", out_dir / "g.fa", allowed_hosts=LOCAL, backoff=0)
    assert _leftovers(out_dir) == []
