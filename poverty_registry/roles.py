"""Roles as Django groups with model permissions: permissions are data, synced after every migrate.

Later apps add their models here; a model missing from a role simply has no permission in it. A label that
names no model or no permission (a model moved or renamed) is an error, at startup (system check) and at sync:
ignoring it would silently take the permission away from the role.
"""
from __future__ import annotations

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .vocab import ROLES

OUR_APPS = ("poverty_registry", "enrollment", "claims")

LEDGER = {
    "poverty_registry.household": "view add change",
    "poverty_registry.person": "view add change",
    "poverty_registry.personcategory": "view add change delete",
    "poverty_registry.region": "view",
    "poverty_registry.importrun": "view add",
    "enrollment.enrolment": "view",
    "enrollment.subsidypolicy": "view",
    "enrollment.subsidyline": "view",
    "enrollment.subsidyrun": "view",
    "enrollment.subsidyreport": "view",
    "enrollment.chaseentry": "view add change",
    "claims.claim": "view",
    "claims.settlement": "view",
    "poverty_registry.auditrecord": "view",
    "claims.hospital": "view",
    "claims.personyeartotal": "view",
    "poverty_registry.matchingrun": "view",
    "poverty_registry.matchingruncount": "view",
    "poverty_registry.matchingsourcefile": "view",
    "poverty_registry.matchingitem": "view change",
    "poverty_registry.matchlink": "view change",
}
BUREAU = {
    **LEDGER,
    "poverty_registry.user": "view",
    "enrollment.enrolment": "view add change",
    "enrollment.subsidypolicy": "view add change",
    "enrollment.subsidyrun": "view add",
    "enrollment.subsidyreport": "view add",
    "claims.hospital": "view add change",
    "claims.policyset": "view add change",
    "claims.claim": "view add change",
    "claims.countyincome": "view add change",
    "claims.resettlerun": "view add",
    # add = may start a matching run from the runs page (立即比对); the nightly run needs no one.
    "poverty_registry.matchingrun": "view add",
}

# Supervisors read everything in their region and change nothing but audit cases (DOMAIN §2, §7.2).
SUPERVISION_CASES = {
    "claims.case": "view add change",
    "claims.casehit": "view add",
    "claims.caseevent": "view add",
    "claims.recovery": "view add",
    "claims.caseattachment": "view add",
}

# Starting the screening of a year from the supervision pages (立即筛查) is the supervisors' call (DOMAIN §7.1:
# the rules are theirs) and the administrators'; the nightly run needs no one.
RUN_SCREENING = {"claims.screeningrun": "view run_screening"}

# Who looked at personal data (poverty_registry.access_log) is for supervisors only: a role's "*" does not
# reach these models, a role lists them by name.
ACCESS_LOG = {
    "poverty_registry.accessrecord": "view",
    "poverty_registry.accessflag": "view",
}

ROLE_PERMISSIONS: dict[str, dict[str, str]] = {
    "township": LEDGER,
    "county": BUREAU,
    "city": BUREAU,
    "supervisor": {"*": "view", "poverty_registry.person": "view full_id_number", **SUPERVISION_CASES, **ACCESS_LOG,
                   **RUN_SCREENING},
    "admin": {"*": "view add change delete", "poverty_registry.person": "view add change delete full_id_number",
              **RUN_SCREENING},
}


# Actions that are a model's own permission (Meta.permissions), not "<action>_<model>".
CUSTOM_CODENAMES = {"full_id_number": "view_full_id_number", "run_screening": "run_screening"}


def _codenames(label: str, actions: str) -> list[tuple[str, str]]:
    app_label, model = label.split(".")
    return [(app_label, CUSTOM_CODENAMES.get(action, f"{action}_{model}")) for action in actions.split()]


def unknown_labels(role_permissions: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Every "role: app.model action" of the table that names no model or no permission of its model,
    read from the model registry (no database needed)."""
    unknown = []
    for role, spec in (ROLE_PERMISSIONS if role_permissions is None else role_permissions).items():
        for label, actions in spec.items():
            if label == "*":
                continue
            try:
                opts = apps.get_model(label)._meta
            except (LookupError, ValueError):
                unknown.append(f"{role}: {label}")
                continue
            known = {f"{action}_{opts.model_name}" for action in opts.default_permissions}
            known |= {codename for codename, _ in opts.permissions}
            unknown += [f"{role}: {label} {codename}" for _, codename in _codenames(label, actions)
                        if codename not in known]
    return unknown


def check_labels(role_permissions: dict[str, dict[str, str]] | None = None) -> None:
    if unknown := unknown_labels(role_permissions):
        raise ImproperlyConfigured(f"poverty_registry/roles.py names permissions that do not exist: {unknown}")


@checks.register()
def role_labels_check(app_configs, **kwargs):
    """Startup (every manage.py command, the web server's first request): the role table names real models."""
    return [checks.Error(f"角色权限表引用了不存在的模型或权限：{label}", obj="poverty_registry.roles",
                         id="poverty_registry.E001") for label in unknown_labels()]


def permissions_for(role: str, role_permissions: dict[str, dict[str, str]] | None = None) -> list[Permission]:
    table = ROLE_PERMISSIONS if role_permissions is None else role_permissions
    check_labels({role: table[role]})
    wanted: set[tuple[str, str]] = set()
    spec = table[role]
    for label, actions in spec.items():
        if label == "*":
            for perm in Permission.objects.filter(content_type__app_label__in=OUR_APPS).select_related(
                    "content_type"):
                if f"{perm.content_type.app_label}.{perm.content_type.model}" in ACCESS_LOG:
                    continue
                if perm.codename.split("_", 1)[0] in actions.split():
                    wanted.add((perm.content_type.app_label, perm.codename))
        else:
            wanted.update(_codenames(label, actions))
    perms = Permission.objects.select_related("content_type").filter(content_type__app_label__in=OUR_APPS)
    found = [p for p in perms if (p.content_type.app_label, p.codename) in wanted]
    if missing := wanted - {(p.content_type.app_label, p.codename) for p in found}:
        # the model exists but its permission row does not (yet): never sync a role short of a permission
        raise ImproperlyConfigured(f"role {role}: permissions missing from the database: {sorted(missing)}")
    return found


def group_name(role: str) -> str:
    return ROLES[role]


def sync_roles(**kwargs) -> None:
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=group_name(role))
        group.permissions.set(permissions_for(role))
