"""Robust downloads of ENCODE files, reference genomes and other data files (stdlib urllib only).

`fetch` is the building block: it only talks to an explicit allow-list of hosts (every redirect hop
is checked too), writes to `<dest>.part` and renames onto `dest` only once the transfer is complete
and its md5 (when known) is verified, retries network errors, 5xx/429 answers and md5 mismatches
with exponential backoff, and leaves nothing behind when it finally fails. Beside the part,
`<dest>.part.validator` records the version of the remote file the part holds (its strong ETag,
else its Last-Modified date); an interrupted part is resumed only with that validator in
`If-Range`, so a server whose file has changed sends the whole new file instead of the rest of
another one. A part without a usable validator is started over. A destination whose md5 matches the
one given is not downloaded again (no request is made), so reruns are cheap and idempotent; without
an md5 an existing destination cannot be verified, so it is downloaded again and replaced only by a
complete new copy.

On top of it: genomes decompressed, indexed with pyfaidx and verified against the md5sum.txt their
host publishes (`fetch_genome`); ENCODE files are in `gradcorr.data.encode`.
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
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DownloadError", "check_url", "discard_partial", "fetch", "fetch_genome", "md5sum"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read and written at a time, and hashed at a time
PROGRESS_SECONDS = 10.0  # log progress at least this often while bytes arrive...
PROGRESS_FRACTION = 0.1  # ...or whenever another tenth of a file of known size has arrived
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # the only hosts plain http may reach
MD5_RE = re.compile(r"^[0-9a-f]{32}$")
GZIP_MAGIC = b"\x1f\x8b"
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)
_STRONG_ETAG_RE = re.compile(r'^"[^"]*"$')  # a weak tag, W/"...", may not be used in If-Range
CHECKSUM_LISTING = "md5sum.txt"  # what UCSC (and others) publish beside their files: "<md5>  <name>" lines
GENOME_MD5_HINT = "give the genome's md5 in the config (invivo.genomes.<assembly>: {url: ..., md5: ...})"


class DownloadError(RuntimeError):
    """A download that failed for good: refused URL, HTTP 4xx, or still failing after all retries.

    `status` is the HTTP status that ended it, when one did (404 for a missing file), else None.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


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


def _unsafe_character(url: str) -> str | None:
    """Why `url` holds a character URL parsers disagree on (backslash, whitespace, control); None if none."""
    for i, char in enumerate(url):
        if char == "\\":
            return f"it contains a backslash at position {i} (some clients read it as '/', so the host is ambiguous)"
        if char.isspace() or unicodedata.category(char) == "Cc":
            return f"it contains whitespace or a control character {char!r} at position {i}"
    return None


def check_url(url: str, allowed_hosts: Sequence[str]) -> None:
    """Raise DownloadError unless `url` is https (or http to a loopback host) to a host in `allowed_hosts`.

    Host names are compared exactly (case-insensitively): no suffix or subdomain matching, so
    "www.encodeproject.org.evil.com" does not pass for "www.encodeproject.org". URLs that HTTP
    clients may parse differently are refused outright, whatever their host: a backslash
    ("https://evil.com\\@allowed.host/" is evil.com to a browser), whitespace, control characters,
    and user information before the host ("user@host").
    """
    allowed = _normalise_hosts(allowed_hosts)
    unsafe = _unsafe_character(url)
    if unsafe:
        raise DownloadError(f"refusing to download {url!r}: {unsafe}")
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as e:
        raise DownloadError(f"refusing to download {url!r}: not a valid URL ({e})") from e
    if "@" in parts.netloc:
        raise DownloadError(f"refusing to download {url!r}: it has user information before the host (user@host), "
                            "which is never needed here and can disguise the host")
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


def _validator_path(part: Path) -> Path:
    """The sidecar naming the remote file version `part` holds: `<dest>.part.validator`."""
    return part.with_name(part.name + ".validator")


def _discard(part: Path) -> None:
    """Remove a part and its validator sidecar (either may be missing)."""
    part.unlink(missing_ok=True)
    _validator_path(part).unlink(missing_ok=True)


def discard_partial(dest: str | Path) -> None:
    """Remove what an interrupted `fetch` to `dest` left (`<dest>.part` and `<dest>.part.validator`)."""
    _discard(_part_path(Path(dest)))


