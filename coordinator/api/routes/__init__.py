"""Route modules of the API, listed explicitly (a registry, not an import side effect hunt)."""

from . import analytics, auth, fleet, lighting, stream, users

ROUTE_MODULES = (auth, users, stream, fleet, lighting, analytics)
