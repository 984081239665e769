"""Test helpers shared by every domain: loopback HTTP servers and the shared/ reference data."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data; when it is absent the test is skipped with the reason, or fails with CI=true."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"reference data {path} is not present (it ships beside the repository, in ../shared)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the reference data is required)", pytrace=False)
        pytest.skip(message)
    return path


class QuietHandler(BaseHTTPRequestHandler):
    """Base for fake servers: no request logging on stderr, HTTP/1.1 keep-alive."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def send_body(self, status: int, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextmanager
def serve(
    handler: type[BaseHTTPRequestHandler], **server_attributes
) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """Run `handler` on 127.0.0.1 (free port) in a thread; yields (base URL, server). Attributes given are set
    on the server object, where handlers read them as `self.server.<name>`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in server_attributes.items():
        setattr(server, name, value)
    thread = threading.Thread(target=server.serve_forever, name="fake-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def load_code_location():
    """The whole `routines` code location, as Dagster loads it (`routines.definitions`)."""
    from routines.definitions import defs

    return defs()


def apply_partition_requests(instance, result) -> None:
    """What the daemon does with a sensor result's dynamic partition requests (add and delete)."""
    import dagster as dg

    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
