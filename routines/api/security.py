"""Authentication (bearer tokens), authorization (roles) and the failed-authentication rate limit.

Every route depends on `current_user`; routes that act depend on `require("operator")` or `require("admin")`.
A client address with `limit` failed authentications within `window` seconds gets 429 (with Retry-After) until
the oldest failure leaves the window, even with a valid token. Failures are logged with the address and the
reason, never the token.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from routines.api.errors import ApiError
from routines.api.tokens import Principal, authenticate
from routines.database.engine import get_engine, session_scope

logger = logging.getLogger("routines.api.auth")
RANKS = {"viewer": 0, "operator": 1, "admin": 2}
ROLE_LABELS = {"viewer": "leitura", "operator": "operador", "admin": "administrador"}


class FailedAuthLimiter:
    """Failed authentications per client address in a sliding window (in this process)."""

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until this address may try again (0: it may now)."""
        with self._lock:
            now = self.clock()
            failures = self._recent(address, now)
            if len(failures) < self.limit:
                if not failures:
                    self._failures.pop(address, None)
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address, self.clock()).append(self.clock())


def client_address(request: Request) -> str:
    return request.client.host if request.client else "desconhecido"


def session(request: Request) -> Iterator[Session]:
    """One transaction per request (committed when the route returns without error)."""
    with session_scope(get_engine(request.app.state.config.database_url)) as db:
        yield db


# Declares the scheme in the OpenAPI document (the "Authorize" button of /api/docs); checked by `authenticated`.
bearer = HTTPBearer(auto_error=False, description="`routines users token USUARIO`")


def current_user(
    request: Request, db: Session = Depends(session), _scheme: object = Depends(bearer)
) -> Principal:
    """The caller, from the bearer token; in the request's transaction (the route's `session` is the same one)."""
    return authenticated(request, db)


def authenticated(request: Request, db: Session) -> Principal:
    """The caller of `request`: 429 while its address is blocked, 401 without a valid token."""
    limiter: FailedAuthLimiter = request.app.state.limiter
    address = client_address(request)
    wait = limiter.retry_after(address)
    if wait:
        logger.warning("autenticação bloqueada: endereço %s, muitas falhas (tente em %ss)", address, wait)
        raise ApiError(
            429,
            f"muitas falhas de autenticação deste endereço: tente novamente em {wait} s",
            headers={"Retry-After": str(wait)},
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        reason = "sem cabeçalho Authorization: Bearer" if not header else "cabeçalho Authorization malformado"
        principal = None
    else:
        principal, reason = authenticate(db, token)
    if principal is None:
        limiter.failed(address)
        logger.warning(
            "falha de autenticação: endereço %s, %s %s, motivo %s",
            address,
            request.method,
            request.url.path,
            reason,
        )
        raise ApiError(
            401, "token ausente, inválido, expirado ou revogado", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.principal = principal
    return principal


def run_authenticated(request: Request, work):
    """`work(db, user)` in one worker thread and one transaction, authentication included: what the routes that
    every open page polls use (one thread hop per request instead of one per dependency)."""
    with session_scope(get_engine(request.app.state.config.database_url)) as db:
        return work(db, authenticated(request, db))


def require(role: str):
    """A dependency: the current user, who must have at least `role`."""

    def check(user: Principal = Depends(current_user)) -> Principal:
        if RANKS.get(user.role, -1) < RANKS[role]:
            raise ApiError(
                403, f"ação permitida a partir do papel {ROLE_LABELS[role]} ({role}); o seu é {user.role}"
            )
        return user

    return check
