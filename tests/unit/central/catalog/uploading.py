"""Shared by the upload tests: seeded song files, upload fields, and an upload run through
submit_upload on the app's queue (inline on the embedded defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from flask import Flask
from rq import Queue
from sqlalchemy import func, select

from central import queues, worker
from central.catalog.models import Track
from central.catalog.upload_models import TrackUpload
from central.catalog.uploads import submit_upload, uploads_dir
from central.extensions import db
from central.royalties.models import RightsShare
from edge_agent.fingerprint import SAMPLE_RATE_HZ
from tests import synth, transforms

AMA = "artist:ama:earnings"
KASA = "label:kasa:earnings"
SONG_S = 45.0


def song_file(folder: Path, name: str, samples: np.ndarray, subtype: str = "PCM_16") -> Path:
    """Write 8 kHz `samples` as `name` (.wav or .flac by its suffix)."""
    path = folder / name
    soundfile.write(str(path), samples, SAMPLE_RATE_HZ, subtype=subtype)
    return path


def seeded_song(folder: Path, seed: int, seconds: float = SONG_S, suffix: str = ".wav") -> Path:
    """A file of transforms.song(seed, seconds)."""
    return song_file(folder, f"song-{seed}{suffix}", transforms.song(seed, seconds))


def fields(title: str, isrc: str, *parties: str, **extra: Any) -> dict[str, Any]:
    """Upload fields whose master pool (on `isrc`) is shared equally by `parties`."""
    share_bp = 10_000 // len(parties)
    shares = [{"party": p, "role": "performer", "share_bp": share_bp} for p in parties]
    shares[0]["share_bp"] += 10_000 - share_bp * len(parties)
    document = {"master": {"isrc": isrc, "shares": shares}}
    return {"title": title, "isrc": isrc, "shares": document, "filename": "x.wav"} | extra


def submit(
    app: Flask,
    path: Path,
    upload_fields: dict[str, Any],
    parties: frozenset[str] | None,
    queue: Queue | None = None,
) -> int:
    """submit_upload of the file at `path` as user:1; the upload's id."""
    with app.app_context():
        settings = app.config["ZAMIO"]
        queue = queue or queues.settings_queue(settings.redis_url)
        worker.use_app(app, queue)
        with path.open("rb") as stream:
            row = submit_upload(
                db.session, queue, stream, upload_fields, submitted_by="user:1",
                parties=parties, directory=uploads_dir(settings),
                bytes_max=settings.upload_bytes_max,
            )  # fmt: skip
            return row.id


def upload_row(app: Flask, upload_id: int) -> TrackUpload:
    """The upload row, detached (its columns loaded)."""
    with app.app_context():
        row = db.session.get(TrackUpload, upload_id)
        assert row is not None
        db.session.expunge(row)
        return row


def stored_files(app: Flask) -> list[str]:
    """Names of every file in the uploads folder (partial ones too)."""
    with app.app_context():
        folder = uploads_dir(app.config["ZAMIO"])
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def counts(app: Flask) -> tuple[int, int]:
    """(tracks, rights shares) in the catalogue."""
    with app.app_context():
        tracks = db.session.scalar(select(func.count()).select_from(Track))
        shares = db.session.scalar(select(func.count()).select_from(RightsShare))
        return tracks, shares


def corrupt_wav(folder: Path, seed: int) -> Path:
    """A file that announces WAV and then holds random bytes."""
    path = synth.corrupt_file(folder / "corrupt.wav", seed)
    path.write_bytes(b"RIFF\x00\x10\x00\x00WAVE" + path.read_bytes())
    return path
