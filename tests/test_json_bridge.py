"""The opt-in keyed-JSON bridge: its document, its mapping, and a real box read through it on a real broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import vigie_wire as wire
from coordinator.json_bridge.keyed import BRIDGED, ROOT, json_topic, keyed, to_json
from coordinator.json_bridge.service import Bridge, BridgeSettings
from edge_agent.agent import Agent
from tests import test_asyncapi as doc
from tests.boxes import write_box
from tests.mqtt_helpers import Mosquitto, Recorder, wait_until

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "tests" / "data" / "vtest_excerpt.avi"


def bridge_channels() -> dict[str, dict[str, Any]]:
    return {ch_id: ch for ch_id, ch in doc.load_doc()["channels"].items() if doc.is_bridge(ch)}


def contract_example(kind: wire.Kind, name: str) -> tuple[str, wire.Message]:
    """The contract's example ``name`` of ``kind``, decoded, with its topic."""
    for _ch_id, _key, channel, message in doc.documented_messages():
        if doc.channel_kind(channel) is kind:
            for ex in message["examples"]:
                if ex["name"] == name:
                    topic = doc.channel_topic(channel, ex["payload"])
                    return topic, wire.decode(topic, doc.packed(message, ex))
    raise AssertionError(f"no {kind} example {name!r}")


def test_the_document_has_one_json_channel_per_bridged_kind_with_its_flags() -> None:
    channels = bridge_channels()
    kinds = {ch["address"].rsplit("/", 1)[1] for ch in channels.values()}
    assert kinds == {k.value for k in BRIDGED}
    assert all(ch["address"] == f"{ROOT}/{{site}}/{{device}}/{ch['address'].rsplit('/', 1)[1]}"
               for ch in channels.values())
    for op_id, op in doc.load_doc()["operations"].items():
        channel = doc.resolve(op["channel"])
        if doc.is_bridge(channel):
            kind = channel["address"].rsplit("/", 1)[1]
            assert op["bindings"]["mqtt"]["qos"] == 1, op_id
            assert op["bindings"]["mqtt"]["retain"] is (kind in ("birth", "death", "meta")), op_id


@pytest.mark.parametrize("ch_id", sorted(bridge_channels()))
def test_every_json_example_is_what_the_bridge_makes_of_the_contract_example_and_fits_its_schema(
    ch_id: str,
) -> None:
    channel = bridge_channels()[ch_id]
    kind = wire.Kind(channel["address"].rsplit("/", 1)[1])
    for ref in channel["messages"].values():
        message = doc.resolve(ref)
        assert message["contentType"] == "application/json"
        validator = Draft202012Validator({"$ref": message["payload"]["schema"]["$ref"].replace(
            "#/", "urn:vigie:asyncapi#/")}, registry=doc.registry())
        for ex in message["examples"]:
            topic, msg = contract_example(kind, ex["name"])
            bridged = to_json(topic, msg, retain=True)
            assert bridged is not None
            assert json.loads(bridged[1]) == ex["payload"], "the document shows what the bridge publishes"
            assert list(validator.iter_errors(ex["payload"])) == []
            broken = {k: v for k, v in ex["payload"].items() if k != "dev"}
            assert list(validator.iter_errors(broken)) != [], "the schema can refuse"


def test_events_are_keyed_one_by_one_with_their_type_and_resolved_time() -> None:
    topic, batch = contract_example(wire.Kind.EVENT, "from-a-newer-agent")
    assert isinstance(batch, wire.EventBatch)
    out = keyed(batch)
    assert (out["dev"], out["boot"], out["historical"]) == ("cam-darcy-01", batch.boot, batch.historical)
    assert [e["n"] for e in out["events"]] == [r.n for r in batch.events]
    assert out["events"][0]["type"] == "detection" and out["events"][0]["ts"] == batch.events[0].ts
    assert out["events"][1]["type"] == "unknown", "an event the bridge does not know is kept, not dropped"
    bridged = to_json(topic, batch, retain=True)
    assert bridged is not None and bridged[0] == json_topic("dijon", "cam-darcy-01", wire.Kind.EVENT)
    assert bridged[2] is False, "only births, deaths and metadata are retained"


