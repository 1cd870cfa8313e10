"""A small local HTTP file server for tests, with request counters and fault injection.

Usage::

    with FileServer(root) as server:          # or: with serve(root) as base_url: (just the URL)
        url = server.url + "/genome.fa.gz"    # "http://127.0.0.1:<port>/genome.fa.gz"
        server.add_faults("/genome.fa.gz", "500", "truncate")  # first GET fails, second is cut short
        ...
        assert server.count("/genome.fa.gz") == 3              # GET requests to that path
        assert server.requests[-1].headers.get("Range") == "bytes=123-"
        server.replace("/genome.fa.gz", b"new", after=1)       # the next GET still gets the old bytes

Files under `root` are served by URL path (GET and HEAD) with Content-Length, validators and
`Range: bytes=N-` / `bytes=N-M` support (206 with Content-Range; 416 past the end). A directory path
with `format=json` in the query string serves the directory's `index.json`, as ENCODE does:
`/files/ENCFF000AAA/?format=json` -> `root/files/ENCFF000AAA/index.json`. Counters, request records
and faults are keyed by the URL path without the query string; each record also counts the body
bytes sent.

Validators, as `FileServer(root, validators=...)` says: "etag" (the default, like Apache: a strong
ETag, `etag_of(content)`, and Last-Modified from the file's mtime), "last-modified" (no ETag),
"weak-etag" (`W/"..."` and Last-Modified) or "none". A Range request with `If-Range` is answered
with the range only when If-Range equals the strong ETag or the Last-Modified date sent now, and
with 200 and the whole file otherwise (a weak tag never matches), as RFC 9110 says.
`replace(path, data)` changes a file (and so its ETag and Last-Modified) between requests.

Faults (`add_faults(path, *faults)`), consumed one per GET request to `path`, in order:

- "corrupt": serve the file with some bytes altered (same length; see `corrupt`);
- "truncate": send the headers (full Content-Length) but only the first half of the body, then close;
- "no-range": ignore any Range header and send 200 with the whole file;
- "wrong-range": answer a Range request with 206 for the whole file (Content-Range from byte 0);
- "no-validators": send neither ETag nor Last-Modified (so If-Range cannot match either);
- "ignore-if-range": honour Range even when If-Range does not match (a server that ignores If-Range);
- "redirect:<url>": answer 302 with Location <url> (absolute, or a path on this server);
- "delay:<seconds>": wait that long before answering normally (for client timeouts);
- a 3-digit status such as "404", "429", "500", "503": answer with that status and a short body.

The faults that shape a normal answer (corrupt, truncate, no-range, wrong-range, no-validators,
ignore-if-range) combine with "+" into one request's fault, e.g. "truncate+no-validators".

`add_encode_file` writes an ENCODE-like mirror entry (metadata JSON and the file) under a root.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VALIDATOR_MODES = ("etag", "last-modified", "weak-etag", "none")


@dataclass
class RequestRecord:
    """One request the server received: method, URL path, query string, headers, status and body bytes sent."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0
    sent: int = 0


def etag_of(data: bytes) -> str:
    """The strong ETag the server sends for a file holding `data` (its quoted md5), so tests can predict it."""
    return f'"{hashlib.md5(data).hexdigest()}"'


def corrupt(data: bytes) -> bytes:
    """The bytes the "corrupt" fault serves: `data` with every 97th byte inverted (same length)."""
    out = bytearray(data)
    for i in range(0, len(out), 97):
        out[i] ^= 0xFF
    return bytes(out)


