"""Hostile input gets a 4xx in the API's error shape, never a server error, on SQLite and PostgreSQL.

Each case here is one an outside audit reproduced as a 500 (integers beyond 64 bits reaching SQLite,
JSON nested 1,000 levels deep, Unicode digits, bodies of any size) or one found by the schemathesis run
(NUL characters that PostgreSQL cannot store). Every response is also checked against the OpenAPI
document by the app (``VALIDATE_RESPONSES``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st

from coordinator.api.bodies import MAX_JSON_DEPTH, json_problem
from coordinator.api.params import MAX_ID, MAX_MS, parse_digits, positive_at_most
from tests.api_helpers import Caller, add_user, make_app

HUGE = "99999999999999999999"
TEAM = {"id": "pm-dijon", "name": "Police municipale", "commune": "dijon", "skills": ["police"]}


@pytest.fixture
def admin(app: Flask) -> Caller:
    return add_user(app, "chef", "admin")


@pytest.fixture
def intervention(admin: Caller) -> int:
    resp = admin.post("/interventions", json={"kind": "incident", "title": "Arbre", "commune": "dijon"})
    assert resp.status_code == 201
    iid: int = resp.get_json()["id"]
    return iid


def error_of(resp: Any, status: int) -> dict[str, Any]:
    """The error object of ``resp``, after checking its status and the one error shape."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and body["error"]["status"] == status, body
    error: dict[str, Any] = body["error"]
    return error


def deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


OUT_OF_RANGE_IDS = [
    ("GET", f"/interventions/{HUGE}", None),
    ("GET", f"/interventions/{HUGE}/proposal", None),
    ("GET", f"/rules/{HUGE}", None),
    ("PUT", f"/rules/{HUGE}", {"name": "r", "config": {"type": "loitering"}}),
    ("POST", f"/interventions/{HUGE}/comments", {"text": "vu"}),
    ("POST", f"/interventions/{HUGE}/assign", {"team": "pm-dijon"}),
    ("POST", f"/interventions/{HUGE}/transitions", {"to": "acknowledged"}),
    ("GET", f"/interventions/{MAX_ID + 1}", None),
    ("GET", "/interventions/0", None),
    ("GET", "/interventions/%D9%A3", None),  # ARABIC-INDIC DIGIT THREE: int() reads it as 3
    ("GET", "/open311/requests/%C2%B2", None),  # SUPERSCRIPT TWO: isdigit() accepts it, int() does not
    ("GET", f"/open311/requests/{HUGE}", None),
    ("GET", "/devices/cam%00", None),
    ("GET", "/teams/pm%00dijon", None),
    # Users, tokens and requisitions are keyed by 32-bit integers: PostgreSQL casts a bound id to the column's
    # type, so an id past 2^31 - 1 was a 500 there (found by the schemathesis audit).
    ("GET", f"/users/{2**31}/tokens", None),
    ("PATCH", f"/users/{2**31}", {"active": False}),
    ("DELETE", f"/users/1/tokens/{2**31}", None),
    ("GET", f"/requisitions/{2**31}", None),
    ("POST", f"/requisitions/{2**31}/decision", {"approve": True}),
]


def test_ids_out_of_range_or_not_ascii_digits_are_404(admin: Caller, intervention: int) -> None:
    for method, path, body in OUT_OF_RANGE_IDS:
        error_of(admin.call(method, path, json=body), 404)


def test_the_largest_id_is_a_plain_404(admin: Caller) -> None:
    error_of(admin.get(f"/interventions/{MAX_ID}"), 404)
    error_of(admin.get(f"/open311/requests/{MAX_ID}"), 404)
    error_of(admin.get(f"/users/{2**31 - 1}/tokens"), 404)
    error_of(admin.get(f"/requisitions/{2**31 - 1}"), 404)


