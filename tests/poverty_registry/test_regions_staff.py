"""Regions from CSV (level and parent from the code), staff accounts and roles, demo seed."""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from poverty_registry.idnumber import parse_id_number
from poverty_registry.models import Household, Person, Region, User
from poverty_registry.services import load_regions


def test_demo_tree_levels_and_parents(regions):
    assert Region.objects.get(code="4306").level == 2
    township = Region.objects.get(code="430621100")
    assert township.level == 4 and township.parent_id == "430621"
    assert Region.objects.filter(level=5, code__startswith="430626").count() >= 8
    assert township.full_name == "湖南省岳阳市岳阳县荣家湾镇"


@pytest.mark.django_db
def test_padded_codes_and_missing_parent():
    result = load_regions("code,name\n440000000000,广东省\n440300000000,深圳市\n440303,罗湖区\n")
    assert not result.errors and result.created == 3
    assert Region.objects.get(code="4403").parent_id == "44"
    bad = load_regions("440399100,无上级镇\n")
    assert bad.errors == ["区划 440399100：上级区划 440399 不存在"]
    again = load_regions("44,广东省\n4403,深圳市（改）\n")
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)


def test_create_staff_command(regions, capsys):
    call_command("create_staff", "zhangsan", region="430621100", role="township", password="Abc-123456-x")
    user = User.objects.get(username="zhangsan")
    assert user.region_id == "430621100" and user.groups.get().name == "乡镇经办"
    assert user.has_perm("poverty_registry.change_person")
    assert not user.has_perm("poverty_registry.view_full_id_number")
    call_command("create_staff", "zhangsan", region="430621", role="county")
    user.refresh_from_db()
    assert user.region_id == "430621" and user.groups.get().name == "县级经办"
    assert user.check_password("Abc-123456-x")
    with pytest.raises(CommandError, match="区划 999999 不存在"):
        call_command("create_staff", "lisi", region="999999", role="township")


def test_supervisor_reads_but_does_not_change(supervisor):
    assert supervisor.has_perm("poverty_registry.view_person")
    assert not supervisor.has_perm("poverty_registry.change_person")


def test_seed_demo_builds_valid_households(regions):
    call_command("seed_demo", persons=300, seed=7)
    assert Person.objects.count() == 300
    for person in Person.objects.all()[:50]:
        parsed = parse_id_number(person.id_number)
        assert (parsed.birth_date, parsed.sex) == (person.birth_date, person.sex)
    for household in Household.objects.all()[:50]:
        assert household.members.filter(is_head=True).count() == 1
        assert {m.region_id for m in household.members.all()} == {household.region_id}


@pytest.mark.parametrize("weak", ["123", "zhangsan2026", "12345678901", "password123"])
def test_create_staff_refuses_weak_passwords_and_writes_nothing(regions, weak):
    with pytest.raises(CommandError, match="密码不符合要求") as refused:
        call_command("create_staff", "zhangsan", region="430621100", role="township", password=weak)
    assert any(word in str(refused.value) for word in ("太短", "太常见", "只包含数字", "太相似")), refused.value
    assert not User.objects.filter(username="zhangsan").exists()


def test_create_staff_exits_non_zero_on_a_weak_password(transactional_db, regions):
    import subprocess
    import sys

    from tests.conftest import child_environment

    result = subprocess.run([sys.executable, "manage.py", "create_staff", "zhangsan", "--region", "430621100",
                             "--role", "township", "--password", "123"], env=child_environment(),
                            capture_output=True, text=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert result.returncode != 0
    assert "密码太短，至少需要 10 个字符" in result.stderr
