"""The pages for people (pt-BR, plain HTML + a small script, no build step), served by the API.

The pages themselves hold no data: the script signs in with the person's token (kept in sessionStorage, gone
when the tab closes) and calls the same routes as any client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"entrar": "entrar.html", "processamento": "processamento.html", "faturas": "faturas.html",
         "relatorios": "relatorios.html"}  # fmt: skip

router = APIRouter(include_in_schema=False)


@router.get("/")
def home():
    return RedirectResponse("/paginas/processamento", status_code=307)


def _page(file: str):
    def serve():
        return FileResponse(
            STATIC / file, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"}
        )

    return serve


for _name, _file in PAGES.items():
    router.add_api_route(f"/paginas/{_name}", _page(_file), methods=["GET"], name=f"page_{_name}")
