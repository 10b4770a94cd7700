"""Admin: set a track's rights shares (the `zamio royalty shares set` document), releasing the
pool's past suspense to the new owners; audited with the shares before and after."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema, fields
from werkzeug.exceptions import BadRequest, NotFound

from central.api.tracks import TrackOut
from central.auth import audit
from central.auth.policy import current_principal, policy
from central.auth.roles import ADMIN
from central.catalog import queries
from central.extensions import db
from central.royalties import rights, suspense

blueprint = APIBlueprint("rights", __name__, url_prefix="/api/v1", tag="Admin")


class SharesIn(Schema):
    """A shares document: one or both pools, each its work code and shares (see the README)."""

    composition = fields.Dict(metadata={"description": '{"iswc": ..., "shares": [...]}'})
    master = fields.Dict(metadata={"description": '{"isrc": ..., "shares": [...]}'})


class ReleaseOut(Schema):
    """Past suspense of a pool moved to the new owners (or kept for unclaimed shares)."""

    pool = fields.String(required=True)
    work_code = fields.String(required=True)
    items = fields.Integer(required=True)
    amount_minor = fields.Integer(required=True)
    kept_minor = fields.Integer(required=True)
    transfer_id = fields.String(allow_none=True)


class SharesOut(Schema):
    """The track with its shares as set, and what moved out of suspense."""

    track = fields.Nested(TrackOut, required=True)
    releases = fields.List(fields.Nested(ReleaseOut), required=True)


@blueprint.put("/tracks/<int:track_id>/shares")
@policy([ADMIN], scope="admin")
@blueprint.input(SharesIn, arg_name="body")
@blueprint.output(SharesOut)
@blueprint.doc(responses=[400, 404])
def shares_set(track_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the shares of the pools given (each must add up to 100 %): the same document
    again changes nothing and moves no money twice."""
    track = queries.find_track(db.session, track_id, None)
    if track is None:
        raise NotFound(f"no track {track_id}")
    pools, problems = rights.parse_shares(body)
    if problems:
        raise BadRequest("; ".join(problems[:20]))
    before = queries.track_record(db.session, track)["shares"]
    releases = suspense.set_shares(db.session, track.id, pools)
    db.session.flush()
    after = queries.track_record(db.session, track)
    changes = {
        pool: [before.get(pool), after["shares"].get(pool)]
        for pool in body
        if before.get(pool) != after["shares"].get(pool)
    }
    if changes:  # the same document again changes nothing: nothing to audit
        audit.record(db.session, current_principal().actor, "api", "shares.set", "track",
                     track.id, changes)  # fmt: skip
    db.session.commit()
    return {
        "track": after,
        "releases": [
            {**r.__dict__, "transfer_id": None if r.transfer_id is None else str(r.transfer_id)}
            for r in releases
        ],
    }
