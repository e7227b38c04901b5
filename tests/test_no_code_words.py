"""Every value a user sees is Chinese: no stored code (categories, statuses, sources), no table or column name,
no "true"/"None", no "DOMAIN §" and no English admin phrase in the text of any admin list, change or add page or
any purpose-built page, for any role, with demo data, settlements, subsidies and audit records present."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse

from poverty_registry import vocab
from tests.conftest import PASSWORD, VILLAGE_A, make_staff
from tests.samples import SAMPLES
from tests.test_no_region import _pages

ENGLISH = ["Select ", " to change", " to view", "Add ", "Save and", "Delete", "Action:", "Go", "Filter", "Search",
           "Yes", "No", "Unknown", "by ", "None", "True", "False", "true", "false", "null", "Change", "History",
           "View on site", "Home", "Log out", "Welcome", "Show all", "Clear all filters", "Any date", "Today",
           "Past 7 days", "This month", "This year", "All", "Previous", "Next", "results", "total"]
# Sources of the audit trail and of imports as the code writes them.
SOURCE_CODES = ["seed_demo", "web", "import:", "matching:", "resettle:", "screen_claims", "screen_nightly",
                "screen_persons", "compute_subsidies", "DOMAIN §", "DOMAIN"]


def _choice_codes() -> set[str]:
    """Every stored code of a field with choices whose label differs from it (``"tekun"`` → 特困供养人员)."""
    codes = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            for key, label in getattr(field, "flatchoices", None) or []:
                if isinstance(key, str) and re.search(r"[a-z]", key) and len(key) >= 3 and key != str(label):
                    codes.add(key)
    return codes


def _code_words() -> list[str]:
    tables = {m._meta.db_table for m in apps.get_models()}
    columns = {f.column for m in apps.get_models() for f in m._meta.concrete_fields if "_" in f.column}
    words = set(vocab.CATEGORIES) | set(vocab.POVERTY_STATUSES) | set(vocab.ROLES) | _choice_codes()
    words |= tables | columns | {"poverty_registry_", "claims_", "enrollment_", "auth_"}
    return sorted(words | set(ENGLISH) | set(SOURCE_CODES), key=len, reverse=True)


CODE_WORDS = _code_words()
# A word stands alone: "admin" inside "administrator" (a username) or "web" inside a URL is not a code on screen.
PATTERN = re.compile("|".join(rf"(?<![A-Za-z0-9_]){re.escape(w.strip())}(?![A-Za-z0-9_])" if w.strip() == w
                              else re.escape(w) for w in CODE_WORDS))
# A whole number as Python prints a float ("0.0", "1200.0"), not money ("0.00"), an address ("127.0.0.1") or a
# diagnosis ("J18.0").
RAW_FLOAT = re.compile(r"(?<![\w.])\d+\.0(?![\w.%])")


SKIPPED = ("script", "style", "template", "textarea")


class _Text(HTMLParser):
    """The text nodes a user reads: no tags, attributes, scripts or styles, nor what users typed into a text box
    (notes; the rule parameters' JSON box is issue 15's finding 6)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in SKIPPED

    def handle_endtag(self, tag):
        self._skip -= tag in SKIPPED and self._skip > 0

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def code_words_in(html: str, allowed) -> list[str]:
    found = []
    for text in visible_text(html):
        for value in allowed:  # usernames, claim and hospital numbers: data people typed, not our codes
            text = text.replace(value, "")
        found += [f"{m.group(0)!r} in {text[:80]!r}" for m in PATTERN.finditer(text)]
        found += [f"{m.group(0)!r} in {text[:80]!r}" for m in RAW_FLOAT.finditer(text)]
    return found


