"""Schemas of /api/v1 shared by several resources: the same classes validate requests and make
the OpenAPI document. Query schemas refuse unknown parameters."""

from __future__ import annotations

from typing import Any

from apiflask import Schema, fields, validators
from flask import request
from marshmallow import RAISE, ValidationError, pre_load

from central.api.pagination import CURSOR_CHARS_MAX

INSTANT_CHARS_MAX = 64


class Strict(Schema):
    """A query schema: an unknown or repeated parameter is an error, not ignored."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _given_once(self, data: Any, **_: Any) -> Any:
        """Each parameter given once: `?since=a&since=b` is ambiguous, not the first one."""
        repeated = {
            name: [f"given {len(request.args.getlist(name))} times, give it once"]
            for name in request.args
            if len(request.args.getlist(name)) > 1
        }
        if repeated:
            raise ValidationError(repeated)
        return data


class WholeNumber(fields.Integer):
    """An integer written in ASCII digits only (int() would take '٣' or ' 5 ')."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not (value.isascii() and value.lstrip("-").isdigit()):
            raise ValidationError("a whole number in digits 0-9")
        return super()._deserialize(value, attr, data, **kwargs)


def cursor_field() -> fields.String:
    """`cursor`: the next_cursor of the page before."""
    return fields.String(
        validate=validators.Length(1, CURSOR_CHARS_MAX),
        metadata={"description": "next_cursor of the page before"},
    )


def limit_field(default: int, maximum: int) -> fields.Integer:
    """`limit`: at most this many items."""
    return WholeNumber(
        load_default=default,
        validate=validators.Range(1, maximum),
        metadata={"description": f"items per page, 1-{maximum}"},
    )


def instant_field(what: str) -> fields.String:
    """An instant: ISO-8601 (`2026-12-03T10:00:00Z`), epoch ms, or relative (`-2h`, `now`)."""
    return fields.String(
        validate=validators.Length(1, INSTANT_CHARS_MAX),
        metadata={"description": f"{what}: ISO-8601 UTC, epoch ms, or relative like -2h"},
    )


class SpanOut(Schema):
    """The range a response covers, in ISO-8601 and ms."""

    since = fields.String(required=True)
    since_ms = fields.Integer(required=True)
    until = fields.String(required=True)
    until_ms = fields.Integer(required=True)


class TrackBrief(Schema):
    """The catalogue facts of a track that a play log shows."""

    external_id = fields.String(required=True)
    title = fields.String(required=True)
    artist = fields.String(allow_none=True)
    isrc = fields.String(allow_none=True)
    duration_ms = fields.Integer(required=True)


class OnAirOut(Schema):
    """What a play and a detection share: a track on air at a station from start to end."""

    id = fields.Integer(required=True)
    station = fields.String(required=True)
    track = fields.Nested(TrackBrief, required=True)
    start = fields.String(required=True)
    start_ms = fields.Integer(required=True)
    end = fields.String(required=True)
    end_ms = fields.Integer(required=True)
    duration_ms = fields.Integer(required=True)
    confidence = fields.Float(required=True)
    speed_ratio = fields.Float(required=True)
    inliers = fields.Integer(required=True)


class PlayOut(OnAirOut):
    """A play: a track on air at a station from start to end (UTC), merged from detections."""

    detections = fields.Integer(required=True)
    chosen_by = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validators.OneOf(["open", "closed"]))
    closed_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class DetectionOut(OnAirOut):
    """A detection: one matched window of a station's audio."""

    strong = fields.Boolean(required=True)
