"""poverty_registry.ledger_file: every rule of DOMAIN.md §4.1–4.4 on messy township ledgers,
the error workbook round trip, and the template."""
import codecs
import datetime as dt
import io
import time
from decimal import Decimal

import openpyxl
import pytest

from poverty_registry.idnumber import check_char
from poverty_registry.ledger_file import (
    CATEGORIES,
    COLUMNS,
    ERROR_COLUMN,
    LedgerFormatError,
    LedgerRow,
    RowError,
    parse_ledger,
    template_workbook,
    write_error_workbook,
    write_ledger_workbook,
)
from poverty_registry.tabular import TableFormatError

TODAY = dt.date(2025, 6, 30)
VILLAGE_A = "430602100201"
VILLAGE_B = "430602100202"
ALLOWED = frozenset({VILLAGE_A, VILLAGE_B})
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def make_id(birth: str, seq: int, region: str = "430602") -> str:
    first = f"{region}{birth}{seq:03d}"
    return first + check_char(first)


def digit_id(birth: str, seq: int) -> str:
    """An ID whose check character is a digit (so that it can be typed as an Excel number)."""
    while make_id(birth, seq)[-1] == "X":
        seq += 2
    return make_id(birth, seq)


def id_ending_in_x(birth: str, female: bool) -> str:
    seq = 2 if female else 1
    while make_id(birth, seq)[-1] != "X":
        seq += 2
    return make_id(birth, seq)


def with_wrong_check(number: str) -> tuple[str, str]:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong, number[-1]


