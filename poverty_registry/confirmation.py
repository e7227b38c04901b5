"""Two-step confirmation of an action that cannot be undone (issuing a report, re-settling a year, confirming a
case, marking a person dead): the first POST renders a server-side "确认" page that says in numbers what will
happen and carries the form on; only a second POST with ``confirmed=1`` and the same numbers acts.

No JavaScript confirm(): the CSP forbids inline scripts, and a page can show the numbers a dialog cannot.
The page also carries a digest of the numbers it showed: if they changed before the click (another user
computed subsidies meanwhile), the action is not taken and the page is shown again with the new numbers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.shortcuts import render

CONFIRMED = "confirmed"
SEEN = "seen"
NOT_CARRIED = {"csrfmiddlewaretoken", CONFIRMED, SEEN}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    key: str  # the element id on the page (tests and screen readers find the figure by it)


@dataclass
class Ask:
    """What the confirmation page says: the action, its figures and its consequence."""

    title: str
    facts: list[Fact]
    consequence: str
    button: str
    cancel_url: str
    notes: list[str] = field(default_factory=list)

    def digest(self) -> str:
        text = "\n".join(f"{f.key}={f.value}" for f in self.facts)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def is_confirmed(request, ask: Ask) -> bool:
    """The POST comes from the confirmation page and the figures are still the ones it showed."""
    return request.POST.get(CONFIRMED) == "1" and request.POST.get(SEEN) == ask.digest()


def carried_fields(post) -> list[tuple[str, str]]:
    """The first POST's fields, to send again as hidden inputs (every value of a repeated name)."""
    return [(name, value) for name in post if name not in NOT_CARRIED for value in post.getlist(name)]


def confirmation_page(request, ask: Ask, *, template: str = "confirm.html", context: dict | None = None):
    changed = request.POST.get(CONFIRMED) == "1"  # confirmed, but on figures that no longer hold
    return render(request, template, {
        "ask": ask, "carried": carried_fields(request.POST), "seen": ask.digest(), "changed": changed,
        "action_url": request.get_full_path(), **(context or {}),
    })
