"""Passwords (argon2id) and personal access tokens `zamio_pat_<key_id>_<secret>` (pure).

The prefix lets secret scanners find a leaked token; `key_id` finds its row without the secret;
only the sha-256 of the whole token is stored (190 random bits need no slow hash)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "zamio_pat_"
ONE_TIME_PREFIX = "zamio_otk_"
KEY_ID_CHARS = 12
SECRET_CHARS = 32  # base62: 190 bits
_BASE62 = string.ascii_letters + string.digits
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
TOKEN = re.compile(
    rf"{TOKEN_PREFIX}(?P<key_id>[a-z0-9]{{{KEY_ID_CHARS}}})_[A-Za-z0-9]{{{SECRET_CHARS}}}"
)
ONE_TIME = re.compile(rf"{ONE_TIME_PREFIX}[A-Za-z0-9]{{{SECRET_CHARS}}}")
PASSWORD_CHARS_MIN = 12
PASSWORD_CHARS_MAX = 1024  # argon2 takes anything; a megabyte "password" is an attack

_HASHER = PasswordHasher()  # argon2id, RFC 9106's second recommended parameters
# verified against when the user does not exist, so a wrong email costs as long as a wrong password
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (salted, parameters in the string)."""
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one `password_hash` was made from; None never matches, in
    the same time."""
    if len(password) > PASSWORD_CHARS_MAX:
        return False
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(password_hash)


def check_password(password: str) -> str | None:
    """Why `password` is too weak or too long to set, or None."""
    if len(password) < PASSWORD_CHARS_MIN:
        return f"a password needs at least {PASSWORD_CHARS_MIN} characters"
    if len(password) > PASSWORD_CHARS_MAX:
        return f"a password has at most {PASSWORD_CHARS_MAX} characters"
    if password.strip() != password or not password.isprintable():
        return "a password has no leading or trailing blanks and no control characters"
    return None


def new_password() -> str:
    """A one-time password to hand over: 20 base62 characters."""
    return "".join(secrets.choice(_BASE62) for _ in range(20))


def new_token() -> tuple[str, str]:
    """(key_id, token) of a new personal access token."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_CHARS))
    secret = "".join(secrets.choice(_BASE62) for _ in range(SECRET_CHARS))
    return key_id, f"{TOKEN_PREFIX}{key_id}_{secret}"


def new_one_time_token() -> str:
    """An invite or password-reset token."""
    return ONE_TIME_PREFIX + "".join(secrets.choice(_BASE62) for _ in range(SECRET_CHARS))


def token_key_id(token: str) -> str | None:
    """The key id of a well-formed personal access token, or None."""
    found = TOKEN.fullmatch(token)
    return None if found is None else found["key_id"]


def digest(token: str) -> str:
    """The sha-256 hex of a token: what is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def digest_matches(token: str, stored_digest: str) -> bool:
    """Whether `token` hashes to `stored_digest`, in constant time."""
    return hmac.compare_digest(digest(token), stored_digest)