def save(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ledger_xlsx(rows: list[list], header: list[str], above: list[list] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [*above, header, *rows]:
        sheet.append(row)
    return save(book)


def parse(data: bytes, filename: str = "台账.xlsx"):
    return parse_ledger(data, filename, allowed_villages=ALLOWED, today=TODAY)


def texts(result) -> list[str]:
    return [error.text() for error in result.errors]


# The messy ledger ------------------------------------------------------------------------------

HEAD_1 = make_id("19800101", 1)
WIFE_1 = id_ending_in_x("19820304", female=True)
CHILD_1_OLD = "430602850607003"  # 15-digit legacy number of a man born 1985-06-07
CHILD_1 = "43060219850607003" + check_char("43060219850607003")
HEAD_2 = make_id("19700101", 5)
WIFE_2 = make_id("19720203", 6)
BAD_ID, RIGHT_CHECK = with_wrong_check(make_id("19600101", 7))
DUPLICATE = make_id("19880808", 25)
AS_NUMBER = digit_id("19810101", 31)
HEAD_14 = make_id("19451212", 33)

MESSY_HEADER = [
    "序号", "姓名", "公民身份号码", "户编号", "与户主关系", "性别", "出生日期",
    "村(社区)代码", "人员类别", "脱贫状态", "联系电话", "备注",
]
A = VILLAGE_A
MESSY_ROWS = {
    5: ["1", "张三", HEAD_1.translate(FULL_WIDTH_DIGITS), "H001", "户主", "男", dt.date(1980, 1, 1),
        A, "低保对象、脱贫人口", "已脱贫", 13800138000, ""],
    6: ["2", " 李四 ", WIFE_1.lower(), "H001", "配偶", "女", "1982/03/04", A, "低保，特困", "已脱贫", "", ""],
    7: ["3", "张小三", CHILD_1_OLD, "H001", " 子 ", "", "1985.06.07", A, "", "", "", "15位旧号码"],
    8: [],
    9: ["4", "王五", f"{HEAD_2[:6]} {HEAD_2[6:14]} {HEAD_2[14:]}", "H002", "户主", "男", "19700101",
        VILLAGE_B.translate(FULL_WIDTH_DIGITS), "监测对象", "监测", "", ""],
    10: ["5", "赵六", WIFE_2, "H002", "妻", "女", "1972-02-03", VILLAGE_B, "", "", "", ""],
    11: ["", "", "", "", "", "", "", "", "", "", "", "只有备注的行"],
    12: ["6", "孙七", BAD_ID, "H003", "户主", "男", "", A, "", "", "", ""],
    13: ["7", "孙八", make_id("19620101", 8), "H003", "配偶", "女", "", A, "", "", "", ""],
    14: ["8", "周九", make_id("19500505", 9), "H004", "户主", "女", "1950-05-06", A, "", "", "", ""],
    15: ["9", "吴十", make_id("19900101", 11), "H005", "户主", "男", "1990-02-30", A, "", "", "", ""],
    16: ["10", "", make_id("19920101", 12), "H005", "女", "女", "", A, "", "", "", ""],
    17: ["11", "郑一", make_id("19750101", 13), "H006", "户主", "", "", "430602100999", "", "", "", ""],
    18: ["12", "冯二", make_id("19760101", 15), "H007", "户主", "", "", A, "低保、五保户", "已返贫", "", ""],
    19: ["13", "陈三", make_id("19650101", 17), "H008", "户主", "", "", A, "", "", "", ""],
    20: ["14", "陈四", make_id("19670101", 19), "H008", "户主", "", "", A, "", "", "", ""],
    21: ["15", "陈五", make_id("19900202", 20), "H008", "女", "", "", A, "", "", "", ""],
    22: ["16", "褚六", make_id("19700303", 21), "H009", "配偶", "", "", A, "", "", "", ""],
    23: ["17", "褚七", make_id("19950303", 23), "H009", "子", "", "", A, "", "", "", ""],
    24: ["18", "卫八", DUPLICATE, "H010", "户主", "", "", A, "", "", "", ""],
    25: ["19", "卫八", "430602880808025", "H011", "户主", "", "", A, "", "", "", "同一人的15位号码"],
    26: ["20", "卫八", f" {DUPLICATE} ", "H012", "户主", "", "", A, "", "", "", ""],
    27: ["21", "卫小", make_id("20100101", 27), "H012", "子", "", "", A, "", "", "", ""],
    28: ["22", "沈十", make_id("19800909", 29), "", "户主", "", "", A, "", "", "", ""],
    29: ["23", "韩一", int(AS_NUMBER), "H013", "户主", "", "", A, "", "", "", ""],
    30: ["24", "杨一", HEAD_14, "H014", "户主", "男", dt.datetime(1945, 12, 12), A, "重残", "脱贫", "0730-1234567", ""],
    31: ["合计", "共24人", "", "", "", "", "", "", "", "", "", ""],
    32: ["25", "杨二", make_id("19460101", 35), "H015", "户主", "", "", A, "", "", "", "合计以下不导入"],
    33: ["制表人：某某"],
}
MESSY_ERRORS = [
    f"第12行 公民身份号码：校验位错误，应为 {RIGHT_CHECK}",
    "第13行 户编号：同户（户编号 H003）其他行有错误，整户未导入",
    "第14行 性别：与身份证号不一致（身份证号对应的性别为男）",
    "第14行 出生日期：与身份证号不一致（身份证号中的出生日期为 1950-05-05）",
    "第15行 出生日期：“1990-02-30”不是有效日期，请按 YYYY-MM-DD 填写",
    "第16行 姓名：不能为空",
    "第17行 村(社区)代码：村代码 430602100999 不是本辖区内的村（社区）",
    "第18行 人员类别：“五保户”不是有效的人员类别，可填写：特困供养人员、低保对象、防止返贫监测对象、"
    "脱贫人口、低收入人口、重度残疾人",
    "第18行 脱贫状态：“已返贫”不是有效的脱贫状态，可填写：未脱贫、已脱贫、监测",
    "第19行 与户主关系：同户（户编号 H008）有2个户主（第19、20行），每户只能有一个户主",
    "第20行 与户主关系：同户（户编号 H008）有2个户主（第19、20行），每户只能有一个户主",
    "第21行 与户主关系：同户（户编号 H008）有2个户主（第19、20行），每户只能有一个户主",
    "第22行 与户主关系：同户（户编号 H009）没有户主，每户必须有且只有一个“户主”",
    "第23行 与户主关系：同户（户编号 H009）没有户主，每户必须有且只有一个“户主”",
    "第24行 公民身份号码：身份证号与第25、26行重复",
    "第25行 公民身份号码：身份证号与第24、26行重复",
    "第26行 公民身份号码：身份证号与第24、25行重复",
    "第27行 户编号：同户（户编号 H012）其他行有错误，整户未导入",
    "第28行 户编号：不能为空",
    "第29行 公民身份号码：被Excel存成了数字，第15位以后已丢失；请把该列设为文本格式后重新录入",
]
MESSY_ACCEPTED = [
    LedgerRow(5, "H001", "张三", HEAD_1, "M", dt.date(1980, 1, 1), "户主", True,
              ("dibao", "tuopin"), A, "lifted", "13800138000"),
    LedgerRow(6, "H001", "李四", WIFE_1, "F", dt.date(1982, 3, 4), "配偶", False,
              ("tekun", "dibao"), A, "lifted", ""),
    LedgerRow(7, "H001", "张小三", CHILD_1, "M", dt.date(1985, 6, 7), "子", False, (), A, None, ""),
    LedgerRow(9, "H002", "王五", HEAD_2, "M", dt.date(1970, 1, 1), "户主", True,
              ("monitor",), VILLAGE_B, "monitored", ""),
    LedgerRow(10, "H002", "赵六", WIFE_2, "F", dt.date(1972, 2, 3), "妻", False, (), VILLAGE_B, None, ""),
    LedgerRow(30, "H014", "杨一", HEAD_14, "M", dt.date(1945, 12, 12), "户主", True,
              ("severe_disability",), A, "lifted", "0730-1234567"),
]


def messy_ledger() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "乡镇台账"
    sheet["A1"] = "岳阳楼区某镇建档立卡贫困人口台账"
    sheet.merge_cells("A1:L1")
    sheet["A2"] = "填报单位：某镇人民政府"
    sheet.merge_cells("A2:F2")
    sheet["H2"] = "填报日期：2025年6月"
    for column, name in enumerate(MESSY_HEADER, start=1):
        sheet.cell(row=4, column=column, value=name)
    for number, row in MESSY_ROWS.items():
        for column, value in enumerate(row, start=1):
            if value != "":
                sheet.cell(row=number, column=column, value=value)
    sheet["G5"].number_format = "yyyy-mm-dd"
    return save(book)


def test_messy_ledger_rows_read_accepted_and_rejected():
    result = parse(messy_ledger())

    assert result.rows_read == 24  # rows 5–7, 9–10, 12–30: not title, header, blank or total rows
    assert result.accepted == MESSY_ACCEPTED
    assert result.rejected_rows == list(range(12, 30))
    assert result.households_accepted == 3


def test_messy_ledger_errors_name_row_column_and_problem():
    result = parse(messy_ledger())

    assert texts(result) == MESSY_ERRORS
    assert result.errors[0] == RowError(12, "公民身份号码", f"校验位错误，应为 {RIGHT_CHECK}")
    assert result.errors[0].as_dict() == {
        "row": 12, "column": "公民身份号码", "message": f"校验位错误，应为 {RIGHT_CHECK}"
    }


def test_messy_ledger_header_info():
    result = parse(messy_ledger())

    assert result.header.row_number == 4
    assert result.header.labels["village_code"] == "村(社区)代码"
    assert result.has_column("status") and result.has_column("categories")


# One rule at a time -----------------------------------------------------------------------------

HEADER = ["户编号", "姓名", "身份证号", "性别", "出生日期", "与户主关系", "人员类别", "所在村（社区）代码",
          "脱贫状态", "联系电话"]


def person(household="H1", name="张三", id_number=None, sex="", birth="", relation="户主",
           categories="", village=VILLAGE_A, status="", phone=""):
    if id_number is None:
        id_number = make_id("19800101", 1)
    return [household, name, id_number, sex, birth, relation, categories, village, status, phone]


def parse_rows(*rows, header=HEADER):
    return parse(ledger_xlsx(list(rows), header))


@pytest.mark.parametrize(
    "written",
    [
        make_id("19800101", 1),
        make_id("19800101", 1).translate(FULL_WIDTH_DIGITS),
        f" {make_id('19800101', 1)[:6]} {make_id('19800101', 1)[6:14]} {make_id('19800101', 1)[14:]} ",
        "４３０６０２\u3000１９８００１０１" + make_id("19800101", 1)[-4:],
    ],
)
def test_id_number_normalisation_is_not_an_error(written):
    result = parse_rows(person(id_number=written))

    assert result.errors == []
    assert result.accepted[0].id_number == make_id("19800101", 1)


def test_lower_case_x_and_fifteen_digits_are_normalised():
    woman = id_ending_in_x("19820304", female=True)
    result = parse_rows(
        person(id_number=woman.lower()),
        person(household="H2", id_number="430602850607003", birth="1985-06-07", sex="男"),
    )

    assert result.errors == []
    assert [row.id_number for row in result.accepted] == [woman, CHILD_1]


@pytest.mark.parametrize(
    "birth",
    [dt.date(1980, 1, 1), dt.datetime(1980, 1, 1), "1980-01-01", "1980/01/01", "1980.01.01", "19800101",
     " 1980-01-01 "],
)
def test_five_date_styles(birth):
    result = parse_rows(person(birth=birth))

    assert result.errors == []
    assert result.accepted[0].birth_date == dt.date(1980, 1, 1)


SAMPLE_BAD_ID, SAMPLE_RIGHT_CHECK = with_wrong_check(make_id("19800101", 1))


@pytest.mark.parametrize(
    "id_number, message",
    [
        ("", "不能为空"),
        ("43060219800101001", "位数错误：应为18位（或15位旧号码），实际17位"),
        ("43060219800101001A", "只能包含数字，最后一位可以是X"),
        (SAMPLE_BAD_ID, f"校验位错误，应为 {SAMPLE_RIGHT_CHECK}"),
        (make_id("20250701", 1), "出生日期 2025-07-01 晚于今天"),
        (make_id("19800230", 1), "出生日期 19800230 不是有效日期"),
    ],
)
def test_id_number_errors(id_number, message):
    result = parse_rows(person(id_number=id_number))

    assert texts(result) == [f"第2行 身份证号：{message}"]
    assert result.accepted == []
    assert result.rows_read == 1


def test_birth_date_and_sex_must_agree_with_the_id():
    result = parse_rows(person(sex="女", birth="1980-01-02"))

    assert texts(result) == [
        "第2行 性别：与身份证号不一致（身份证号对应的性别为男）",
        "第2行 出生日期：与身份证号不一致（身份证号中的出生日期为 1980-01-01）",
    ]


def test_sex_value_must_be_male_or_female():
    result = parse_rows(person(sex="M"), person(household="H2", id_number=make_id("19800101", 3), sex="男性"))

    assert texts(result) == ["第2行 性别：“M”无法识别，只能填写“男”或“女”"]
    assert result.accepted[0].excel_row == 3


@pytest.mark.parametrize("birth", ["1980-13-01", "1980-02-30", "80-01-01", "一九八〇年", "1980-1"])
def test_a_date_that_is_not_one(birth):
    result = parse_rows(person(birth=birth))

    assert texts(result) == [f"第2行 出生日期：“{birth}”不是有效日期，请按 YYYY-MM-DD 填写"]


def test_empty_name_household_and_village():
    result = parse_rows(person(household=" ", name="\u3000", village=""))

    assert texts(result) == ["第2行 户编号：不能为空", "第2行 姓名：不能为空", "第2行 所在村（社区）代码：不能为空"]


def test_village_outside_the_uploaders_region():
    result = parse_rows(person(village="430602100999"))

    assert texts(result) == ["第2行 所在村（社区）代码：村代码 430602100999 不是本辖区内的村（社区）"]


def test_village_code_typed_as_a_number_is_read_as_its_digits():
    result = parse_rows(person(village=int(VILLAGE_A)))

    assert result.errors == []
    assert result.accepted[0].village_code == VILLAGE_A


@pytest.mark.parametrize(
    "cell, codes",
    [
        ("", ()),
        ("特困供养人员", ("tekun",)),
        ("低保、特困", ("tekun", "dibao")),
        ("脱贫人口,低收入人口，重度残疾人", ("tuopin", "low_income", "severe_disability")),
        ("监测对象 、 低保对象、低保", ("dibao", "monitor")),
        ("防止返贫监测对象", ("monitor",)),
    ],
)
def test_categories_cell(cell, codes):
    result = parse_rows(person(categories=cell))

    assert result.errors == []
    assert result.accepted[0].categories == codes


def test_unknown_categories_are_listed_in_one_error():
    result = parse_rows(person(categories="低保、五保户、贫困户"))

    assert texts(result) == [
        "第2行 人员类别：“五保户”、“贫困户”不是有效的人员类别，可填写："
        + "、".join(CATEGORIES.values())
    ]


@pytest.mark.parametrize(
    "cell, code",
    [("", None), ("未脱贫", "not_lifted"), ("已脱贫", "lifted"), ("监测", "monitored"), ("脱贫", "lifted")],
)
def test_status_cell(cell, code):
    result = parse_rows(person(status=cell))

    assert result.errors == []
    assert result.accepted[0].status == code


def test_unknown_status():
    result = parse_rows(person(status="返贫"))

    assert texts(result) == ["第2行 脱贫状态：“返贫”不是有效的脱贫状态，可填写：未脱贫、已脱贫、监测"]


def test_optional_columns_may_be_absent():
    header = ["与户主关系", "村代码", "身份证号", "姓名", "户编号"]
    result = parse(ledger_xlsx([["户主", VILLAGE_A, make_id("19800101", 1), "张三", "H1"]], header))

    assert result.errors == []
    assert result.accepted == [
        LedgerRow(2, "H1", "张三", make_id("19800101", 1), "M", dt.date(1980, 1, 1), "户主", True, (), VILLAGE_A,
                  None, "")
    ]
    assert not result.has_column("categories")
    assert not result.has_column("status")


def test_duplicate_ids_name_every_other_row():
    same = make_id("19800101", 1)
    result = parse_rows(
        person(household="H1", id_number=same),
        person(household="H2", id_number=make_id("19800101", 3)),
        person(household="H3", id_number=same.lower()),
        person(household="H4", id_number="430602800101001"),
    )

    assert texts(result) == [
        "第2行 身份证号：身份证号与第4、5行重复",
        "第4行 身份证号：身份证号与第2、5行重复",
        "第5行 身份证号：身份证号与第2、4行重复",
    ]
    assert [row.household_no for row in result.accepted] == ["H2"]


def test_many_duplicates_stay_fast_and_the_message_short():
    same = make_id("19800101", 1)
    lines = ["户编号,姓名,身份证号,与户主关系,村代码"]
    lines += [f"H{n},张三,{same},户主,{VILLAGE_A}" for n in range(20_000)]
    started = time.perf_counter()

    result = parse("\n".join(lines).encode(), "台账.csv")

    assert time.perf_counter() - started < 10
    assert result.rows_read == 20_000
    assert len(result.errors) == 20_000
    assert result.errors[0].message == "身份证号与第3、4、5、6、7、8、9、10、11、12等19999行重复"


def test_household_needs_exactly_one_head():
    result = parse_rows(
        person(household="H1", relation=" 户主 "),
        person(household="H1", id_number=make_id("19800101", 3), relation="户主"),
        person(household="H2", id_number=make_id("19800101", 5), relation="本人"),
        person(household="H3", id_number=make_id("19800101", 7), relation="户主"),
        person(household="H3", id_number=make_id("19800101", 9), relation="子"),
    )

    assert texts(result) == [
        "第2行 与户主关系：同户（户编号 H1）有2个户主（第2、3行），每户只能有一个户主",
        "第3行 与户主关系：同户（户编号 H1）有2个户主（第2、3行），每户只能有一个户主",
        "第4行 与户主关系：同户（户编号 H2）没有户主，每户必须有且只有一个“户主”",
    ]
    assert [row.excel_row for row in result.accepted] == [5, 6]
    assert result.accepted[0].is_head and not result.accepted[1].is_head


def test_one_bad_row_rejects_its_whole_household_only():
    result = parse_rows(
        person(household="H1"),
        person(household="H1", id_number=make_id("19800101", 3), relation="子", birth="1980-01-32"),
        person(household="H1", id_number=make_id("19800101", 5), relation="女"),
        person(household="H2", id_number=make_id("19800101", 7)),
    )

    assert texts(result) == [
        "第2行 户编号：同户（户编号 H1）其他行有错误，整户未导入",
        "第3行 出生日期：“1980-01-32”不是有效日期，请按 YYYY-MM-DD 填写",
        "第4行 户编号：同户（户编号 H1）其他行有错误，整户未导入",
    ]
    assert result.rejected_rows == [2, 3, 4]
    assert [row.excel_row for row in result.accepted] == [5]


def test_household_number_merged_down_its_members():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(person(household="H1"))
    sheet.append(person(household=None, id_number=make_id("19800101", 3), relation="子"))
    sheet.merge_cells("A2:A3")

    result = parse(save(book))

    assert result.errors == []
    assert [row.household_no for row in result.accepted] == ["H1", "H1"]


@pytest.mark.parametrize("header_name", ["身份证号", "公民身份号码", "证件号码"])
def test_id_column_under_each_of_its_names(header_name):
    header = [header_name if name == "身份证号" else name for name in HEADER]
    result = parse_rows(person(), header=header)

    assert result.errors == []
    assert len(result.accepted) == 1


@pytest.mark.parametrize(
    "header_name", ["所在村（社区）代码", "所在村(社区)代码", "村(社区)代码", "村（社区）代码", "村代码"]
)
def test_village_column_under_each_of_its_names(header_name):
    header = [header_name if name.startswith("所在村") else name for name in HEADER]
    result = parse_rows(person(village="430602100999"), header=header)

    assert texts(result) == [f"第2行 {header_name}：村代码 430602100999 不是本辖区内的村（社区）"]


def test_no_header_row():
    data = ledger_xlsx([["H1", "张三"]], ["户编号", "姓名"], above=[["某镇台账"]])

    with pytest.raises(TableFormatError) as caught:
        parse(data)

    assert str(caught.value) == "未找到表头：需要包含“身份证号”或“公民身份号码”列"


def test_missing_required_columns():
    data = ledger_xlsx([], ["身份证号", "姓名", "性别"])

    with pytest.raises(LedgerFormatError) as caught:
        parse(data)

    assert str(caught.value) == "表头缺少必需的列：户编号、与户主关系、所在村（社区）代码"


# CSV uploads ------------------------------------------------------------------------------------

CSV_LEDGER = "\n".join([
    "某镇建档立卡台账,,,,,,",
    "",
    "序号,户编号,姓名,身份证号,与户主关系,所在村（社区）代码,人员类别,出生日期",
    f"1,H1,张三,{HEAD_1.translate(FULL_WIDTH_DIGITS)},户主,{VILLAGE_A},低保对象，特困供养人员,1980.01.01",
    f"2,H1,李四,{WIFE_1.lower()},配偶,{VILLAGE_A},,1982/3/4",
    ",,,,,,,",
    f"3,H2,王五,{BAD_ID},户主,{VILLAGE_B},,",
    "合计,3人,,,,,,",
    f"4,H3,赵六,{HEAD_2},户主,{VILLAGE_A},,",
])


@pytest.mark.parametrize(
    "data",
    [CSV_LEDGER.encode("utf-8"), codecs.BOM_UTF8 + CSV_LEDGER.encode("utf-8"), CSV_LEDGER.encode("gb18030")],
    ids=["utf-8", "utf-8-bom", "gb18030"],
)
def test_csv_ledger(data):
    result = parse(data, "台账.csv")

    assert result.rows_read == 3
    assert [(row.excel_row, row.id_number, row.categories) for row in result.accepted] == [
        (4, HEAD_1, ("tekun", "dibao")),
        (5, WIFE_1, ()),
    ]
    assert texts(result) == [f"第7行 身份证号：校验位错误，应为 {RIGHT_CHECK}"]


def test_xls_ledger():
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("台账")
    sheet.write_merge(0, 0, 0, 4, "某镇台账")
    for column, name in enumerate(["户编号", "姓名", "身份证号", "与户主关系", "村代码", "出生日期"]):
        sheet.write(1, column, name)
    sheet.write_merge(2, 3, 0, 0, "H1")
    for row, values in ((2, ("张三", HEAD_1, "户主")), (3, ("李四", WIFE_1, "配偶"))):
        for column, value in enumerate(values, start=1):
            sheet.write(row, column, value)
        sheet.write(row, 4, int(VILLAGE_A))
    sheet.write(2, 5, dt.date(1980, 1, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    buffer = io.BytesIO()
    book.save(buffer)

    result = parse(buffer.getvalue(), "台账.xls")

    assert result.errors == []
    assert [(row.excel_row, row.household_no, row.id_number) for row in result.accepted] == [
        (3, "H1", HEAD_1), (4, "H1", WIFE_1)
    ]


# The error workbook ----------------------------------------------------------------------------


def sheet_values(data: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_error_workbook_holds_the_rows_above_the_header_and_only_rejected_rows():
    upload = messy_ledger()
    result = parse(upload)

    book = openpyxl.load_workbook(io.BytesIO(write_error_workbook(upload, "台账.xlsx", result)))
    sheet = book.active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]

    assert sheet.title == "乡镇台账"
    assert rows[0][0] == "岳阳楼区某镇建档立卡贫困人口台账"
    assert rows[1][0] == "填报单位：某镇人民政府" and rows[1][7] == "填报日期：2025年6月"
    assert rows[2] == [None] * 13
    assert rows[3] == MESSY_HEADER + [ERROR_COLUMN]
    assert len(rows) == 4 + 18
    by_row: dict[int, list[str]] = {}
    for error in result.errors:
        by_row.setdefault(error.row, []).append(f"{error.column}：{error.message}")
    for written, number in zip(rows[4:], result.rejected_rows):
        original = [str(value).strip() or None for value in MESSY_ROWS[number]]
        if number == 29:
            original[2] = format(Decimal(f"{float(AS_NUMBER):.15g}"), "f")  # what Excel kept
        assert written == original + ["；".join(by_row[number])]
    assert rows[6][12] == (
        "性别：与身份证号不一致（身份证号对应的性别为男）；"
        "出生日期：与身份证号不一致（身份证号中的出生日期为 1950-05-05）"
    )
    for row in sheet.iter_rows(min_row=5):
        assert all(cell.data_type == "s" for cell in row if cell.value is not None)
        assert row[2].number_format == "@"


def fix_error_workbook(data: bytes) -> bytes:
    """What the township clerk does: correct every rejected household but H009 (no head)."""
    fixes = {  # (户编号, 姓名) -> {column: corrected value}
        ("H003", "孙七"): {"C": make_id("19600101", 7)},
        ("H004", "周九"): {"F": "男", "G": "1950-05-05"},
        ("H005", "吴十"): {"G": "1990-01-01"},
        ("H005", None): {"B": "吴小"},
        ("H006", "郑一"): {"H": VILLAGE_A},
        ("H007", "冯二"): {"I": "低保", "J": "已脱贫"},
        ("H008", "陈四"): {"E": "弟"},
        ("H011", "卫八"): {"C": make_id("19880808", 41)},
        ("H012", "卫八"): {"C": make_id("19880808", 43)},
        (None, "沈十"): {"D": "H016"},
        ("H013", "韩一"): {"C": AS_NUMBER},
    }
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    for row in sheet.iter_rows(min_row=5):
        for column, value in fixes.get((row[3].value, row[1].value), {}).items():
            sheet[f"{column}{row[0].row}"] = value
    return save(book)


def test_fixed_error_workbook_imports_exactly_the_fixed_rows():
    upload = messy_ledger()
    first = parse(upload)
    error_file = write_error_workbook(upload, "台账.xlsx", first)

    second = parse(fix_error_workbook(error_file), "台账_错误.xlsx")

    assert second.rows_read == 18
    assert texts(second) == [
        "第15行 与户主关系：同户（户编号 H009）没有户主，每户必须有且只有一个“户主”",
        "第16行 与户主关系：同户（户编号 H009）没有户主，每户必须有且只有一个“户主”",
    ]
    assert [row.household_no for row in second.accepted] == [
        "H003", "H003", "H004", "H005", "H005", "H006", "H007", "H008", "H008", "H008",
        "H010", "H011", "H012", "H012", "H016", "H013",
    ]
    assert [row.name for row in second.accepted][:6] == ["孙七", "孙八", "周九", "吴十", "吴小", "郑一"]
    assert second.accepted[-1].id_number == AS_NUMBER
    assert {row.id_number for row in first.accepted}.isdisjoint(row.id_number for row in second.accepted)


def test_error_workbook_of_an_error_workbook_reuses_the_error_column():
    upload = messy_ledger()
    error_file = write_error_workbook(upload, "台账.xlsx", parse(upload))
    second_upload = fix_error_workbook(error_file)

    again = write_error_workbook(second_upload, "台账.xlsx", parse(second_upload))

    rows = sheet_values(again)
    assert rows[3] == tuple(MESSY_HEADER + [ERROR_COLUMN])
    assert [row[1] for row in rows[4:]] == ["褚六", "褚七"]
    assert rows[4][12] == "与户主关系：同户（户编号 H009）没有户主，每户必须有且只有一个“户主”"


def test_error_column_goes_after_anything_written_beyond_the_header():
    rows = [person(id_number=BAD_ID) + ["", "", "备注写在表头之外"]]
    upload = ledger_xlsx(rows, HEADER)

    written = sheet_values(write_error_workbook(upload, "台账.xlsx", parse(upload)))

    assert written[0] == (*HEADER, None, None, None, ERROR_COLUMN)
    assert written[1][10:] == (None, None, "备注写在表头之外", f"身份证号：校验位错误，应为 {RIGHT_CHECK}")


def test_an_existing_error_column_is_rewritten_where_it_stands():
    header = ["错误说明", *HEADER]
    upload = ledger_xlsx([["旧的说明", *person(id_number=BAD_ID)]], header)

    written = sheet_values(write_error_workbook(upload, "台账.xlsx", parse(upload)))

    assert written == [tuple(header), (f"身份证号：校验位错误，应为 {RIGHT_CHECK}", *person(id_number=BAD_ID)[:3],
                                        None, None, "户主", None, VILLAGE_A, None, None)]


def test_error_workbook_of_a_csv_upload_keeps_text_and_neutralises_formulas():
    data = "\n".join([
        "户编号,姓名,身份证号,与户主关系,村代码",
        f"H1,=1+1,{BAD_ID},户主,{VILLAGE_A}",
    ]).encode("gb18030")
    result = parse(data, "台账.csv")

    book = openpyxl.load_workbook(io.BytesIO(write_error_workbook(data, "台账.csv", result)))
    row = list(book.active.iter_rows(min_row=2))[0]

    assert [cell.value for cell in row] == ["H1", "'=1+1", BAD_ID, "户主", VILLAGE_A,
                                            f"身份证号：校验位错误，应为 {RIGHT_CHECK}"]
    assert row[1].data_type == "s"


# Template and export ----------------------------------------------------------------------------


def test_template_has_the_header_a_text_id_column_and_notes():
    book = openpyxl.load_workbook(io.BytesIO(template_workbook()))

    assert book.sheetnames == ["台账", "填写说明"]
    assert sheet_values(template_workbook())[0] == tuple(COLUMNS.values())
    assert book["台账"].column_dimensions["C"].number_format == "@"
    notes = [row[0] for row in book["填写说明"].iter_rows(values_only=True)]
    assert notes[1:11] == list(COLUMNS.values())
    explained = " ".join(str(value) for row in book["填写说明"].iter_rows(values_only=True) for value in row)
    assert all(label in explained for label in CATEGORIES.values())
    assert "未脱贫、已脱贫、监测" in explained


def test_empty_template_parses_to_nothing():
    result = parse(template_workbook())

    assert (result.rows_read, result.accepted, result.errors) == (0, [], [])


def test_exported_ledger_imports_back_unchanged():
    accepted = parse(messy_ledger()).accepted

    exported = write_ledger_workbook([row._asdict() for row in accepted], notes=False)
    again = parse(exported)

    assert openpyxl.load_workbook(io.BytesIO(exported)).sheetnames == ["台账"]
    assert again.errors == []
    assert [row._replace(excel_row=0) for row in again.accepted] == [
        row._replace(excel_row=0) for row in accepted
    ]


def test_export_neutralises_formulas_and_accepts_tuples():
    exported = write_ledger_workbook(
        [("H1", "=HYPERLINK(\"http://x\")", HEAD_1, "M", dt.date(1980, 1, 1), "户主", ("dibao",), VILLAGE_A,
          "lifted", "+86 13800138000")]
    )

    assert sheet_values(exported)[1] == (
        "H1", "'=HYPERLINK(\"http://x\")", HEAD_1, "男", "1980-01-01", "户主", "低保对象", VILLAGE_A, "已脱贫",
        "'+86 13800138000",
    )
