"""Ledger benchmark: postings per second on this machine's PostgreSQL, from one process and from
several at once, and the time of `verify` over a journal of --entries entries. Prints a markdown
table (medians of --repeats runs); never asserts timings.

    python bench/ledger.py [--postings 2000] [--processes 1,4,8] [--batches 1,50]
                           [--repeats 3] [--entries 1000000] [--out /tmp/zamio-bench/ledger.json]

Setup: a throwaway PostgreSQL database (created, migrated, dropped at exit), server settings as
they are (synchronous_commit is reported: every posting is one committed transaction).
Postings: royalties of 5 legs (a station wallet debited; an artist, a rights holder, a society
pool and the platform's fees credited), through post_transfer and run_in_transaction, one per
transaction (--batches 1, as accrue_royalty(play_id) posts) or many per transaction (a job that
accrues a batch of plays: one commit, and one hold of the chain head, for all of them). Two
shapes: `spread` (200 stations, 2,000 artists, 500 rights holders: only the society pool, the
fees account and the chain head are shared) and `hot` (one station, one artist, one rights
holder: every posting wants the same 5 rows). Each run empties the ledger, opens the accounts,
starts the processes (spawned, each with its own connection), and times from a barrier they all
pass to the last commit.
Verify: the journal is bulk-loaded with COPY: --entries / 4 royalty transfers of 4 legs, every
200th a pending payout followed by its post, every 500th reversed; drafts, content hashes and the
hash chain are made by the ledger's own pure functions (transfer.make_draft, chain.chain_hash)
and the account totals summed in Python, so the journal is one verify must pass. Then verify()
is timed in-process, and `zamio ledger verify` once as a command (process start included).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench import pg  # noqa: E402
from central.ledger import balances, chain, posting, retry  # noqa: E402
from central.ledger.accounts import account_spec, open_account  # noqa: E402
from central.ledger.transfer import (  # noqa: E402
    PENDING,
    POSTED,
    POSTED_FROM_PENDING,
    TransferRequest,
    credit,
    debit,
    make_draft,
    mirror,
    normalize_legs,
    transfer_id_for,
)
from central.ledger.verify import verify  # noqa: E402

OUT = Path("/tmp/zamio-bench/ledger.json")
SHAPES = {"spread": (200, 2000, 500), "hot": (1, 1, 1)}  # stations, artists, rights holders
SHARED = ("settlement:bank", "society:ghamro:pool", "platform:fees")
FUND_MINOR = 10**12
T0 = datetime(2026, 11, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Database


def empty_ledger(session: Session) -> None:
    """Truncate the ledger tables (TRUNCATE is not refused: see migration 0008)."""
    session.execute(text("TRUNCATE ledger_entry, ledger_transfer, ledger_account,"
                         " ledger_chain_head RESTART IDENTITY CASCADE"))  # fmt: skip
    session.commit()


def chart(shape: str) -> dict[str, str]:
    """Account code: kind, for a shape."""
    stations, artists, holders = SHAPES[shape]
    codes = {"settlement:bank": "settlement", "society:ghamro:pool": "society_pool",
             "platform:fees": "platform_fees"}  # fmt: skip
    codes |= {f"station:{i}:wallet": "station_wallet" for i in range(stations)}
    codes |= {f"artist:{i}:earnings": "artist_earnings" for i in range(artists)}
    codes |= {f"rights_holder:{i}:earnings": "rights_holder_earnings" for i in range(holders)}
    return codes


def open_and_fund(session: Session, shape: str) -> None:
    """Open the shape's accounts and fund every station wallet from the bank."""
    for code, kind in chart(shape).items():
        open_account(session, account_spec(code, kind))
    for i in range(SHAPES[shape][0]):
        posting.post_transfer(session, TransferRequest(
            f"fund:{i}", "topup", (debit("settlement:bank", FUND_MINOR),
                                   credit(f"station:{i}:wallet", FUND_MINOR))))  # fmt: skip
    session.commit()


# ---------------------------------------------------------------------------------------------
# Postings


def royalty(shape: str, key: str, rng: random.Random) -> TransferRequest:
    """A 5-leg royalty on random accounts of the shape."""
    stations, artists, holders = SHAPES[shape]
    amount = rng.randint(100, 5000)
    fee, society, holder = amount // 10, amount // 5, amount // 4
    return TransferRequest(key, "royalty", (
        debit(f"station:{rng.randrange(stations)}:wallet", amount),
        credit(f"artist:{rng.randrange(artists)}:earnings", amount - fee - society - holder),
        credit(f"rights_holder:{rng.randrange(holders)}:earnings", holder),
        credit("society:ghamro:pool", society), credit("platform:fees", fee),
    ), metadata={"play_id": key, "rate_card": "gh-2026-commercial"})  # fmt: skip


