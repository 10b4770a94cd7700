"""The data set of bench/api.py, built in PostgreSQL by INSERT ... SELECT generate_series.

--plays plays over --days days from T0 at --stations stations, every play closed, accrued and
posted: one accrual and one royalty transfer of 5 legs per play (station wallet debited; the
platform's fee, the track's publisher, label and artist credited), amounts made of the play's
duration (0.5 minor per second) and split as accrual.py does (fee 10 %, composition 25 % of the
rest, master 60 % label / 40 % performer), so each accrual's explanation names its entries.
Tracks: --tracks, of --artists artists (track t is artist t % artists'), LABELS labels and
PUBLISHERS publishers. One play in HOT_EVERY is of the hot artist (artist 0, ARTIST), so the
artist measured has about 1 % + 1/artists of all plays. Play i starts at T0 + i x step, so plays,
transfers (created 10 minutes after the play starts) and seqs share one order, as the ledger's
journal keeps created_at in seq order. Account totals are the sums of their entries, the chain
head is at the last seq, and the earnings rollup is made by `rollup.rebuild`, the code the CLI
runs. The chain hashes are not real: `zamio ledger verify` would refuse this journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from central.royalties import rollup

T0_MS = 1_764_547_200_000  # 2025-12-01T00:00:00Z: a year of data is the 12 months to 2026-12-01
DAY_MS = 86_400_000
LABELS = 20
PUBLISHERS = 50
HOT_EVERY = 100
ARTIST = "artist:bench-0:earnings"
LABEL = "label:bench-0:earnings"
ACCRUED_AFTER_MS = 600_000


@dataclass(frozen=True)
class Size:
    """How big the data set is."""

    stations: int = 100
    plays: int = 5_000_000
    days: int = 365
    tracks: int = 2_000
    artists: int = 400

    @property
    def step_ms(self) -> int:
        """Time between the starts of consecutive plays (of any station)."""
        return max(1, self.days * DAY_MS // self.plays)


def party(kind: str, n: str) -> str:
    """SQL of the account code of party number `n` (an SQL expression) of a kind."""
    return f"'{kind}:bench-' || ({n}) || ':earnings'"


def steps(size: Size) -> list[tuple[str, str]]:
    """(name, SQL) of each step, in order; parameters are inlined integers."""
    s, n, t, a = size.stations, size.plays, size.tracks, size.artists
    hot_tracks = max(1, t // a)
    pub0, lab0, art0 = s + 2, s + 2 + PUBLISHERS, s + 2 + PUBLISHERS + LABELS
    hashed = "((i::bigint * 2654435761) % 4294967296)"
    return [
        ("rate card", "INSERT INTO rate_card (id, code, version, currency, effective_from_ms,"
         " bands_json, lines_json, composition_share_bp, platform_fee_bp, created_at)"
         " VALUES (1, 'broadcast', 1, 'GHS', 0, '[]', '[]', 2500, 1000, now())"),
        ("stations", "INSERT INTO station (id, code, name, stream_url, station_class, timezone,"
         f" created_at) SELECT i, 'bench-fm-' || i, 'Bench FM ' || i, NULL, 'A', 'Africa/Accra',"
         f" now() FROM generate_series(1, {s}) i"),
        ("tracks", "INSERT INTO track (id, external_id, title, artist, isrc, iswc, duration_ms,"
         " content_hash, created_at) SELECT i, 'bench-t' || i, 'Song ' || i, 'Artist ' ||"
         f" (i % {a}), 'GHA01' || lpad(i::text, 7, '0'), 'T' || lpad(i::text, 10, '0'), 240000,"
         f" lpad(to_hex(i), 16, '0'), now() FROM generate_series(1, {t}) i"),
        ("rights shares", "INSERT INTO rights_share (track_id, pool, work_code, party, role,"
         " share_bp, created_at) SELECT i, x.pool, x.code, x.party, x.role, x.bp, now()"
         f" FROM generate_series(1, {t}) i CROSS JOIN LATERAL (VALUES"
         f" ('composition', 'T' || lpad(i::text, 10, '0'), {party('publisher', f'i % {PUBLISHERS}')},"  # noqa: E501
         " 'publisher', 10000),"
         f" ('master', 'GHA01' || lpad(i::text, 7, '0'), {party('label', f'i % {LABELS}')},"
         " 'label', 6000),"
         f" ('master', 'GHA01' || lpad(i::text, 7, '0'), {party('artist', f'i % {a}')},"
         " 'performer', 4000)) AS x(pool, code, party, role, bp)"),
        ("accounts", "INSERT INTO ledger_account (id, code, kind, currency, normal_side,"
         " balance_min_minor, debits_posted_minor, credits_posted_minor, debits_pending_minor,"
         " credits_pending_minor, created_at) SELECT id, code, kind, 'GHS', 'credit', floor,"
         " 0, 0, 0, 0, now() FROM ("
         f" SELECT i AS id, 'station:bench-fm-' || i || ':wallet' AS code,"
         f" 'station_wallet' AS kind, NULL::bigint AS floor FROM generate_series(1, {s}) i"
         f" UNION ALL SELECT {s + 1}, 'platform:fees', 'platform_fees', 0"
         f" UNION ALL SELECT {pub0} + i, {party('publisher', 'i')}, 'rights_holder_earnings', 0"
         f" FROM generate_series(0, {PUBLISHERS - 1}) i"
         f" UNION ALL SELECT {lab0} + i, {party('label', 'i')}, 'rights_holder_earnings', 0"
         f" FROM generate_series(0, {LABELS - 1}) i"
         f" UNION ALL SELECT {art0} + i, {party('artist', 'i')}, 'artist_earnings', 0"
         f" FROM generate_series(0, {a - 1}) i) AS x"),
        ("plays", "INSERT INTO play (id, station_id, track_id, start_ms, end_ms, speed_ratio,"
         " inliers, detections, confidence, chosen_by, created_at, updated_at, closed_at)"
         f" SELECT i, (i % {s}) + 1, CASE WHEN i % {HOT_EVERY} = 0"
         f" THEN {a} * ((i / {HOT_EVERY}) % {hot_tracks} + 1) ELSE {hashed} % {t} + 1 END,"
         f" {T0_MS} + (i - 1)::bigint * {size.step_ms},"
         f" {T0_MS} + (i - 1)::bigint * {size.step_ms} + 150000 + {hashed} % 150000,"
         " 1.0, 50, 10, 0.9, 'only_candidate', c, c, c FROM"
         f" generate_series(1, {n}) i, LATERAL (SELECT to_timestamp(({T0_MS} + (i - 1)::bigint *"
         f" {size.step_ms} + {ACCRUED_AFTER_MS}) / 1000.0) AS c) AS t"),
        ("splits", "CREATE UNLOGGED TABLE bench_split AS SELECT p.id, p.station_id,"
         " p.track_id, p.closed_at, x.amount, x.amount / 10 AS fee,"
         " (x.amount - x.amount / 10) / 4 AS comp,"
         " (x.amount - x.amount / 10 - (x.amount - x.amount / 10) / 4) * 6 / 10 AS label"
         " FROM play p, LATERAL (SELECT (p.end_ms - p.start_ms) / 2000 AS amount) AS x"),
        ("transfers", "INSERT INTO ledger_transfer (id, seq, idempotency_key, code, state,"
         " currency, pending_id, reverses_id, metadata_json, content_hash, prev_hash, hash,"
         " created_at) SELECT md5('bench-transfer-' || id)::uuid, id, 'royalty:play:' || id,"
         " 'royalty', 'posted', 'GHS', NULL, NULL, '{\"play_id\": ' || id || '}',"
         " md5('c' || id) || md5('d' || id), md5('h' || (id - 1)) || md5('i' || (id - 1)),"
         " md5('h' || id) || md5('i' || id), closed_at FROM bench_split"),
        ("entries", "INSERT INTO ledger_entry (transfer_seq, leg, account_id, side,"
         " amount_minor) SELECT b.id, x.leg, x.account, x.side, x.amount FROM bench_split b"
         " CROSS JOIN LATERAL (VALUES (0, b.station_id, 'debit', b.amount),"
         f" (1, {s + 1}, 'credit', b.fee),"
         f" (2, {pub0} + b.track_id % {PUBLISHERS}, 'credit', b.comp),"
         f" (3, {lab0} + b.track_id % {LABELS}, 'credit', b.label),"
         f" (4, {art0} + b.track_id % {a}, 'credit',"
         " b.amount - b.fee - b.comp - b.label)) AS x(leg, account, side, amount)"),
        ("accruals", "INSERT INTO royalty_accrual (id, play_id, rate_card_id, amount_minor,"
         " currency, explanation_json, transfer_id, state, batch_id, created_at, updated_at)"
         " SELECT b.id, b.id, 1, b.amount, 'GHS', " + _explanation_sql(s, a) + ","
         " md5('bench-transfer-' || b.id)::uuid, 'posted', 'bench', b.closed_at, b.closed_at"
         " FROM bench_split b"),
        ("totals", "UPDATE ledger_account a SET debits_posted_minor = x.d,"
         " credits_posted_minor = x.c FROM (SELECT account_id,"
         " SUM(CASE WHEN side = 'debit' THEN amount_minor ELSE 0 END) AS d,"
         " SUM(CASE WHEN side = 'credit' THEN amount_minor ELSE 0 END) AS c"
         " FROM ledger_entry GROUP BY account_id) AS x WHERE a.id = x.account_id"),
        ("chain head", f"INSERT INTO ledger_chain_head (id, seq, hash) VALUES (1, {n},"
         f" md5('h{n}') || md5('i{n}'))"),
        ("rollup", rollup.insert_sql("postgresql",
         "SELECT x.account AS account_id, to_char(b.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
         " AS day, b.track_id, b.station_id, SUM(x.amount) AS amount, COUNT(*) AS n"
         " FROM bench_split b CROSS JOIN LATERAL (VALUES"
         f" ({pub0} + b.track_id % {PUBLISHERS}, b.comp),"
         f" ({lab0} + b.track_id % {LABELS}, b.label),"
         f" ({art0} + b.track_id % {a}, b.amount - b.fee - b.comp - b.label)) AS x(account, amount)"
         " GROUP BY 1, 2, 3, 4")),
        ("drop splits", "DROP TABLE bench_split"),
    ]  # fmt: skip


def _explanation_sql(stations: int, artists: int) -> str:
    """SQL of an accrual's explanation: the play, the price and the split, as accrue_play."""
    del stations
    share = "jsonb_build_object('party', {p}, 'account', {p}, 'role', '{r}', 'share_bp', {bp},"
    share += " 'amount_minor', {m})"
    publisher = share.format(p=party("publisher", f"b.track_id % {PUBLISHERS}"), r="publisher",
                             bp=10000, m="b.comp")  # fmt: skip
    label = share.format(p=party("label", f"b.track_id % {LABELS}"), r="label", bp=6000,
                         m="b.label")  # fmt: skip
    artist = share.format(p=party("artist", f"b.track_id % {artists}"), r="performer", bp=4000,
                          m="b.amount - b.fee - b.comp - b.label")  # fmt: skip
    return (
        "jsonb_build_object('rate_card', 'broadcast v1', 'rate_card_id', 1, 'basis',"
        " 'per_second', 'amount_minor', b.amount, 'currency', 'GHS', 'formula',"
        " 'bench: 0.5 minor per second', 'play', jsonb_build_object('id', b.id, 'station',"
        " 'bench-fm-' || b.station_id, 'track', 'bench-t' || b.track_id), 'split',"
        " jsonb_build_object('payer', 'station:bench-fm-' || b.station_id || ':wallet',"
        " 'platform_fee', jsonb_build_object('share_bp', 1000, 'amount_minor', b.fee),"
        " 'composition', jsonb_build_object('share_bp', 2500, 'amount_minor', b.comp,"
        f" 'shares', jsonb_build_array({publisher})), 'master', jsonb_build_object('share_bp',"
        " 7500, 'amount_minor', b.amount - b.fee - b.comp, 'shares',"
        f" jsonb_build_array({label}, {artist}))))::text"
    )


