"""Tests for edge_agent.settings: the agent's TOML config, its env overrides and its checks."""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
from pathlib import Path

import pytest

from edge_agent.errors import SettingsError
from edge_agent.settings import (
    CONFIG_ENV,
    SOURCES_MAX,
    AgentSettings,
    HealthSettings,
    SpoolSettings,
    UplinkSettings,
    load_settings,
    parse_settings,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "agent.example.toml"
SECRET = "Zq9#tr0ub4dor&3-SECRET"  # distinctive, so any leak is found by a substring search
MINIMAL = """
device_id = "pi-1"
station_id = "joy-fm"

[[source]]
id = "fm"
kind = "stream"
url = "https://stream.example.com/joy.mp3"
"""


def write(directory: Path, text: str, name: str = "agent.toml") -> Path:
    """Write `text`, dedented, to `directory`/`name` and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """The problems load_settings reports for the config at `path`."""
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


def with_source(source: str) -> str:
    """A config whose only source is the [[source]] body `source`."""
    return f'device_id = "pi-1"\nstation_id = "joy-fm"\n[[source]]\n{textwrap.dedent(source)}\n'


def secret_file(directory: Path) -> Path:
    """A password file holding SECRET and a CRLF line ending."""
    path = directory / "mqtt-password"
    path.write_bytes(SECRET.encode() + b"\r\n")
    return path


def test_full_config_loads_with_values_and_resolved_defaults(tmp_path: Path) -> None:
    """Every table and source kind loads with its values; unset station and client ids resolve."""
    secret_file(tmp_path)
    (tmp_path / "ca.pem").write_text("ca")
    (tmp_path / "test.mp3").write_bytes(b"ID3")
    config = write(
        tmp_path,
        """
        device_id = "pi-1"
        station_id = "joy-fm"
        log_level = "DEBUG"

        [uplink]
        url = "mqtts://broker.example.com"
        username = "pi-1"
        password_file = "mqtt-password"
        ca_file = "ca.pem"
        keepalive_s = 30
        heartbeat_s = 15
        backoff_s_max = 30.5

        [spool]
        path = "spool.db"
        bytes_max = 2097152

        [health]
        dead_air_s = 20
        silence_dbfs = -60.0

        [[source]]
        id = "fm"
        kind = "stream"
        url = "rtmp://media.example.com:1935/live"

        [[source]]
        id = "archive"
        kind = "file"
        path = "test.mp3"
        loop = true
        readrate = 0
        station_id = "adom-fm"

        [[source]]
        id = "tuner"
        kind = "alsa"
        device = "hw:1,0"

        [[source]]
        id = "desk"
        kind = "soundcard"
        """,
    )
    settings = load_settings(config, {})
    assert (settings.device_id, settings.station_id, settings.log_level) == (
        "pi-1",
        "joy-fm",
        "debug",
    )
    fm, archive, tuner, desk = settings.sources
    assert (fm.kind, fm.url, fm.station_id) == (
        "stream",
        "rtmp://media.example.com:1935/live",
        "joy-fm",
    )
    assert (archive.path, archive.loop, archive.readrate) == (tmp_path / "test.mp3", True, 0.0)
    assert archive.station_id == "adom-fm"
    assert (tuner.device, desk.device, desk.station_id) == ("hw:1,0", None, "joy-fm")
    uplink = settings.uplink
    assert (uplink.host, uplink.port, uplink.tls) == ("broker.example.com", 8883, True)
    assert (uplink.username, uplink.password, uplink.client_id) == (
        "pi-1",
        SECRET,
        "zamio-agent-pi-1",
    )
    assert (uplink.keepalive_s, uplink.heartbeat_s, uplink.backoff_s_max) == (30, 15.0, 30.5)
    assert uplink.inflight_max == UplinkSettings().inflight_max
    assert settings.spool == SpoolSettings(
        tmp_path / "spool.db", 2097152, SpoolSettings().age_s_max
    )
    assert (settings.health.dead_air_s, settings.health.silence_dbfs) == (20.0, -60.0)
    assert isinstance(settings.health.dead_air_s, float)


def test_minimal_config_gets_every_default(tmp_path: Path) -> None:
    """Ids and one source suffice; everything else takes the documented defaults."""
    settings = load_settings(write(tmp_path, MINIMAL), {})
    assert settings.log_level == "info"
    assert settings.uplink == UplinkSettings(client_id="zamio-agent-pi-1")
    assert (settings.uplink.host, settings.uplink.port, settings.uplink.tls) == (
        "127.0.0.1",
        1883,
        False,
    )
    assert settings.spool == SpoolSettings()
    assert settings.health == HealthSettings()


def test_example_file_loads_and_shows_every_key(tmp_path: Path) -> None:
    """deploy/agent.example.toml loads as shipped, with each default, and names every key."""
    settings = load_settings(EXAMPLE, {})
    assert settings.uplink == UplinkSettings(client_id=f"zamio-agent-{settings.device_id}")
    assert (settings.spool, settings.health) == (SpoolSettings(), HealthSettings())
    text = EXAMPLE.read_text()
    for cls in (UplinkSettings, SpoolSettings, HealthSettings):
        for item in dataclasses.fields(cls):
            assert item.name == "password" or f"{item.name} = " in text, item.name
    for kind in ("stream", "file", "alsa", "soundcard"):
        assert f'kind = "{kind}"' in text
    environ = {
        "ZAMIO_AGENT_UPLINK_USERNAME": "pi-1",
        "ZAMIO_AGENT_UPLINK_PASSWORD_FILE": str(secret_file(tmp_path)),
    }
    assert load_settings(EXAMPLE, environ).uplink.password == SECRET


def test_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    """With no path given, ZAMIO_AGENT_CONFIG names the file, and is no setting itself."""
    config = write(tmp_path, MINIMAL, "elsewhere.toml")
    assert load_settings(None, {CONFIG_ENV: str(config)}).device_id == "pi-1"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """A config with several errors in several places lists all of them in one SettingsError."""
    config = write(
        tmp_path,
        """
        device_id = "pi/1"
        station_id = "joy-fm"
        colour = "blue"
        [uplink]
        keepalive_s = 1
        [spool]
        bytes_max = 1024
        [health]
        dead_air_s = "long"
        [[source]]
        id = "fm"
        kind = "stream"
        """,
    )
    problems = problems_of(config, {"ZAMIO_AGENT_UPLINK_INFLIGHT_MAX": "many"})
    expected = [
        "device_id: must be 1 to 64 letters",
        "unknown key 'colour' in the top level",
        "[uplink] keepalive_s: must be >= 5 and <= 600, got 1",
        "[spool] bytes_max: must be >= 1048576, got 1024",
        "[health] dead_air_s: expected a number, got a string",
        "source[0] (id 'fm'): url is required for a stream source",
        "ZAMIO_AGENT_UPLINK_INFLIGHT_MAX: expected an integer, got 'many'",
    ]
    assert len(problems) == len(expected), problems
    for fragment in expected:
        assert any(fragment in problem for problem in problems), fragment
    assert all(p.startswith(f"{config}: ") or p.startswith("ZAMIO_AGENT_") for p in problems)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {"ZAMIO_AGENT_UPLINK_INFLIGHT_MAX": "many"})
    assert str(caught.value) == "\n".join(problems)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("speed = 1\n", "the top level"),
        ("[uplink]\nhots = 'x'", "[uplink]"),
        ("[spool]\nsize = 1", "[spool]"),
        ("[health]\nloudness = 1", "[health]"),
        ('[[source]]\nid = "tv"\nkind = "soundcard"\ngain = 2', "source[1] (id 'tv')"),
    ],
)
def test_unknown_keys_are_rejected_everywhere(tmp_path: Path, text: str, where: str) -> None:
    """An unknown key at the top level, in any table or in a source is a problem naming where."""
    text = text + MINIMAL if where == "the top level" else MINIMAL + text
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1 and f"in {where}" in problems[0] and "unknown key" in problems[0]


def test_a_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    """A near miss of a known key names the key that was probably meant."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + "[health]\ndead_air = 3"))
    assert "did you mean 'dead_air_s'?" in problem


def test_password_key_gets_a_hint_and_is_not_echoed(tmp_path: Path) -> None:
    """`password` in [uplink] points to password_file; its value appears in no problem."""
    config = write(tmp_path, MINIMAL + f'[uplink]\nusername = "pi"\npassword = "{SECRET}"')
    (problem,) = problems_of(config)
    assert "unknown key 'password' in [uplink]" in problem
    assert "put the password in a file and set password_file" in problem
    assert SECRET not in problem


@pytest.mark.parametrize(
    ("name", "value", "read", "expected"),
    [
        ("DEVICE_ID", "pi-9", lambda s: s.device_id, "pi-9"),
        ("STATION_ID", "adom-fm", lambda s: s.sources[0].station_id, "adom-fm"),
        ("LOG_LEVEL", "WARNING", lambda s: s.log_level, "warning"),
        (
            "UPLINK_URL",
            "mqtts://b.example:9883",
            lambda s: (s.uplink.port, s.uplink.tls),
            (9883, True),
        ),
        ("UPLINK_CLIENT_ID", "pi-9.main", lambda s: s.uplink.client_id, "pi-9.main"),
        ("UPLINK_KEEPALIVE_S", " 120 ", lambda s: s.uplink.keepalive_s, 120),
        ("UPLINK_BACKLOG_RATE_MAX", "2.5", lambda s: s.uplink.backlog_rate_max, 2.5),
        ("SPOOL_BYTES_MAX", "2097152", lambda s: s.spool.bytes_max, 2097152),
        ("HEALTH_DEAD_AIR_S", "30", lambda s: s.health.dead_air_s, 30.0),
        ("HEALTH_SILENCE_DBFS", "-45.5", lambda s: s.health.silence_dbfs, -45.5),
    ],
)
def test_env_overrides_each_setting_kind(
    tmp_path: Path, name: str, value: str, read, expected
) -> None:
    """ZAMIO_AGENT_* variables of every type override the file's values and defaults."""
    config = write(tmp_path, MINIMAL + "[uplink]\nkeepalive_s = 10\n[health]\ndead_air_s = 5")
    assert read(load_settings(config, {f"ZAMIO_AGENT_{name}": value})) == expected


def test_env_paths_resolve_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path from the environment is taken from the cwd, not the config's directory."""
    config = write(tmp_path / "etc", MINIMAL)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(config, {"ZAMIO_AGENT_SPOOL_PATH": "var/spool.db"})
    assert settings.spool.path == tmp_path / "var" / "spool.db"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ZAMIO_AGENT_UPLINK_KEEPALIVE_S", "60.0", "expected an integer, got '60.0'"),
        ("ZAMIO_AGENT_HEALTH_STALL_S", "soon", "expected a number, got 'soon'"),
        ("ZAMIO_AGENT_HEALTH_STALL_S", "nan", "must be a finite number"),
        ("ZAMIO_AGENT_HEALTH_STALL_S", "0", "must be > 0, got 0.0"),
        ("ZAMIO_AGENT_DEVICE_ID", "pi#1", "goes into MQTT topics"),
        ("ZAMIO_AGENT_LOG_LEVEL", "loud", "must be one of debug, info, warning, error"),
        ("ZAMIO_AGENT_UPLINK_USERNAME", "  ", "is empty"),
        ("ZAMIO_AGENT_SPOOL_SIZE", "1", "unknown variable"),
        ("ZAMIO_AGENT_HEALTH_DEADAIR_S", "1", "did you mean 'ZAMIO_AGENT_HEALTH_DEAD_AIR_S'?"),
        ("ZAMIO_AGENT_SOURCE_URL", "http://x", "sources cannot be set from the environment"),
        ("ZAMIO_AGENT_UPLINK_PASSWORD", SECRET, "set ZAMIO_AGENT_UPLINK_PASSWORD_FILE"),
    ],
)
def test_bad_env_values_are_problems_naming_the_variable(
    tmp_path: Path, name: str, value: str, fragment: str
) -> None:
    """A value that does not convert or check, or an unknown variable, is named in a problem."""
    (problem,) = problems_of(write(tmp_path, MINIMAL), {name: value})
    assert problem.startswith(f"{name}: ") and fragment in problem
    assert SECRET not in problem


