"""One sample per URL pattern outside the admin: how to build its arguments from sample objects made in
VILLAGE_A, which persona requests it, and what the insider (an account of that role in the sample's county, or
township for clerks) and the outsider (the same role in another county) get. tests/test_scoping.py walks
config.urls and fails for a URL that has no sample here.

A builder takes the insider and returns what the request needs: `kwargs` (the URL's), `query`, `data` (a POST),
`marker` (text the insider's answer shows and the outsider's must not), `unchanged` (a function whose value an
outsider's POST must leave as it was)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.conftest import COUNTY_A, TOWNSHIP_A, VILLAGE_A

OK, REDIRECT, NOT_FOUND, FORBIDDEN = 200, 302, 404, 403


@dataclass(frozen=True)
class Page:
    role: str | None  # the persona's role; None: requested without logging in
    build: Callable[..., dict] = field(default=lambda insider: {})
    method: str = "get"
    insider: tuple[int, ...] = (OK,)
    outsider: tuple[int, ...] = (NOT_FOUND,)  # OK: the page answers, with none of the insider's data (marker)


def _running(label: str, **running):
    """A run of `label` already running: a start from the page is refused (no task reaches the broker)."""
    def build(insider):
        from django.apps import apps

        model = apps.get_model(label)
        model.objects.filter(pk=_sample(label).pk).update(status="running", **running)
        return {"data": {"year": "2025"}, "unchanged": lambda: list(model.objects.values_list("pk", "status"))}
    return build


# --- builders ---------------------------------------------------------------------------------------------

def _ledger_run(insider, *, bad_row: bool = False):
    from poverty_registry import importing
    from tests.poverty_registry.ledger_builders import ledger_xlsx, row

    rows = [row(f"{VILLAGE_A}80001", "导入样本", 801, VILLAGE_A)]
    if bad_row:
        rows.append(row(f"{VILLAGE_A}80002", "错误样本", 802, "999999999999"))
    run = importing.upload("ledger", ledger_xlsx(rows), "样本台账.xlsx", insider)
    assert run.status == "previewed", run.message
    return run


def _run_page(insider):
    return {"kwargs": {"pk": _ledger_run(insider).pk}}


def _import_history(insider):
    _ledger_run(insider)
    return {"kwargs": {"kind_code": "ledger"}, "marker": "样本台账"}


def _errors(insider):
    return {"kwargs": {"pk": _ledger_run(insider, bad_row=True).pk}}


def _sample(label: str):
    from tests.samples import MODEL_SAMPLES

    return MODEL_SAMPLES[label](VILLAGE_A)


def _pk(label: str, **extra) -> Callable[..., dict]:
    return lambda insider: {"kwargs": {"pk": _sample(label).pk}, **extra}


def _listed(label: str, marker: str, **extra) -> Callable[..., dict]:
    def build(insider):
        _sample(label)
        return {"marker": marker, **extra}
    return build


def _region_page(year: int, post: bool = False, marker_label: str | None = None, marker: str | None = None):
    """Pages about a region given in the request: the insider's county; an outsider naming it gets 404."""
    def build(insider):
        if marker_label:
            _sample(marker_label)
        params = {"year": str(year), "region": COUNTY_A}
        return {"data": params} if post else {"query": params, "marker": marker}
    return build


def _resettle_start(insider):
    from claims.models import ResettleRun

    return {"data": {"year": "2024", "region": COUNTY_A},
            "unchanged": lambda: ResettleRun.objects.filter(region__code__startswith=COUNTY_A).count()}


def _person_post(insider):
    return {"kwargs": {"person_id": _sample("poverty_registry.person").pk},
            "data": {"year": "2030", "status": "contacted", "note": "样本"}}


def _link_post(insider):
    return {"kwargs": {"pk": _sample("poverty_registry.matchlink").pk}, "data": {"decision": "reject"}}


def _case_post(insider):
    return {"kwargs": {"pk": _sample("claims.case").pk}, "data": {"action": "investigate", "note": "样本"}}


def _case_attachment(insider):
    attachment = _sample("claims.caseattachment")
    return {"kwargs": {"pk": attachment.case_id, "attachment_pk": attachment.pk}, "marker": "evidence"}


def _case_from_hits(insider):
    from claims.models import Case

    hit = _sample("claims.screeninghit")
    return {"data": {"hit": [str(hit.pk)], "title": "样本立案"}, "unchanged": lambda: Case.objects.count()}


def _published_case(insider):
    from claims.models import Case

    case = _sample("claims.case")
    Case.objects.filter(pk=case.pk).update(state="closed", reviewer=case.opened_by, target_kind="pharmacy",
                                           target_name="样本药店公示")
    return {"marker": "样本药店公示"}


def _hospital(insider):
    return {"kwargs": {"pk": _sample("claims.screeninghit").claim.hospital_id}}


def _hit_claim(insider):
    return {"kwargs": {"pk": _sample("claims.screeninghit").claim_id}}


def _sheet(insider):
    return {"kwargs": {"pk": _sample("claims.settlement").claim_id}}


def _township_name(insider):
    from poverty_registry.models import Region

    return {"marker": Region.objects.get(code=TOWNSHIP_A).name}