def test_commands_acks_and_team_topics_are_not_bridged() -> None:
    for kind in (wire.Kind.CMD, wire.Kind.ACK, wire.Kind.DISPATCH, wire.Kind.STATUS, wire.Kind.STATE):
        _ch_id, _key, channel, message = next(m for m in doc.documented_messages() if doc.channel_kind(m[2]) is kind)
        ex = message["examples"][0]
        topic = doc.channel_topic(channel, ex["payload"])
        assert to_json(topic, wire.decode(topic, doc.packed(message, ex)), retain=False) is None, kind


def _camera() -> dict[str, Any]:
    return {"name": "darcy-north", "source": str(VIDEO), "loop": True, "detect_fps": 10, "threads": 1,
            "model": str(REPO / "models" / "nanodet-g-416.manifest.json"),
            "zones": [{"id": "lawn", "polygon": [[0.15, 0.45], [0.75, 0.45], [0.75, 1.0], [0.15, 1.0]]}]}


def _json_batches(rec: Recorder) -> dict[tuple[int, int], dict[str, Any]]:
    """JSON event batches received, by (bd, seq)."""
    out = {}
    for r in rec.snapshot():
        if r.topic.endswith("/event"):
            body = json.loads(r.payload)
            out[body["bd"], body["seq"]] = body
    return out


def test_a_real_box_is_read_as_json_through_the_bridge_which_loses_nothing_while_it_is_down(
    broker: Mosquitto, tmp_path: Path
) -> None:
    contract = Recorder(broker.port, "vigie/v1/dijon/cam-darcy-01/#")
    readers = Recorder(broker.port, f"{ROOT}/#")
    settings = BridgeSettings(mqtt_port=broker.port, client_id="vigie-bridge-test")
    bridge = Bridge(settings)
    bridge.start()
    wait_until(bridge.subscribed.is_set, 10, "the bridge's subscriptions")
    cfg, path = write_box(tmp_path, broker.port, "cam-darcy-01", cameras=[_camera()])
    agent = Agent(cfg, path)
    agent.start()
    running = True
    try:
        wait_until(lambda: len(contract.decoded(wire.Kind.EVENT)) >= 2, 90, "events from the box (a loaded machine)")
        wait_until(lambda: len(_json_batches(readers)) >= 2, 20,
                   f"events as JSON ({bridge.published} published, {bridge.rejects.by_kind()} refused)")
        first = {r.topic.rsplit("/", 1)[1]: r for r in readers.snapshot()}
        birth = next(m for m in contract.decoded(wire.Kind.BIRTH))
        assert json.loads(first["birth"].payload) == json.loads(json.dumps(keyed(birth)))
        assert json.loads(first["meta"].payload)["info"]["kind"] == "camera"

        # Down: the box goes on; the broker keeps the bridge's session and queues what it does not read.
        bridge.stop()
        seen = len(contract.decoded(wire.Kind.EVENT))
        wait_until(lambda: len(contract.decoded(wire.Kind.EVENT)) >= seen + 3, 60, "events while the bridge is down")
        garbage = "vigie/v1/dijon/cam-ghost-01/event"
        readers.client.publish(garbage, b"\x93\x01\x02", qos=1).wait_for_publish(5)

        again = Bridge(settings)
        again.start()
        agent.shutdown(drain_s=5)
        running = False
        wanted = {(b.header.bd, b.header.seq): b for b in contract.decoded(wire.Kind.EVENT)}
        wait_until(lambda: wanted.keys() <= _json_batches(readers).keys(), 30, "every batch as JSON")
        got = _json_batches(readers)
        for key, batch in wanted.items():
            assert got[key] == json.loads(json.dumps(keyed(batch))), key
        wait_until(lambda: again.rejects.total >= 1, 10, "the garbage counted")
        assert again.rejects.by_kind() == {"msgpack": 1}
        assert not any("cam-ghost-01" in r.topic for r in readers.snapshot()), "nothing undecodable is bridged"
        again.stop()
    finally:
        if running:
            agent.shutdown(drain_s=1)
        contract.close()
        readers.close()