def test_env_bool_values() -> None:
    """Booleans from the environment accept 1/0/true/false/yes/no/on/off and nothing else."""
    from edge_agent.settings import _from_env

    assert [_from_env(bool, v) for v in ("1", "TRUE", "yes", "On")] == [True] * 4
    assert [_from_env(bool, v) for v in ("0", "false", "No", "off")] == [False] * 4
    with pytest.raises(ValueError, match="expected one of"):
        _from_env(bool, "maybe")


def test_unrelated_environment_is_ignored(tmp_path: Path) -> None:
    """Variables outside the ZAMIO_AGENT_ prefix, and central's ZAMIO_*, are left alone."""
    environ = {"PATH": "/bin", "ZAMIO_DATABASE_URL": "sqlite://", CONFIG_ENV: "/nowhere"}
    assert load_settings(write(tmp_path, MINIMAL), environ).device_id == "pi-1"


def test_password_is_read_from_its_file(tmp_path: Path) -> None:
    """The password is the file's text minus trailing CR/LF; inner spaces are kept."""
    (tmp_path / "pw").write_bytes(b" a b \n\r\n")
    config = write(tmp_path, MINIMAL + '[uplink]\nusername = "pi"\npassword_file = "pw"')
    assert load_settings(config, {}).uplink.password == " a b "


