"""The company's users, managed by its admins (`routines.companies.users`, as `routines users ...`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from routines.api.errors import ERROR_RESPONSES, MAX_ID, ApiError, not_found
from routines.api.security import current_user, require, session
from routines.api.tokens import Principal
from routines.companies import users as service
from routines.companies.models import User
from routines.errors import UserError

router = APIRouter(prefix="/api/users", tags=["usuários"], responses=ERROR_RESPONSES)
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


class UserOut(BaseModel):
    id: int
    name: str
    email: str
    role: str
    active: bool
    company: str


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    role: Literal["admin", "operator", "viewer"]


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        name=user.name,
        email=user.email,
        role=user.role,
        active=user.active,
        company=user.company.code,
    )


@router.get("/me/", response_model=UserOut, summary="Quem é o usuário do token")
def me(user: Principal = Depends(current_user), db: Session = Depends(session)):
    return user_out(db.get(User, user.user_id))


@router.get("/", response_model=list[UserOut], summary="Os usuários da empresa (administrador)")
def list_users(user: Principal = Depends(require("admin")), db: Session = Depends(session)):
    return [
        user_out(u) for u in service.list_users(db, company_code=user.company_code, include_inactive=True)
    ]


@router.post(
    "/", response_model=UserOut, status_code=201, summary="Adiciona um usuário à empresa (administrador)"
)
def add_user(body: UserIn, user: Principal = Depends(require("admin")), db: Session = Depends(session)):
    try:
        added = service.add_user(
            db, company_code=user.company_code, name=body.name, email=body.email, role=body.role
        )
    except UserError as exc:
        raise ApiError(422, str(exc), "email" if "e-mail" in str(exc) else None) from None
    return user_out(added)


@router.post(
    "/{user_id}/disable/", response_model=UserOut, summary="Desativa um usuário da empresa (administrador)"
)
def disable_user(
    user_id: UserId, user: Principal = Depends(require("admin")), db: Session = Depends(session)
):
    target = db.get(User, user_id)
    if target is None or target.company_id != user.company_id:
        raise not_found("usuário", user_id)
    return user_out(service.disable_user(db, user_id))
