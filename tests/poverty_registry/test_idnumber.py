"""公民身份号码 rules of DOMAIN §3."""
import datetime as dt

import pytest

from poverty_registry.idnumber import IdNumberError, check_char, mask_id_number, parse_id_number


def test_known_check_character():
    assert check_char("11010519491231002") == "X"


def test_normalisation_spaces_fullwidth_and_lowercase_x():
    parsed = parse_id_number(" １１０１０５ 1949１２３１００２x ")
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == dt.date(1949, 12, 31) and parsed.sex == "F"


def test_fifteen_digit_number_converts():
    assert parse_id_number("110105491231002").number == "11010519491231002X"


@pytest.mark.parametrize("raw, message", [
    ("110105194912310021", "校验位错误，应为 X"),
    ("1101051949123100", "位数错误"),
    ("11010519491332002" + check_char("11010519491332002"), "不是有效日期"),
    ("", "不能为空"),
    ("11010519491231002Y", "只能包含数字"),
])
def test_invalid_numbers_explain_themselves(raw, message):
    with pytest.raises(IdNumberError, match=message):
        parse_id_number(raw)


def test_future_birth_date_rejected():
    first17 = "43060220300101001"
    with pytest.raises(IdNumberError, match="晚于今天"):
        parse_id_number(first17 + check_char(first17), today=dt.date(2026, 11, 24))


def test_odd_sequence_is_male():
    first17 = "43060219800101001"
    assert parse_id_number(first17 + check_char(first17)).sex == "M"


def test_mask():
    assert mask_id_number("43060219800101123X") == "430602********123X"