PAGES: dict[str, Page] = {
    "home": Page("township", outsider=(OK,)),  # counts of the user's own region only
    "healthz": Page(None, outsider=(OK,)),  # no data: database and Redis answer
    "registry:ledger_export": Page("township", _listed("poverty_registry.person", "样本人"), outsider=(OK,)),
    "imports:new": Page("township", _import_history, outsider=(OK,)),
    "imports:template": Page("township", lambda insider: {"kwargs": {"kind_code": "ledger"}}, outsider=(OK,)),
    "imports:detail": Page("township", _run_page),
    "imports:status": Page("township", _run_page),
    "imports:confirm": Page("township", _run_page, method="post", insider=(REDIRECT,)),
    "imports:retry": Page("township", _run_page, method="post", insider=(REDIRECT,)),
    "imports:errors": Page("township", _errors),
    "matching:queue": Page("township", _listed("poverty_registry.matchingitem", "比对样本"), outsider=(OK,)),
    "matching:item": Page("township", _pk("poverty_registry.matchingitem")),
    # the matching's runs are the city's (CITY_WIDE_MODELS): every township sees them, counts of its own region
    "matching:runs": Page("township", _listed("poverty_registry.matchingrun", None), outsider=(OK,)),
    "matching:run_status": Page("township", _listed("poverty_registry.matchingrun", None), outsider=(OK,)),
    "matching:start_run": Page("county", _running("poverty_registry.matchingrun", phase="started"), method="post",
                               insider=(REDIRECT,), outsider=(REDIRECT,)),
    "supervision:screening_status": Page("supervisor", _listed("claims.screeningrun", None), outsider=(OK,)),
    "supervision:screen_now": Page("supervisor", _running("claims.screeningrun"), method="post",
                                   insider=(REDIRECT,), outsider=(REDIRECT,)),
    "matching:run": Page("township", _pk("poverty_registry.matchingrun"), outsider=(OK,)),
    "matching:links": Page("township", _listed("poverty_registry.matchlink", "关联样本"), outsider=(OK,)),
    "matching:decide_link": Page("township", _link_post, method="post", insider=(REDIRECT,)),
    "enrollment:subsidies": Page("county", _region_page(2030, marker_label="enrollment.subsidychange",
                                                        marker="变动样本")),
    "enrollment:compute": Page("county", _region_page(2030, post=True), method="post", insider=(REDIRECT,)),
    "enrollment:issue": Page("county", _region_page(2030, post=True), method="post", insider=(REDIRECT,)),
    "enrollment:report": Page("county", _pk("enrollment.subsidyreport")),
    "enrollment:report_xlsx": Page("county", _pk("enrollment.subsidyreport")),
    "enrollment:report_print": Page("county", _pk("enrollment.subsidyreport")),
    "enrollment:rate": Page("county", _region_page(2030)),
    "enrollment:chase": Page("county", _region_page(2030)),
    "enrollment:chase_status": Page("county", _person_post, method="post", insider=(REDIRECT,)),
    "supervision:overview": Page("supervisor", _listed("claims.screeninghit", "医院SAMPLE"), outsider=(OK,)),
    "supervision:overview_export": Page("supervisor", _listed("claims.screeninghit", "医院SAMPLE"), outsider=(OK,)),
    "supervision:hits": Page("supervisor", _listed("claims.screeninghit", f"SAMPLE-{VILLAGE_A}"), outsider=(OK,)),
    "supervision:hits_export": Page("supervisor", _listed("claims.screeninghit", f"SAMPLE-{VILLAGE_A}"),
                                    outsider=(OK,)),
    "supervision:claim": Page("supervisor", _hit_claim),
    "supervision:hospital": Page("supervisor", _hospital),
    "supervision:cases": Page("supervisor", _listed("claims.case", "样本案件"), outsider=(OK,)),
    "supervision:case_new": Page("supervisor", _township_name, outsider=(OK,)),  # regions offered: the user's
    "supervision:case_from_hits": Page("supervisor", _case_from_hits, method="post", insider=(REDIRECT,),
                                       outsider=(REDIRECT,)),  # refused with a message, no case opened
    "supervision:publication": Page("supervisor", _published_case, outsider=(OK,)),
    "supervision:case": Page("supervisor", _pk("claims.case")),
    "supervision:case_action": Page("supervisor", _case_post, method="post", insider=(REDIRECT,)),
    "supervision:case_attachment": Page("supervisor", _case_attachment),
    "claims:sheet": Page("county", _sheet),
    "claims:statistics": Page("county", _region_page(2024), outsider=(OK,)),  # a region outside: a form error
    "claims:risk": Page("county", _listed("claims.personyeartotal", "累计样本", query={"year": "2024"}),
                        outsider=(OK,)),
    # a region outside is a form error: the outsider re-settles its own region, never the insider's
    # a re-settlement asks first (a confirmation page of its figures): nobody's data moves on this POST
    "claims:resettle_start": Page("county", _resettle_start, method="post", insider=(OK,), outsider=(OK,)),
    "claims:resettle_run": Page("county", _pk("claims.resettlerun")),
}
