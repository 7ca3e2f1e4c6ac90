"""Topic names of Vigie v1: builders and parser agree, and anything else is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vigie_wire import Kind, Topic, WireError, device_topic, group_command_topic, parse_topic, state_topic
from vigie_wire.topics import DEVICE_KINDS, subscription
from vigie_wire.topics import team_topic as wire_team_topic

SITE = "dijon"
DEV = "cam-darcy-01"


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_device_topic_builds_the_documented_layout(kind: Kind) -> None:
    assert device_topic(SITE, DEV, kind) == f"vigie/v1/dijon/cam-darcy-01/{kind.value}"


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_device_topic_parses_back_to_site_device_and_kind(kind: Kind) -> None:
    t = parse_topic(device_topic(SITE, DEV, kind))
    assert t == Topic(kind, site=SITE, device=DEV)
    assert t.group is None
    assert t.host is None
    assert str(t) == device_topic(SITE, DEV, kind)


def test_device_kinds_are_all_kinds_but_state() -> None:
    assert set(DEVICE_KINDS) == set(Kind) - {Kind.STATE, Kind.DISPATCH, Kind.STATUS}
    assert {k.value for k in DEVICE_KINDS} == {"birth", "death", "meta", "event", "telemetry", "cmd", "ack", "snapshot"}


def test_group_command_topic_builds_and_parses() -> None:
    topic = group_command_topic(SITE, "rue-de-la-liberte")
    assert topic == "vigie/v1/dijon/group/rue-de-la-liberte/cmd"
    t = parse_topic(topic)
    assert t == Topic(Kind.CMD, site=SITE, group="rue-de-la-liberte")
    assert t.device is None
    assert str(t) == topic


def test_state_topic_builds_and_parses() -> None:
    topic = state_topic("coord-1")
    assert topic == "vigie/v1/STATE/coord-1"
    t = parse_topic(topic)
    assert t == Topic(Kind.STATE, host="coord-1")
    assert t.site is None
    assert str(t) == topic


def test_ids_of_64_characters_are_accepted() -> None:
    long_id = "a" * 64
    assert parse_topic(device_topic(long_id, long_id, Kind.EVENT)).device == long_id


def test_ids_may_use_digits_dash_and_underscore() -> None:
    assert parse_topic("vigie/v1/saint-apollinaire/0cam_2-b/ack").device == "0cam_2-b"


def test_subscription_filters_match_the_layout() -> None:
    assert subscription(Kind.EVENT) == "vigie/v1/+/+/event"
    assert subscription(Kind.BIRTH, SITE) == "vigie/v1/dijon/+/birth"
    assert subscription(Kind.STATE) == "vigie/v1/STATE/+"


BAD_TOPICS = [
    ("plus wildcard device", "vigie/v1/dijon/+/event"),
    ("hash wildcard kind", "vigie/v1/dijon/cam-1/#"),
    ("plus wildcard site", "vigie/v1/+/cam-1/event"),
    ("wildcard inside id", "vigie/v1/dijon/cam+1/event"),
    ("hash state host", "vigie/v1/STATE/#"),
    ("upper-case device", "vigie/v1/dijon/Cam-1/event"),
    ("upper-case site", "vigie/v1/Dijon/cam-1/event"),
    ("upper-case kind", "vigie/v1/dijon/cam-1/EVENT"),
    ("upper-case group", "vigie/v1/dijon/group/Rue/cmd"),
    ("upper-case host", "vigie/v1/STATE/Coord"),
    ("empty device level", "vigie/v1/dijon//event"),
    ("empty site level", "vigie/v1//cam-1/event"),
    ("empty kind level", "vigie/v1/dijon/cam-1/"),
    ("empty state host", "vigie/v1/STATE/"),
    ("leading slash", "/vigie/v1/dijon/cam-1/event"),
    ("trailing slash", "vigie/v1/dijon/cam-1/event/"),
    ("65-char device", "vigie/v1/dijon/" + "a" * 65 + "/event"),
    ("65-char site", "vigie/v1/" + "s" * 65 + "/cam-1/event"),
    ("65-char group", "vigie/v1/dijon/group/" + "g" * 65 + "/cmd"),
    ("id starting with dash", "vigie/v1/dijon/-cam/event"),
    ("id with dot", "vigie/v1/dijon/cam.1/event"),
    ("device named group", "vigie/v1/dijon/group/event"),
    ("wrong root", "vigie/v2/dijon/cam-1/event"),
    ("foreign root", "frigate/dijon/cam-1/event"),
    ("root only", "vigie/v1"),
    ("empty topic", ""),
    ("unknown kind", "vigie/v1/dijon/cam-1/video"),
    ("state as device kind", "vigie/v1/dijon/cam-1/state"),
    ("extra level", "vigie/v1/dijon/cam-1/event/extra"),
    ("extra state level", "vigie/v1/STATE/coord-1/extra"),
    ("group topic not cmd", "vigie/v1/dijon/group/rue/ack"),
    ("group topic extra level", "vigie/v1/dijon/group/rue/cmd/x"),
    ("missing kind", "vigie/v1/dijon/cam-1"),
    ("device named team", "vigie/v1/dijon/team/birth"),
    ("device named group", "vigie/v1/dijon/group/event"),
]


@pytest.mark.parametrize("topic", [t for _, t in BAD_TOPICS], ids=[n for n, _ in BAD_TOPICS])
def test_parse_topic_rejects_malformed_topic_with_reason_topic(topic: str) -> None:
    with pytest.raises(WireError) as info:
        parse_topic(topic)
    assert info.value.reason == "topic"
    assert info.value.path == ""


def test_rejection_message_names_the_bad_id() -> None:
    with pytest.raises(WireError, match=r"invalid device id 'Cam-1'"):
        parse_topic("vigie/v1/dijon/Cam-1/event")


def test_rejection_message_names_the_unknown_kind() -> None:
    with pytest.raises(WireError, match=r"unknown topic kind 'video'"):
        parse_topic("vigie/v1/dijon/cam-1/video")


def test_rejection_message_of_a_huge_topic_is_bounded() -> None:
    with pytest.raises(WireError) as info:
        parse_topic("x/" * 100_000)
    assert len(str(info.value)) < 300


BAD_BUILDS = [
    ("wildcard device", lambda: device_topic(SITE, "+", Kind.EVENT)),
    ("hash device", lambda: device_topic(SITE, "#", Kind.EVENT)),
    ("slash in device", lambda: device_topic(SITE, "cam/1", Kind.EVENT)),
    ("upper-case device", lambda: device_topic(SITE, "Cam", Kind.EVENT)),
    ("empty device", lambda: device_topic(SITE, "", Kind.EVENT)),
    ("65-char device", lambda: device_topic(SITE, "d" * 65, Kind.EVENT)),
    ("device named group", lambda: device_topic(SITE, "group", Kind.CMD)),
    ("device named team", lambda: device_topic(SITE, "team", Kind.BIRTH)),
    ("wildcard site", lambda: device_topic("+", DEV, Kind.EVENT)),
    ("state is not a device kind", lambda: device_topic(SITE, DEV, Kind.STATE)),
    ("wildcard group", lambda: group_command_topic(SITE, "#")),
    ("upper-case group", lambda: group_command_topic(SITE, "Rue")),
    ("empty group site", lambda: group_command_topic("", "rue")),
    ("wildcard host", lambda: state_topic("+")),
    ("newline in host", lambda: state_topic("coord\n")),
]


@pytest.mark.parametrize("build", [b for _, b in BAD_BUILDS], ids=[n for n, _ in BAD_BUILDS])
def test_topic_builders_refuse_bad_ids_with_reason_topic(build: Callable[[], str]) -> None:
    with pytest.raises(WireError) as info:
        build()
    assert info.value.reason == "topic"


def test_team_topics_build_parse_and_filter() -> None:
    dispatch = wire_team_topic(SITE, "pm-centre", Kind.DISPATCH)
    assert dispatch == "vigie/v1/dijon/team/pm-centre/dispatch"
    assert parse_topic(dispatch) == Topic(Kind.DISPATCH, site=SITE, team="pm-centre")
    status = parse_topic("vigie/v1/dijon/team/pm-centre/status")
    assert (status.kind, status.team, str(status)) == (Kind.STATUS, "pm-centre", "vigie/v1/dijon/team/pm-centre/status")
    assert subscription(Kind.STATUS) == "vigie/v1/+/team/+/status"
    for bad in ("vigie/v1/dijon/team/pm-centre/cmd", "vigie/v1/dijon/team/PM/status", "vigie/v1/dijon/cam-1/dispatch"):
        with pytest.raises(WireError):
            parse_topic(bad)
    with pytest.raises(WireError):
        wire_team_topic(SITE, "pm-centre", Kind.EVENT)
