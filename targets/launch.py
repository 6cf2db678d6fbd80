"""One-call starters for the two portals, for tests and the ``rpa demo`` command.

Each returns a running ``TargetServer``; stop it with ``.stop()`` or use it as a
context manager. The data seed (what invoices exist) and the misbehaviour seed
(which requests fail) are separate on purpose: the same data can be replayed
under different trouble.
"""

from __future__ import annotations

from targets.invoice_portal import data as invoice_data
from targets.invoice_portal.app import create_app as create_invoice_app
from targets.misbehave import Misbehaviour
from targets.recruitment_portal.app import create_app as create_recruitment_app
from targets.server import TargetServer


def start_invoice_portal(
    *,
    seed: int = invoice_data.DEFAULT_SEED,
    count: int = invoice_data.DEFAULT_COUNT,
    misbehaviour: Misbehaviour | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
) -> TargetServer:
    """Serve the invoice approval portal over ``count`` invoices generated from ``seed``."""
    app = create_invoice_app(misbehaviour=misbehaviour, seed=seed, count=count)
    return TargetServer(app, host=host, port=port, quiet=quiet, name="invoice-portal").start()


def start_recruitment_portal(
    *,
    misbehaviour: Misbehaviour | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
) -> TargetServer:
    """Serve the recruitment portal, starting with no registrations."""
    app = create_recruitment_app(misbehaviour=misbehaviour)
    return TargetServer(app, host=host, port=port, quiet=quiet,
                        name="recruitment-portal").start()