@pytest.fixture
def demo(regions, client, tmp_path, settings, county_a):
    """Demo data (categories, enrolments, subsidies, settled claims, all by `seed_demo`), a sample of every
    admin model, a matching run with every difference, a re-settlement, a case with an attachment, account
    role changes (the M2M table) and a login."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from claims.models import Case
    from claims.settlement.services import start_resettle
    from claims.supervision import cases
    from poverty_registry.matching import run as matching
    from tests.matching.scenario import RUN_DATE, plant_everything

    call_command("seed_demo", persons=300, seed=2026, stdout=open("/dev/null", "w"))
    for label in sorted(SAMPLES):
        try:
            with transaction.atomic():
                SAMPLES[label](VILLAGE_A)
        except IntegrityError:  # samples sharing an object made once (a hospital): the first one stands
            pass
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings.MATCHING_INBOX = inbox
    plant_everything(inbox)
    matching.run_now(inbox, "test", today=RUN_DATE)
    case = Case.objects.order_by("id").first()
    cases.add_attachment(case, make_staff("case_worker", VILLAGE_A[:6], "supervisor"),
                         SimpleUploadedFile("证据.pdf", b"%PDF-1.4 x", content_type="application/pdf"))
    start_resettle(2024, VILLAGE_A[:6], user=county_a)
    from poverty_registry.services import save_staff

    save_staff("sample_" + VILLAGE_A, region_code=VILLAGE_A[:9], role="county")  # a role change: groups M2M
    client.post(reverse("admin:login"), {"username": "county_a", "password": PASSWORD})  # a login
    client.logout()


def _first(model_label: str, **filters):
    return apps.get_model(model_label).objects.filter(**filters).order_by("id").first()


def _settled_categories() -> set[str]:
    return set(apps.get_model("claims.settlement").objects.values_list("category", flat=True))


# The URL parameters of every page outside the admin (one object, or a list); a new page with parameters needs
# its entry.
PAGE_OBJECTS = {
    "claims:sheet": lambda: [{"pk": _first("claims.settlement", category=c, is_current=True).claim_id}
                             for c in _settled_categories()],  # a sheet of every category settled
    "claims:resettle_run": lambda: {"pk": _first("claims.resettlerun").pk},
    "enrollment:report": lambda: {"pk": _first("enrollment.subsidyreport").pk},
    "enrollment:report_print": lambda: {"pk": _first("enrollment.subsidyreport").pk},
    "enrollment:chase_status": lambda: {"person_id": _first("enrollment.chaseentry").person_id},
    "supervision:claim": lambda: {"pk": _first("claims.screeninghit").claim_id},
    "supervision:hospital": lambda: {"pk": _first("claims.hospital").pk},
    "supervision:case": lambda: {"pk": _first("claims.case").pk},
    "supervision:case_action": lambda: {"pk": _first("claims.case").pk},
    "imports:detail": lambda: {"pk": _first("poverty_registry.importrun").pk},
    "imports:confirm": lambda: {"pk": _first("poverty_registry.importrun").pk},
    "imports:retry": lambda: {"pk": _first("poverty_registry.importrun").pk},
    "matching:item": lambda: {"pk": _first("poverty_registry.matchingitem").pk},
    "matching:run": lambda: {"pk": _first("poverty_registry.matchingrun").pk},
    "matching:decide_link": lambda: {"pk": _first("poverty_registry.matchlink").pk},
}


# Pages that answer a file or a status, not a page to read (their contents: tests/test_no_region.py).
FILES = {"healthz", "imports:template", "imports:errors", "imports:status", "registry:ledger_export",
         "enrollment:report_xlsx", "supervision:overview_export", "supervision:hits_export", "supervision:publication",
         "supervision:case_attachment"}


def page_urls() -> list[str]:
    from poverty_registry import importing

    urls = []
    for name, params in _pages():
        if name in FILES:
            continue
        if params == ("kind_code",):
            urls += [reverse(name, kwargs={"kind_code": kind}) for kind in importing.KINDS]
        elif params:
            assert name in PAGE_OBJECTS, f"{name}: no sample object for its URL parameters {params}"
            objects = PAGE_OBJECTS[name]()
            urls += [reverse(name, kwargs=kwargs) for kwargs in (objects if isinstance(objects, list) else [objects])]
        else:
            urls.append(reverse(name))
    return urls


def admin_urls() -> list[str]:
    from poverty_registry.models import AuditRecord

    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls += [reverse("admin:app_list", args=[opts.app_label]), reverse(f"{prefix}_changelist"),
                 reverse(f"{prefix}_add")]
        objects = model._default_manager.order_by("-pk")
        if model is AuditRecord:  # one record of every table and action: M2M rows, logins, settlements …
            objects = [AuditRecord.objects.filter(table_name=t, action=a).latest("id") for t, a in
                       AuditRecord.objects.values_list("table_name", "action").distinct()]
        else:
            objects = objects[:2]
        for obj in objects:
            try:
                urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
            except NoReverseMatch:
                pass
    return sorted(set(urls))


def _allowed_text() -> list[str]:
    """Values users or files typed (account names, claim and hospital numbers), shown as they are."""
    from claims.models import Claim, Hospital
    from poverty_registry.models import User

    typed = set(User.objects.values_list("username", flat=True)) | \
        set(Claim.objects.values_list("claim_no", flat=True)) | set(Hospital.objects.values_list("code", flat=True))
    return sorted(typed, key=len, reverse=True)


@pytest.mark.parametrize("persona", ["clerk_a", "county_a", "city_officer", "supervisor", "administrator"])
def test_no_code_word_on_any_page(persona, demo, client, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    allowed = _allowed_text()
    shown, problems = 0, {}
    for url in admin_urls() + page_urls():
        response = client.get(url, {"year": "2024"} if not url.startswith("/admin/") else {})
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        shown += 1
        found = code_words_in(response.content.decode(), allowed)
        if found:
            problems[url] = found[:8]
    assert shown > 30, "the walk rendered too few pages to mean anything"
    assert not problems, "\n".join(f"{url}: {found}" for url, found in problems.items())


def test_the_checker_sees_codes_and_not_data():
    assert code_words_in("<td>dibao</td><td title='tekun'>特困</td>", set()) == ["'dibao' in 'dibao'"]
    assert code_words_in("<p>新增 claims_settlement#15101</p>", set())
    assert code_words_in("<td>0.0</td><td>1,200.00</td><td>85.5%</td>", set()) == ["'0.0' in '0.0'"]
    assert code_words_in("<a href='/admin/'>administrator</a><script>var x = true</script>", set()) == []
    assert code_words_in("<td>clerk_a</td>", {"clerk_a"}) == []
