"""Write transactions that take the write lock up front, so a transaction that reads and then
writes never has to upgrade a read lock under contention (SQLite's `database is locked`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction, committed at the end (rolled back on an error). On SQLite it begins
    IMMEDIATE: the writer lock is taken at BEGIN, waiting out other writers through the busy
    timeout, where a deferred transaction that read first fails at once when another writer
    committed since its read began. PostgreSQL's row locks need no such care."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite (legacy transaction control) leaves a BEGIN we issue alone and commits
            # it with connection.commit().
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
