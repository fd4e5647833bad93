"""FRED data-path benchmark against the fake FRED serving ../shared/data, in one run:

- a poll with nothing new (one `last_updated` request per series) vs a full fetch of the same
  series (target: the unchanged poll is at least 5x cheaper);
- keyless fredgraph.csv vs the API through fredapi (XML) for the same series;
- an ALFRED vintage fetch of a daily series that needs several capped windows.

The client-side rate limit is lifted (1000/s) so the numbers measure our code and the libraries,
not the 2/s wait. Run:

    .venv/bin/python -m bench.fred_fetch [--series WALCL,TREAST,DFF]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import httpx

from bot.ingest.fetcher import Fetcher
from bot.store import Store
from sources.fred import FredSource
from tests.fakes.fred import API_KEY, FakeFred

HISTORY = Path(os.environ.get("CYCLEWATCH_HISTORY_DIR", Path(__file__).parents[2] / "shared/data"))


def source(fake: FakeFred, http: httpx.Client, keyed: bool) -> FredSource:
    return FredSource(
        api_key=API_KEY if keyed else None, api_url=f"{fake.url}/fred",
        graph_url=f"{fake.url}/graph/fredgraph.csv", http=http, rate=1000, timeout=30,
    )  # fmt: skip


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def clock() -> datetime:
    return datetime(2026, 11, 20, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", default="WALCL,TREAST,WRESBAL,WTREGEN,DFEDTARU,DFF,CPIAUCSL")
    series = parser.parse_args().series.split(",")
    with (
        FakeFred(HISTORY, today=date(2026, 11, 20)).running() as fake,
        httpx.Client(timeout=30) as http,
        tempfile.TemporaryDirectory() as tmp,
    ):
        store = Store(f"sqlite:///{tmp}/bench.db")
        fetcher = Fetcher(store, source(fake, http, keyed=True), clock=clock)
        full = timed(lambda: fetcher.poll(series))
        unchanged = timed(lambda: fetcher.poll(series))
        print(f"poll of {len(series)} series: full {full:.2f}s, nothing new {unchanged:.3f}s "
              f"-> {full / unchanged:.0f}x cheaper (target >= 5x)")  # fmt: skip
        keyed, keyless = source(fake, http, True), source(fake, http, False)
        for sid in ("WALCL", "DFF"):
            api = timed(partial(keyed.fetch, sid))
            csv = timed(partial(keyless.fetch, sid))
            print(f"{sid}: fredapi XML {api:.3f}s, keyless CSV {csv:.3f}s -> CSV {api / csv:.1f}x "
                  "faster")  # fmt: skip
        before = fake.count("observations")
        vintages = timed(lambda: keyed.fetch_vintages("RRPONTSYD"))
        windows = fake.count("observations") - before
        print(f"RRPONTSYD vintages: {vintages:.2f}s in {windows} capped windows")
        store.close()


if __name__ == "__main__":
    main()
