"""One navigation for the whole back office: each role's menu shows exactly the sections it may use and every
link in it opens (200) for that role; region and role in every page's header, admin and purpose-built alike;
breadcrumbs on the purpose-built pages; the strict CSP unchanged and no inline script on any page walked."""
from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

ALL = ["台账", "参保资助", "结算", "基金监管", "比对", "审计", "系统"]
EXPECTED_SECTIONS = {
    "clerk_a": ["台账", "参保资助", "结算", "比对", "审计"],
    "county_a": ["台账", "参保资助", "结算", "比对", "审计", "系统"],
    "city_officer": ["台账", "参保资助", "结算", "比对", "审计", "系统"],
    "supervisor": ALL,
    "administrator": ALL,
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
MENU = re.compile(r'<nav class="bo-menu" id="back-office-menu".*?</nav>', re.S)


def menu_of(html: str) -> tuple[list[str], list[str]]:
    """(section headings, link hrefs) of the rendered menu."""
    nav = MENU.search(html)
    assert nav, "no menu on the page"
    return re.findall(r"<h2>(.*?)</h2>", nav.group()), re.findall(r'href="([^"]+)"', nav.group())


def assert_no_inline_script(html: str, url: str) -> None:
    assert not INLINE_SCRIPT.search(html), f"inline <script> on {url}"
    assert not EVENT_HANDLER.search(html), f"inline event handler on {url}"


@pytest.mark.parametrize("persona", list(EXPECTED_SECTIONS))
def test_each_role_menu_shows_its_sections_and_every_link_opens(client, request, persona):
    from poverty_registry.navigation import menu_for

    user = request.getfixturevalue(persona)
    assert [section.label for section in menu_for(user)] == EXPECTED_SECTIONS[persona]
    client.force_login(user)
    home = client.get(reverse("home"))
    sections, links = menu_of(home.content.decode())
    assert sections == EXPECTED_SECTIONS[persona]
    assert links and len(links) == len(set(links))
    for url in links:
        response = client.get(url)
        assert response.status_code == 200, f"{persona}: {url} answered {response.status_code}"
        html = response.content.decode()
        if response["Content-Type"].startswith("text/html"):
            assert menu_of(html)[0] == EXPECTED_SECTIONS[persona], url  # the same menu on every page
            assert_no_inline_script(html, url)


def test_township_clerk_sees_no_links_it_cannot_open(client, clerk_a):
    client.force_login(clerk_a)
    _, links = menu_of(client.get(reverse("home")).content.decode())
    for forbidden in ("admin:poverty_registry_user_changelist", "admin:poverty_registry_accessrecord_changelist",
                      "admin:poverty_registry_accessflag_changelist", "supervision:overview", "supervision:hits",
                      "admin:claims_policyset_changelist"):
        url = reverse(forbidden)
        assert url not in links
        assert client.get(url).status_code == 403, forbidden
    assert reverse("admin:poverty_registry_auditrecord_changelist") in links  # its township's audit trail it may read
    assert reverse("imports:new", args=["ledger"]) in links
    assert reverse("imports:new", args=["claims"]) not in links


@pytest.mark.parametrize("url_name", ["home", "matching:queue", "admin:poverty_registry_person_changelist",
                                      "admin:index"])
def test_region_and_role_in_every_header(client, clerk_a, url_name):
    from poverty_registry.models import Region

    client.force_login(clerk_a)
    html = client.get(reverse(url_name)).content.decode()
    full_name = Region.objects.get(code=clerk_a.region_id).full_name  # the walk up the parents, as before
    assert f'id="header-region" title="辖区">{full_name}</span>' in html
    assert 'id="header-role" title="角色">乡镇经办</span>' in html
    assert_no_inline_script(html, url_name)


def test_admin_and_pages_share_one_stylesheet(client, county_a):
    client.force_login(county_a)
    for url in (reverse("home"), reverse("claims:statistics"), reverse("admin:claims_claim_changelist"),
                reverse("imports:new", args=["ledger"])):
        html = client.get(url).content.decode()
        assert 'href="/static/medins/site.css"' in html, url
        assert "dark_mode.css" not in html, url  # one light look: the pages have no dark mode either


def test_breadcrumbs_on_purpose_built_pages(client, county_a):
    client.force_login(county_a)

    def trail(url):
        html = client.get(url).content.decode()
        crumbs = re.search(r'<nav class="bo-crumbs".*?</nav>', html, re.S).group()
        return re.sub(r"<[^>]+>", "", crumbs).split(" › ")

    assert trail(reverse("matching:queue")) == ["工作台", "比对", "比对差异待办"]
    assert trail(reverse("enrollment:rate")) == ["工作台", "参保资助", "参保率"]
    assert trail(reverse("claims:statistics")) == ["工作台", "结算", "结算统计"]


def test_breadcrumbs_of_a_detail_page(county_a):
    from poverty_registry.navigation import breadcrumbs, menu_for

    menu = menu_for(county_a, "matching:item", (7,))
    assert [label for label, _ in breadcrumbs(menu, "matching:item")] == ["工作台", "比对", "比对差异待办",
                                                                          "差异详情"]
    active = [link.label for section in menu for link in section.links if link.active]
    assert active == ["比对差异待办"]
    admin_menu = menu_for(county_a, "admin:claims_claim_change", (3,))
    assert [link.label for section in admin_menu for link in section.links if link.active] == ["结算单"]


def test_csp_header_unchanged(client, clerk_a):
    client.force_login(clerk_a)
    header = client.get(reverse("home"))["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    expected = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    assert {key: directives[key] for key in expected} == expected
