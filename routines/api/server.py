"""`routines api --host --port`: serve the business API and pages with uvicorn (one process)."""

from __future__ import annotations


def serve(host: str, port: int, log_level: str = "info") -> None:
    import uvicorn

    from routines.database.engine import get_engine

    get_engine()  # a missing embedded database is a clear error now, not on the first request
    uvicorn.run(
        "routines.api.app:app_from_env", factory=True, host=host, port=port, log_level=log_level,
        proxy_headers=False, access_log=True,
    )  # fmt: skip
