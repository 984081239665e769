"""SMTP passwords encrypted at rest with Fernet (cryptography), key from ROUTINES_SECRET_KEY.

ROUTINES_SECRET_KEY is either a Fernet key (`routines reports secret-key` prints a new one; used as it is) or a
passphrase of at least 16 characters, stretched with scrypt (N=2^17, r=8, p=1: 128 MiB and about 0.3 s per
derivation, cached per process) and a random 16-byte salt per password. A password encrypted from a passphrase is
stored as `scrypt$<N>$<r>$<p>$<salt>$<Fernet token>`, so the cost can be raised later without losing old rows.
Passwords encrypted by earlier versions from a passphrase with a bare SHA-256 are still read, and re-encrypted by
`routines reports rotate-key` (which also moves every password to a new key). Never logged, never stored.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from routines.errors import UserError

SECRET_KEY_ENV = "ROUTINES_SECRET_KEY"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SCRYPT_PREFIX = "scrypt$"
MIN_PASSPHRASE = 16


class SecretKeyError(UserError):
    pass


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _secret(secret: str | None) -> str:
    secret = secret if secret is not None else os.environ.get(SECRET_KEY_ENV, "").strip()
    if not secret:
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not set: it encrypts the SMTP passwords (create one with "
            "`routines reports secret-key`)"
        )
    return secret


def _fernet_key(secret: str) -> Fernet | None:
    """The secret as a Fernet key, or None when it is a passphrase."""
    try:
        return Fernet(secret.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        if len(secret) < MIN_PASSPHRASE:
            raise SecretKeyError(
                f"{SECRET_KEY_ENV} is too short: use a Fernet key or a passphrase of {MIN_PASSPHRASE}+ characters"
            ) from None
        return None


@lru_cache(maxsize=16)
def _stretched(passphrase: str, salt: bytes, n: int, r: int, p: int) -> Fernet:
    key = hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _legacy(passphrase: str) -> Fernet:
    """The derivation of earlier versions (bare SHA-256 of the passphrase): read only, never written."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode("utf-8")).digest()))


def encrypt(plain: str, secret: str | None = None) -> str:
    secret = _secret(secret)
    direct = _fernet_key(secret)
    if direct is not None:
        return direct.encrypt(plain.encode("utf-8")).decode("ascii")
    salt = os.urandom(16)
    token = (
        _stretched(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).encrypt(plain.encode("utf-8")).decode("ascii")
    )
    encoded_salt = base64.urlsafe_b64encode(salt).decode("ascii")
    return f"{SCRYPT_PREFIX}{SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded_salt}${token}"


def uses_legacy_derivation(token: str, secret: str | None = None) -> bool:
    """Encrypted from a passphrase with the old bare SHA-256 derivation (to re-encrypt with `rotate-key`)."""
    return not token.startswith(SCRYPT_PREFIX) and _fernet_key(_secret(secret)) is None


def decrypt(token: str, secret: str | None = None) -> str:
    secret = _secret(secret)
    try:
        if token.startswith(SCRYPT_PREFIX):
            n, r, p, salt, fernet_token = token[len(SCRYPT_PREFIX) :].split("$", 4)
            if _fernet_key(secret) is not None:
                raise InvalidToken
            fernet = _stretched(secret, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
            return fernet.decrypt(fernet_token.encode("ascii")).decode("utf-8")
        fernet = _fernet_key(secret) or _legacy(secret)
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretKeyError(
            f"the SMTP password cannot be decrypted with the current {SECRET_KEY_ENV} (was the key changed? "
            "re-encrypt with `routines reports rotate-key --old-key-env VAR` or set the password again with "
            "`routines reports smtp`)"
        ) from None
