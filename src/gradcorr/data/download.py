"""Robust downloads of ENCODE files, reference genomes and other data files (stdlib urllib only).

`fetch` is the building block: it only talks to an explicit allow-list of hosts (every redirect hop
is checked too), writes to `<dest>.part` and renames onto `dest` only once the transfer is complete
and its md5 (when known) is verified, resumes an interrupted `.part` with an HTTP Range request,
retries network errors, 5xx/429 answers and md5 mismatches with exponential backoff, and leaves
nothing behind when it finally fails. A destination that already holds a verified copy is not
downloaded again (no request is made), so reruns are cheap and idempotent.

On top of it: genomes decompressed and indexed with pyfaidx (`fetch_genome`); ENCODE files are in
`gradcorr.data.encode`.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.metadata
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DownloadError", "check_url", "fetch", "fetch_genome", "md5sum"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read and written at a time, and hashed at a time
PROGRESS_SECONDS = 10.0  # log progress at least this often while bytes arrive...
PROGRESS_FRACTION = 0.1  # ...or whenever another tenth of a file of known size has arrived
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # the only hosts plain http may reach
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
GZIP_MAGIC = b"\x1f\x8b"
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class DownloadError(RuntimeError):
    """A download that failed for good: refused URL, HTTP 4xx, or still failing after all retries."""


class _TransferError(Exception):
    """A transfer that went wrong in a way worth retrying (short body, wrong resume offset)."""


def _user_agent() -> str:
    try:
        return f"gradcorr/{importlib.metadata.version('gradcorr')}"
    except importlib.metadata.PackageNotFoundError:
        return "gradcorr"


USER_AGENT = _user_agent()


def _normalise_hosts(allowed_hosts: Sequence[str]) -> frozenset[str]:
    if isinstance(allowed_hosts, str):  # a bare string would silently become a set of characters
        raise TypeError(f"allowed_hosts must be a sequence of host names, not the string {allowed_hosts!r}")
    return frozenset(h.strip().strip("[]").lower() for h in allowed_hosts)


def check_url(url: str, allowed_hosts: Sequence[str]) -> None:
    """Raise DownloadError unless `url` is https (or http to a loopback host) to a host in `allowed_hosts`.

    Host names are compared exactly (case-insensitively): no suffix or subdomain matching, so
    "www.encodeproject.org.evil.com" does not pass for "www.encodeproject.org".
    """
    allowed = _normalise_hosts(allowed_hosts)
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as e:
        raise DownloadError(f"refusing to download {url!r}: not a valid URL ({e})") from e
    if not host or host not in allowed:
        raise DownloadError(f"refusing to download {url!r}: host {host!r} is not in the allowed hosts "
                            f"{sorted(allowed)}")
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and host in LOOPBACK_HOSTS):
        return
    raise DownloadError(f"refusing to download {url!r}: scheme {scheme!r} is not allowed "
                        "(https only; plain http only to a loopback host)")


class _CheckedRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only if its target passes `check_url`, before any request is made to it."""

    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 (urllib's API)
        try:
            check_url(newurl, self.allowed_hosts)
        except DownloadError as e:
            fp.close()
            raise DownloadError(f"{req.full_url} redirects ({code}) to a URL that is not allowed: {e}") from None
        log.debug("%s: redirect %d to %s", req.full_url, code, newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(url: str, allowed_hosts: Sequence[str]) -> urllib.request.OpenerDirector:
    """An opener that checks redirects; environment proxies are used, except for loopback URLs."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    proxies = {} if host in LOOPBACK_HOSTS else urllib.request.getproxies()
    return urllib.request.build_opener(urllib.request.ProxyHandler(proxies), _CheckedRedirectHandler(allowed_hosts))


def md5sum(path: str | Path) -> str:
    """Hex md5 of a file, read in chunks (works for files larger than memory)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _normalise_md5(md5: str) -> str:
    value = md5.strip().lower()
    if not MD5_RE.match(value):
        raise ValueError(f"not an md5 checksum (32 hex digits): {md5!r}")
    return value


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class _Progress:
    """Logs bytes done (and percent when the total is known) every ~10 s or every 10%."""

    def __init__(self, label: str, total: int | None, done: int = 0) -> None:
        self.label, self.total = label, total
        self.last_time = time.monotonic()
        self.last_step = self._step(done)

    def _step(self, done: int) -> int:
        return int(done / self.total / PROGRESS_FRACTION) if self.total else 0

    def update(self, done: int) -> None:
        now, step = time.monotonic(), self._step(done)
        if now - self.last_time < PROGRESS_SECONDS and step <= self.last_step:
            return
        self.last_time, self.last_step = now, step
        if self.total:
            log.info("%s: %s of %s (%.0f%%)", self.label, _size(done), _size(self.total), 100 * done / self.total)
        else:
            log.info("%s: %s", self.label, _size(done))


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header; None for parts that are absent or '*'."""
    match = _CONTENT_RANGE_RE.match(value or "")
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _transfer(opener: urllib.request.OpenerDirector, url: str, part: Path, timeout: float, verifiable: bool) -> None:
    """One attempt: download (or resume) `url` into `part`. Raises on any failure; the caller classifies it.

    A complete-looking part is left for the caller to verify. `verifiable` says whether an md5 will
    check the result, which decides whether an existing part the server refuses to extend (416)
    may be kept as a candidate when the server does not say how large the file is.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise
        _, total = _parse_content_range(e.headers.get("Content-Range"))
        e.close()
        if total == offset or (total is None and verifiable):
            log.info("%s: %s already holds all %d bytes", url, part, offset)
            return
        log.info("%s: %s (%d bytes) does not match the remote file (%s bytes); starting over", url, part, offset,
                 total if total is not None else "?")
        part.unlink()
        return _transfer(opener, url, part, timeout, verifiable)

    with response:
        length_header = response.headers.get("Content-Length", "")
        length = int(length_header) if length_header.strip().isdigit() else None
        if response.status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _TransferError(f"asked to resume at byte {offset}, the server answered from byte {start}")
            mode = "ab"
            log.info("%s: resuming at byte %d", url, offset)
        else:
            if offset:
                log.info("%s: server ignored the Range request; starting over", url)
            offset, total, mode = 0, length, "wb"
        progress = _Progress(url, total, offset)
        received = 0
        try:
            out = open(part, mode)
        except OSError as e:
            raise DownloadError(f"cannot write {part}: {e}") from e
        with out:
            while chunk := response.read(CHUNK):  # network errors propagate; the caller retries them
                try:
                    out.write(chunk)
                except OSError as e:
                    raise DownloadError(f"cannot write {part}: {e}") from e
                received += len(chunk)
                progress.update(offset + received)
    if length is not None and received < length:
        raise _TransferError(f"connection closed after {received} of {length} bytes")


def _is_retryable_http(code: int) -> bool:
    return code == 429 or code >= 500


def fetch(url: str, dest: str | Path, *, allowed_hosts: Sequence[str], md5: str | None = None,
          retries: int = 4, backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` (atomically, resumably, md5-verified when `md5` is given); return `dest`.

    An existing `dest` is kept without any request when no md5 is given or its md5 matches; with
    the wrong md5 it is deleted and downloaded again. The data go to `<dest>.part` and are renamed
    onto `dest` only when complete and verified. A `.part` left by an interrupted attempt is resumed
    with `Range: bytes=<size>-` (a server that ignores Range makes it start over).

    Network errors, short transfers, HTTP 5xx and 429 and md5 mismatches are retried. `retries` is
    the number of attempts in all (at least 1); after failed attempt number `attempt` (from 0) it
    sleeps `backoff * 2**attempt` seconds. A part that fails its md5 is deleted before the next
    attempt, so it is never resumed. Other HTTP errors (404, 403,
    ...) and URLs or redirects outside `allowed_hosts` (see `check_url`) fail at once. Every failure
    raises DownloadError naming the URL, `dest` and the cause, and removes the `.part` file.
    """
    check_url(url, allowed_hosts)
    dest = Path(dest)
    expected = _normalise_md5(md5) if md5 is not None else None
    if retries < 1:
        raise ValueError(f"retries (the number of attempts) must be >= 1, got {retries}")
    if dest.exists():
        if expected is None:
            log.info("%s: skipping, verified copy exists (no md5 given; not checked)", dest)
            return dest
        got = md5sum(dest)
        if got == expected:
            log.info("%s: skipping, verified copy exists (md5 %s)", dest, got)
            return dest
        log.warning("%s: existing copy has md5 %s, expected %s; downloading it again", dest, got, expected)
        dest.unlink()

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    opener = _opener(url, allowed_hosts)
    attempts, cause = retries, ""
    log.info("downloading %s to %s", url, dest)
    try:
        for attempt in range(attempts):
            if attempt:
                delay = backoff * 2 ** (attempt - 1)
                log.warning("%s: attempt %d of %d failed (%s); retrying in %.1f s", url, attempt, attempts, cause,
                            delay)
                time.sleep(delay)
            try:
                _transfer(opener, url, part, timeout, verifiable=expected is not None)
            except urllib.error.HTTPError as e:
                cause = f"HTTP {e.code} {e.reason}"
                e.close()
                if not _is_retryable_http(e.code):
                    raise DownloadError(f"could not download {url} to {dest}: {cause}") from e
                continue
            except (urllib.error.URLError, http.client.HTTPException, OSError, _TransferError) as e:
                cause = f"{type(e).__name__}: {getattr(e, 'reason', None) or e}"
                continue
            if expected is not None:
                got = md5sum(part)
                if got != expected:
                    part.unlink()
                    cause = f"md5 mismatch: expected {expected}, got {got}"
                    continue
            os.replace(part, dest)
            log.info("%s: done (%s%s)", dest, _size(dest.stat().st_size),
                     f", md5 {expected} verified" if expected else "")
            return dest
        raise DownloadError(f"could not download {url} to {dest} after {attempts} attempt(s); last error: {cause}")
    except DownloadError:
        part.unlink(missing_ok=True)
        raise


def _decompress_or_move(src: Path, out: Path) -> None:
    """Write `src` to `out` gunzipped if it starts with the gzip magic bytes (plain or bgzip), else move it."""
    with open(src, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if not compressed:
        os.replace(src, out)
        return
    log.info("%s: decompressing to %s", src, out)
    progress = _Progress(f"decompressing {src.name}", None)
    written = 0
    with gzip.open(src, "rb") as f_in, open(out, "wb") as f_out:
        while chunk := f_in.read(CHUNK):
            f_out.write(chunk)
            written += len(chunk)
            progress.update(written)
    log.info("%s: %s decompressed", out, _size(written))


def _check_fasta_start(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b">"):
        raise ValueError(f"does not look like FASTA (starts with {head[:40]!r})")


def fetch_genome(url: str, fasta: str | Path, *, allowed_hosts: Sequence[str], md5: str | None = None,
                 retries: int = 4, backoff: float = 1.0) -> Path:
    """Download a genome FASTA (gzip, bgzip or plain, told apart by magic bytes), index it; return `fasta`.

    Files: the download goes to `<fasta>.src` via `fetch` (so `md5` is that of the file served, e.g.
    the .fa.gz listed in UCSC's md5sum.txt, and an interrupted download resumes); it is decompressed
    (or, if plain, renamed) to `<fasta>.tmp`, indexed with pyfaidx (`<fasta>.tmp.fai`), and then the
    index and the FASTA are renamed to `<fasta>.fai` and `<fasta>`, and `<fasta>.src` removed. So
    `<fasta>` and `<fasta>.fai` both exist only when complete, and when both exist nothing is done.
    If decompression or indexing fails, all these files are removed (a rerun starts clean) and
    DownloadError is raised.
    """
    import pyfaidx  # imported here: only this function needs it

    fasta = Path(fasta)
    fai = fasta.with_name(fasta.name + ".fai")
    if fasta.exists() and fai.exists():
        log.info("%s: skipping, genome and index exist", fasta)
        return fasta
    src = fasta.with_name(fasta.name + ".src")
    tmp = fasta.with_name(fasta.name + ".tmp")
    tmp_fai = tmp.with_name(tmp.name + ".fai")
    if fasta.exists():
        log.info("%s: no index %s; rebuilding from the download", fasta, fai)
        fasta.unlink()
    fetch(url, src, allowed_hosts=allowed_hosts, md5=md5, retries=retries, backoff=backoff)
    try:
        tmp.unlink(missing_ok=True)
        tmp_fai.unlink(missing_ok=True)
        _decompress_or_move(src, tmp)
        _check_fasta_start(tmp)
        log.info("%s: indexing", tmp)
        pyfaidx.Faidx(str(tmp)).close()
        os.replace(tmp_fai, fai)  # the .fai holds no file name, so it is valid under the final name
        os.replace(tmp, fasta)
    except (OSError, EOFError, ValueError, pyfaidx.FastaIndexingError) as e:
        for path in (tmp, tmp_fai, src, fai, fasta):
            path.unlink(missing_ok=True)
        raise DownloadError(f"could not prepare genome {fasta} from {url}: {type(e).__name__}: {e}") from e
    src.unlink(missing_ok=True)
    with open(fai) as f:
        n_seqs = sum(1 for _ in f)
    log.info("%s: ready (%d sequences, index %s)", fasta, n_seqs, fai)
    return fasta
