"""SMTP passwords encrypted at rest with Fernet (cryptography), key from ROUTINES_SECRET_KEY.

ROUTINES_SECRET_KEY is a Fernet key (`routines reports secret-key` prints a new one) or any passphrase of at
least 16 characters (a key is derived from it with SHA-256). Never logged, never stored in the database.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.fernet import Fernet, InvalidToken

from routines.errors import UserError

SECRET_KEY_ENV = "ROUTINES_SECRET_KEY"


class SecretKeyError(UserError):
    pass


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _fernet(secret: str | None = None) -> Fernet:
    secret = secret if secret is not None else os.environ.get(SECRET_KEY_ENV, "").strip()
    if not secret:
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not set: it encrypts the SMTP passwords (create one with "
            "`routines reports secret-key`)"
        )
    try:
        return Fernet(secret.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        if len(secret) < 16:
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} is too short: use a Fernet key or 16+ characters"
            ) from None
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest()))


def encrypt(plain: str, secret: str | None = None) -> str:
    return _fernet(secret).encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt(token: str, secret: str | None = None) -> str:
    try:
        return _fernet(secret).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretKeyError(
            f"the SMTP password cannot be decrypted with the current {SECRET_KEY_ENV} (was the key changed? "
            "set the password again with `routines reports smtp`)"
        ) from None
