"""The pure parts of the chaos benchmark (bench/chaos.py): its fault schedule, its accounting
of lost and twice-counted effects, and its tables."""

from __future__ import annotations

from bench import chaos
from bench.chaos import Injected
from bench.chaos_services import mosquitto_config


def test_schedule_is_the_same_for_a_seed_and_differs_between_seeds():
    """A seed gives one schedule (a failing run can be repeated); another seed another."""
    one = chaos.fault_schedule(chaos.KINDS, 300, seed=7)
    assert one == chaos.fault_schedule(chaos.KINDS, 300, seed=7)
    assert one != chaos.fault_schedule(chaos.KINDS, 300, seed=8)


def test_schedule_covers_every_kind_each_round_and_ends_before_the_quiet_time():
    """Each round injects every kind once; no fault outlasts duration - quiet_s; gaps apart."""
    faults = chaos.fault_schedule(chaos.KINDS, 400, seed=3, quiet_s=20, gap_s=(5, 9))
    first_round = [f.kind for f in faults[: len(chaos.KINDS)]]
    assert sorted(first_round) == sorted(chaos.KINDS)
    assert all(f.at_s + f.outage_s <= 380 for f in faults)
    for before, after in zip(faults, faults[1:]):
        assert after.at_s - (before.at_s + before.outage_s) >= 5 - 0.1  # at_s is rounded
    assert faults[0].at_s == 10.0


def test_schedule_outages_only_for_kinds_that_stay_away():
    """Restarts come back at once (outage 0); outages last within the given bounds."""
    faults = chaos.fault_schedule(chaos.KINDS, 600, seed=1, outage_s=(3, 4))
    for fault in faults:
        if fault.kind in chaos.RESTARTED_AT_ONCE:
            assert fault.outage_s == 0
        else:
            assert 3 <= fault.outage_s <= 4


def test_schedule_of_one_kind_and_of_none():
    """--faults with one kind repeats it; no kinds (the burst day) gives no faults."""
    faults = chaos.fault_schedule(["db-outage"], 120, seed=2)
    assert faults and {f.kind for f in faults} == {"db-outage"}
    assert chaos.fault_schedule([], 120, seed=2) == []


def test_lost_batches_are_produced_seqs_not_stored():
    """Lost = every seq 0..n-1 a spool produced that central did not store, per device."""
    produced = {"pi-b": 3, "pi-a": 2}
    stored = {("pi-a", 0), ("pi-a", 1), ("pi-b", 1), ("pi-x", 0)}
    assert chaos.lost_batches(produced, stored) == [("pi-b", 0), ("pi-b", 2)]


def test_a_batch_still_in_the_spool_is_not_lost():
    """Not delivered yet is not lost: the agent still has it and will send it."""
    produced, stored = {"pi-a": 3}, {("pi-a", 0)}
    assert chaos.lost_batches(produced, stored, {("pi-a", 2)}) == [("pi-a", 1)]


def test_recovery_target_and_caught_up():
    """Recovery waits for the batches produced from just before the fault to its end."""
    target = chaos.recovery_target({"pi-a": 5, "pi-b": 1}, {"pi-a": 7, "pi-b": 2})
    assert target == {"pi-a": (3, 7), "pi-b": (0, 2)}
    stored = {("pi-a", s) for s in range(3, 7)} | {("pi-b", 0)}
    assert not chaos.caught_up(target, stored)
    assert chaos.caught_up(target, stored | {("pi-b", 1)})


def test_a_lost_batch_is_blamed_on_the_fault_around_it():
    """In flight just before a fault or produced during it: that fault; later: the last one."""
    faults = [Injected("broker-kill", 20.0, 25.0), Injected("db-outage", 60.0, 66.0)]
    assert chaos.blame(10.0, faults).kind == "broker-kill"  # within LEAD_S before
    assert chaos.blame(24.0, faults).kind == "broker-kill"
    assert chaos.blame(40.0, faults).kind == "broker-kill"  # after it, before the next
    assert chaos.blame(70.0, faults).kind == "db-outage"
    assert chaos.blame(1.0, faults) is None