def test_password_never_appears_in_output(tmp_path: Path) -> None:
    """The password is absent from repr(), str(), redacted() and every problem message."""
    secret_file(tmp_path)
    good = MINIMAL + '[uplink]\nusername = "pi"\npassword_file = "mqtt-password"\n'
    settings = load_settings(write(tmp_path, good), {})
    assert settings.uplink.password == SECRET
    redacted = settings.redacted()
    assert redacted["uplink"]["password"] == "***"
    for text in (repr(settings), str(settings), repr(settings.uplink), json.dumps(redacted)):
        assert SECRET not in text
    bad = good + f'password = "{SECRET}"\nurl = "mqtt://pi:{SECRET}@broker"\nkeepalive_s = 0\n'
    bad += f'[[source]]\nid = "web"\nkind = "stream"\nurl = "ftp://u:{SECRET}@x/a"\n'
    environ = {"ZAMIO_AGENT_UPLINK_PASSWORD": SECRET}
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, bad), environ)
    assert len(caught.value.problems) == 5
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_redacted_is_plain_and_hides_url_passwords(tmp_path: Path) -> None:
    """redacted() is JSON-ready (paths as str), password None when unset, stream URLs masked."""
    text = MINIMAL.replace("https://stream.", "https://user:Stream-Pw-42@stream.")
    redacted = load_settings(write(tmp_path, text), {}).redacted()
    assert redacted["uplink"]["password"] is None
    assert redacted["spool"]["path"] == "/var/lib/zamio/spool.db"
    assert redacted["sources"][0]["url"] == "https://user:***@stream.example.com/joy.mp3"
    assert json.loads(json.dumps(redacted)) == redacted


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "password_file: mqtt-password is empty"),
        ("\r\n", "password_file: mqtt-password is empty"),
        (None, "does not exist"),
    ],
)
def test_unusable_password_file_is_a_problem(
    tmp_path: Path, text: str | None, fragment: str
) -> None:
    """An empty or missing password file is refused."""
    if text is not None:
        (tmp_path / "mqtt-password").write_text(text)
    config = write(tmp_path, MINIMAL + '[uplink]\nusername = "pi"\npassword_file = "mqtt-password"')
    (problem,) = problems_of(config)
    assert fragment in problem.replace(str(tmp_path) + os.sep, "")


