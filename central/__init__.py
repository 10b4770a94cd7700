"""ZamIO central: the Flask app that keeps the catalogue, matches broadcasts and pays royalties."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask import Flask, request
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import make_url
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from central import api, console, extensions, health, schema
from central.api import problems
from central.config import Settings, load_settings

logger = logging.getLogger(__name__)
FORM_BYTES_MAX = 1 << 20  # the fields of an upload's form beside its file


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from defaults, ZAMIO_* variables and `overrides`; upgrade SQLite if behind."""
    settings = load_settings(os.environ, overrides)
    app = APIFlask(
        __name__,
        title="ZamIO API",
        version="1",
        spec_path=api.SPEC_PATH,
        docs_path=api.DOCS_PATH,
        docs_ui="swagger-ui",
        json_errors=False,  # problem+json under /api (central/api/problems.py), HTML elsewhere
        static_url_path="/api/static",
        static_folder="api/static",
    )
    api.configure(app)
    app.config.update(
        ZAMIO=settings,
        TESTING=settings.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        # the largest body any view takes: a track upload and its form (zamio serve says the same)
        MAX_CONTENT_LENGTH=settings.upload_bytes_max + FORM_BYTES_MAX,
    )
    _register_models()
    _prepare_sqlite_dir(settings)
    extensions.init_app(app)
    app.register_blueprint(health.blueprint)
    api.register(app)
    console.register(app)
    app.register_error_handler(HTTPException, _http_error)
    _trust_proxies(app, settings.trusted_proxies)
    if settings.database_auto_upgrade:
        with app.app_context():
            schema.upgrade_sqlite_if_behind(extensions.db.engine)
    logger.info("app: created with %s", settings.redacted())
    return app


def _http_error(error: HTTPException) -> ResponseReturnValue:
    """An HTTP error as problem+json under /api, as the console's page elsewhere."""
    if problems.under_api(request.path):
        return problems.from_werkzeug(error)
    return console.error_page(error)


def _trust_proxies(app: Flask, proxies: int) -> None:
    """Believe the X-Forwarded-* headers `proxies` reverse proxies add (client address, scheme,
    host, port, prefix); with 0 they are ignored, as any client could send them."""
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,
            x_host=proxies,
            x_port=proxies,
            x_prefix=proxies,
        )


def _register_models() -> None:
    """Import every domain's models so their tables join the metadata Alembic compares."""
    from central.auth import models as auth_models  # noqa: F401
    from central.catalog import models, upload_models  # noqa: F401
    from central.funding import models as funding_models  # noqa: F401
    from central.ingest import models as ingest_models  # noqa: F401
    from central.ledger import models as ledger_models  # noqa: F401
    from central.matching import models as matching_models  # noqa: F401
    from central.monitoring import models as monitoring_models  # noqa: F401
    from central.notifications import models as notification_models  # noqa: F401
    from central.payouts import models as payout_models  # noqa: F401
    from central.plays import models as play_models  # noqa: F401
    from central.royalties import models as royalty_models  # noqa: F401
    from central.royalties import rollup  # noqa: F401  (also the ledger's rollup hook)
    from central.stations import models as station_models  # noqa: F401


def _prepare_sqlite_dir(settings: Settings) -> None:
    """Create the folder of an SQLite database file, so a fresh machine needs no setup."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