def test_losses_are_grouped_by_fault_with_their_seqs():
    """The table says which fault preceded which lost seqs of which device."""
    faults = [Injected("broker-kill", 20.0, 25.0), Injected("ingest-kill", 60.0, 61.0)]
    produced_s = {"pi-a": [0.0, 10.24, 20.48, 30.72, 40.96, 51.2], "pi-b": [5.0, 15.24]}
    lost = [("pi-a", 0), ("pi-a", 2), ("pi-a", 5), ("pi-b", 1)]
    groups = chaos.losses_by_fault(lost, produced_s, faults)
    assert groups == [
        {"fault": "no fault", "at_s": -1.0, "count": 1, "seqs": {"pi-a": [0]}},
        {"fault": "broker-kill", "at_s": 20.0, "count": 2, "seqs": {"pi-a": [2], "pi-b": [1]}},
        {"fault": "ingest-kill", "at_s": 60.0, "count": 1, "seqs": {"pi-a": [5]}},
    ]


def test_resend_tables_are_found_by_name():
    """Central's record of seq gaps and resends is reported when a table for it exists."""
    names = ["play", "seq_gap", "ingested_batch", "resend_request", "device"]
    assert chaos.resend_tables(names) == ["resend_request", "seq_gap"]
    assert chaos.resend_tables(["play", "device"]) == []


def test_royalty_counts():
    """One transfer per closed play: missing, twice and on an open play are each counted."""
    counts = chaos.royalty_counts({1, 2, 3}, [1, 2, 2, 9])
    assert counts == {"closed_plays": 3, "royalty_transfers": 4, "royalty_missing": 1,
                      "royalty_twice": 1, "royalty_not_closed": 1}  # fmt: skip


def test_recovery_by_kind():
    """Per kind: p50 and max of the recoveries seen, and how many never recovered."""
    faults = [
        Injected("db-outage", 1, 2, recovery_s=4.0),
        Injected("db-outage", 5, 6),
        Injected("db-outage", 9, 10, recovery_s=2.0),
        Injected("ingest-kill", 3, 3),
    ]
    summary = chaos.recovery_by_kind(faults)
    assert summary["db-outage"] == {"faults": 3, "recovery_s_p50": 3.0, "recovery_s_max": 4.0,
                                    "never": 1}  # fmt: skip
    assert summary["ingest-kill"]["never"] == 1
    assert summary["ingest-kill"]["recovery_s_max"] != summary["ingest-kill"]["recovery_s_max"]


def test_devices_seqs_names_the_first_devices_then_counts_the_rest():
    """A loss across 100 stations stays one readable cell."""
    seqs = {f"pi-{n:02d}": [n, n + 1] for n in range(6)}
    assert chaos.devices_seqs(seqs, devices_max=2) == "pi-00: 0-1; pi-01: 1-2; and 4 more devices"
    assert chaos.devices_seqs({"pi-a": [3]}) == "pi-a: 3"


def test_seq_ranges():
    """Lost seqs print as ranges."""
    assert chaos.seq_ranges([7, 1, 2, 3, 9, 10]) == "1-3,7,9-10"
    assert chaos.seq_ranges([4]) == "4"


def result(lost: int = 2) -> dict:
    """A run's result as bench/chaos_run.py makes it."""
    faults = [Injected("broker-kill", 20.0, 23.5, {"pi-a": (1, 4)}, None),
              Injected("db-outage", 40.0, 45.0, {"pi-a": (3, 6)}, 7.5)]  # fmt: skip
    losses = [{"fault": "broker-kill", "at_s": 20.0, "count": lost, "seqs": {"pi-a": [2, 3]}}]
    accounting = {
        "produced": 12, "stored": 12 - lost, "lost": lost, "resend": None, "plays_twice": 0,
        "closed_plays": 3, "royalty_transfers": 3, "royalty_missing": 0, "royalty_twice": 0,
        "losses": losses if lost else [], "not_matched": 1, "plays_not_built": 0,
        "unexpected": 0, "spool_dropped": 0, "spool_waiting": 0, "failed_jobs": 0,
        "queued_at_end": 0, "matched": 9,
    }  # fmt: skip
    return {"stations": 2, "duration_s": 60.0, "seed": 4, "faults": [vars(f) for f in faults],
            "recovery": chaos.recovery_by_kind(faults), "accounting": accounting,
            "drain_s": 12.0, "crashes": {"ingest": 1}, "broker_config": "minimal",
            "ledger": {"verdict": "ok", "detail": "ledger ok"}, "burst_batches": 0}  # fmt: skip


