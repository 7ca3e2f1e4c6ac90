"""The API's read-only screens on a PostgreSQL streaming replica, writes and access control on the primary.

A private primary and its replica (``pg_basebackup -R``) are started for this module. The replica's replay is
paused to make the two databases differ on purpose: what a ``GET`` then returns says which one served it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.storage import make_engine, upgrade
from coordinator.storage.flask import READ_PRIMARY_COOKIE
from tests.api_helpers import Caller, add_user, make_app
from tests.mqtt_helpers import wait_until
from tests.pg_cluster import PG_BIN, ReplicatedPair

pytestmark = pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL server binaries not installed")

INTERVENTION = {"kind": "incident", "title": "Candélabre penché", "commune": "dijon"}


@dataclass
class Replicated:
    app: Flask
    primary: Engine
    replica: Engine
    replica_admin: Engine

    def pause_replay(self) -> None:
        with self.replica_admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_pause()"))

    def resume_replay(self) -> None:
        with self.replica_admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_resume()"))

    def caught_up(self) -> bool:
        """The replica has applied everything the primary has written so far."""
        with self.primary.connect() as p:
            lsn = p.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar_one()
        with self.replica_admin.connect() as r:
            return bool(r.execute(sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                                  {"lsn": lsn}).scalar_one())


@pytest.fixture(scope="module")
def pair() -> Iterator[Replicated]:
    clusters = ReplicatedPair()
    try:
        clusters.start()
        admin = make_engine(clusters.primary.url("postgres"), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE vigie"))
        admin.dispose()
        primary = make_engine(clusters.primary.url("vigie"))
        upgrade(primary)
        replica = make_engine(clusters.replica.url("vigie"))
        replica_admin = make_engine(clusters.replica.url("vigie"), isolation_level="AUTOCOMMIT",
                                    poolclass=sa.pool.NullPool)
        app = make_app(clusters.primary.url("vigie"), DATABASE_READ_URL=clusters.replica.url("vigie"))
        state = Replicated(app, primary, replica, replica_admin)
        wait_until(state.caught_up, 30, "the replica has the migrated schema")
        yield state
        primary.dispose()
        replica.dispose()
        replica_admin.dispose()
    finally:
        clusters.close()


@pytest.fixture
def replicated(pair: Replicated) -> Iterator[Replicated]:
    yield pair
    pair.resume_replay()


def _titles(caller: Caller) -> list[str]:
    resp = caller.get("/interventions")
    assert resp.status_code == 200, resp.get_json()
    return [i["title"] for i in resp.get_json()["interventions"]]


def _twin(caller: Caller, app: Flask) -> Caller:
    """The same user and token on another client: one that has never written (no cookie)."""
    return Caller(app.test_client(), caller.token, caller.username)


def test_the_replica_is_read_only_and_serves_the_read_only_screens(replicated: Replicated) -> None:
    app = replicated.app
    writer = add_user(app, "operatrice", "supervisor")
    reader = _twin(writer, app)
    wait_until(replicated.caught_up, 10, "the new user replicated")
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), replicated.replica.begin() as conn:
        conn.execute(sa.text("CREATE TABLE nope (id int)"))

    replicated.pause_replay()
    resp = writer.post("/interventions", json={**INTERVENTION, "title": "pendant la pause"})
    assert resp.status_code == 201, resp.get_json()  # a write: the primary took it (the replica cannot)
    iid = resp.get_json()["id"]
    with replicated.primary.connect() as conn:
        assert conn.execute(sa.text("SELECT title FROM interventions WHERE id = :i"), {"i": iid}).scalar_one() \
            == "pendant la pause"

    # A client that has not written reads the replica, which has not applied the insert yet...
    assert "pendant la pause" not in _titles(reader)
    assert reader.get(f"/interventions/{iid}").status_code == 404
    # ...the writer reads its own write from the primary, for as long as its cookie lasts...
    assert writer.client.get_cookie(READ_PRIMARY_COOKIE) is not None
    assert "pendant la pause" in _titles(writer)
    # ...and the replica catches up once replaying again.
    replicated.resume_replay()
    wait_until(lambda: "pendant la pause" in _titles(reader), 10, "the write visible on the replica")
    assert reader.get(f"/interventions/{iid}").status_code == 200


def test_access_control_never_reads_a_stale_replica(replicated: Replicated) -> None:
    app = replicated.app
    admin = add_user(app, "chef", "admin")
    agent = add_user(app, "agent", "operator", "dijon")
    wait_until(replicated.caught_up, 10, "the users replicated")
    uid = agent.get("/auth/me").get_json()["id"]
    replicated.pause_replay()
    assert admin.patch(f"/users/{uid}", json={"active": False}).status_code == 200
    # The replica still holds the token as valid; the check reads the primary, so it is refused at once, on a
    # replica-served screen as on any other.
    assert _twin(agent, app).get("/interventions").status_code == 401
    assert _twin(agent, app).get("/map/devices").status_code == 401


def test_a_failed_write_does_not_move_the_client_to_the_primary(replicated: Replicated) -> None:
    app = replicated.app
    viewer = add_user(app, "lecteur", "viewer")
    caller = _twin(viewer, app)
    assert caller.post("/interventions", json=INTERVENTION).status_code == 403
    assert caller.client.get_cookie(READ_PRIMARY_COOKIE) is None


def test_without_a_read_url_everything_reads_the_primary(replicated: Replicated) -> None:
    url = str(replicated.primary.url.render_as_string(hide_password=False))
    app = make_app(url)
    writer = add_user(app, "solo", "supervisor")
    reader = _twin(writer, app)
    replicated.pause_replay()
    assert writer.post("/interventions", json={**INTERVENTION, "title": "sans réplique"}).status_code == 201
    assert writer.client.get_cookie(READ_PRIMARY_COOKIE) is None
    assert "sans réplique" in _titles(reader)
