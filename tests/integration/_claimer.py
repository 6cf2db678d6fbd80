"""A claimer process for the concurrency tests: claim, do, complete, until all are done.

Run as `python -m tests.integration._claimer URL WORKER_ID LOG TOTAL [--victim]`.
Each completed item id is appended to LOG only after `complete` returned, so the
logs together are the side effects "on the target". A victim claims one item,
says so on stdout, and hangs as if stuck mid-item until it is SIGKILLed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from queues import open_store
from queues.sql_store import SqlStore

LEASE = 2.0


def main() -> None:
    url, worker, log, total = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    victim = "--victim" in sys.argv
    store = open_store(url, writer=f"claimer-{worker}")
    assert isinstance(store, SqlStore)
    if victim:
        while not (held := store.claim("invoices", worker, lease_seconds=LEASE)):
            time.sleep(0.01)
        print(f"claimed {held[0].id}", flush=True)
        time.sleep(3600)
    with log.open("a") as out:
        while True:
            claimed = store.claim("invoices", worker, lease_seconds=LEASE)
            if not claimed:
                store.recover_expired()
                done = store.queue_status()[0].count("done")
                if done >= total:
                    break
                time.sleep(0.02)
                continue
            item = claimed[0]
            store.complete(item.id, worker, {"by": worker})
            out.write(f"{item.id}\n")
            out.flush()
    store.close()


if __name__ == "__main__":
    main()
