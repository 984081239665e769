"""The JSON error of every route: `{"erro": "...", "campo": "..."}`."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    erro: str
    campo: str | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        self.status, self.message, self.field, self.headers = status, message, field, headers
        super().__init__(message)


def not_found(what: str, object_id: int | str) -> ApiError:
    return ApiError(404, f"{what} {object_id} não encontrado(a)")


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


# Documented on every route (OpenAPI), so that clients and schemathesis know the error shape.
ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Requisição inválida"),
        (401, "Token ausente, inválido, expirado ou revogado"),
        (403, "Papel do usuário insuficiente"),
        (404, "Não encontrado (ou de outra empresa ou de outro usuário)"),
        (409, "O estado atual do objeto não permite a ação"),
        (422, "Campo inválido (campo indica qual)"),
        (429, "Muitas falhas de autenticação deste endereço"),
    )
}


MAX_ID = 2_147_483_647  # ids are 32-bit integers in the database
