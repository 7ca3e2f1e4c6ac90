"""``GET /api/v1/events/stream``: scoping by commune, backlog and resumption, over a real database."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from coordinator.storage import make_engine
from coordinator.storage.schema import events
from tests.api_helpers import add_user, make_app


def _event(dev: str, site: str, n: int, received_ms: int) -> dict[str, Any]:
    return {"device_id": dev, "boot": 1, "n": n, "site": site, "ts_ms": received_ms - 50, "received_ms": received_ms,
            "type": "line_crossing", "cam": 0, "target": "passage", "cls": 0, "track": n, "historical": False,
            "stale": False, "body": {"direction": "in"}}


def _messages(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if lines.get("event") == "event":
            out.append((lines["id"], json.loads(lines["data"])))
    return out


def test_stream_sends_only_the_callers_commune_and_resumes_after_the_last_id(db_url: str) -> None:
    app = make_app(db_url, EVENT_STREAM_MAX_S=0.3)
    now = int(time.time() * 1000)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(events), [_event("cam-dijon-1", "dijon", 1, now - 300),
                                         _event("cam-chenove-1", "chenove", 1, now - 200),
                                         _event("cam-chenove-1", "chenove", 2, now - 100)])
    engine.dispose()
    local = add_user(app, "agent.chenove", "operator", "chenove")
    resp = local.get("/events/stream?backlog=10")
    assert resp.status_code == 200
    assert resp.mimetype == "text/event-stream"
    got = _messages(resp.get_data(as_text=True))
    assert [m["key"] for _, m in got] == ["cam-chenove-1/1/1", "cam-chenove-1/1/2"]
    assert got[0][0] == str(now - 200)
    assert got[0][1]["body"] == {"direction": "in"}
    resumed = _messages(local.get("/events/stream", headers={"Last-Event-ID": got[0][0]}).get_data(as_text=True))
    assert [m["key"] for _, m in resumed] == ["cam-chenove-1/1/2"]
    assert local.get("/events/stream?site=dijon").status_code == 403
    city = add_user(app, "poste.central", "viewer")
    everything = _messages(city.get("/events/stream?backlog=10&type=line_crossing").get_data(as_text=True))
    assert len(everything) == 3
    assert _messages(city.get("/events/stream?backlog=10&type=lamp_fault").get_data(as_text=True)) == []
    # An event received now but timed an hour ago on its box (an outbox replay) is listed, not in the live backlog.
    with engine.begin() as conn:
        conn.execute(sa.insert(events), {**_event("cam-dijon-1", "dijon", 2, now - 50), "ts_ms": now - 3_600_000})
    assert [m["key"] for _, m in _messages(city.get("/events/stream?backlog=10").get_data(as_text=True))] == [
        "cam-dijon-1/1/1", "cam-chenove-1/1/1", "cam-chenove-1/1/2"]
    assert city.get("/events/stream?backlog=9999").status_code == 400
    assert app.test_client().get("/api/v1/events/stream").status_code == 401