SEQUENCES = ("station", "track", "play", "rights_share", "ledger_account", "royalty_accrual",
             "rate_card")  # fmt: skip


def build(
    connection: Connection, size: Size, report: Callable[[str, float], None] = lambda *_: None,
    rebuild_rollup: bool = False,
) -> dict[str, float]:  # fmt: skip
    """Load the data set into a migrated, empty database; seconds per step. The rollup is
    summed from the splits in bulk, or (rebuild_rollup) made by `rollup.rebuild` afterwards."""
    times: dict[str, float] = {}
    connection.execute(text("SET session_replication_role = replica"))  # no FK checks: bulk
    connection.execute(text("SET synchronous_commit = off"))
    connection.execute(text("SET maintenance_work_mem = '1GB'"))
    connection.execute(text("SET work_mem = '256MB'"))
    again = _drop_secondary_indexes(connection)
    chosen = [(n, sql) for n, sql in steps(size) if not (rebuild_rollup and n == "rollup")]
    for name, sql in chosen + ([("indexes", ";\n".join(again))] if again else []):
        start = time.perf_counter()
        with connection.connection.cursor() as cursor:  # no parameters: '%' and ':' as written
            cursor.execute(sql)
        connection.commit()
        times[name] = time.perf_counter() - start
        report(name, times[name])
    connection.execute(text("SET session_replication_role = origin"))
    for table in SEQUENCES:
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                 f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
        )  # fmt: skip
    if rebuild_rollup:
        start = time.perf_counter()
        with Session(bind=connection) as session:
            rollup.rebuild(session)
            session.commit()
        times["rollup (rebuild)"] = time.perf_counter() - start
        report("rollup (rebuild)", times["rollup (rebuild)"])
    connection.commit()
    start = time.perf_counter()
    # as autovacuum would by now: the visibility map lets index-only scans skip the heap
    vacuum = connection.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with vacuum:
        vacuum.execute(text("VACUUM ANALYZE"))
    times["vacuum"] = time.perf_counter() - start
    report("vacuum", times["vacuum"])
    return times


BULK_TABLES = ("play", "ledger_transfer", "ledger_entry", "royalty_accrual", "earnings_period")


def _drop_secondary_indexes(connection: Connection) -> list[str]:
    """Drop the bulk tables' indexes and unique constraints that no foreign key needs (faster
    to build once, sorted, after the load); the SQL that makes them again."""
    tables = ", ".join(f"'{t}'" for t in BULK_TABLES)
    uniques = connection.execute(text(
        "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid)"
        f" FROM pg_constraint c WHERE c.contype = 'u' AND c.conrelid::regclass::text IN ({tables})"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
        " AND f.conindid = c.conindid)"
    )).all()  # fmt: skip
    plain = connection.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        f" WHERE i.tablename IN ({tables}) AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    )).all()  # fmt: skip
    for name, table, _ in uniques:
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in plain:
        connection.execute(text(f'DROP INDEX "{name}"'))
    connection.commit()
    again = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
             for name, table, definition in uniques]  # fmt: skip
    return again + [definition for _, definition in plain]
