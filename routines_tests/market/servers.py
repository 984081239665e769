"""A loopback file server for the market tests: serves `server.files` {name: (status, body, content type)}."""

from __future__ import annotations

from routines_tests.helpers import QuietHandler


class FileServer(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        self.server.requests.append((self.command, self.path))
        entry = self.server.files.get(name)
        if entry is None:
            self.send_body(404, b"<html><body>Not Found</body></html>", "text/html")
            return
        status, body, content_type = entry
        self.send_body(status, body, content_type)


def zip_entry(body: bytes) -> tuple[int, bytes, str]:
    return (200, body, "application/x-zip-compressed")


class FlakyFileServer(FileServer):
    """Answers `server.failures` (a list consumed in order: an HTTP status, or "slow" = sleep past the client's
    timeout) before serving the files normally."""

    def _serve(self) -> None:
        import time

        if self.server.failures:
            failure = self.server.failures.pop(0)
            self.server.requests.append((self.command, self.path))
            if failure == "slow":
                time.sleep(self.server.slow_seconds)
                return
            self.send_body(failure, b"<html><body>erro temporario</body></html>", "text/html")
            return
        super()._serve()
