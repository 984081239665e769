"""The FastAPI application of the business API and pages (`create_app`).

Settings come from the same environment as the CLI: ROUTINES_DATABASE_URL (else the embedded SQLite),
ROUTINES_FILE_STORE_ROOT, DAGSTER_HOME (routines status), and ROUTINES_API_AUTH_FAILURES /
ROUTINES_API_AUTH_WINDOW (failed authentications allowed per client address per window of seconds).

Errors are JSON `{"erro": "...", "campo": "..."}` (campo: the field at fault, or null) with the status that says
what happened: 400 bad request, 401 no or bad token, 403 role too low, 404 not found (also another company's or
another user's object), 409 the object's state does not allow it, 422 a field is invalid, 429 too many failed
authentications, 503 a dependency (Dagster instance) is not available.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from routines import settings
from routines.api.errors import ApiError, ErrorBody
from routines.api.security import FailedAuthLimiter
from routines.errors import ConflictError, UserError

logger = logging.getLogger("routines.api")
STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    file_store_root: Path
    auth_failures: int = 10
    auth_window: float = 60.0

    @classmethod
    def from_env(cls) -> ApiSettings:
        return cls(
            database_url=settings.database_url(),
            file_store_root=settings.file_store_root(),
            auth_failures=settings.env_int("ROUTINES_API_AUTH_FAILURES", 10, 1),
            auth_window=float(settings.env_int("ROUTINES_API_AUTH_WINDOW", 60, 1)),
        )


def _field_of(loc) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def create_app(config: ApiSettings | None = None) -> FastAPI:
    from routines.api import pages
    from routines.api.routes import invoices, notifications, reports, routines_status, tasks, users

    config = config or ApiSettings.from_env()
    app = FastAPI(
        title="routines: API de negócio",
        description=(
            "Tarefas, notificações, aprovação de faturas, relatórios e situação das rotinas. "
            "Toda rota exige `Authorization: Bearer <token>` (`routines users token USUARIO`)."
        ),
        version="1.0",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below with Swagger UI's files from the package, not from a CDN
        redoc_url=None,
    )
    app.state.config = config
    app.state.limiter = FailedAuthLimiter(config.auth_failures, config.auth_window)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return JSONResponse(
            ErrorBody(erro=exc.message, campo=exc.field).model_dump(), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        field = _field_of(first.get("loc", ()))
        message = first.get("msg", "requisição inválida")
        return JSONResponse({"erro": f"{field}: {message}" if field else message, "campo": field}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        messages = {404: "não encontrado", 405: "método não permitido"}
        detail = exc.detail if isinstance(exc.detail, str) else None
        text = (
            messages.get(exc.status_code, detail)
            if detail in (None, "Not Found", "Method Not Allowed")
            else detail
        )
        return JSONResponse({"erro": text or "erro", "campo": None}, exc.status_code, headers=exc.headers)

    @app.exception_handler(UserError)
    async def _user_error(_request: Request, exc: UserError):
        return JSONResponse({"erro": str(exc), "campo": getattr(exc, "field", None)}, 400)

    @app.exception_handler(ConflictError)
    async def _conflict(_request: Request, exc: ConflictError):
        return JSONResponse({"erro": str(exc), "campo": None}, 409)

    for module in (tasks, notifications, invoices, reports, routines_status, users):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _interactive_docs(app)
    return app


def _interactive_docs(app: FastAPI) -> None:
    """`/api/docs`: Swagger UI with its JavaScript and CSS served by this service (works without internet)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/api/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/api/docs", include_in_schema=False)
    async def _docs():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - documentação",
            swagger_js_url="/api/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs/assets/swagger-ui.css",
            swagger_favicon_url="/api/docs/assets/favicon-32x32.png",
        )


def app_from_env() -> FastAPI:
    """The uvicorn factory (`routines.api.app:app_from_env`)."""
    level = os.environ.get("ROUTINES_API_LOG_LEVEL", "INFO").upper()
    logging.getLogger("routines.api").setLevel(level)
    return create_app()
