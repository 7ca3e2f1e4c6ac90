"""Schemathesis hooks of the API audit (``SCHEMATHESIS_HOOKS=tests.audit_hooks``), loaded by its CLI.

One check beyond schemathesis's own: with a viewer's token (``VIGIE_AUDIT_ROLE=viewer``), every call to
an operation whose ``x-required-role`` (published from the routes' ``require`` decorators) is above
viewer is refused with 403 - every write but the viewer's own token, and the admin and supervisor reads
- whatever the request holds: authorization is decided before the body or the parameters are read. The
only other answer allowed is the router's 404 for a path parameter outside its documented form (a
negative case), which names no route at all.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from coordinator.api.security import OTHER_ACCOUNTS


def _required_role(case: Any) -> str | None:
    role = case.operation.definition.raw.get("x-required-role")
    return role if isinstance(role, str) else None


def _router_404(case: Any, status: int) -> bool:
    meta = case.meta
    return status == 404 and meta is not None and meta.generation.mode.is_negative


@schemathesis.check
def viewer_is_refused_above_its_role(ctx: Any, response: Any, case: Any) -> bool | None:
    """A viewer's call to an operation that needs a higher role is a 403."""
    if os.environ.get("VIGIE_AUDIT_ROLE") != "viewer":
        return None
    if case.method.upper() != case.operation.method.upper() or _required_role(case) in (None, "viewer"):
        return None  # a probe with a method the operation does not have (405), or an operation open to viewers
    if _required_role(case) in OTHER_ACCOUNTS:  # an authority's or a box's own token: a user's opens nothing
        if response.status_code not in (401, 403) and not _router_404(case, response.status_code):
            raise AssertionError(f"a viewer's {case.method.upper()} {case.path} (for {_required_role(case)} "
                                 f"accounts) was answered {response.status_code}, not 401 or 403")
        return None
    if response.status_code != 403 and not _router_404(case, response.status_code):
        raise AssertionError(f"a viewer's {case.method.upper()} {case.path} (needs {_required_role(case)}) was "
                             f"answered {response.status_code}, not 403")
    return None