def poster(
    url: str, shape: str, worker: int, count: int, batch: int, barrier: Any, results: Any
) -> None:
    """Post `count` royalties, `batch` per transaction, after the barrier; put (worker,
    seconds) on `results`."""
    engine = create_engine(url, pool_size=1)  # one connection, kept, as a worker's pool does
    rng = random.Random(worker)
    requests = [royalty(shape, f"bench:{worker}:{n}", rng) for n in range(count)]
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        session.rollback()
        barrier.wait()
        started = time.perf_counter()
        for start in range(0, count, batch):
            chunk = requests[start : start + batch]
            retry.run_in_transaction(
                session, lambda s, c=chunk: [posting.post_transfer(s, r) for r in c]
            )
        results.put((worker, time.perf_counter() - started))
    engine.dispose()


def postings_run(url: str, shape: str, processes: int, postings: int, batch: int) -> float:
    """Postings per second of one run."""
    engine = create_engine(url, poolclass=NullPool)
    with Session(engine) as session:
        empty_ledger(session)
        open_and_fund(session, shape)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    share = postings // processes
    workers = [context.Process(target=poster, args=(url, shape, w, share, batch, barrier, results))
               for w in range(processes)]  # fmt: skip
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    for _ in workers:
        results.get(timeout=600)
    elapsed_s = time.perf_counter() - started
    for w in workers:
        w.join()
    with Session(engine) as session:
        assert verify(session).ok
    engine.dispose()
    return share * processes / elapsed_s


# ---------------------------------------------------------------------------------------------
# A large journal, bulk-loaded


def journal_drafts(transfers: int, rng: random.Random) -> list:
    """Drafts of a realistic journal: station top-ups, then royalties, payouts held then
    posted, some reversals."""
    drafts = [
        make_draft(transfer_id_for(f"fund:{i}"), f"fund:{i}", "topup", POSTED, "GHS",
                   normalize_legs([debit("settlement:bank", FUND_MINOR),
                                   credit(f"station:{i}:wallet", FUND_MINOR)]), {})
        for i in range(SHAPES["spread"][0])
    ]  # fmt: skip
    for n in range(transfers):
        if n % 200 == 199 and drafts:  # a payout hold, posted right after (2 legs each)
            hold = make_draft(transfer_id_for(f"payout:{n}"), f"payout:{n}", "payout", PENDING,
                              "GHS", normalize_legs([debit("platform:fees", 10), credit(
                                  "settlement:bank", 10)]), {})  # fmt: skip
            drafts.append(hold)
            drafts.append(make_draft(transfer_id_for(f"payout:{n}:post"), f"payout:{n}:post",
                                     "payout", POSTED_FROM_PENDING, "GHS", hold.legs, {},
                                     pending_id=hold.id))  # fmt: skip
        elif n % 500 == 250:
            original = drafts[-1]
            drafts.append(make_draft(transfer_id_for(f"undo:{n}"), f"undo:{n}", "reversal",
                                     POSTED, "GHS", mirror(original.legs), {},
                                     reverses_id=original.id))  # fmt: skip
        else:
            r = royalty("spread", f"royalty:play:{n}", rng)
            legs = [leg for leg in r.legs if leg.account != "society:ghamro:pool"]
            legs[2] = credit(legs[2].account, legs[2].amount_minor + r.legs[3].amount_minor)
            drafts.append(make_draft(transfer_id_for(r.idempotency_key), r.idempotency_key,
                                     "royalty", POSTED, "GHS", normalize_legs(legs),
                                     r.metadata))  # fmt: skip
    return drafts


