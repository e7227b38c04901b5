"""One navigation for the whole back office: the menu by section, computed from URL names and permissions,
the breadcrumbs of a purpose-built page, and who the user is (region and role) for every page's header.

The admin (templates/admin/base_site.html) and the purpose-built pages (templates/base.html) render the same
menu through the `navigation` template tags; a link is shown only when the user holds every permission it
names, so the menu never offers a page that would answer 403.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from .models import Region
from .regions import LEVEL_LENGTHS
from .vocab import ROLES


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str
    perms: tuple[str, ...]
    args: tuple = ()


@dataclass(frozen=True)
class Section:
    label: str
    links: tuple[Link, ...]


SECTIONS: tuple[Section, ...] = (
    Section("台账", (
        Link("建档立卡人员", "admin:poverty_registry_person_changelist", ("poverty_registry.view_person",)),
        Link("建档立卡户", "admin:poverty_registry_household_changelist", ("poverty_registry.view_household",)),
        Link("导入台账", "imports:new", ("poverty_registry.add_person",), ("ledger",)),
        Link("导入记录", "admin:poverty_registry_importrun_changelist", ("poverty_registry.view_importrun",)),
        Link("行政区划", "admin:poverty_registry_region_changelist", ("poverty_registry.view_region",)),
    )),
    Section("参保资助", (
        Link("参保率", "enrollment:rate", ("enrollment.view_enrolment",)),
        Link("未参保人员", "enrollment:chase", ("enrollment.view_chaseentry",)),
        Link("参保记录", "admin:enrollment_enrolment_changelist", ("enrollment.view_enrolment",)),
        Link("导入参保名单", "imports:new", ("enrollment.add_enrolment",), ("enrolment",)),
        Link("资助参保", "enrollment:subsidies", ("enrollment.view_subsidyline",)),
        Link("资助政策参数", "admin:enrollment_subsidypolicy_changelist", ("enrollment.view_subsidypolicy",)),
        Link("资助报表存根", "admin:enrollment_subsidyreport_changelist", ("enrollment.view_subsidyreport",)),
    )),
    Section("结算", (
        Link("结算统计", "claims:statistics", ("claims.view_settlement",)),
        Link("因病返贫致贫预警", "claims:risk", ("claims.view_personyeartotal",)),
        Link("结算单", "admin:claims_claim_changelist", ("claims.view_claim",)),
        Link("导入结算单", "imports:new", ("claims.add_claim",), ("claims",)),
        Link("结算政策参数", "admin:claims_policyset_changelist", ("claims.view_policyset",)),
        Link("定点医疗机构", "admin:claims_hospital_changelist", ("claims.view_hospital",)),
        Link("县域人均可支配收入", "admin:claims_countyincome_changelist", ("claims.view_countyincome",)),
    )),
    Section("基金监管", (
        Link("监管总览", "supervision:overview", ("claims.view_screeninghit",)),
        Link("筛查疑点", "supervision:hits", ("claims.view_screeninghit",)),
        Link("案件", "supervision:cases", ("claims.view_case",)),
        Link("手工立案", "supervision:case_new", ("claims.add_case",)),
        Link("监管规则参数", "admin:claims_supervisionparam_changelist", ("claims.view_supervisionparam",)),
    )),
    Section("比对", (
        Link("比对差异待办", "matching:queue", ("poverty_registry.view_matchingitem",)),
        Link("疑似同一人确认", "matching:links", ("poverty_registry.view_matchlink",)),
        Link("比对批次记录", "matching:runs", ("poverty_registry.view_matchingrun",)),
    )),
    Section("审计", (
        Link("审计记录", "admin:poverty_registry_auditrecord_changelist", ("poverty_registry.view_auditrecord",)),
        Link("个人信息访问记录", "admin:poverty_registry_accessrecord_changelist",
             ("poverty_registry.view_accessrecord",)),
        Link("超量查看完整身份证号", "admin:poverty_registry_accessflag_changelist",
             ("poverty_registry.view_accessflag",)),
    )),
    Section("系统", (
        Link("工作人员账号", "admin:poverty_registry_user_changelist", ("poverty_registry.view_user",)),
    )),
)

# Pages reached from a menu page (a detail, a run): (the menu page they belong to, their own breadcrumb).
CHILD_PAGES: dict[str, tuple[str, str]] = {
    "matching:item": ("matching:queue", "差异详情"),
    "matching:run": ("matching:runs", "比对批次"),
    "supervision:case": ("supervision:cases", "案件详情"),
    "supervision:claim": ("supervision:hits", "结算单疑点"),
    "supervision:hospital": ("supervision:overview", "定点医疗机构画像"),
    "enrollment:report": ("enrollment:subsidies", "资助报表"),
    "claims:sheet": ("admin:claims_claim_changelist", "结算单明细"),
    "claims:resettle_run": ("claims:statistics", "重新结算进度"),
}


@dataclass
class MenuLink:
    label: str
    url: str
    active: bool


@dataclass
class MenuSection:
    label: str
    links: list[MenuLink]

    @property
    def active(self) -> bool:
        return any(link.active for link in self.links)


def _current(view_name: str, args: tuple) -> tuple[str, tuple]:
    """The menu link a page belongs to: itself, its parent page, or its model's admin list."""
    if view_name in CHILD_PAGES:
        return CHILD_PAGES[view_name][0], ()
    if view_name.startswith("admin:") and "_" in view_name:
        stem, _, _action = view_name.rpartition("_")
        return f"{stem}_changelist", ()
    return view_name, args


def menu_for(user, view_name: str = "", args: tuple = ()) -> list[MenuSection]:
    """The sections and links this user may open, in menu order; the current page's link marked active.

    Permissions come from the user's cached permission set (one query per request at most)."""
    if not user.is_authenticated:
        return []
    current = _current(view_name, tuple(args))
    menu = []
    for section in SECTIONS:
        links = [MenuLink(link.label, reverse(link.url_name, args=link.args),
                          link.url_name == current[0] and link.args in ((), current[1]))
                 for link in section.links if all(user.has_perm(perm) for perm in link.perms)]
        if links:
            menu.append(MenuSection(section.label, links))
    return menu


def breadcrumbs(menu: list[MenuSection], view_name: str) -> list[tuple[str, str]]:
    """工作台 › section › page (› child page) for a purpose-built page: [(label, url or "")]."""
    trail = [("工作台", reverse("home"))]
    for section in menu:
        for link in section.links:
            if link.active:
                trail += [(section.label, ""), (link.label, link.url)]
                if view_name in CHILD_PAGES:
                    trail.append((CHILD_PAGES[view_name][1], ""))
                return trail
    return trail


def region_full_name(code: str) -> str:
    """岳阳市岳阳县荣家湾镇… in one query (Region.full_name asks once per level): a region's ancestors are
    the prefixes of its code."""
    prefixes = [code[:n] for n in LEVEL_LENGTHS if n < len(code)] + [code]
    names = dict(Region.objects.filter(code__in=prefixes).values_list("code", "name"))
    return "".join(names.get(prefix, "") for prefix in prefixes) or code


def identity(user) -> tuple[str, str]:
    """(region name, role name) as every page's header shows them; asked once per request's user."""
    if not hasattr(user, "_back_office_identity"):
        user._back_office_identity = _identity(user)
    return user._back_office_identity


def _identity(user) -> tuple[str, str]:
    if user.region_id:
        region_name = region_full_name(user.region_id)
    else:
        region_name = "全部区划" if user.is_superuser else "未分配辖区"
    role_name = ROLES.get(user.role, "超级管理员" if user.is_superuser else "未分配角色")
    return region_name, role_name