def test_unreadable_password_file_is_a_problem(tmp_path: Path) -> None:
    """A password file that cannot be read (a directory: unreadable even to root) is refused."""
    (tmp_path / "mqtt-password").mkdir()
    config = write(tmp_path, MINIMAL + '[uplink]\nusername = "pi"\npassword_file = "mqtt-password"')
    (problem,) = problems_of(config)
    assert "mqtt-password" in problem


def test_password_file_needs_a_username(tmp_path: Path) -> None:
    """password_file without username is a problem."""
    secret_file(tmp_path)
    (problem,) = problems_of(write(tmp_path, MINIMAL + '[uplink]\npassword_file = "mqtt-password"'))
    assert "password_file is set but username is not" in problem


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('id = "a"\nkind = "stream"', "url is required for a stream source"),
        ('id = "a"\nkind = "stream"\nurl = "ftp://x/a"', "scheme must be one of http, https"),
        ('id = "a"\nkind = "stream"\nurl = "http:///a.mp3"', "needs a host"),
        ('id = "a"\nkind = "stream"\nurl = "udp://h:99999"', "is not a valid URL"),
        ('id = "a"\nkind = "stream"\nurl = "http://x"\npath = "a.wav"', "path does not apply"),
        ('id = "a"\nkind = "stream"\nurl = "http://x"\nloop = true', "loop does not apply"),
        ('id = "a"\nkind = "file"', "path is required for a file source"),
        ('id = "a"\nkind = "file"\npath = "missing.wav"', "missing.wav does not exist"),
        ('id = "a"\nkind = "file"\npath = "."', "is not a file"),
        ('id = "a"\nkind = "file"\npath = "a.wav"\nurl = "http://x"', "url does not apply"),
        ('id = "a"\nkind = "file"\npath = "a.wav"\nreadrate = -1', "must be >= 0, got -1.0"),
        ('id = "a"\nkind = "file"\npath = "a.wav"\nloop = "yes"', "expected true or false"),
        ('id = "a"\nkind = "alsa"', "device is required for a alsa source"),
        ('id = "a"\nkind = "alsa"\ndevice = "hw:1"\nreadrate = 2', "readrate does not apply"),
        ('id = "a"\nkind = "soundcard"\ndevice = 2', "expected a string, got an integer"),
        ('id = "a"\nkind = "radio"', "kind: must be one of stream, file, alsa, soundcard"),
        ('kind = "soundcard"', "id is required"),
        ('id = "a"', "kind is required"),
        ('id = "a b"\nkind = "soundcard"', "goes into MQTT topics"),
        ('id = "a"\nkind = "soundcard"\nstation_id = "x+y"', "goes into MQTT topics"),
    ],
)
def test_per_kind_source_rules(tmp_path: Path, source: str, fragment: str) -> None:
    """Each kind requires its own fields and refuses those of other kinds."""
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (problem,) = problems_of(write(tmp_path, with_source(source)))
    assert fragment in problem


