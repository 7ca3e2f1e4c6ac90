"""The R252-11 register: a hash chain that names the first tampered entry, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import replace
from typing import get_args

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from coordinator.api.routes.register import Kind
from coordinator.cli import main
from coordinator.register import GENESIS, KINDS, Entry, RegisterError, entry_hash, first_break
from coordinator.storage import current_revision, head_revision, make_engine, schema_drift, upgrade
from coordinator.storage import register as register_store
from coordinator.storage import requisitions as requisition_store
from coordinator.storage.migrate import alembic_config
from coordinator.storage.schema import register_entries
from tests.api_helpers import PASSWORD, add_user


def chain(n: int) -> list[Entry]:
    out: list[Entry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        fields = (seq, 1_000 * seq, "viewing", f"agent{seq % 3}", "dijon/cam-1/c0", None, f"clip {seq}", None, prev)
        prev = entry_hash(*fields)
        out.append(Entry(*fields, hash=prev))
    return out


def test_the_api_lists_every_kind_the_register_knows() -> None:
    assert get_args(Kind) == KINDS


def test_an_intact_chain_has_no_break() -> None:
    entries = chain(5)
    assert first_break(entries, (5, entries[-1].hash)) is None
    assert first_break([], (0, GENESIS)) is None


@given(n=st.integers(2, 12), data=st.data())
@example(n=2, data=None)
def test_any_single_tampering_is_found_at_that_entry(n: int, data: st.DataObject | None) -> None:
    entries = chain(n)
    i = 0 if data is None else data.draw(st.integers(0, n - 1))
    how = "edit" if data is None else data.draw(st.sampled_from(["edit", "delete", "swap", "rehash_edit"]))
    tampered = list(entries)
    if how == "edit":
        tampered[i] = replace(entries[i], actor="someone-else")
    elif how == "rehash_edit":  # edited and its own hash recomputed: the next entry no longer follows it
        e = replace(entries[i], detail="changed")
        tampered[i] = replace(e, hash=entry_hash(e.seq, e.at_ms, e.kind, e.actor, e.camera, e.procedure,
                                                  e.subject, e.detail, e.prev))
    elif how == "delete":
        del tampered[i]
    else:  # two neighbours exchange places (their stored seq swapped with them)
        j = i + 1 if i + 1 < n else i - 1
        a, b = sorted((i, j))
        tampered[a] = replace(entries[b], seq=entries[a].seq)
        tampered[b] = replace(entries[a], seq=entries[b].seq)
        i = a
    broken = first_break(tampered, (n, entries[-1].hash))
    assert broken is not None
    expected = i + 2 if how == "rehash_edit" and i + 1 < n else i + 1
    if how == "rehash_edit" and i + 1 == n:
        expected = n + 1  # the last entry: only the head still holds its old hash
    assert broken.seq == expected, (how, i, broken)


def test_appends_chain_and_the_head_follows(engine: Engine) -> None:
    with engine.begin() as conn:
        a = register_store.append(conn, "recording_started", "box:cam-1", camera="dijon/cam-1/c0", at_ms=10)
        b = register_store.append(conn, "viewing", "agent1", camera="dijon/cam-1/c0", subject="clip 1", at_ms=20)
    assert (a.seq, a.prev, b.seq, b.prev) == (1, GENESIS, 2, a.hash)
    with engine.connect() as conn:
        assert register_store.head(conn) == (2, b.hash)
        assert register_store.verify(conn) == (2, None)


def test_bad_entries_are_refused_and_nothing_is_written(engine: Engine) -> None:
    with pytest.raises(RegisterError, match="unknown register entry kind 'peek'"), engine.begin() as conn:
        register_store.append(conn, "peek", "agent1")
    with pytest.raises(RegisterError, match="subject is 129 characters, at most 128"), engine.begin() as conn:
        register_store.append(conn, "viewing", "agent1", subject="x" * 129)
    with engine.connect() as conn:
        assert register_store.verify(conn) == (0, None)


def _fill(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        for i in range(n):
            register_store.append(conn, "viewing", f"agent{i % 2}", camera=f"dijon/cam-{i % 2}/c0",
                                  procedure="PV-2026-001" if i % 3 == 0 else None, subject=f"clip {i}",
                                  at_ms=1_000 * (i + 1))


def _verify_cli(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["register", "--database-url", db_url, "verify"])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("tamper, bad_seq, words", [
    ("UPDATE register_entries SET actor = 'intrus' WHERE seq = 3", 3, "altered"),
    ("DELETE FROM register_entries WHERE seq = 4", 4, "missing"),
    ("DELETE FROM register_entries WHERE seq = 6", 6, "entries after 5 are missing"),
])
def test_the_command_names_the_first_tampered_row(engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str],
                                                  tamper: str, bad_seq: int, words: str) -> None:
    _fill(engine, 6)
    assert _verify_cli(db_url, capsys) == (0, "register intact: 6 entries, chain and head agree\n")
    with engine.begin() as conn:
        conn.execute(sa.text(tamper))
    code, text = _verify_cli(db_url, capsys)
    assert code == 1
    assert f"register BROKEN at entry {bad_seq}:" in text and words in text


def test_reordered_rows_are_found(engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(engine, 5)
    t = register_entries
    with engine.begin() as conn:  # rows 2 and 3 exchange their places in the order
        conn.execute(t.update().where(t.c.seq == 2).values(seq=-2))
        conn.execute(t.update().where(t.c.seq == 3).values(seq=2))
        conn.execute(t.update().where(t.c.seq == -2).values(seq=3))
    code, text = _verify_cli(db_url, capsys)
    assert code == 1 and "register BROKEN at entry 2:" in text


def test_concurrent_writers_never_fork_the_chain(db_url: str) -> None:
    """Four writers in their own transactions, each holding its transaction open a little after appending."""
    engines = [make_engine(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def writer(k: int, engine: Engine) -> None:
        try:
            start.wait()
            for i in range(15):
                with engine.begin() as conn:
                    register_store.append(conn, "viewing", f"agent{k}", subject=f"{k}-{i}")
                    conn.execute(sa.select(sa.func.count()).select_from(register_entries)).scalar()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k, e)) for k, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert errors == []
    check = make_engine(db_url)
    with check.connect() as conn:
        entries = list(register_store.iter_all(conn))
        assert register_store.verify(conn) == (60, None)
    check.dispose()
    assert [e.seq for e in entries] == list(range(1, 61))
    assert sorted(e.subject or "" for e in entries) == sorted(f"{k}-{i}" for k in range(4) for i in range(15))


def test_supervisors_read_filter_and_page_the_register(app: Flask, engine: Engine) -> None:
    sup = add_user(app, "cheffe", "supervisor")
    op = add_user(app, "agent", "operator")
    _fill(engine, 9)
    assert op.get("/register").status_code == 403
    first = sup.get("/register?limit=4").get_json()
    assert [e["seq"] for e in first["entries"]] == [1, 2, 3, 4] and first["next_after"] == 4
    rest = sup.get(f"/register?after={first['next_after']}").get_json()
    assert [e["seq"] for e in rest["entries"]] == [5, 6, 7, 8, 9] and rest["next_after"] is None
    cam = sup.get("/register?camera=dijon/cam-1/c0").get_json()["entries"]
    assert [e["seq"] for e in cam] == [2, 4, 6, 8]
    proc = sup.get("/register?procedure=PV-2026-001").get_json()["entries"]
    assert [e["seq"] for e in proc] == [1, 4, 7]
    period = sup.get("/register?since=3000&until=5000").get_json()["entries"]
    assert [e["seq"] for e in period] == [3, 4]
    bad = sup.get("/register?since=5000&until=5000")
    assert bad.status_code == 400 and "until must be after since" in bad.get_json()["error"]["message"]
    assert sup.get("/register?kind=peek").status_code == 400


def test_the_csv_export_holds_the_filtered_entries_with_their_hashes(app: Flask, engine: Engine) -> None:
    sup = add_user(app, "cheffe", "supervisor")
    _fill(engine, 7)
    resp = sup.get("/register/export.csv?procedure=PV-2026-001")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "registre.csv" in resp.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert table[0][:4] == ["seq", "at_utc", "at_ms", "kind"]
    assert [r[0] for r in table[1:]] == ["1", "4", "7"]
    assert table[1][1] == "1970-01-01T00:00:01.000Z"
    with engine.connect() as conn:
        stored = {e.seq: e.hash for e in register_store.iter_all(conn)}
    assert all(r[-1] == stored[int(r[0])] for r in table[1:])
    assert add_user(app, "agent", "operator").get("/register/export.csv").status_code == 403


def test_the_api_check_names_an_edited_row(app: Flask, engine: Engine) -> None:
    sup = add_user(app, "cheffe", "supervisor")
    _fill(engine, 4)
    assert sup.get("/register/verify").get_json() == {"intact": True, "entries": 4, "first_bad": None}
    with engine.begin() as conn:
        conn.execute(register_entries.update().where(register_entries.c.seq == 2).values(subject="autre"))
    body = sup.get("/register/verify").get_json()
    assert body["intact"] is False and body["first_bad"]["seq"] == 2


def test_migration_0003_downgrades_and_upgrades_with_an_empty_head(engine: Engine) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert not {"register_entries", "register_head"} & set(sa.inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision() and schema_drift(engine) == []
    with engine.begin() as conn:
        assert register_store.head(conn) == (0, GENESIS)
        assert register_store.append(conn, "destruction", "system", subject="segment 1").seq == 1


def _session(app: Flask, username: str) -> FlaskClient:
    c = app.test_client()
    assert c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200
    return c


def test_the_printable_page_shows_the_filtered_entries_and_the_chain_state(app: Flask, engine: Engine) -> None:
    add_user(app, "cheffe", "supervisor")
    add_user(app, "agent", "operator")
    _fill(engine, 5)
    assert app.test_client().get("/registre").status_code == 302  # to the login page
    assert _session(app, "agent").get("/registre").status_code == 403
    sup = _session(app, "cheffe")
    html = sup.get("/registre?procedure=PV-2026-001").get_data(as_text=True)
    assert "Chaîne intègre : 5 entrées vérifiées." in html and "2 entrée(s), procédure PV-2026-001" in html
    assert html.count("<tr><td>") == 2 and "Visionnage" in html and "1970-01-01T00:00:04.000Z" in html
    with engine.begin() as conn:
        conn.execute(register_entries.delete().where(register_entries.c.seq == 3))
    html = sup.get("/registre").get_data(as_text=True)
    assert "Chaîne ROMPUE à l'entrée 3" in html
    bad = sup.get("/registre?since=9&until=1")
    assert bad.status_code == 400 and "Filtre refusé" in bad.get_data(as_text=True)


def test_designated_agents_record_their_viewings(app: Flask, engine: Engine) -> None:
    agent = add_user(app, "agent", "operator")
    other = add_user(app, "veilleur", "operator")
    with engine.begin() as conn:
        assert requisition_store.designate(conn, "agent", "root", 1)
    body = {"camera": "dijon/cam-1/c0", "what": "clip 14:02-14:05", "reason": "vérification d'un signalement"}
    refused = other.post("/register/viewings", json=body)
    assert refused.status_code == 403 and "not a designated agent" in refused.get_json()["error"]["message"]
    assert agent.post("/register/viewings", json={**body, "camera": "cam-1"}).status_code == 400
    made = agent.post("/register/viewings", json=body)
    assert made.status_code == 201
    e = made.get_json()
    assert (e["seq"], e["kind"], e["actor"], e["camera"], e["subject"]) == (
        1, "viewing", "agent", "dijon/cam-1/c0", "clip 14:02-14:05")
    with engine.connect() as conn:
        assert register_store.verify(conn) == (1, None)
