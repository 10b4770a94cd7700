"""The `zamio` command: a click group of every domain's commands, each loading the app (Flask's
ScriptInfo); an unreachable database or Redis ends any of them with one line, exit 1."""

from __future__ import annotations

import os
import re
from importlib.metadata import version

import click
import redis.exceptions
from flask import Flask
from flask.cli import NoAppException, ScriptInfo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from central import create_app
from central.auth import audit
from central.auth.cli import audit_command, cli_login, token_cli, user_cli
from central.catalog.cli import catalog_cli
from central.config import Settings, load_settings, redact_url
from central.db_cli import db_cli
from central.demo.cli import demo_command
from central.errors import ConfigError, SchemaError
from central.funding.cli import funding_cli
from central.ingest.cli import ingest_cli
from central.ledger.cli import ledger_cli
from central.matching.cli import rematch_command
from central.monitoring.cli import status_command
from central.notifications.cli import notify_cli
from central.notifications.sms_sim import sms_sim_command
from central.payouts.cli import payouts_cli
from central.payouts.sim_cli import momo_sim_command
from central.plays.cli import playlog_command, plays_command
from central.royalties.cli import royalty_cli
from central.scan.cli import scan_cli
from central.serve_cli import serve_command
from central.stations.cli import broker_cli, device_cli, station_cli
from central.worker_cli import purge_command, scheduler_command, worker_command
from edge_agent.fingerprint import FINGERPRINT_VERSION

# The one place domains register their commands: add the click command or group here.
COMMANDS: list[click.Command] = [
    demo_command,  # zamio demo [--music DIR] [--stream URL] [--keep] [--json]
    db_cli,  # zamio db upgrade | current | check
    catalog_cli,  # zamio catalog import | list
    playlog_command,  # zamio playlog RECORDING [--json]
    plays_command,  # zamio plays --station CODE [--since T] [--until T] [--track ID] [--json]
    serve_command,  # zamio serve [--host H] [--port P] [--threads N]
    station_cli,  # zamio station add | list | edit | remove
    device_cli,  # zamio device add | list | revoke | rotate | broker-files
    broker_cli,  # zamio broker account add | list | rotate | remove
    ingest_cli,  # zamio ingest [quarantine]
    ledger_cli,  # zamio ledger account add|list, balance, statement, verify, transfer, ...
    royalty_cli,  # zamio royalty ratecard|shares|station|accrue|explain|hold|claim|blanket ...
    status_command,  # zamio status [--station CODE] [--json]
    worker_command,  # zamio worker [--burst]
    scheduler_command,  # zamio scheduler
    rematch_command,  # zamio rematch --since T [--until T] [--station S] [--tracks new|all]
    purge_command,  # zamio purge
    scan_cli,  # zamio scan [--state-dir D] [--max-agents N] [--station CODE ...] | status
    user_cli,  # zamio user add|list|disable|enable|link|unlink|invite|outbox
    token_cli,  # zamio token create|list|revoke
    audit_command,  # zamio audit [--since T] [--actor A] [--action X] [--json]
    payouts_cli,  # zamio payouts method add|list, request, approve, reject, cancel, show, ...
    momo_sim_command,  # zamio momo-sim --api-user UUID --api-key K --subscription-key K [...]
    notify_cli,  # zamio notify list|send-due|replay|digest|watch|webhooks
    sms_sim_command,  # zamio sms-sim --port P --client-id ID --client-secret S
    funding_cli,  # zamio funding topup | invoice | topups | invoices | show
]


# PostgreSQL's words for a database that is not there (psycopg2 passes them on).
_MISSING_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def create_app_for_cli() -> Flask:
    """create_app, with configuration and schema problems shown as errors, not tracebacks."""
    try:
        return create_app()
    except (ConfigError, SchemaError) as error:
        raise NoAppException(str(error)) from None
    except OperationalError as error:  # SQLite, opened (and upgraded) by create_app
        url = load_settings(os.environ).database_url
        raise click.ClickException(database_problem(error, url)) from None


class ZamioGroup(click.Group):
    """A click group whose commands get a ScriptInfo to load the app from, and in which a
    database or Redis that cannot be used is one line on stderr and exit 1, for every command."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        """The context, with a ScriptInfo building the app from ZAMIO_* (tests pass their own)."""
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=create_app_for_cli, set_debug_flag=False, load_dotenv_defaults=False
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command, its writes audited as cli:<login>; operating errors of the services
        become one line."""
        try:
            with audit.cli_actor(cli_login()):
                return super().invoke(ctx)
        except OperationalError as error:
            url = _settings(ctx).database_url
            raise click.ClickException(database_problem(error, url)) from None
        except REDIS_ERRORS as error:
            url = _settings(ctx).redis_url
            raise click.ClickException(redis_problem(error, url)) from None


def _settings(ctx: click.Context) -> Settings:
    """The settings of the app the failed command loaded, else those of the environment (never
    a new app: building one could open a database just to name it)."""
    info = ctx.find_object(ScriptInfo)
    # ScriptInfo keeps the app it loaded here since Flask 0.11; it has no public "loaded yet?".
    app = getattr(info, "_loaded_app", None)
    return app.config["ZAMIO"] if app is not None else load_settings(os.environ)


def database_problem(error: OperationalError, url: str) -> str:
    """One line: what is wrong with the database at `url` and what to do about it."""
    shown = redact_url(url)
    reason = str(error.orig).strip() or type(error.orig).__name__
    missing = _MISSING_DATABASE.search(reason)
    if missing:
        return (
            f"database {missing['name']} does not exist ({shown}, ZAMIO_DATABASE_URL):"
            f" create it with `{createdb_command(url)}` (or SQL `CREATE DATABASE"
            f' "{missing["name"]}"`), then run `zamio db upgrade`'
        )
    return f"cannot use the database {shown} (ZAMIO_DATABASE_URL): {reason.splitlines()[0]}"


def createdb_command(url: str) -> str:
    """The `createdb` command line that makes the database of a PostgreSQL `url`."""
    parts = make_url(url)
    words = ["createdb"]
    for flag, value in (("-h", parts.host), ("-p", parts.port), ("-U", parts.username)):
        if value is not None:
            words += [flag, str(value)]
    return " ".join([*words, parts.database or "zamio"])


def redis_problem(error: redis.exceptions.RedisError, url: str | None) -> str:
    """One line: Redis at `url` cannot be reached, and the setting that names it."""
    shown = redact_url(url) if url else "(unset)"
    reason = (str(error).strip() or type(error).__name__).splitlines()[0]
    return f"cannot reach Redis at {shown} (ZAMIO_REDIS_URL): {reason}"


@click.group(
    "zamio", cls=ZamioGroup, help="ZamIO central: catalogue, broadcast matching and royalties."
)
@click.version_option(
    version("zamio"),
    prog_name="zamio",
    message=f"%(prog)s %(version)s (fingerprint version {FINGERPRINT_VERSION})",
)
def cli() -> None:
    """ZamIO central: catalogue, broadcast matching and royalties."""


for command in COMMANDS:
    cli.add_command(command)
