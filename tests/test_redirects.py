"""Open redirects (issue 13, finding 7): every "back to where you were" parameter lands on this site only."""
from __future__ import annotations

import pytest
from django.urls import reverse

from poverty_registry.models import MatchLink

pytestmark = pytest.mark.django_db

HOSTILE = ["https://evil.example.com/phish", "//evil.example.com/phish", "javascript:alert(1)",
           "/\\evil.example.com", "http://testserver.evil.example.com/"]


@pytest.mark.parametrize("target", HOSTILE)
def test_case_from_hits_back_refuses_other_sites(client, supervisor, target):
    client.force_login(supervisor)
    # No hit chosen: the case is refused and the page sends the user "back".
    response = client.post(reverse("supervision:case_from_hits"), {"back": target})
    assert response.status_code == 302 and response.url == reverse("supervision:hits")


def test_case_from_hits_back_keeps_a_local_path(client, supervisor):
    client.force_login(supervisor)
    back = reverse("supervision:hits") + "?year=2025&rule=R06"
    assert client.post(reverse("supervision:case_from_hits"), {"back": back}).url == back


@pytest.mark.parametrize("target", HOSTILE)
def test_decide_link_next_refuses_other_sites(client, clerk_a, person_a, target):
    link = MatchLink.objects.create(match_key="X", person=person_a, source="civil_affairs", id_raw="X",
                                    name="甲", score=0.9)
    client.force_login(clerk_a)
    response = client.post(reverse("matching:decide_link", args=[link.pk]), {"decision": "?", "next": target})
    assert response.status_code == 302 and response.url == reverse("matching:links")


@pytest.mark.parametrize("target", HOSTILE)
def test_chase_status_next_refuses_other_sites(client, clerk_a, person_a, target):
    client.force_login(clerk_a)
    response = client.post(reverse("enrollment:chase_status", args=[person_a.pk]),
                           {"year": 2025, "status": "?", "next": target})
    assert response.status_code == 302 and response.url == f"{reverse('enrollment:chase')}?year=2025"
