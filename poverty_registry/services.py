"""Operations on regions and staff accounts (plain functions; commands and admin call them)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.db import transaction

from . import regions as region_codes
from .models import Region, User
from .roles import group_name
from .vocab import ROLES


@dataclass
class RegionLoad:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def load_regions(text: str) -> RegionLoad:
    """Upsert regions from CSV `code,name`; level and parent follow from the code. All or nothing."""
    result = RegionLoad()
    parsed: dict[str, str] = {}
    for lineno, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        if not row or not "".join(row).strip() or (lineno == 1 and row[0].strip().lower() == "code"):
            continue
        if len(row) < 2 or not row[1].strip():
            result.errors.append(f"第{lineno}行：需要“代码,名称”两列")
            continue
        try:
            parsed[region_codes.canonical_code(row[0])] = row[1].strip()
        except region_codes.RegionCodeError as exc:
            result.errors.append(f"第{lineno}行：{exc}")
    existing = dict(Region.objects.filter(code__in=list(parsed)).values_list("code", "name"))
    known = set(existing) | set(parsed)
    for code in parsed:
        parent = region_codes.parent_code(code)
        if parent and parent not in known and not Region.objects.filter(code=parent).exists():
            result.errors.append(f"区划 {code}：上级区划 {parent} 不存在")
    if result.errors:
        return result
    objs = [Region(code=code, name=name, level=region_codes.level_of(code), parent_id=region_codes.parent_code(code))
            for code, name in sorted(parsed.items(), key=lambda item: len(item[0]))
            if existing.get(code) != name]
    with transaction.atomic():
        Region.objects.bulk_create(objs, update_conflicts=True, unique_fields=["code"],
                                   update_fields=["name"], batch_size=5000)
    result.created = sum(1 for o in objs if o.code not in existing)
    result.updated = len(objs) - result.created
    result.unchanged = len(parsed) - len(objs)
    return result


def save_staff(username: str, *, region_code: str, role: str, password: str | None = None) -> tuple[User, bool]:
    """Create or update a staff account with its region and role group. A password is checked by the
    project's AUTH_PASSWORD_VALIDATORS first (ValidationError, messages in Chinese) and nothing is written."""
    if role not in ROLES:
        raise ValueError(f"未知角色 {role}，可选：{', '.join(ROLES)}")
    region = Region.objects.get(code=region_codes.canonical_code(region_code))
    if password:
        existing = User.objects.filter(username=username).first()
        password_validation.validate_password(password, existing or User(username=username))
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username)
        user.region, user.role, user.is_staff, user.is_active = region, role, True, True
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        sync_role_group(user)
    return user, created


def sync_role_group(user: User) -> None:
    """An account's groups are its role's group and nothing else: permissions come from the role only."""
    user.groups.set([Group.objects.get(name=group_name(user.role))] if user.role else [])
