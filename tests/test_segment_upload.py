"""Boxes upload their segment files by chunk, each with its SHA-256, and resume after an interruption."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from coordinator.cli import main
from coordinator.evidence import find_segments
from coordinator.storage import requisitions as store
from tests.api_helpers import make_app

NAME = "1780000000000-1780000060000.mp4"
PATH = f"/api/v1/segments/dijon/cam-1/c0/{NAME}"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    return make_app(db_url, SEGMENTS_DIR=str(tmp_path / "segments"))


def _token(engine: Engine, device: str) -> str:
    with engine.begin() as conn:
        return store.set_box_token(conn, device, 1)


def _put(app: Flask, token: str, data: bytes, first: int, total: int, whole: bytes, path: str = PATH,
         chunk_sha: str | None = None) -> Any:
    return app.test_client().put(path, data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream",
        "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
        "X-Chunk-SHA256": chunk_sha or hashlib.sha256(data).hexdigest(),
        "X-File-SHA256": hashlib.sha256(whole).hexdigest()})


def test_an_interrupted_upload_resumes_where_it_stopped(app: Flask, engine: Engine, tmp_path: Path) -> None:
    token = _token(engine, "cam-1")
    whole = os.urandom(250_000)
    chunks = [whole[i:i + 100_000] for i in range(0, len(whole), 100_000)]
    first = _put(app, token, chunks[0], 0, len(whole), whole)
    assert first.status_code == 200 and first.get_json() == {"received": 100_000, "complete": False}
    # The connection drops during the second chunk: it arrives cut short and is refused, nothing kept.
    cut = _put(app, token, chunks[1][:40_000], 100_000, len(whole), whole,
               chunk_sha=hashlib.sha256(chunks[1]).hexdigest())
    assert cut.status_code == 400 and "SHA-256 does not match" in cut.get_json()["error"]["message"]
    status = app.test_client().get(PATH, headers={"Authorization": f"Bearer {token}"})
    assert status.get_json() == {"received": 100_000, "complete": False}
    skipped = _put(app, token, chunks[2], 200_000, len(whole), whole)
    assert skipped.status_code == 409 and skipped.get_json()["error"]["details"][0]["reason"] == "100000"
    assert _put(app, token, chunks[1], 100_000, len(whole), whole).status_code == 200
    done = _put(app, token, chunks[2], 200_000, len(whole), whole)
    assert done.status_code == 201 and done.get_json() == {"received": 250_000, "complete": True}
    final = tmp_path / "segments" / "dijon" / "cam-1" / "c0" / NAME
    assert final.read_bytes() == whole
    assert [s.path for s in find_segments(tmp_path / "segments", ["dijon/cam-1/c0"], 0, 2**53)] == [final]
    assert _put(app, token, chunks[0], 0, len(whole), whole).status_code == 409  # already complete


def test_a_wrong_whole_file_starts_over_and_is_never_published(app: Flask, engine: Engine, tmp_path: Path) -> None:
    token = _token(engine, "cam-1")
    whole = os.urandom(1000)
    bad = _put(app, token, whole, 0, len(whole), whole[::-1])
    assert bad.status_code == 422
    assert not (tmp_path / "segments" / "dijon" / "cam-1" / "c0" / NAME).exists()
    status = app.test_client().get(PATH, headers={"Authorization": f"Bearer {token}"}).get_json()
    assert status == {"received": 0, "complete": False}


def test_a_box_uploads_only_its_own_segments_with_its_own_token(app: Flask, engine: Engine, db_url: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["legal", "--database-url", db_url, "box-token", "cam-2"]) == 0
    other = capsys.readouterr().out.strip()
    whole = b"x" * 10
    assert _put(app, other, whole, 0, 10, whole).status_code == 403
    assert _put(app, "nope", whole, 0, 10, whole).status_code == 401
    token = _token(engine, "cam-1")
    assert _put(app, token, whole, 0, 10, whole, path="/api/v1/segments/dijon/cam-1/c0/5-1.mp4").status_code == 400
    assert _put(app, token, whole, 0, 10, whole, path="/api/v1/segments/dijon/cam-1/C0/1-5.mp4").status_code == 400
    no_range = app.test_client().put(PATH, data=whole, headers={"Authorization": f"Bearer {token}"})
    assert no_range.status_code == 400 and "Content-Range" in no_range.get_json()["error"]["message"]
