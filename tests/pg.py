"""A throwaway PostgreSQL cluster for the test run (initdb in a temp dir, stopped at exit).

It listens on a Unix socket in its own directory and on no TCP port, so any number of them
(one per pytest-xdist worker) start side by side without ever racing for a port.
initdb refuses to run as root, so as root the cluster belongs to the `postgres` user and is
driven through `runuser -u postgres --`. Set CYCLEWATCH_TEST_PG_URL to use a server you run.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL server binaries not found (run scripts/ensure-postgres.sh)")


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster on a socket in a new directory; yield its admin URL; stop, remove it."""
    if url := os.environ.get("CYCLEWATCH_TEST_PG_URL"):
        yield url
        return
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="cyclewatch-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
    run = lambda *cmd: subprocess.run(  # noqa: E731
        [*prefix, *cmd], check=True, capture_output=True, text=True
    )
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    opts = f"-k {root} -c listen_addresses='' -c fsync=off -c max_connections=200"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
