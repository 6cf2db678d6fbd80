"""Measure one peer job queue, one measure; print one JSON object on stdout.

Run with the peers' venv python (see venv.py), never the project's:

    bench/peers/.venv-peers/bin/python bench/peers/run_peer.py \
        --peer {pgqueuer,procrastinate,huey} \
        --measure {enqueue_one,enqueue_bulk,consume,latency} \
        --items N [--workers W] [--batch B] [--samples S] \
        [--dsn postgresql://postgres@127.0.0.1:5432/DBNAME] [--sqlite PATH] \
        [--max-seconds 8] [--gap 0.2] [--scratch-db]

Every run starts from an empty schema (PostgreSQL peers drop and recreate their
own objects in --dsn's database; huey starts a fresh SQLite file), so --dsn
must name a scratch database: the shared `test` database is refused.
--scratch-db instead creates a database `peers_<peer>_<pid>_<hex>` next to
--dsn (or the local server), runs there and drops it (WITH FORCE) afterwards.

Measures (a no-op task everywhere, payload {"n": i}):
  enqueue_one   N enqueue calls in sequence, one producer; only the loop is timed
  enqueue_bulk  N jobs in calls of 1,000 (or "unsupported")
  consume       preload N (not timed), W forked workers each running the peer's
                own worker machinery, from a common start signal until all N are
                finished or --max-seconds; finished is read from the peer's store
  latency       one idle worker; S single enqueues timed from just before the
                enqueue call to the moment the task starts; first 3 dropped

JSON fields: peer, measure, items, seconds, rate (items/s), cpu_seconds (CPU
of the measuring process(es): the producer for enqueue, the workers for
consume, producer + worker for latency; the PostgreSQL server's CPU is not
included), p50_ms/p95_ms (latency), load_1m (1-minute load average before and
after), settings, versions, and per measure:
finished / finished_counted / verified / timed_out (consume), unsupported
(a reason, also as `reason`, when the peer has no API for the measure;
seconds/rate/cpu_seconds are then null).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse, urlunparse

from harness import Options, Peer, Unsupported, run_consume, run_latency

PEERS = ("pgqueuer", "procrastinate", "huey")
MEASURES = ("enqueue_one", "enqueue_bulk", "consume", "latency")
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def load_peer(name: str) -> Peer:
    """Import only the adapter asked for, so one peer's import problems never block another."""
    if name == "pgqueuer":
        from peer_pgqueuer import PgQueuerPeer
        return PgQueuerPeer()
    if name == "procrastinate":
        from peer_procrastinate import ProcrastinatePeer
        return ProcrastinatePeer()
    from peer_huey import HueyPeer
    return HueyPeer()


def parse_args(argv: list[str] | None = None) -> tuple[Options, bool]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peer", choices=PEERS, required=True)
    p.add_argument("--measure", choices=MEASURES, required=True)
    p.add_argument("--items", type=int, default=20000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--samples", type=int, default=50)
    p.add_argument("--dsn", default=None,
                   help="PostgreSQL URL of a scratch database (PgQueuer, procrastinate)")
    p.add_argument("--sqlite", default=None,
                   help="SQLite file for huey (recreated); default a temporary file")
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--gap", type=float, default=0.2,
                   help="latency: seconds the worker stays idle between samples")
    p.add_argument("--scratch-db", action="store_true",
                   help="create a peers_* database next to --dsn, run there, drop it")
    a = p.parse_args(argv)
    if a.items < 1 or a.workers < 1 or a.batch < 1 or a.samples < 4:
        p.error("--items, --workers, --batch must be >= 1 and --samples >= 4")
    return Options(peer=a.peer, measure=a.measure, items=a.items, workers=a.workers,
                   batch=a.batch, samples=a.samples, dsn=a.dsn, sqlite=a.sqlite,
                   max_seconds=a.max_seconds, gap=a.gap), a.scratch_db


@contextmanager
def scratch_database(base_dsn: str, peer: str) -> Iterator[str]:
    """A new database named peers_*, dropped WITH (FORCE) afterwards.

    CREATE/DROP DATABASE are issued from the server's `postgres` maintenance
    database, never from `test`, which the project's test suite shares.
    """
    import psycopg

    url = urlparse(base_dsn)
    admin = urlunparse(url._replace(path="/postgres"))
    name = f"peers_{peer}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(url._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(peer: Peer, opts: Options) -> dict[str, Any]:
    out: dict[str, Any] = {"peer": peer.name, "measure": opts.measure, "items": opts.items}
    if opts.measure == "consume":
        out.update(workers=opts.workers, batch=opts.batch)
    load_before = os.getloadavg()[0]
    try:
        if opts.measure in ("enqueue_one", "enqueue_bulk"):
            fn = peer.enqueue_one if opts.measure == "enqueue_one" else peer.enqueue_bulk
            t = fn(opts)
            out.update(seconds=t.seconds, rate=opts.items / t.seconds,
                       cpu_seconds=t.cpu_seconds)
        elif opts.measure == "consume":
            out.update(run_consume(peer, opts))
        else:
            out.update(run_latency(peer, opts))
    except Unsupported as exc:
        out.update(seconds=None, rate=None, cpu_seconds=None, unsupported=str(exc),
                   reason=str(exc))
    # The machine is shared (2 cores): a busy neighbour shows here, not in the rate.
    out["load_1m"] = [load_before, os.getloadavg()[0]]
    out["settings"] = peer.settings(opts)
    out["versions"] = {"python": sys.version.split()[0], **peer.versions()}
    return out


def main(argv: list[str] | None = None) -> int:
    opts, scratch = parse_args(argv)
    peer = load_peer(opts.peer)
    if scratch and opts.peer != "huey":
        with scratch_database(opts.dsn or DEFAULT_DSN, opts.peer) as dsn:
            result = measure(peer, replace(opts, dsn=dsn))
    else:
        result = measure(peer, opts)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