def test_source_count_and_unique_ids(tmp_path: Path) -> None:
    """No sources, more than SOURCES_MAX, a repeated id or a single [source] table are problems."""
    ids = 'device_id = "pi-1"\nstation_id = "s"\n'
    assert "add at least one [[source]]" in problems_of(write(tmp_path, ids))[0]
    single = problems_of(write(tmp_path, ids + '[source]\nid = "a"\nkind = "soundcard"'))
    assert "write [[source]]" in single[0]
    many = ids + '[[source]]\nid = "a"\nkind = "soundcard"\n' * (SOURCES_MAX + 1)
    problems = problems_of(write(tmp_path, many))
    assert f"{SOURCES_MAX + 1} sources, at most {SOURCES_MAX}" in problems[0]
    assert "source[1] (id 'a'): id 'a' is used by source[0] too" in problems[1]
    ok = ids + "".join(f'[[source]]\nid = "s{i}"\nkind = "soundcard"\n' for i in range(SOURCES_MAX))
    assert len(load_settings(write(tmp_path, ok), {}).sources) == SOURCES_MAX


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('station_id = "x"\n', "device_id is required (or set ZAMIO_AGENT_DEVICE_ID)"),
        ('device_id = "x"\n', "station_id is required"),
        ('device_id = "a/b"\nstation_id = "x"\n', "goes into MQTT topics"),
        (f'device_id = "{"d" * 65}"\nstation_id = "x"\n', "1 to 64 letters"),
        ('device_id = "x"\nstation_id = "-x"\n', "the first a letter or digit"),
        ('device_id = "x"\nstation_id = "x\\n"\n', "goes into MQTT topics"),
        ('device_id = 7\nstation_id = "x"\n', "device_id: expected a string, got an integer"),
        ('device_id = ""\nstation_id = "x"\n', "device_id: must not be empty"),
    ],
)
def test_agent_ids_are_required_and_topic_safe(tmp_path: Path, text: str, fragment: str) -> None:
    """device_id and station_id must be set and fit in an MQTT topic level."""
    body = '[[source]]\nid = "a"\nkind = "soundcard"\n'
    problems = problems_of(write(tmp_path, text + body))
    assert any(fragment in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("uplink", "fragment"),
    [
        ('keepalive_s = "60"', "keepalive_s: expected an integer, got a string"),
        ("inflight_max = true", "inflight_max: expected an integer, got true or false"),
        ("keepalive_s = 60.0", "keepalive_s: expected an integer, got a number"),
        ("heartbeat_s = inf", "must be a finite number"),
        ("keepalive_s = 601", "must be >= 5 and <= 600"),
        ("heartbeat_s = 0.5", "must be >= 1 and <= 3600"),
        ("session_expiry_s = 4294967296", "must be >= 0 and <= 4294967295"),
        ("inflight_max = 0", "must be >= 1 and <= 1000"),
        ("backlog_rate_max = 0", "must be > 0"),
        ("backoff_s_min = 10\nbackoff_s_max = 5", "backoff_s_max (5.0) is below backoff_s_min"),
        ("backoff_s_min = 200", "backoff_s_max (120.0) is below backoff_s_min (200.0)"),
        ('client_id = "a/#"', "client_id: must be 1 to 64"),
        ('url = "http://broker"', "scheme must be one of mqtt, mqtts"),
        ('url = "mqtt://"', "needs a host"),
        ('url = "mqtt://broker:0"', "needs a host and an optional port within 1..65535"),
        ('url = "mqtt://broker:65536"', "is not a valid URL"),
        ('url = "mqtt://broker/zamio"', "must have no path or query"),
        ('url = "mqtt://broker?x=1"', "must have no path or query"),
        ('url = "mqtt://u@broker"', "must hold no credentials"),
        ("uplink = 1", "unknown key 'uplink' in [uplink]"),
    ],
)
def test_uplink_values_are_checked(tmp_path: Path, uplink: str, fragment: str) -> None:
    """Wrong types, out-of-range numbers and unusable broker URLs in [uplink] are refused."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + f"[uplink]\n{uplink}"))
    assert fragment in problem


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ("[spool]\nage_s_max = 0", "[spool] age_s_max: must be > 0"),
        ("[spool]\npath = 3", "expected a path (a string), got an integer"),
        ('[spool]\npath = "."', "is a directory; give the spool's file, e.g. "),
        ('[spool]\npath = "agent.toml/spool.db"', "agent.toml is not a directory, so"),
        ('[spool]\npath = "agent.toml/a/b/spool.db"', "agent.toml is not a directory, so"),
        ("[spool]\njournal_s_max = -1", "[spool] journal_s_max: must be >= 0"),
        ("[spool]\njournal_bytes_max = -1", "[spool] journal_bytes_max: must be >= 0"),
        ("[spool]\njournal_bytes_max = 1.5", "expected an integer, got a number"),
        ("[health]\nsilence_dbfs = 0", "silence_dbfs: must be < 0"),
        ("[health]\nclipping_share_max = 1", "must be > 0 and < 1, got 1.0"),
        ("[health]\nclipping_share_max = 0", "must be > 0 and < 1, got 0.0"),
        ("[health]\nstall_s = -1", "stall_s: must be > 0"),
        ("[health]\nrestart_backoff_s_max = 0.5", "restart_backoff_s_max (0.5) is below"),
        ('health = "ok"', "health must be a table: write [health]"),
        ('log_level = "verbose"', "log_level: must be one of debug, info, warning, error"),
    ],
)
def test_spool_and_health_values_are_checked(tmp_path: Path, table: str, fragment: str) -> None:
    """Out-of-range spool limits and health thresholds are refused."""
    text = table + "\n" + MINIMAL if table.startswith(("health", "log")) else MINIMAL + table
    (problem,) = problems_of(write(tmp_path, text))
    assert fragment in problem


def test_ints_are_accepted_for_floats(tmp_path: Path) -> None:
    """An integer where a float is expected loads as that float."""
    settings = load_settings(write(tmp_path, MINIMAL + "[spool]\nage_s_max = 3600"), {})
    assert settings.spool.age_s_max == 3600.0 and isinstance(settings.spool.age_s_max, float)


@pytest.mark.parametrize(
    ("uplink", "files", "fragment"),
    [
        ('url = "mqtt://b"\nca_file = "ca.pem"', ["ca.pem"], "ca_file set but the url is mqtt://"),
        (
            'url = "mqtt://b"\ncert_file = "c.pem"\nkey_file = "k.pem"',
            ["c.pem", "k.pem"],
            "use mqtts://",
        ),
        ('url = "mqtts://b"\ncert_file = "c.pem"', ["c.pem"], "cert_file and key_file go together"),
        ('url = "mqtts://b"\nkey_file = "k.pem"', ["k.pem"], "cert_file and key_file go together"),
        ('url = "mqtts://b"\nca_file = "ca.pem"', [], "ca.pem does not exist"),
        ('url = "mqtts://b"\nca_file = "."', [], "is not a file"),
    ],
)
def test_tls_settings_must_agree(
    tmp_path: Path, uplink: str, files: list[str], fragment: str
) -> None:
    """TLS files need mqtts://, cert and key come as a pair, and every file must exist."""
    for name in files:
        (tmp_path / name).write_text("pem")
    (problem,) = problems_of(write(tmp_path, MINIMAL + f"[uplink]\n{uplink}"))
    assert fragment in problem