def _response_validator(headers: http.client.HTTPMessage) -> str | None:
    """The validator If-Range can use for a response: its strong ETag, else its Last-Modified date.

    None when the response has neither, or when its ETag is weak (W/"..."): If-Range needs a strong
    validator, and a server that only vouches for weak equality may serve different bytes.
    """
    etag = (headers.get("ETag") or "").strip()
    if etag:
        return etag if _STRONG_ETAG_RE.match(etag) else None
    return (headers.get("Last-Modified") or "").strip() or None


def _record_validator(part: Path, validator: str | None) -> None:
    """Write (or, with none, remove) the sidecar of `part`; called before any byte of a new part is written."""
    sidecar = _validator_path(part)
    if validator is None:
        sidecar.unlink(missing_ok=True)
        return
    try:
        sidecar.write_text(validator + "\n", encoding="utf-8")
    except OSError as e:
        raise DownloadError(f"cannot write {sidecar}: {e}") from e


def _recorded_validator(part: Path) -> str | None:
    """The validator recorded for `part`, or None when there is no (readable, non-empty) sidecar."""
    try:
        value = _validator_path(part).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value if value and "\n" not in value else None


def _resume_point(url: str, part: Path) -> tuple[int, str | None]:
    """(offset, validator) to resume `part` from; (0, None) after discarding a part that cannot be resumed safely.

    A part is resumable only with a recorded validator: without one nothing tells whether its bytes
    come from the version of the file the server has now.
    """
    offset = part.stat().st_size if part.exists() else 0
    if not offset:
        return 0, None
    validator = _recorded_validator(part)
    if validator is None:
        log.info("%s: %s (%d bytes) has no record of which version of the file it holds; starting over", url, part,
                 offset)
        _discard(part)
        return 0, None
    return offset, validator


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


def _complete_on_416(url: str, part: Path, offset: int, validator: str | None, error: urllib.error.HTTPError,
                     verifiable: bool) -> bool:
    """Whether a part the server refused to extend (416) holds the whole file; if not, it is discarded.

    It does when the server's total size equals it, or, when the server gives no size, if an md5 will
    check it (`verifiable`). A 416 carrying a validator other than the recorded one means another file.
    """
    _, total = _parse_content_range(error.headers.get("Content-Range"))
    current = _response_validator(error.headers)
    error.close()
    same_file = current is None or current == validator
    if same_file and (total == offset or (total is None and verifiable)):
        log.info("%s: %s already holds all %d bytes", url, part, offset)
        return True
    log.info("%s: %s (%d bytes) does not match the remote file (%s bytes); starting over", url, part, offset,
             total if total is not None else "?")
    _discard(part)
    return False


def _check_resumed(url: str, part: Path, offset: int, validator: str | None,
                   response: http.client.HTTPResponse) -> int | None:
    """For a 206 answer: the file's total size, after checking it continues `part` (else discard it and raise)."""
    start, total = _parse_content_range(response.headers.get("Content-Range"))
    if start != offset:
        _discard(part)
        raise _TransferError(f"asked to resume at byte {offset}, the server answered from byte {start}")
    current = _response_validator(response.headers)
    if current is not None and current != validator:  # a server that ignored If-Range: the file has changed
        _discard(part)
        raise _TransferError(f"the remote file changed since {part} was started ({validator} -> {current})")
    log.info("%s: resuming at byte %d", url, offset)
    return total


def _write_body(url: str, part: Path, response: http.client.HTTPResponse, mode: str, offset: int,
                total: int | None) -> int:
    """Stream the response body into `part` (opened with `mode`); return the number of bytes received."""
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
    return received


def _transfer(opener: urllib.request.OpenerDirector, url: str, part: Path, timeout: float, verifiable: bool) -> None:
    """One attempt: download (or resume) `url` into `part`. Raises on any failure; the caller classifies it.

    A part is resumed with `Range` and `If-Range: <recorded validator>`, so the server sends either the
    rest of the same file (206) or the whole current file (200, written from scratch, its validator
    recorded first). A complete-looking part is left for the caller to verify. `verifiable` says
    whether an md5 will check the result, which decides whether an existing part the server refuses
    to extend (416) may be kept as a candidate when the server does not say how large the file is.
    """
    offset, validator = _resume_point(url, part)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        request.add_header("If-Range", validator)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise
        if not _complete_on_416(url, part, offset, validator, e, verifiable):
            _transfer(opener, url, part, timeout, verifiable)
        return

    with response:
        length_header = response.headers.get("Content-Length", "")
        length = int(length_header) if length_header.strip().isdigit() else None
        if response.status == 206:
            total, mode = _check_resumed(url, part, offset, validator, response), "ab"
        else:
            if offset:
                log.info("%s: the server sent the whole file (it changed, or Range is not supported); starting over",
                         url)
            _record_validator(part, _response_validator(response.headers))
            offset, total, mode = 0, length, "wb"
        received = _write_body(url, part, response, mode, offset, total)
    if length is not None and received < length:
        raise _TransferError(f"connection closed after {received} of {length} bytes")


