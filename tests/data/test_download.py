"""gradcorr.data.download against a real local HTTP server (tests/helpers/httpserver.py), no mocks."""

from __future__ import annotations

import gzip
import hashlib
import logging
import random
import time
from pathlib import Path

import pyfaidx
import pytest
from httpserver import FileServer, corrupt, serve

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
        dl.fetch(url, out, allowed_hosts=LOCAL, backoff=0)  # no md5: an existing file is trusted
    assert server.count("/data.bin") == 1
    assert out.stat().st_mtime_ns == mtime
    assert "skipping, verified copy" in caplog.text


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
    assert second.status == 206
    assert _leftovers(out.parent) == ["data.bin"]


def test_fetch_truncated_without_md5_is_not_accepted(server: FileServer, payload: bytes, out: Path) -> None:
    server.add_faults("/data.bin", "truncate", "truncate")
    with pytest.raises(dl.DownloadError, match="connection closed after"):
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, retries=2, backoff=0)
    assert _leftovers(out.parent) == []


def test_fetch_resumes_existing_part(server: FileServer, payload: bytes, out: Path) -> None:
    half = len(payload) // 3
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(payload[:half])
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert request.headers.get("Range") == f"bytes={half}-"
    assert request.status == 206


def test_fetch_restarts_when_server_ignores_range(server: FileServer, payload: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(b"x" * 1000)  # would corrupt the result if appended to
    server.add_faults("/data.bin", "no-range")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)  # no md5: nothing would catch it
    assert out.read_bytes() == payload
    (request,) = server.requests_for("/data.bin")
    assert "Range" in request.headers and request.status == 200


def test_fetch_rejects_resume_from_wrong_offset(server: FileServer, payload: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(payload[:1000])
    server.add_faults("/data.bin", "wrong-range")
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, backoff=0)  # no md5: nothing else would catch it
    assert out.read_bytes() == payload
    assert [(r.headers.get("Range"), r.status) for r in server.requests_for("/data.bin")] == [
        ("bytes=1000-", 206), (None, 200)]


def test_fetch_complete_part_answered_416(server: FileServer, payload: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(payload)
    dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
    assert out.read_bytes() == payload
    assert [r.status for r in server.requests_for("/data.bin")] == [416]


def test_fetch_oversized_part_starts_over(server: FileServer, payload: bytes, out: Path) -> None:
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(payload + b"junk")
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
    "https://encodeproject.org/x",  # parent domain is a different host
    "https://evil.www.encodeproject.org/x",  # so is a subdomain
    "https://xwww.encodeproject.org/x",
    "/files/x",
])
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(dl.DownloadError, match="refusing"):
        dl.check_url(url, ["www.encodeproject.org"])


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
    out.parent.mkdir(parents=True)
    (out.parent / "data.bin.part").write_bytes(payload[:1000])
    with FileServer(other_root) as other:
        server.add_faults("/data.bin", f"redirect:{other.url}/data.bin")
        dl.fetch(server.url + "/data.bin", out, allowed_hosts=LOCAL, md5=_md5(payload), backoff=0)
        (request,) = other.requests_for("/data.bin")
    assert request.headers.get("Range") == "bytes=1000-" and request.status == 206
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
    fasta = tmp_path / "g.fa"
    with FileServer(root) as srv:
        dl.fetch_genome(srv.url + "/g.fa.gz", fasta, allowed_hosts=LOCAL, backoff=0)
        (tmp_path / "g.fa.fai").unlink()
        dl.fetch_genome(srv.url + "/g.fa.gz", fasta, allowed_hosts=LOCAL, backoff=0)
        assert srv.count("/g.fa.gz") == 2
    assert fasta.read_text() == text and (tmp_path / "g.fa.fai").exists()


@pytest.mark.parametrize("content", [
    b"<html><body>Not the genome</body></html>\n",
    gzip.compress(b"<html>gzipped error page</html>\n"),
    b">chr1\nACGTACGT\nACG\nACGTACGT\n",  # inconsistent line lengths: pyfaidx refuses to index
    gzip.compress(b">chr1\n" + b"ACGT" * 5000)[:-100],  # truncated gzip stream
])
def test_fetch_genome_bad_content_leaves_nothing(tmp_path: Path, content: bytes) -> None:
    root = tmp_path / "www"
    root.mkdir()
    (root / "g.fa.gz").write_bytes(content)
    out_dir = tmp_path / "genome"
    with serve(root) as base_url:
        with pytest.raises(dl.DownloadError, match="could not prepare genome"):
            dl.fetch_genome(base_url + "/g.fa.gz", out_dir / "g.fa", allowed_hosts=LOCAL, backoff=0)
    assert _leftovers(out_dir) == []
