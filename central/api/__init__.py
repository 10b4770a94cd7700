"""The read API: JSON over HTTP under /api/v1, behind a bearer token; thin over domain queries."""

from central.api.views import blueprint

__all__ = ["blueprint"]
