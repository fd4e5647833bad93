"""The suite's own shortcuts (tests/conftest.py) stand for what they replace: a store copied from
the migrated template is what the migrations make of an empty file, and the test processes'
CA bundle is one certificate that ssl and httpx load."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bot.store import Store
from tests.conftest import sqlite_store


def _contents(store: Store) -> dict[str, Any]:
    """Every schema object's SQL and every table's rows."""
    with store.engine.connect() as conn:
        objects = conn.execute(sa.text(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")).all()
        tables = [name for kind, name, _, _ in objects
                  if kind == "table" and not name.startswith("sqlite_")]
        rows = {name: sorted(map(tuple, conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()),
                             key=repr) for name in tables}
    return {"objects": [tuple(o) for o in objects], "rows": rows}


def test_a_copied_store_is_what_the_migrations_make(tmp_path: Path, migrated_sqlite: Path) -> None:
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    copied = sqlite_store(f"sqlite:///{tmp_path / 'copied.db'}", migrated_sqlite)
    try:
        assert copied.schema_revision() == fresh.schema_revision() == Store.head_revision()
        made = _contents(fresh)
        assert len(made["objects"]) > 10 and made["rows"]
        assert _contents(copied) == made
    finally:
        fresh.close()
        copied.close()


def test_the_test_processes_trust_one_certificate() -> None:
    bundle = Path(os.environ["SSL_CERT_FILE"])
    assert bundle.read_text(encoding="utf-8").count("-----BEGIN CERTIFICATE-----") == 1
    assert len(ssl.create_default_context(cafile=bundle).get_ca_certs()) == 1
    httpx.Client().close()  # builds its TLS context from the bundle, without an error