def test_full_tls_client_loads(tmp_path: Path) -> None:
    """An mqtts:// url with CA, certificate and key loads, on port 8883 unless given."""
    for name in ("ca.pem", "c.pem", "k.pem"):
        (tmp_path / name).write_text("pem")
    uplink = 'url = "mqtts://b"\nca_file = "ca.pem"\ncert_file = "c.pem"\nkey_file = "k.pem"'
    settings = load_settings(write(tmp_path, MINIMAL + f"[uplink]\n{uplink}"), {})
    assert (settings.uplink.port, settings.uplink.tls) == (8883, True)
    assert settings.uplink.key_file == tmp_path / "k.pem"


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative paths in the file mean the file's directory, whatever the cwd; absolute stay."""
    conf = tmp_path / "conf"
    secret_file(conf.parent)
    (conf / "media").mkdir(parents=True)
    (conf / "media" / "a.wav").write_bytes(b"RIFF")
    text = with_source('id = "a"\nkind = "file"\npath = "media/a.wav"')
    text += '[uplink]\nusername = "pi"\npassword_file = "../mqtt-password"\n'
    text += f'[spool]\npath = "{tmp_path / "abs.db"}"\n'
    config = write(conf, text)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf/agent.toml"), {})
    assert settings.sources[0].path == conf / "media" / "a.wav"
    assert settings.uplink.password_file == conf / ".." / "mqtt-password"
    assert settings.uplink.password == SECRET
    assert settings.spool.path == tmp_path / "abs.db"
    assert config.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "no such file"),
        (b'device_id = "pi-1"\nstation_id = = 3\n', "invalid TOML: Invalid value (at line 2"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
)
def test_unusable_config_file_is_one_problem(
    tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    """A missing, malformed or non-text file stops with a single problem naming the path."""
    path = tmp_path / "agent.toml"
    if content is not None:
        path.write_bytes(content)
    (problem,) = problems_of(path)
    assert problem.startswith(str(path)) and fragment in problem


def test_a_directory_as_config_is_one_problem(tmp_path: Path) -> None:
    """A directory where the file should be is reported, not raised as an OSError."""
    (problem,) = problems_of(tmp_path)
    assert "cannot read" in problem


def test_parse_settings_takes_a_parsed_document() -> None:
    """The pure entry point validates a dict with env overrides and names `origin` in problems."""
    document = {
        "device_id": "pi-1",
        "station_id": "s",
        "source": [{"id": "a", "kind": "stream", "url": "srt://h:9000?mode=caller"}],
    }
    settings = parse_settings(document, {"ZAMIO_AGENT_LOG_LEVEL": "error"})
    assert isinstance(settings, AgentSettings) and settings.log_level == "error"
    with pytest.raises(SettingsError, match=r"^test\.toml: unknown key 'x' in the top level"):
        parse_settings({**document, "x": 1}, {}, origin="test.toml")


def test_uplink_protocol_from_file_and_environment(tmp_path: Path) -> None:
    """protocol defaults to MQTT 5; "3.1.1" comes from [uplink] or ZAMIO_AGENT_UPLINK_PROTOCOL."""
    assert load_settings(write(tmp_path, MINIMAL), {}).uplink.protocol == "5"
    config = write(tmp_path, MINIMAL + '[uplink]\nprotocol = "3.1.1"')
    assert load_settings(config, {}).uplink.protocol == "3.1.1"
    environ = {"ZAMIO_AGENT_UPLINK_PROTOCOL": "5"}
    assert load_settings(config, environ).uplink.protocol == "5"


@pytest.mark.parametrize(
    ("uplink", "environ", "fragment"),
    [
        ('protocol = "3.1"', {}, "[uplink] protocol: must be one of 5, 3.1.1, got '3.1'"),
        ('protocol = "v5"', {}, "must be one of 5, 3.1.1, got 'v5'"),
        ("protocol = 5", {}, "[uplink] protocol: expected a string, got an integer"),
        ("", {"ZAMIO_AGENT_UPLINK_PROTOCOL": "311"}, "must be one of 5, 3.1.1, got '311'"),
    ],
)
def test_uplink_protocol_is_checked(
    tmp_path: Path, uplink: str, environ: dict[str, str], fragment: str
) -> None:
    """An MQTT version other than 5 or 3.1.1 is refused, the allowed values named."""
    (problem,) = problems_of(write(tmp_path, MINIMAL + f"[uplink]\n{uplink}"), environ)
    assert fragment in problem
