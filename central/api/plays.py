"""Plays: one play by id, within the caller's stations or parties."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from werkzeug.exceptions import NotFound

from central.api.schemas import PlayOut
from central.auth.policy import policy
from central.auth.roles import ROLES
from central.extensions import db
from central.plays import queries

blueprint = APIBlueprint("plays", __name__, url_prefix="/api/v1", tag="Plays")


@blueprint.get("/plays/<int:play_id>")
@policy(ROLES, scope="plays:read", owner="play")
@blueprint.output(PlayOut)
@blueprint.doc(responses=[404])
def play_detail(play_id: int) -> dict[str, Any]:
    """One play, by id: at one of the caller's stations, of one of their tracks."""
    play = queries.find_play(db.session, play_id)
    if play is None:
        raise NotFound(f"no play {play_id}")
    return play
