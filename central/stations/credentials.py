"""Broker passwords and what each broker user may do, rendered as Mosquitto's files (pure).

Mosquitto 2 stores `user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password)>`
(the format `mosquitto_passwd` writes; 101 iterations and a 12-byte salt are its defaults). We
keep that hash, never the password, which is shown once when made.

A device writes its own batches, events and status and reads its own commands and config, each
named in full (no wildcards). Central's service accounts (names beginning `zamio-`) read every
device's batches, events and status (also through the `$share/zamio-ingest/` group) and write
every device's commands. Mosquitto runs with `use_username_as_clientid true`, so nobody can take
a service's client id.

`dynsec_config` renders this for Mosquitto's dynamic-security plugin, which the shipped conf
uses; `password_file` and `acl_file` for a Mosquitto without it. Mosquitto 2.0's acl_file does
not check SUBSCRIBE at all: a device's `$share/zamio-ingest/...` subscription is granted, takes
its round-robin share, and the broker then drops those messages at delivery.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable

ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24  # 32 characters of URL-safe base64
SERVICE_PREFIX = "zamio-"  # reserved for central's own broker accounts (brief, contract 4)
DEVICE_WRITES = ("batches", "events", "status")  # what a device publishes
DEVICE_READS = ("commands", "config")  # what it may subscribe to, its own only


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


def device_topics(station: str, device: str) -> dict[str, tuple[str, ...]]:
    """The topics a device may write and read: its own, by name."""
    base = f"stations/{station}/devices/{device}"
    return {
        "write": tuple(f"{base}/{kind}" for kind in DEVICE_WRITES),
        "read": tuple(f"{base}/{kind}" for kind in DEVICE_READS),
    }


def service_topics() -> dict[str, tuple[str, ...]]:
    """The topic filters a service account may read and write: every device's."""
    base = "stations/+/devices/+"
    return {
        "read": tuple(f"{base}/{kind}" for kind in DEVICE_WRITES),
        "write": (f"{base}/commands",),
    }


def acl_file(devices: Iterable[tuple[str, str]], services: Iterable[str] = ()) -> str:
    """A Mosquitto ACL for (device code, station code) pairs and service account names."""
    blocks = [_acl_block(device, device_topics(station, device)) for device, station in devices]
    blocks += [_acl_block(name, service_topics()) for name in services]
    return "\n".join(blocks)


def _acl_block(user: str, topics: dict[str, tuple[str, ...]]) -> str:
    lines = [f"user {user}"]
    lines += [f"topic {access} {topic}" for access in ("write", "read") for topic in topics[access]]
    return "\n".join(lines) + "\n"


SERVICE_ROLE = "zamio-service"
SHARE_GROUP = "zamio-ingest"  # the ingest listeners' shared subscription group


def dynsec_config(
    devices: Iterable[tuple[str, str, str]], services: Iterable[tuple[str, str]]
) -> str:
    """The dynamic-security plugin's JSON for (device, station, hash) and (service, hash):
    everything denied but each one's own topics."""
    clients, roles = [], []
    for device, station, password_hash in devices:
        clients.append(_dynsec_client(device, password_hash, f"device-{device}"))
        topics = device_topics(station, device)
        roles.append(_dynsec_role(f"device-{device}", topics, "subscribeLiteral"))
    for name, password_hash in services:
        clients.append(_dynsec_client(name, password_hash, SERVICE_ROLE))
    topics = service_topics()
    shared = tuple(f"$share/{SHARE_GROUP}/{topic}" for topic in topics["read"])
    roles.append(_dynsec_role(SERVICE_ROLE, topics, "subscribePattern", shared))
    config = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
    return json.dumps(config, indent=1) + "\n"


def _dynsec_client(user: str, password_hash: str, role: str) -> dict:
    _, _, iterations, salt, digest = password_hash.split("$")
    return {
        "username": user,
        "password": digest,
        "salt": salt,
        "iterations": int(iterations),
        "roles": [{"rolename": role}],
    }


def _dynsec_role(
    name: str, topics: dict[str, tuple[str, ...]], subscribe: str, extra: tuple[str, ...] = ()
) -> dict:
    acls = [("publishClientSend", topic) for topic in topics["write"]]
    acls += [
        (kind, topic) for topic in topics["read"] for kind in (subscribe, "publishClientReceive")
    ]
    acls += [(subscribe, topic) for topic in extra]
    return {
        "rolename": name,
        "acls": [{"acltype": k, "topic": t, "priority": 0, "allow": True} for k, t in acls],
    }