def test_render_shows_counts_recovery_and_what_was_lost_where():
    """The tables carry the counts, the recovery per kind and the lost seqs by fault."""
    text = chaos.render(result())
    summary = text.split("\n")[3]
    assert summary.split()[:2] == ["2", "broker-kill"]
    assert "db-outage 1" in summary and " n/a " in summary and summary.endswith("ok")
    assert "12      10" in summary
    lines = [line.split() for line in text.splitlines()]
    assert ["db-outage", "1", "7.5", "7.5", "0"] in lines
    assert ["broker-kill", "1", "-", "-", "1"] in lines  # never recovered
    assert ["broker-kill", "20", "2", "pi-a:", "2-3"] in lines
    assert "1 stored batches never matched" in text and "{'ingest': 1}" in text


def test_render_with_resend_rows_and_nothing_lost():
    """Resend rows are shown when central keeps them; no loss prints 'none'."""
    clean = result(lost=0)
    clean["accounting"]["resend"] = {"seq_gap": 3}
    text = chaos.render(clean)
    assert "{'seq_gap': 3}" in text
    assert "none            0" in text


def test_burst_table():
    """The burst-day table: batches, drain time and rate."""
    burst = result(lost=0)
    burst.update(burst_batches=300, rate_per_s=123.4, drain_s=48.6)
    line = chaos.render_burst(burst).split("\n")[3]
    assert line.split() == ["2", "300", "12", "12", "0", "0", "48.6", "123", "9", "1"]


def test_parse_args_defaults_and_unknown_kinds(capsys):
    """5 stations and every kind by default; the burst day has 100 stations and no faults."""
    args = chaos.parse_args([])
    assert (args.stations, args.faults, args.agent_procs) == (5, list(chaos.KINDS), 1)
    burst = chaos.parse_args(["--burst-day"])
    assert (burst.stations, burst.faults, burst.burst_batches) == (100, [], 60)
    assert (args.gap_s, args.outage_s) == ((8.0, 16.0), (2.0, 8.0))
    assert chaos.parse_args(["--gap-s", "3,5"]).gap_s == (3.0, 5.0)
    try:
        chaos.parse_args(["--faults", "db-outage,meteor"])
    except SystemExit as error:
        assert error.code == 2
    assert "meteor" in capsys.readouterr().err


def test_mosquitto_config_keeps_the_deployed_limits_not_its_files_or_accounts(tmp_path):
    """The deployed conf's limits survive; its listeners, files and accounts are replaced."""
    deployed = (
        "# production\nlistener 8883 0.0.0.0\nper_listener_settings false\n"
        "password_file /etc/mosquitto/passwd\nacl_file /etc/mosquitto/acl\n"
        "use_username_as_clientid true\nmax_queued_messages 100000\n"
        "persistence_location /var/lib/mosquitto/\nautosave_interval 1\n"
    )
    config = mosquitto_config(deployed, 4242, tmp_path, as_root=False)
    lines = config.splitlines()
    assert "max_queued_messages 100000" in lines and "autosave_interval 1" in lines
    assert "listener 4242 127.0.0.1" in lines and "allow_anonymous true" in lines
    assert f"persistence_location {tmp_path}/" in lines and "persistence true" in lines
    for gone in ("8883", "passwd", "acl_file", "use_username_as_clientid", "/var/lib"):
        assert gone not in config
    assert "user root" not in config
    assert mosquitto_config(None, 1, tmp_path, as_root=True).startswith("user root\n")