def bulk_load(url: str, entries: int) -> dict[str, Any]:
    """COPY a journal of about `entries` entries into an empty ledger; what was loaded."""
    started = time.perf_counter()
    drafts = journal_drafts(entries // 4, random.Random(7))
    ids = {code: i for i, code in enumerate(sorted(chart("spread")), start=1)}
    kinds = chart("spread")
    specs = {code: account_spec(code, kind) for code, kind in kinds.items()}
    states = {code: balances.AccountState(ids[code], code, "GHS", spec.normal_side,
                                          spec.balance_min_minor)
              for code, spec in specs.items()}  # fmt: skip
    transfers, lines = io.StringIO(), io.StringIO()
    prev, entry_count = chain.GENESIS_HASH, 0
    for seq, d in enumerate(drafts, start=1):
        states |= balances.apply(states, d.legs, d.state)
        at = T0 + timedelta(seconds=seq)
        link = chain.chain_hash(seq, prev, d.content_hash, chain.instant_us(at))
        transfers.write("\t".join([
            str(d.id), str(seq), d.idempotency_key, d.code, d.state, d.currency,
            str(d.pending_id) if d.pending_id else r"\N",
            str(d.reverses_id) if d.reverses_id else r"\N",
            d.metadata_json.replace("\\", "\\\\"), d.content_hash, prev, link, at.isoformat(),
        ]) + "\n")  # fmt: skip
        for leg_index, leg in enumerate(d.legs):
            lines.write(f"{seq}\t{leg_index}\t{ids[leg.account]}\t{leg.side}\t{leg.amount_minor}\n")
        entry_count += len(d.legs)
        prev = link
    made_s = time.perf_counter() - started
    _copy(url, states, kinds, transfers, lines, (len(drafts), prev))
    return {"transfers": len(drafts), "entries": entry_count, "accounts": len(ids),
            "make_s": made_s, "load_s": time.perf_counter() - started - made_s}  # fmt: skip


def _copy(url: str, states: dict, kinds: dict, transfers: io.StringIO, lines: io.StringIO,
          head: tuple[int, str]) -> None:  # fmt: skip
    """COPY accounts, transfers and entries; insert the chain head; analyze."""
    accounts = io.StringIO()
    for s in states.values():
        accounts.write("\t".join(map(str, [
            s.id, s.code, kinds[s.code], s.currency, s.normal_side,
            r"\N" if s.balance_min_minor is None else s.balance_min_minor, *s.totals,
            T0.isoformat()]) ) + "\n")  # fmt: skip
    connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_entry, ledger_transfer, ledger_account, ledger_chain_head CASCADE"
        )
        for table, buffer in (("ledger_account", accounts), ("ledger_transfer", transfers),
                              ("ledger_entry", lines)):  # fmt: skip
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} FROM STDIN", buffer)
        cursor.execute("INSERT INTO ledger_chain_head VALUES (1, %s, %s)", head)
        cursor.execute(
            "SELECT setval('ledger_account_id_seq', (SELECT max(id) FROM ledger_account))"
        )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def verify_times(url: str, repeats: int) -> dict[str, Any]:
    """verify() in-process (median of repeats) and `zamio ledger verify` once."""
    engine = create_engine(url, poolclass=NullPool)
    seconds = []
    for _ in range(repeats):
        with Session(engine) as session:
            started = time.perf_counter()
            report = verify(session)
            seconds.append(time.perf_counter() - started)
            assert report.ok, report.problems[:5]
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAMIO_")}
    env["ZAMIO_DATABASE_URL"] = url
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "central", "ledger", "verify"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    command_s = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return {"verify_s": statistics.median(seconds), "runs_s": seconds, "command_s": command_s,
            "command_output": done.stdout.strip()}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Report


def markdown(headers: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _ints(text: str) -> list[int]:
    """[1, 4, 8] from '1,4,8'."""
    return [int(part) for part in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=2000, help="per run; 0: no posting runs")
    parser.add_argument("--processes", default="1,4,8")
    parser.add_argument("--batches", default="1,50", help="postings per transaction")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--entries", type=int, default=1_000_000, help="0: no verify run")
    parser.add_argument("--shapes", default="spread,hot")
    parser.add_argument("--out", type=Path, default=OUT)
    return parser.parse_args(argv)


def posting_rows(url: str, args: argparse.Namespace, results: dict[str, Any]) -> list[list]:
    """Every shape x batch x processes: the median rate and each run's."""
    rows = []
    for shape in args.shapes.split(",") if args.postings else []:
        for batch, processes in itertools.product(_ints(args.batches), _ints(args.processes)):
            rates = [postings_run(url, shape, processes, args.postings, batch)
                     for _ in range(args.repeats)]  # fmt: skip
            results["postings"][f"{shape}/{processes}/{batch}"] = rates
            rows.append([f"postings/s, {shape}, {processes} process(es), {batch} per commit",
                         f"{statistics.median(rates):,.0f}",
                         " / ".join(f"{r:,.0f}" for r in rates)])  # fmt: skip
    return rows


def verify_rows(url: str, args: argparse.Namespace, results: dict[str, Any]) -> list[list]:
    """Bulk-load the journal, time verify: two rows."""
    if not args.entries:
        return []
    loaded = bulk_load(url, args.entries)
    timed = verify_times(url, args.repeats)
    results |= {"loaded": loaded, "verify": timed}
    return [
        [f"verify(), {loaded['entries']:,} entries, {loaded['transfers']:,} transfers"
         f" (made in {loaded['make_s']:.0f} s, COPY {loaded['load_s']:.0f} s)",
         f"{timed['verify_s']:.1f} s", " / ".join(f"{s:.1f}" for s in timed["runs_s"])],
        ["`zamio ledger verify` (process start included)", f"{timed['command_s']:.1f} s",
         "1 run"],
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, write JSON."""
    args = parse_args(argv)
    url = pg.make_database("zamio_bench_ledger")
    results: dict[str, Any] = {"postings": {}, "cpus": os.cpu_count(),
                               "load_before": os.getloadavg()}  # fmt: skip
    try:
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as c:
            results["synchronous_commit"] = c.execute(text("SHOW synchronous_commit")).scalar()
            results["server"] = c.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        rows = posting_rows(url, args, results) + verify_rows(url, args, results)
    finally:
        pg.drop_database(url)
    results["load_after"] = os.getloadavg()
    print(
        f"PostgreSQL {results['server']}, synchronous_commit={results['synchronous_commit']},"
        f" {results['cpus']} CPUs, load average {results['load_before'][0]:.1f} before,"
        f" {results['load_after'][0]:.1f} after; postings of 5 legs, {args.postings} per run\n"
    )
    print(markdown(["measure", "median", "runs"], rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