OUT_OF_RANGE_QUERIES = [
    f"/devices?offset={HUGE}",
    "/devices?offset=1000001",
    "/devices?limit=%D9%A3",
    "/devices?limit=1_0",
    "/devices?site=%00",
    f"/interventions?before={HUGE}",
    "/interventions?before=%C2%B2",
    "/analytics/counts?to=1191966082057998958592",
    f"/analytics/counts?from={MAX_MS + 1}",
    "/analytics/occupancy?from=-1",
    f"/analytics/energy?to={HUGE}",
    f"/analytics/counts?cls={HUGE}",
    f"/fleet/health?silent_after_s={HUGE}",
    f"/lighting/commands?limit={HUGE}",
    "/lighting/calendars?site=%00",
    "/lighting/calendars?site=atlantis",
    "/interventions?kind=meteor",
]


def test_query_values_beyond_their_documented_range_are_400(admin: Caller) -> None:
    for query in OUT_OF_RANGE_QUERIES:
        error = error_of(admin.get(query), 400)
        assert error["message"], query


def test_a_huge_intervention_id_in_a_field_status_body_is_400(admin: Caller, intervention: int) -> None:
    assert admin.post("/teams", json=TEAM).status_code == 201
    error = error_of(admin.post("/teams/pm-dijon/status",
                                json={"intervention": 100000000000000000000, "state": "on_site"}), 400)
    assert "intervention" in error["message"]


def test_a_huge_override_expiry_is_400_and_nothing_is_stored(admin: Caller) -> None:
    body = {"scope": "commune", "site": "dijon", "level": 50, "expires": 10**30}
    error = error_of(admin.post("/lighting/overrides", json=body), 400)
    assert "expires" in error["message"]
    assert admin.get("/lighting/commands").get_json()["commands"] == []


def test_a_bad_last_event_id_or_stream_parameter_is_400_before_the_stream_starts(admin: Caller) -> None:
    for cursor in (HUGE + "999", "\u00b2", "12a", "-5", str(MAX_MS + 1)):
        error = error_of(admin.get("/events/stream", headers={"Last-Event-ID": cursor}), 400)
        assert "Last-Event-ID" in error["message"]
    for query in ("backlog=%D9%A3", "backlog=201", f"backlog={HUGE}", "site=%00", "type=a%00", "site=atlantis"):
        error_of(admin.get(f"/events/stream?{query}"), 400)


def test_json_nested_thousands_of_levels_deep_is_400(admin: Caller) -> None:
    for path in ("/auth/login", "/open311/requests", "/interventions"):
        for depth in (MAX_JSON_DEPTH + 1, 1_000, 100_000):
            resp = admin.post(path, data=deep_json(depth), content_type="application/json")
            assert "JSON" in error_of(resp, 400)["message"] or "nested" in resp.get_json()["error"]["message"]


def test_json_nested_to_the_limit_is_parsed() -> None:
    assert json_problem({"a": [[{"b": 1}]]}) is None
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    assert json_problem(nested) is None
    assert json_problem([nested]) == f"nested deeper than {MAX_JSON_DEPTH} levels"


HOSTILE_BODIES = [
    b'{"kind": "incident", "title": "a\\u0000b", "commune": "dijon"}',
    b'{"kind": "incident", "title": "a", "commune": "dijon", "x\\u0000": 1}',
    b'{"kind": "incident", "title": "\\ud800", "commune": "dijon"}',
    b'{"kind": "incident", "title": NaN, "commune": "dijon"}',
    b'{"kind": "incident", "title": "a", "lat": 1e400, "lon": 5, "commune": "dijon"}',
    b"\xff\xfe",
    b"null",
]


def test_bodies_postgresql_cannot_store_or_json_does_not_allow_are_400(admin: Caller) -> None:
    for body in HOSTILE_BODIES:
        error_of(admin.post("/interventions", data=body, content_type="application/json"), 400)
    assert admin.get("/interventions").get_json()["interventions"] == []


