"""Policy sets (DOMAIN §6.4): which version is in force for a year and region, its parameters as the
engine's PolicyParams, and saving an edit as a new version (settlements keep the version they used)."""
from __future__ import annotations

import json
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Length

from poverty_registry.models import Region

from ..models import PolicySet
from .engine import DEFAULT_POLICY, PolicyParams, SettlementInputError
from .models import CountyIncome

_PARAMS_CACHE: dict[tuple[int, str], PolicyParams] = {}


class PolicyNotFound(LookupError):
    """No policy set in force covers the year and region; the message is for staff, in Chinese."""


def region_chain(code: str) -> list[str]:
    """The region and its ancestors, most specific first: 430621100201 → [430621100201, 430621100, …, 43]."""
    lengths = [n for n in (12, 9, 6, 4, 2) if n <= len(code)]
    return [code[:n] for n in lengths]


def policy_for(year: int, region_code: str) -> PolicySet:
    """The policy set in force for the year whose region is the most specific prefix of region_code."""
    chain = region_chain(region_code)
    found = {p.region_id: p for p in PolicySet.objects.filter(year=year, in_force=True, region_id__in=chain)}
    for code in chain:
        if code in found:
            return found[code]
    raise PolicyNotFound(f"未找到{year}年度适用于区划{region_code}的现行结算政策，请先在“结算政策参数”中设置")


def policies_for(year: int, region_codes) -> dict[str, PolicySet]:
    """policy_for for many regions at once (one query): {region code: policy set}; regions without one left out."""
    codes = set(region_codes)
    prefixes = {prefix for code in codes for prefix in region_chain(code)}
    found = {p.region_id: p for p in PolicySet.objects.filter(year=year, in_force=True, region_id__in=prefixes)}
    result = {}
    for code in codes:
        match = next((found[prefix] for prefix in region_chain(code) if prefix in found), None)
        if match is not None:
            result[code] = match
    return result


def params_of(policy: PolicySet) -> PolicyParams:
    """The engine's parameters of a stored policy set (parsed once per version and content; remembered on
    the instance too, since a batch asks for them once per person-year)."""
    remembered = policy.__dict__.get("_engine_params")
    if remembered is not None and remembered[0] is policy.params:
        return remembered[1]
    key = (policy.pk, json.dumps(policy.params, sort_keys=True))
    params = _PARAMS_CACHE.get(key)
    if params is None:
        params = _PARAMS_CACHE[key] = PolicyParams.from_dict(policy.params)
    policy.__dict__["_engine_params"] = (policy.params, params)
    return params


def params_for_code(code: str | None, year: int, region_code: str = "") -> PolicyParams:
    """settle_json's "policy": a policy set by its code, or the one in force for the year and the region of
    the ID number (its first six digits), else the widest region's."""
    if code:
        policy = PolicySet.objects.filter(code=code).first()
        if policy is None:
            raise SettlementInputError(f"政策编码“{code}”不存在")
        return params_of(policy)
    try:
        return params_of(policy_for(year, region_code))
    except PolicyNotFound:
        pass
    # An ID number registered outside our regions: the widest region's policy in force that year.
    policy = PolicySet.objects.filter(year=year, in_force=True).order_by(Length("region_id"), "region_id").first()
    if policy is None:
        raise SettlementInputError(f"{year}年度没有现行结算政策")
    return params_of(policy)


def next_version(year: int, region_code: str) -> int:
    """The version number the next save for (year, region) gets."""
    last = PolicySet.objects.filter(year=year, region_id=region_code).aggregate(last=Max("version"))["last"]
    return (last or 0) + 1


@transaction.atomic
def save_version(year: int, region: Region, params: PolicyParams, *, user=None, note: str = "") -> PolicySet:
    """Store parameters as the next version for (year, region) and put it in force.

    The versions before stay as they are (settlements point at them); only in_force moves. A county that
    edits its city's policy gets its own version, which then wins for the county (policy_for).
    """
    list(PolicySet.objects.select_for_update().filter(year=year, region=region))
    version = next_version(year, region.code)
    PolicySet.objects.filter(year=year, region=region, in_force=True).update(in_force=False)
    return PolicySet.objects.create(
        code=f"{region.code}-{year}-v{version}", year=year, region=region, version=version,
        params=params.to_dict(), in_force=True, note=note[:200], created_by=user,
    )


DEFAULT_NOTE = "系统默认参数（六档一站式结算）"


def install_defaults(region_code: str = "4306", years=range(2020, 2027)) -> list[PolicySet]:
    """Version 1 with the §6.4 defaults for each year that has no policy set in the region (tests, demo)."""
    made = []
    for year in years:
        if not PolicySet.objects.filter(year=year, region_id=region_code).exists():
            made.append(PolicySet.objects.create(
                code=f"{region_code}-{year}-v1", year=year, region_id=region_code, version=1,
                params=DEFAULT_POLICY.to_dict(), in_force=True, note=DEFAULT_NOTE))
    return made


def incomes_last_year(year: int, county_codes) -> dict[str, Decimal]:
    """{county code: per-capita rural disposable income of year − 1} for the §9 threshold."""
    rows = CountyIncome.objects.filter(year=year - 1, region_id__in=set(county_codes))
    return {row.region_id: row.amount for row in rows}
