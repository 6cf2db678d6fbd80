"""Demo target systems for the bots: an invoice approval portal and a recruitment portal.

Both are small Flask apps served on 127.0.0.1 from a background thread. They
behave like the enterprise web apps bots meet in production (logins that expire,
CSRF tokens, paginated lists, strict forms) and can be told to misbehave (slow
answers, 502/503 errors, a changed layout) deterministically from a seed.
"""

from __future__ import annotations

from targets.launch import start_invoice_portal, start_recruitment_portal
from targets.misbehave import Misbehaviour
from targets.server import TargetServer

__all__ = ["Misbehaviour", "TargetServer", "start_invoice_portal", "start_recruitment_portal"]
