"""The back office is Chinese whatever language the browser asks for (no Accept-Language negotiation)."""
from __future__ import annotations

import datetime as dt

import pytest


@pytest.mark.parametrize("accept_language", ["en-US,en;q=0.9", "de", "zh-CN"])
def test_admin_speaks_chinese_to_every_browser(client, county_a, person_a, accept_language):
    from poverty_registry.models import Person

    Person.objects.filter(pk=person_a.pk).update(death_date=dt.date(2026, 2, 10))
    client.force_login(county_a)
    html = client.get("/admin/poverty_registry/person/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()
    assert "Select " not in html and "to change" not in html
    assert "选择" in html
    assert "2026年2月10日" in html
    assert "Feb. 10, 2026" not in html
