"""GET /health: is the app up, can it reach its database, and is the schema current."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from central import schema
from central.errors import SchemaError
from central.extensions import db

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> ResponseReturnValue:
    """200 with {"status": "ok"} when the database answers at the head revision, else 503."""
    try:
        behind = schema.is_behind(db.engine)
    except (SQLAlchemyError, SchemaError) as error:
        return jsonify(status="error", database=type(error).__name__), 503
    if behind:
        return jsonify(status="error", database="schema behind: run `zamio db upgrade`"), 503
    return jsonify(status="ok", database="ok")
