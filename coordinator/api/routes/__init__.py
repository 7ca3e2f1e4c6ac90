"""Route modules of the API, listed explicitly (a registry, not an import side effect hunt)."""

from . import auth, users

ROUTE_MODULES = (auth, users)
