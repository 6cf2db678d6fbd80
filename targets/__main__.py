"""Run a target portal in the foreground: ``python -m targets invoice|recruitment --port P``.

For people who want to look at what the bots see, and click through it themselves.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Sequence

from targets.launch import start_invoice_portal, start_recruitment_portal
from targets.misbehave import ENV_VAR, Misbehaviour

_CREDENTIALS = {
    "invoice": "approver / approver-pass (limit 100,000.00) or junior / junior-pass (10,000.00)",
    "recruitment": "hr / hr-pass",
}


def _parser() -> argparse.ArgumentParser:
    """Command-line options; misbehaviour flags override ``RPA_TARGETS_MISBEHAVE``."""
    parser = argparse.ArgumentParser(prog="python -m targets", description=__doc__)
    parser.add_argument("portal", choices=sorted(_CREDENTIALS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=None, help="data seed (invoice portal)")
    parser.add_argument("--count", type=int, default=None, help="invoices (invoice portal)")
    parser.add_argument("--error-share", type=float, default=None)
    parser.add_argument("--slow-share", type=float, default=None)
    parser.add_argument("--slow-seconds", type=float, default=None)
    parser.add_argument("--session-lifetime", type=float, default=None)
    parser.add_argument("--changed-layout", action="store_true", default=None)
    parser.add_argument("--misbehave-seed", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Start the chosen portal and serve until Ctrl+C."""
    args = _parser().parse_args(argv)
    overrides = {
        "error_share": args.error_share, "slow_share": args.slow_share,
        "slow_seconds": args.slow_seconds, "session_lifetime": args.session_lifetime,
        "changed_layout": args.changed_layout, "seed": args.misbehave_seed,
    }
    misbehaviour = Misbehaviour.from_env().updated(
        {k: v for k, v in overrides.items() if v is not None}
    )
    if args.portal == "invoice":
        options = {k: v for k, v in (("seed", args.seed), ("count", args.count)) if v is not None}
        server = start_invoice_portal(misbehaviour=misbehaviour, host=args.host, port=args.port,
                                      quiet=False, **options)
    else:
        server = start_recruitment_portal(misbehaviour=misbehaviour, host=args.host,
                                          port=args.port, quiet=False)
    print(f"{args.portal} portal at {server.url}  (log in as {_CREDENTIALS[args.portal]})")
    print(f"misbehaviour: {misbehaviour.to_dict()}  (also settable via {ENV_VAR})")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