def _is_retryable_http(code: int) -> bool:
    return code == 429 or code >= 500


def _keep_existing(dest: Path, expected: str | None) -> bool:
    """Whether an existing `dest` is a verified copy: a wrong one is deleted, one with no md5 to check is kept
    (until a new copy replaces it)."""
    if expected is None:
        log.info("%s: exists, but no md5 was given to verify it; downloading it again", dest)
        return False
    got = md5sum(dest)
    if got == expected:
        log.info("%s: skipping, verified copy exists (md5 %s)", dest, got)
        return True
    log.warning("%s: existing copy has md5 %s, expected %s; downloading it again", dest, got, expected)
    dest.unlink()
    return False


def fetch(url: str, dest: str | Path, *, allowed_hosts: Sequence[str], md5: str | None = None,
          retries: int = 4, backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` (atomically, resumably, md5-verified when `md5` is given); return `dest`.

    An existing `dest` whose md5 matches `md5` is kept without any request; with the wrong md5 it is
    deleted and downloaded again. Without an md5 an existing `dest` cannot be verified, so it is
    downloaded again: it is left as it is until a complete new copy replaces it, and stays if the
    download fails.

    The data go to `<dest>.part` and are renamed onto `dest` only when complete and verified. The
    server's validator for them (strong ETag, else Last-Modified) is kept in `<dest>.part.validator`;
    a `.part` left by an interrupted attempt is resumed with `Range: bytes=<size>-` and `If-Range:
    <validator>`, so a changed remote file is sent whole and replaces the part. A part with no
    recorded validator (none was sent, or only a weak ETag) is started over, and so is one a server
    ignoring Range answers whole.

    Network errors, short transfers, HTTP 5xx and 429 and md5 mismatches are retried. `retries` is
    the number of attempts in all (at least 1); after failed attempt number `attempt` (from 0) it
    sleeps `backoff * 2**attempt` seconds. A part that fails its md5 is deleted before the next
    attempt, so it is never resumed. Other HTTP errors (404, 403, ...; DownloadError.status says
    which) and URLs or redirects outside `allowed_hosts` (see `check_url`) fail at once. Every
    failure raises DownloadError naming the URL, `dest` and the cause, and removes the `.part` file
    and its validator.
    """
    check_url(url, allowed_hosts)
    dest = Path(dest)
    expected = _normalise_md5(md5) if md5 is not None else None
    if retries < 1:
        raise ValueError(f"retries (the number of attempts) must be >= 1, got {retries}")
    if dest.exists() and _keep_existing(dest, expected):
        return dest

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
                    raise DownloadError(f"could not download {url} to {dest}: {cause}", status=e.code) from e
                continue
            except (urllib.error.URLError, http.client.HTTPException, OSError, _TransferError) as e:
                cause = f"{type(e).__name__}: {getattr(e, 'reason', None) or e}"
                continue
            if expected is not None:
                got = md5sum(part)
                if got != expected:
                    _discard(part)
                    cause = f"md5 mismatch: expected {expected}, got {got}"
                    continue
            os.replace(part, dest)
            _validator_path(part).unlink(missing_ok=True)
            log.info("%s: done (%s%s)", dest, _size(dest.stat().st_size),
                     f", md5 {expected} verified" if expected else "")
            return dest
        raise DownloadError(f"could not download {url} to {dest} after {attempts} attempt(s); last error: {cause}")
    except DownloadError:
        _discard(part)
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


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _check_fasta_start(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    if not head.startswith(b">"):
        raise ValueError(f"does not look like FASTA (starts with {head[:40]!r})")


def _listed_md5(listing: str, name: str, label: str) -> str | None:
    """The md5 an md5sum-style `listing` ("<md5>  <name>" lines; "*<name>" in binary mode) gives for `name`.

    None when no line names it; ValueError (naming `label`) for a line that names it but does not parse,
    or for lines that give it different checksums.
    """
    found = set()
    for number, line in enumerate(listing.splitlines(), 1):
        fields = line.split()
        if name not in (f.lstrip("*") for f in fields):
            continue
        if len(fields) != 2 or fields[1].lstrip("*") != name or not MD5_RE.match(fields[0].lower()):
            raise ValueError(f"{label} line {number} names {name} but is not '<md5>  {name}': {line.strip()!r}")
        found.add(fields[0].lower())
    if len(found) > 1:
        raise ValueError(f"{label} gives {name} different checksums: {sorted(found)}")
    return found.pop() if found else None


def _published_md5(url: str, fasta: Path, *, allowed_hosts: Sequence[str], retries: int, backoff: float) -> str:
    """The md5 of `url` from the md5sum.txt its host publishes beside it (as UCSC does for its genomes).

    The listing is downloaded to `<fasta>.md5sum.txt` and removed afterwards. A missing listing, or one
    with no usable line for the file, raises DownloadError saying to give the md5 in the config.
    """
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rsplit("/", 1)[-1]
    listing_url = urllib.parse.urljoin(url, CHECKSUM_LISTING)
    if not name:
        raise DownloadError(f"cannot verify genome {url}: the URL names no file to look up in {CHECKSUM_LISTING}; "
                            f"{GENOME_MD5_HINT}")
    listing = fasta.with_name(fasta.name + "." + CHECKSUM_LISTING)
    try:
        fetch(listing_url, listing, allowed_hosts=allowed_hosts, retries=retries, backoff=backoff)
        md5 = _listed_md5(listing.read_text(encoding="utf-8", errors="replace"), name, listing_url)
    except DownloadError as e:
        cause = (f"its host publishes no {CHECKSUM_LISTING} at {listing_url} (HTTP {e.status})"
                 if e.status in (404, 410) else f"its checksum list could not be read ({e})")
        raise DownloadError(f"cannot verify genome {url}: {cause}; {GENOME_MD5_HINT}", status=e.status) from e
    except ValueError as e:
        raise DownloadError(f"cannot verify genome {url}: {e}; {GENOME_MD5_HINT}") from e
    finally:
        listing.unlink(missing_ok=True)
    if md5 is None:
        raise DownloadError(f"cannot verify genome {url}: {listing_url} has no line for {name}; {GENOME_MD5_HINT}")
    log.info("%s: md5 %s, from %s", url, md5, listing_url)
    return md5


def fetch_genome(url: str, fasta: str | Path, *, allowed_hosts: Sequence[str], md5: str | None = None,
                 retries: int = 4, backoff: float = 1.0) -> Path:
    """Download a genome FASTA (gzip, bgzip or plain, told apart by magic bytes), index it; return `fasta`.

    The download is always md5-verified: by `md5` (that of the file served, e.g. the .fa.gz) when
    given, else by the line for the URL's file name in the md5sum.txt published in the same folder
    (as UCSC does), fetched to `<fasta>.md5sum.txt` and removed after. With no such file (HTTP 404)
    or no well-formed line for the file, DownloadError says to give the md5 in the config.

    Files: the download goes to `<fasta>.src` via `fetch` (so an interrupted download resumes); it
    is decompressed (or, if plain, renamed) to `<fasta>.tmp`, indexed with pyfaidx
    (`<fasta>.tmp.fai`), and then the index and the FASTA are renamed to `<fasta>.fai` and
    `<fasta>`, and `<fasta>.src` removed. So `<fasta>` and `<fasta>.fai` both exist only when
    complete, and when both exist nothing is done (no request is made). If the download,
    decompression or indexing fails, all these files are removed (a rerun starts clean) and
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
    try:
        if md5 is None:
            md5 = _published_md5(url, fasta, allowed_hosts=allowed_hosts, retries=retries, backoff=backoff)
        fetch(url, src, allowed_hosts=allowed_hosts, md5=md5, retries=retries, backoff=backoff)
    except DownloadError:
        _remove(tmp, tmp_fai, src, fai)  # what an earlier crash may have left
        raise
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
        _remove(tmp, tmp_fai, src, fai, fasta)
        raise DownloadError(f"could not prepare genome {fasta} from {url}: {type(e).__name__}: {e}") from e
    src.unlink(missing_ok=True)
    with open(fai) as f:
        n_seqs = sum(1 for _ in f)
    log.info("%s: ready (%d sequences, index %s)", fasta, n_seqs, fai)
    return fasta
