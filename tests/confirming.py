"""Posting through a confirmation page (poverty_registry.confirmation) as a user would: the first POST shows
the page, the second sends its hidden fields back with confirmed=1."""
from __future__ import annotations


def confirmation_of(response) -> dict:
    """The figures of a confirmation page by their key, and the fields it would post."""
    assert response.status_code == 200 and "ask" in response.context, "expected a confirmation page"
    ask = response.context["ask"]
    return {"facts": {fact.key: fact.value for fact in ask.facts}, "ask": ask,
            "data": {**_multi(response.context["carried"]), "confirmed": "1", "seen": response.context["seen"]}}


def _multi(pairs) -> dict:
    data: dict = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}


def post_confirmed(client, url, data, **kwargs):
    """POST, check that a confirmation page came back, then confirm it; returns the second response."""
    page = confirmation_of(client.post(url, data))
    return client.post(url, page["data"], **kwargs)
