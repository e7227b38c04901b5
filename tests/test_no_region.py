"""Fail closed: an account that is not a superuser and has no region is refused at login, and — should it hold
a session anyway (a region removed after login, a forced session) — every import kind and every page outside
the admin shows and changes nothing of any region. "No region" never means "all regions"."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from claims.importer import COLUMNS as CLAIM_COLUMNS
from enrollment.importer import COLUMNS as ENROLMENT_COLUMNS
from poverty_registry import importing
from poverty_registry.auth import NO_REGION_LOGIN
from poverty_registry.models import AuditJournal, AuditRecord, ImportRun, Person, User
from poverty_registry.scoping import NOTHING, region_scope
from tests.claims.settlement_helpers import enrol, policies  # noqa: F401
from tests.conftest import CITY, PASSWORD, VILLAGE_A, VILLAGE_B, make_person, make_staff
from tests.poverty_registry.ledger_builders import ledger_xlsx, row
from tests.samples import SAMPLES


def regionless(role: str) -> User:
    """An account with a role (its permissions) whose region is gone."""
    user = make_staff(f"nowhere_{role}", CITY, role)
    User.objects.filter(pk=user.pk).update(region=None)
    return User.objects.get(pk=user.pk)


# One valid file per import kind, each touching two counties; a new kind fails the test below until it has one.
def ledger_file() -> tuple[str, bytes]:
    return "台账.xlsx", ledger_xlsx([row("H-A-1", "荣家湾甲", 41, VILLAGE_A), row("H-B-1", "汉昌乙", 42, VILLAGE_B)])


def enrolment_file() -> tuple[str, bytes]:
    a, b = make_person(VILLAGE_A, seq=43, name="参保甲"), make_person(VILLAGE_B, seq=44, name="参保乙")
    lines = [",".join(ENROLMENT_COLUMNS.values()),
             f"{a.id_number},参保甲,2024,正常参保,2023-11-02,{VILLAGE_A}",
             f"{b.id_number},参保乙,2024,正常参保,2023-11-02,{VILLAGE_B}"]
    return "参保名单.csv", ("\n".join(lines) + "\n").encode()


def claims_file() -> tuple[str, bytes]:
    a, b = make_person(VILLAGE_A, seq=45, name="就医甲"), make_person(VILLAGE_B, seq=46, name="就医乙")
    enrol(a, 2024)
    enrol(b, 2024)
    lines = [",".join(CLAIM_COLUMNS.values())] + [
        f"{no},H43062100001,岳阳县人民医院,县级,是,否,住院,{p.id_number},{p.name},2024-03-01,2024-03-10,J18.900,"
        "20000.00,2000.00" for no, p in (("NR1", a), ("NR2", b))]
    return "结算.csv", ("\n".join(lines) + "\n").encode()


FILES = {"ledger": ledger_file, "enrolment": enrolment_file, "claims": claims_file}


def written_state() -> tuple:
    """Everything a change leaves: the audit trail (every audited table) and the import history."""
    return (AuditRecord.objects.aggregate(m=Max("id"))["m"], AuditJournal.objects.aggregate(m=Max("id"))["m"],
            ImportRun.objects.count())


def test_region_scope_fails_closed(regions):
    nowhere = regionless("county")
    assert region_scope(nowhere) == NOTHING and not region_scope(nowhere).covers(VILLAGE_A)
    assert region_scope(None) == NOTHING
    assert region_scope(User.objects.create_superuser("root", password=PASSWORD)).covers(VILLAGE_B)


def test_login_refused_without_a_region(client, regions):
    regionless("township")
    response = client.post(reverse("admin:login"), {"username": "nowhere_township", "password": PASSWORD})
    assert response.status_code == 200 and NO_REGION_LOGIN in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_every_import_kind_is_covered():
    assert set(FILES) == set(importing.KINDS)


@pytest.mark.parametrize("kind_code", sorted(FILES))
def test_every_import_kind_imports_nothing_for_an_account_without_region(kind_code, client, regions,
                                                                          policies):  # noqa: F811
    name, data = FILES[kind_code]()
    kind = importing.KINDS[kind_code]
    city = make_staff("city_importer", CITY, "city" if kind_code != "ledger" else "county")
    if kind_code == "ledger":
        User.objects.filter(pk=city.pk).update(region_id=CITY)  # the ledger file spans two counties
        city = User.objects.get(pk=city.pk)
    sane = kind.run(data, name, city, dry_run=True, progress=lambda *a: None)
    assert sane.rows_rejected == 0, sane.errors  # the file itself is good: a regioned account would import it
    nowhere = regionless("admin")
    client.force_login(nowhere)  # (signing in writes last_login: before the state is taken)
    before = written_state()
    outcome = kind.run(data, name, nowhere, dry_run=False, progress=lambda *a: None)
    assert outcome.rows_rejected == outcome.rows_read == 2
    assert written_state() == before
    response = client.post(reverse("imports:new", args=[kind_code]), {"file": _upload(name, data)})
    assert response.status_code == 403
    assert client.get(reverse("imports:new", args=[kind_code])).status_code == 403
    assert written_state() == before


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def _pages():
    """Every URL pattern outside the admin, as (namespaced name, parameter names)."""
    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern).startswith("admin/"):
                    continue
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                yield name, tuple(sorted(pattern.pattern.converters))
    return sorted(set(walk(get_resolver().url_patterns, None)))


def _shown_text(response) -> str:
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        return " ".join(str(cell) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True)
                        for cell in r if cell is not None)
    return response.content.decode(errors="replace")


@pytest.mark.parametrize("role", ["admin", "supervisor", "county"])
def test_every_page_shows_and_changes_nothing_for_an_account_without_region(role, client, regions):
    for label in sorted(SAMPLES):  # something of every kind to see, in one village
        try:
            with transaction.atomic():
                SAMPLES[label](VILLAGE_A)
        except IntegrityError:  # samples sharing an object made once (a hospital): the first one stands
            pass
    secrets = {p.name for p in Person.objects.all()} | {p.id_number for p in Person.objects.all()} | \
        {p.id_number[:6] + "********" + p.id_number[-4:] for p in Person.objects.all()}
    pks = sorted({pk for model in _sample_models() for pk in model.objects.values_list("pk", flat=True)
                  if isinstance(pk, int)})[:12]
    nowhere = regionless(role)
    client.force_login(nowhere)
    before = written_state()
    post = {"region": VILLAGE_A, "year": "2024", "status": "done", "action": "close", "hits": pks, "note": "x",
            "title": "x", "source": "tip", "decision": "confirm", "sha256": "0" * 64, "back": "/"}
    for name, params in _pages():
        for pk in pks if params else [None]:
            args = {p: (pk if p != "kind_code" else "ledger") for p in params}
            url = reverse(name, kwargs=args)
            for response in (client.get(url, {"year": "2024"}), client.post(url, post)):
                if response.status_code in (403, 404, 405) or name == "healthz":
                    continue
                assert response.status_code in (200, 302), (url, response.status_code)
                if response.status_code == 302:
                    assert not re.search(r"/(new|run|cases)/\d", response["Location"]), (url, response["Location"])
                    continue
                shown = _shown_text(response)
                leaked = [s for s in secrets if s in shown]
                assert not leaked, (url, leaked)
    assert written_state() == before


def _sample_models():
    from django.apps import apps

    return [apps.get_model(label) for label in SAMPLES]