@dataclass
class FileServer:
    """Serves `root` on 127.0.0.1 (a free port) from a daemon thread; see the module docstring."""

    root: Path
    host: str = "127.0.0.1"
    validators: str = "etag"
    requests: list[RequestRecord] = field(default_factory=list)
    faults: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.validators not in VALIDATOR_MODES:
            raise ValueError(f"validators must be one of {VALIDATOR_MODES}, got {self.validators!r}")
        self.root = Path(self.root)
        self._lock = threading.Lock()
        self._replacements: dict[str, list] = {}  # URL path -> [GET requests still to answer, new content]
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, "http://127.0.0.1:<port>" (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    def start(self) -> FileServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = _Server((self.host, 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="test-http-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_faults(self, path: str, *faults: str) -> None:
        """Queue faults for the next GET requests to `path` (URL path, no query), one per request."""
        with self._lock:
            self.faults.setdefault(path, []).extend(faults)

    def count(self, path: str, method: str | None = "GET") -> int:
        """Number of `method` requests received for URL path `path` (method=None: all methods)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path and (method is None or r.method == method))

    def requests_for(self, path: str, method: str | None = "GET") -> list[RequestRecord]:
        """The `method` requests received for `path`, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def reset(self) -> None:
        """Forget recorded requests, pending faults and pending replacements."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self._replacements.clear()

    def replace(self, path: str, data: bytes, *, after: int = 0) -> None:
        """Serve `data` at URL path `path` from now on, or once `after` more GET requests to it have read the file.

        The file's mtime moves 2 s on, so its Last-Modified date changes along with its ETag: a new
        version of the file, as a server would publish it.
        """
        if after > 0:
            with self._lock:
                self._replacements[path] = [after, data]
            return
        target = self.root / path.lstrip("/")
        old_mtime = target.stat().st_mtime if target.exists() else time.time()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (old_mtime + 2, old_mtime + 2))

    def _file_read(self, path: str) -> None:
        """Count a GET that read the file at `path`; apply a replacement that was waiting for it."""
        with self._lock:
            pending = self._replacements.get(path)
            if pending is None:
                return
            pending[0] -= 1
            if pending[0] > 0:
                return
            del self._replacements[path]
        self.replace(path, pending[1])

    def _record(self, record: RequestRecord) -> str | None:
        """Store the request; return the next fault for it (GET only), or None."""
        with self._lock:
            self.requests.append(record)
            queue = self.faults.get(record.path)
            if record.method == "GET" and queue:
                return queue.pop(0)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet about clients that hang up early (timeouts, refused redirects); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` for the duration of the block; yields the base URL "http://127.0.0.1:<port>".

    Use `FileServer` directly to see request counters or inject faults.
    """
    with FileServer(root) as server:
        yield server.url


class _Handler(BaseHTTPRequestHandler):
    server_state: FileServer  # set on the per-server subclass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (BaseHTTPRequestHandler's name)
        pass  # keep test output quiet; FileServer.requests has the record

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def send_response(self, code: int, message: str | None = None) -> None:
        if getattr(self, "_record", None) is not None:
            self._record.status = code
        super().send_response(code, message)

    def _handle(self, send_body: bool) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        self._record = RequestRecord(self.command, path, parts.query, dict(self.headers.items()))
        fault = self.server_state._record(self._record)
        if fault is not None and fault.startswith("delay:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        if fault is not None and fault.startswith("redirect:"):
            self.send_response(302)
            self.send_header("Location", fault.split(":", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault is not None and fault.isdigit():
            self._send_status(int(fault))
            return
        file = self._resolve(path, parts.query)
        if file is None:
            self._send_status(404)
            return
        data, mtime = file.read_bytes(), file.stat().st_mtime
        if send_body:
            self.server_state._file_read(path)
        shaping = set(fault.split("+")) if fault else set()
        validators = self._validators(data, mtime, "no-validators" in shaping)
        if "corrupt" in shaping:
            data = corrupt(data)
        start, end = 0, len(data) - 1
        range_header = self.headers.get("Range")
        partial = range_header is not None and "no-range" not in shaping and (
            "ignore-if-range" in shaping or _if_range_holds(self.headers.get("If-Range"), validators))
        if partial:
            bounds = _parse_range(range_header, len(data))
            if bounds is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = bounds if "wrong-range" not in shaping else (0, len(data) - 1)
        body = data[start:end + 1]
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/json" if file.suffix == ".json" else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for name, value in validators.items():
            self.send_header(name, value)
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if not send_body:
            return
        if "truncate" in shaping:
            body = body[:len(body) // 2]
            self.close_connection = True
        self._record.sent = len(body)  # before writing: the client may read it all before this thread goes on
        self.wfile.write(body)
        self.wfile.flush()

    def _validators(self, data: bytes, mtime: float, withheld: bool) -> dict[str, str]:
        """The ETag and Last-Modified headers to send for a file holding `data`, as the server's mode says."""
        mode = "none" if withheld else self.server_state.validators
        out = {}
        if mode in ("etag", "weak-etag"):
            out["ETag"] = etag_of(data) if mode == "etag" else "W/" + etag_of(data)
        if mode != "none":
            out["Last-Modified"] = email.utils.formatdate(mtime, usegmt=True)
        return out

    def _resolve(self, path: str, query: str) -> Path | None:
        root = self.server_state.root.resolve()
        target = (root / path.lstrip("/")).resolve()
        if target != root and root not in target.parents:
            return None
        if target.is_dir():
            if "json" not in urllib.parse.parse_qs(query).get("format", []):
                return None
            target = target / "index.json"
        return target if target.is_file() else None

    def _send_status(self, code: int) -> None:
        body = f"{code} {self.responses.get(code, ('',))[0]}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _if_range_holds(value: str | None, validators: dict[str, str]) -> bool:
    """Whether a Range may be honoured: no If-Range, or one equal to the strong ETag or the Last-Modified date."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(("W/", '"')):
        etag = validators.get("ETag", "")
        return not value.startswith("W/") and not etag.startswith("W/") and value == etag
    return value == validators.get("Last-Modified")


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=N-` or `bytes=N-M` range; None when unsatisfiable."""
    unit, _, spec = value.partition("=")
    first, _, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not first.isdigit() or (last and not last.isdigit()):
        return None
    start, end = int(first), min(int(last) if last else size - 1, size - 1)
    return (start, end) if start < size and start <= end else None


def add_encode_file(root: Path, accession: str, data: bytes, *, assembly: str | None, file_format: str = "bed",
                    file_type: str = "bed narrowPeak", md5: str | None = None, ext: str = ".bed.gz",
                    output_type: str = "conservative IDR thresholded peaks", status: str = "released",
                    extra: dict | None = None) -> dict:
    """Write an ENCODE-like mirror entry under `root`; return the metadata record written.

    Writes `root/files/<acc>/@@download/<acc><ext>` (the data) and `root/files/<acc>/index.json`
    (served for `/files/<acc>/?format=json`) with href "/files/<acc>/@@download/<acc><ext>". `md5`
    defaults to the data's md5 (pass another to simulate a mismatch); `assembly=None` leaves the
    field out; `extra` adds or overrides fields.
    """
    root = Path(root)
    href = f"/files/{accession}/@@download/{accession}{ext}"
    target = root / href.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    record = {
        "@id": f"/files/{accession}/",
        "@type": ["File", "Item"],
        "accession": accession,
        "assembly": assembly,
        "md5sum": md5 if md5 is not None else hashlib.md5(data).hexdigest(),
        "file_format": file_format,
        "file_type": file_type,
        "output_type": output_type,
        "href": href,
        "status": status,
        "file_size": len(data),
    }
    if assembly is None:
        del record["assembly"]
    record.update(extra or {})
    (root / "files" / accession / "index.json").write_text(json.dumps(record, indent=1))
    return record
