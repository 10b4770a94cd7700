"""Stations and devices as JSON, each with its health (null until monitoring is wired in)."""

from __future__ import annotations

from typing import Any

from central.config import redact_url
from central.stations.models import Device, Station
from central.times import iso_datetime


def station_record(station: Station, health: dict[str, Any] | None) -> dict[str, Any]:
    """A station: code, name, stream (password hidden), its device codes and its health."""
    return {
        "code": station.code,
        "name": station.name,
        "stream_url": None if station.stream_url is None else redact_url(station.stream_url),
        "created_at": iso_datetime(station.created_at),
        "devices": sorted(d.code for d in station.devices),
        "health": health,
    }


def device_record(device: Device, health: dict[str, Any] | None) -> dict[str, Any]:
    """A device: code, active or revoked since when, and its health (never its password hash)."""
    return {
        "code": device.code,
        "active": device.active,
        "created_at": iso_datetime(device.created_at),
        "revoked_at": iso_datetime(device.revoked_at),
        "health": health,
    }
