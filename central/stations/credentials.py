"""Device passwords and the Mosquitto password and ACL files that let devices in (pure).

Mosquitto 2 stores `user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password)>`
(the format `mosquitto_passwd` writes; 101 iterations and a 12-byte salt are its defaults). We
keep that hash, never the password: `zamio device add` shows the password once. The ACL lets a
device publish only under its own station and device, so one device cannot speak for another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable

ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24  # 32 characters of URL-safe base64


def new_password() -> str:
    """A random password for a device."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The $7$ PBKDF2-SHA512 hash Mosquitto's password file holds."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify(password: str, stored: str) -> bool:
    """Whether `password` matches a $7$ hash."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt = base64.b64decode(parts[3])
    return secrets.compare_digest(mosquitto_hash(password, salt, int(parts[2])), stored)


def password_file(devices: Iterable[tuple[str, str]]) -> str:
    """Mosquitto password file lines for (device code, password hash) pairs."""
    return "".join(f"{code}:{password_hash}\n" for code, password_hash in devices)


def acl_file(devices: Iterable[tuple[str, str]], readers: Iterable[str] = ()) -> str:
    """A Mosquitto ACL: each (device code, station code) writes only its own topics."""
    blocks = [
        f"user {device}\ntopic write stations/{station}/devices/{device}/#\n"
        for device, station in devices
    ]
    blocks += [f"user {reader}\ntopic read stations/#\n" for reader in readers]
    return "\n".join(blocks)