def test_method_not_allowed_names_the_allowed_methods_in_the_error_shape(admin: Caller) -> None:
    resp = admin.delete("/interventions")
    error_of(resp, 405)
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    resp = admin.call("PATCH", "/open311/services")
    error_of(resp, 405)
    assert "GET" in resp.headers["Allow"]


def test_a_body_over_the_limit_is_413_unread_also_on_login_and_open311(app: Flask) -> None:
    client = app.test_client()
    big = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    error = error_of(client.post("/api/v1/auth/login", data=big, content_type="application/json"), 413)
    assert str(1024 * 1024) in error["message"]
    form = "service_code=streetlight&lat=47.32&long=5.04&description=" + "a" * (2 * 1024 * 1024)
    error_of(client.post("/api/v1/open311/requests", data=form,
                         content_type="application/x-www-form-urlencoded"), 413)


def test_the_body_limit_is_a_setting(db_url: str) -> None:
    app = make_app(db_url, MAX_CONTENT_LENGTH=200)
    client = app.test_client()
    small = {"username": "nobody", "password": "a" * 100}
    assert client.post("/api/v1/auth/login", json=small).status_code == 401
    error_of(client.post("/api/v1/auth/login", json={"username": "nobody", "password": "a" * 300}), 413)


@pytest.mark.parametrize(("text", "low", "high", "expected"), [
    ("0", 0, 10, 0), ("10", 0, 10, 10), ("11", 0, 10, None), ("\u00b2", 0, 10, None), ("\u0663", 0, 10, None),
    ("", 0, 10, None), (" 1", 0, 10, None), ("+1", 0, 10, None), ("1_0", 0, 100, None), ("9" * 20, 0, MAX_ID, None),
    (str(MAX_ID), 1, MAX_ID, MAX_ID),
])
def test_parse_digits_takes_ascii_digits_in_range_only(text: str, low: int, high: int, expected: int | None) -> None:
    assert parse_digits(text, low, high) == expected


@given(limit=st.integers(1, MAX_ID), number=st.integers(-10, MAX_ID + 10))
@example(limit=MAX_ID, number=MAX_ID + 1)
@example(limit=MAX_ID, number=0)
@example(limit=100, number=100)
@example(limit=305, number=299)
def test_the_id_pattern_matches_exactly_one_to_the_limit(limit: int, number: int) -> None:
    pattern = re.compile(positive_at_most(limit))
    assert bool(pattern.fullmatch(str(number))) == (1 <= number <= limit)
    assert not pattern.fullmatch("0" + str(abs(number)))


def test_an_id_out_of_range_is_404_for_every_method_of_the_path(admin: Caller) -> None:
    body = {"name": "r", "config": {"type": "loitering"}}
    for path in ("/rules/0", f"/rules/{MAX_ID + 1}", "/rules/007"):
        error_of(admin.put(path, json=body), 404)
        error_of(admin.get(path), 404)


def test_a_calendar_that_is_not_an_object_is_400_and_nothing_is_pushed(admin: Caller) -> None:
    for calendar in ("extinction", [1, 2], 3, {"entries": "all"}):
        body = {"scope": "commune", "site": "dijon", "calendar": calendar}
        assert "calendar" in error_of(admin.post("/lighting/calendars", json=body), 400)["message"]
    assert admin.get("/lighting/commands").get_json()["commands"] == []


def test_json_types_are_not_converted_in_bodies(admin: Caller) -> None:
    assert admin.post("/teams", json=TEAM).status_code == 201
    put = {k: v for k, v in TEAM.items() if k != "id"}
    assert "active" in error_of(admin.put("/teams/pm-dijon", json={**put, "active": 0}), 400)["message"]
    calendar = {"entries": [{"name": "nuit", "program": {"kind": "astro", "sunset_offset_min": False}}]}
    body = {"scope": "commune", "site": "dijon", "calendar": calendar}
    assert "sunset_offset_min" in error_of(admin.post("/lighting/calendars", json=body), 400)["message"]
    assert admin.get("/teams/pm-dijon").get_json()["active"] is True
