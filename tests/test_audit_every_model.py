"""Every audited model (Model.audited = True) leaves an audit record (claims.models.AuditRecord, table_name =
its db_table) when one of its rows is created, changed and deleted — walked over the samples of
tests/samples.py, so a model added or moved without its trigger fails here. The change and the delete are
plain statements (what any code path, ORM or raw SQL, does to the table); the delete runs in a savepoint rolled
back after the check, since foreign keys and PROTECT would otherwise refuse it."""
from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, models, transaction

from tests.conftest import VILLAGE_A
from tests.samples import MODEL_SAMPLES
from tests.test_scoping import media  # noqa: F401 — the evidence sample writes a file

OUR_APPS = ("poverty_registry", "enrollment", "claims")
AUDITED = sorted(m._meta.label_lower for app in OUR_APPS for m in apps.get_app_config(app).get_models()
                 if getattr(m, "audited", False))


def _another_case(obj) -> dict:
    from tests.claims.supervision_samples import case_sample

    return {"case_id": case_sample(VILLAGE_A).pk}


def _another_village(village: str) -> str:
    from poverty_registry.models import Region

    return Region.objects.filter(code__startswith=village[:9], level=5).exclude(code=village).first().code


# The change to make where the model has no plain text column to change freely.
CHANGES = {
    "claims.casehit": _another_case,
    "enrollment.subsidyrun": lambda obj: {"persons": obj.persons + 1},
    "poverty_registry.household": lambda obj: {"region_id": _another_village(obj.region_id)},
    "poverty_registry.personcategory": lambda obj: {"valid_to": dt.date(2025, 12, 31)},
}
# Rows the database refuses to change or delete once written (a trigger raises): their creation is recorded,
# and the refusal is tested instead of the change.
FROZEN = {"enrollment.subsidyreport": "存根冻结"}  # an issued report (enrollment/migrations/0003)


class Rollback(Exception):
    pass


def records(model, pk, action: str) -> int:
    from poverty_registry.models import AuditRecord

    return AuditRecord.objects.filter(table_name=model._meta.db_table, object_pk=str(pk), action=action).count()


def change_of(model, obj) -> dict:
    label = model._meta.label_lower
    if label in CHANGES:
        return CHANGES[label](obj)
    field = _text_field(model)
    current = getattr(obj, field.attname) or ""
    return {field.attname: ("审计" if not current.startswith("审计") else "核对")[: field.max_length or 2]}


def _text_field(model) -> models.Field:
    label = model._meta.label_lower
    unique = {name for constraint in model._meta.constraints for name in getattr(constraint, "fields", ())}
    for field in model._meta.concrete_fields:
        if (isinstance(field, models.CharField | models.TextField) and not field.primary_key and not field.unique
                and not field.choices and field.name not in unique and field.editable):
            return field
    pytest.fail(f"{label}: no plain text column to change: say how to change it in CHANGES")


def test_every_audited_model_has_a_sample():
    assert AUDITED and set(AUDITED) - set(MODEL_SAMPLES) == set()


@pytest.mark.parametrize("label", AUDITED)
def test_create_change_delete_are_recorded(label, regions, media):  # noqa: F811
    model = apps.get_model(label)
    obj = MODEL_SAMPLES[label](VILLAGE_A)
    assert records(model, obj.pk, "INSERT") == 1, f"{label}: its creation is not in the audit trail"

    if label in FROZEN:
        return  # test_frozen_rows_refuse_change_and_delete
    change = change_of(model, obj)
    assert model._default_manager.filter(pk=obj.pk).update(**change) == 1
    assert records(model, obj.pk, "UPDATE") == 1, f"{label}: its change ({change}) is not in the audit trail"

    try:
        with transaction.atomic():
            assert _delete(model, obj.pk) == 1
            assert records(model, obj.pk, "DELETE") == 1, f"{label}: its deletion is not in the audit trail"
            raise Rollback
    except Rollback:
        pass


def _delete(model, pk) -> int:
    table, pk_column = (connection.ops.quote_name(name) for name in (model._meta.db_table, model._meta.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {pk_column} = %s", [pk])
        return cursor.rowcount


@pytest.mark.parametrize("label", sorted(FROZEN))
def test_frozen_rows_refuse_change_and_delete(label, regions):
    model = apps.get_model(label)
    obj = MODEL_SAMPLES[label](VILLAGE_A)
    assert records(model, obj.pk, "INSERT") == 1
    field = _text_field(model)
    with pytest.raises(DatabaseError, match=FROZEN[label]), transaction.atomic():
        model._default_manager.filter(pk=obj.pk).update(**{field.attname: "改"})
    with pytest.raises(DatabaseError, match=FROZEN[label]), transaction.atomic():
        _delete(model, obj.pk)
    assert records(model, obj.pk, "UPDATE") == records(model, obj.pk, "DELETE") == 0
