"""A repair hint when a bot's locator finds nothing: what it looked for, and what is there.

A target's upgrade renames a button ("Godkjenn" becomes "Godkjenn faktura") and
every item fails on a timeout that says only what was awaited. The hint reads
the locator from Playwright's error, lists the page's buttons, links, fields and
headings by role and accessible name, and ranks them by how close they are:

    button 'Godkjenn' not found; closest: button 'Godkjenn faktura', link 'Godkjenn alle'

It is appended to the attempt's error message, which `rpa items show` and the
console show, so the process owner can tell the bot's author what changed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

# what Playwright's call log says it was waiting for
_WAITING = re.compile(
    r"waiting for (?:get_by_role\(\s*\"(?P<role>[\w-]+)\"(?:,\s*name=\"(?P<name>[^\"]*)\")?"
    r"|get_by_label\(\s*\"(?P<label>[^\"]*)\"|get_by_text\(\s*\"(?P<text>[^\"]*)\""
    r"|get_by_placeholder\(\s*\"(?P<placeholder>[^\"]*)\"|get_by_title\(\s*\"(?P<title>[^\"]*)\""
    r"|locator\(\s*\"(?P<css>[^\"]+)\")")
# the words of a CSS selector a person would recognise: ids, classes, attribute values
_CSS_WORDS = re.compile(r"[#.]([\w-]+)|=\s*['\"]?([\w-]+)")
MAX_CANDIDATES = 400
SHOWN = 3
CUT_OFF = 0.45

# role and accessible name of the page's interactive elements and headings (in the page)
CANDIDATES_JS = """(limit) => {
  const roleOf = (el) => {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit;
    const tag = el.tagName.toLowerCase();
    if (tag === 'a' && el.hasAttribute('href')) return 'link';
    if (tag === 'button' || (tag === 'input' && ['submit', 'button', 'reset']
        .includes((el.type || '').toLowerCase()))) return 'button';
    if (tag === 'select') return 'combobox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'input') {
      const t = (el.type || 'text').toLowerCase();
      if (t === 'checkbox') return 'checkbox';
      if (t === 'radio') return 'radio';
      return 'textbox';
    }
    if (/^h[1-6]$/.test(tag)) return 'heading';
    return null;
  };
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    const by = el.getAttribute('aria-labelledby');
    if (by) return by.split(/\\s+/).map(id => (document.getElementById(id) || {}).textContent
                                              || '').join(' ');
    if (el.labels && el.labels.length) return Array.from(el.labels).map(l => l.textContent)
                                              .join(' ');
    return el.innerText || el.value || el.getAttribute('placeholder')
           || el.getAttribute('title') || '';
  };
  const found = [];
  for (const el of document.querySelectorAll(
      'a[href], button, input, select, textarea, [role], h1, h2, h3, h4, h5, h6')) {
    const role = roleOf(el);
    if (!role) continue;
    const name = nameOf(el).replace(/\\s+/g, ' ').trim().slice(0, 120);
    if (name) found.push([role, name]);
    if (found.length >= limit) break;
  }
  return found;
}"""


@dataclass(frozen=True)
class Wanted:
    """What the failed locator looked for: a role (or None) and a name or text."""

    role: str | None
    name: str
    kind: str  # role, label, text, placeholder, title

    selector: str = ""  # a CSS locator's own text, for the message

    def describe(self) -> str:
        if self.kind == "role":
            return f"{self.role} {self.name!r}" if self.name else f"a {self.role}"
        if self.kind == "selector":
            return f"selector {self.selector!r}"
        return f"{self.kind} {self.name!r}"


def wanted_from(error_text: str) -> Wanted | None:
    """The locator a Playwright timeout was waiting for, if its call log says."""
    found = _WAITING.search(error_text)
    if found is None:
        return None
    if found.group("role"):
        return Wanted(found.group("role"), found.group("name") or "", "role")
    for kind in ("label", "text", "placeholder", "title"):
        if found.group(kind) is not None:
            return Wanted(None, found.group(kind), kind)
    css = found.group("css")
    words = [a or b for a, b in _CSS_WORDS.findall(css)]
    if not words:
        return None
    name = " ".join(words).replace("-", " ").replace("_", " ")
    return Wanted(None, name, "selector", css)


def closest(wanted: Wanted, candidates: list[tuple[str, str]]) -> list[tuple[str, str, float]]:
    """Candidates ranked by closeness of name (and the same role), best first."""
    target = wanted.name.casefold()
    scored = []
    for role, name in {(r, n) for r, n in candidates}:
        score = SequenceMatcher(None, target, name.casefold()).ratio()
        if target and target in name.casefold():
            score = max(score, 0.8)  # "Godkjenn" inside "Godkjenn faktura"
        if wanted.role and role == wanted.role:
            score += 0.1
        if score >= CUT_OFF:
            scored.append((role, name, round(min(score, 1.0), 2)))
    scored.sort(key=lambda c: (-c[2], c[0], c[1]))
    return scored[:SHOWN]


def hint_text(wanted: Wanted, ranked: list[tuple[str, str, float]]) -> str:
    if not ranked:
        return f"{wanted.describe()} not found, and nothing like it is on the page"
    shown = ", ".join(f"{role} {name!r}" for role, name, _ in ranked)
    return f"{wanted.describe()} not found; closest: {shown}"


async def hint_for(page: Any, error_text: str) -> str | None:
    """The repair hint for a failed locator on `page`; None when there is nothing to say."""
    wanted = wanted_from(error_text)
    if wanted is None or page is None or page.is_closed():
        return None
    try:
        candidates = await asyncio.wait_for(page.evaluate(CANDIDATES_JS, MAX_CANDIDATES), 5)
    except Exception:  # a page that cannot be read gives no hint, never a second error
        return None
    return hint_text(wanted, closest(wanted, [(str(r), str(n)) for r, n in candidates]))
