"""Linkage (DOMAIN §8.2): exact on the normalised ID; probable links for typos, transpositions, 15-digit numbers
and variant names, found by blocking in SQL and scored; a different person with a near ID is not proposed."""
from __future__ import annotations

import datetime as dt

import pytest

from poverty_registry.matching import linkage
from poverty_registry.matching.run import run_now
from poverty_registry.models import MatchLink
from tests.conftest import VILLAGE_A, make_person
from tests.matching.scenario import RUN_DATE, one_digit_typo, write_list

pytestmark = pytest.mark.django_db


def test_name_normalisation():
    assert linkage.clean_name(" 欧阳　娜 ") == "欧阳娜"
    assert linkage.clean_name("ＡＢ张") == "AB张"
    assert linkage.clean_name("陳華") == "陳華"  # a variant character still differs for M06
    assert linkage.name_key("陳 華") == "陈华"
    assert linkage.name_key("阿卜杜•热合曼") == linkage.name_key("阿卜杜·热合曼")
    assert linkage.name_key("\uf9e1四") == "李四"  # CJK compatibility ideograph (NFKC)


def test_name_key_sql_agrees_with_python(regions):
    from django.db import connection

    names = ["陳 華", "李\u3000四", "峯", "ＡＢ", "阿卜杜•热合曼", "\uf9e1四"]
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"SELECT {linkage.name_key_sql('%s')}", [name])
            assert cursor.fetchone()[0] == linkage.name_key(name), name
            cursor.execute(f"SELECT {linkage.clean_name_sql('%(name)s')}", {"name": name, **linkage.CLEAN_NAME_PARAMS})
            assert cursor.fetchone()[0] == linkage.clean_name(name), name


def side(number, name, birth=dt.date(1980, 1, 1), sex="M", region=""):
    return linkage.Side(number, name, birth, sex, region)


@pytest.mark.parametrize(("listed", "id_status", "levels", "proposed"), [
    (side("430621198001010124", "张三"), "invalid",
     {"id": "one_edit", "name": "same", "birth": "equal", "sex": "equal", "region": "unknown"}, True),
    (side("430621198001010124", "张 叁"), "invalid",
     {"id": "one_edit", "name": "different", "birth": "equal", "sex": "equal", "region": "unknown"}, False),
    (side("430621198001010124", "張三", region=VILLAGE_A), "invalid",
     {"id": "one_edit", "name": "variant", "birth": "equal", "sex": "equal", "region": "village"}, True),
    (side("430621198001010114", "张三"), "legacy15",
     {"id": "legacy15", "name": "same", "birth": "equal", "sex": "equal", "region": "unknown"}, True),
    (side("430621198001010224", "张三"), "valid",
     {"id": "two_edits", "name": "same", "birth": "equal", "sex": "equal", "region": "unknown"}, True),
    (side("430602198001011234", "张三"), "valid",
     {"id": "different", "name": "same", "birth": "equal", "sex": "equal", "region": "unknown"}, False),
])
def test_scoring(listed, id_status, levels, proposed):
    ours = side("430621198001010114", "张三", region=VILLAGE_A)
    assert linkage.compare(listed, ours, id_status) == levels
    assert (linkage.score(levels) >= 0.9) is proposed


def transposed(number: str, position: int) -> str:
    return number[:position] + number[position + 1] + number[position] + number[position + 2:]


def test_planted_variants_are_proposed_and_decoys_are_not(regions, inbox):
    typo = make_person(VILLAGE_A, seq=41, name="周一", birth="19700101")
    swap = make_person(VILLAGE_A, seq=42, name="吴二", birth="19710203")
    old = make_person(VILLAGE_A, seq=43, name="郑三", birth="19620304")
    variant = make_person(VILLAGE_A, seq=44, name="陈华", birth="19630405")
    decoy = make_person(VILLAGE_A, seq=45, name="冯五", birth="19640506")
    legacy = old.id_number[:6] + old.id_number[8:17]
    swapped = transposed(swap.id_number, 10)
    assert swapped != swap.id_number
    write_list(inbox, "poverty", [
        [one_digit_typo(typo.id_number, 3), "周一", "H1", "", "", VILLAGE_A],
        [swapped, "吴二", "H2", "", "", VILLAGE_A],
        [legacy, "郑三", "H3", "", "", VILLAGE_A],
        [one_digit_typo(variant.id_number, 16), "陳 華", "H4", "", "", VILLAGE_A],
        [one_digit_typo(decoy.id_number, 15), "褚卫东", "H5", "", "", VILLAGE_A],  # someone else
    ])
    run = run_now(inbox, "test", today=RUN_DATE)
    links = {link.match_key: link.person for link in MatchLink.objects.filter(status="proposed")}
    assert links == {one_digit_typo(typo.id_number, 3): typo, swapped: swap, legacy: old,
                     one_digit_typo(variant.id_number, 16): variant}
    assert run.links_proposed == 4
    assert run.counts["M07"] == 4 and run.counts["M02"] == 1 and run.counts["M03"] == 1
    again = run_now(inbox, "test", today=RUN_DATE)
    assert again.links_proposed == 0 and MatchLink.objects.count() == 4
