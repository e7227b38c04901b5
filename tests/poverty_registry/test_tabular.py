"""poverty_registry.tabular: reading uploaded .xlsx / .xls / .csv tables and finding their header."""
import codecs
import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from poverty_registry.tabular import (
    Table,
    TableFormatError,
    TruncatedNumber,
    cell_text,
    find_header,
    iter_data_rows,
    neutralise_formula,
    normalise_header,
    parse_date,
    read_table,
)

SYNONYMS = {
    "id_number": ("身份证号", "公民身份号码", "证件号码"),
    "name": ("姓名",),
    "village_code": ("所在村（社区）代码", "村(社区)代码", "村代码"),
}
MARKERS = ("身份证号", "公民身份号码")


def xlsx(build) -> bytes:
    book = openpyxl.Workbook()
    build(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_of(rows: list[list]) -> Table:
    return Table(rows=[list(row) for row in rows])


# read_table: Excel -----------------------------------------------------------------------------


def test_xlsx_cells_come_back_as_text_or_dates():
    def build(book):
        sheet = book.active
        sheet["A1"] = "  某镇台账\u3000"
        sheet.merge_cells("A1:E1")
        sheet.append(["整数", 3.0, 7, 3.5, 0.1 + 0.2])
        sheet.append(["日期", dt.date(1980, 1, 2), dt.datetime(1980, 1, 2), dt.datetime(1980, 1, 2, 8, 30)])
        sheet.append(["身份证号", 430602198001010019, 430602800101001, True, "\u3000张 三 "])

    table = read_table(xlsx(build), "台账.xlsx")

    assert table.rows[0] == ["某镇台账", "", "", "", ""]
    assert table.rows[1] == ["整数", "3", "7", "3.5", "0.3"]
    assert table.rows[2] == [
        "日期", dt.date(1980, 1, 2), dt.date(1980, 1, 2), dt.datetime(1980, 1, 2, 8, 30), ""
    ]
    assert type(table.rows[2][2]) is dt.date
    # An 18-digit number kept its first 15 significant digits only; a 15-digit one is whole.
    assert table.rows[3] == ["身份证号", "430602198001010000", "430602800101001", "TRUE", "张 三"]
    assert isinstance(table.rows[3][1], TruncatedNumber)
    assert not isinstance(table.rows[3][2], TruncatedNumber)


def test_xlsx_rows_and_columns_keep_their_sheet_positions():
    def build(book):
        sheet = book.active
        sheet["C3"] = "标题"
        sheet.merge_cells("C3:E3")
        sheet["B5"] = "身份证号"
        sheet["D6"] = "x"

    table = read_table(xlsx(build), "a.xlsx")

    assert table.row(3)[2] == "标题"
    assert table.row(5)[1] == "身份证号"
    assert table.row(6)[3] == "x"
    assert [number for number, _ in table.numbered_rows()][-1] == 6


def test_vertical_merge_fills_each_row_but_title_merge_does_not():
    def build(book):
        sheet = book.active
        sheet.append(["台账标题", None, None])
        sheet.merge_cells("A1:C1")
        sheet.append(["户编号", "姓名", "身份证号"])
        sheet.append(["H1", "甲", "1"])
        sheet.append([None, "乙", "2"])
        sheet.append([None, "丙", "3"])
        sheet.merge_cells("A3:A5")

    table = read_table(xlsx(build), "a.xlsx")

    assert table.rows[0] == ["台账标题", "", ""]
    assert [row[0] for row in table.rows[2:]] == ["H1", "H1", "H1"]


def test_first_visible_sheet_is_read():
    def build(book):
        book.active.title = "旧表"
        book.active["A1"] = "hidden"
        book.active.sheet_state = "hidden"
        book.create_sheet("台账")["A1"] = "shown"

    table = read_table(xlsx(build), "a.xlsx")

    assert table.sheet_name == "台账"
    assert table.rows == [["shown"]]


def test_xls_is_read_like_xlsx():
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    book.add_sheet("hidden").write(0, 0, "no")
    book.get_sheet(0).visibility = 1
    sheet = book.add_sheet("台账")
    sheet.write_merge(0, 0, 0, 2, "某镇台账")
    sheet.write(1, 0, "户编号")
    sheet.write(1, 1, "身份证号")
    sheet.write(1, 2, "出生日期")
    sheet.write_merge(2, 3, 0, 0, "H1")
    sheet.write(2, 1, " 430602198001010019 ")
    sheet.write(2, 2, dt.date(1980, 1, 1), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    sheet.write(3, 1, 430602198001010019)
    sheet.write(3, 2, 3.0)
    buffer = io.BytesIO()
    book.save(buffer)

    table = read_table(buffer.getvalue(), "台账.XLS")

    assert table.sheet_name == "台账"
    assert table.rows == [
        ["某镇台账", "", ""],
        ["户编号", "身份证号", "出生日期"],
        ["H1", "430602198001010019", dt.date(1980, 1, 1)],
        ["H1", "430602198001010000", "3"],
    ]
    assert isinstance(table.rows[3][1], TruncatedNumber)


def test_damaged_excel_file_is_a_format_error():
    with pytest.raises(TableFormatError, match="无法读取文件：文件已损坏或不是有效的 Excel 文件"):
        read_table(b"PK\x03\x04 not really a zip", "a.xlsx")


def test_unknown_file_type_is_a_format_error():
    with pytest.raises(TableFormatError, match="只能上传 .xlsx、.xls 或 .csv 文件"):
        read_table(b"whatever", "台账.pdf")


# read_table: CSV -------------------------------------------------------------------------------

CSV_TEXT = "某镇台账,,\n\n户编号, 姓名 ,身份证号\r\nH1,\u3000张三,430602198001010019\n\"H2\",\"李\n四\",x\n"
CSV_ROWS = [
    ["某镇台账", "", ""],
    [],
    ["户编号", "姓名", "身份证号"],
    ["H1", "张三", "430602198001010019"],
    ["H2", "李\n四", "x"],
]


@pytest.mark.parametrize(
    "data",
    [
        CSV_TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"),
        CSV_TEXT.encode("gb18030"),
        CSV_TEXT.replace(",", "\t").encode("utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "utf-16-tabs"],
)
def test_csv_in_each_encoding(data):
    table = read_table(data, "台账.CSV")

    assert table.rows == CSV_ROWS
    assert table.row(4) == ["H1", "张三", "430602198001010019"]


def test_csv_that_is_no_known_encoding_is_a_format_error():
    with pytest.raises(TableFormatError, match="无法识别文件编码"):
        read_table(b"\x81\x30\xff\xff", "a.csv")


# find_header and iter_data_rows ----------------------------------------------------------------


def test_header_is_the_first_row_with_a_marker_cell():
    table = table_of([
        ["说明：身份证号请填18位", ""],
        ["", "姓名"],
        [" 姓 名 ", "公民身份号码", "所在村（社区）代码", "备注"],
        ["姓名", "身份证号"],
    ])

    header = find_header(table, MARKERS, SYNONYMS)

    assert header.row_index == 2
    assert header.row_number == 3
    assert header.columns == {"name": 0, "id_number": 1, "village_code": 2}
    assert header.labels == {"name": " 姓 名 ", "id_number": "公民身份号码", "village_code": "所在村（社区）代码"}
    assert (header.first_column, header.width) == (0, 4)


@pytest.mark.parametrize(
    "written", ["所在村（社区）代码", "所在村(社区)代码", "村(社区)代码", "村（社区）代码", "村代码", "村 代 码"]
)
def test_bracket_width_and_spaces_do_not_matter_in_header_names(written):
    header = find_header(table_of([["身份证号", written]]), MARKERS, SYNONYMS)

    assert header.columns["village_code"] == 1
    assert header.labels["village_code"] == written


def test_full_width_header_letters_are_half_width():
    assert normalise_header("ＩＤ （号码）\u3000") == "ID(号码)"


def test_preferred_synonym_wins_over_position():
    header = find_header(table_of([["证件号码", "姓名", "身份证号"]]), MARKERS, SYNONYMS)

    assert header.columns["id_number"] == 2


def test_no_header_row_is_a_format_error():
    table = table_of([["姓名", "证件号码"], ["张三", "1"]])

    with pytest.raises(TableFormatError) as caught:
        find_header(table, MARKERS, SYNONYMS)

    assert str(caught.value) == "未找到表头：需要包含“身份证号”或“公民身份号码”列"


def test_data_rows_skip_blanks_and_end_at_a_total_row():
    table = table_of([
        ["标题"],
        ["序号", "姓名", "身份证号", "备注"],
        ["1", "张三", "1"],
        [],
        ["", "", "", ""],
        ["2", "", "", "只有序号和备注"],
        ["3", "", dt.date(2000, 1, 1), ""],
        ["4", "李四", "2", "合计"],
        ["合  计：2人", "", "", ""],
        ["5", "王五", "3", ""],
    ])
    header = find_header(table, MARKERS, SYNONYMS)

    rows = list(iter_data_rows(table, header))

    assert [number for number, _ in rows] == [3, 7, 8]
    assert rows[0][1] == ["1", "张三", "1"]


def test_total_row_is_found_in_the_tables_first_column():
    starts_at_b = table_of([
        ["", "姓名", "身份证号"],
        ["", "张三", "1"],
        ["", "总计", ""],
        ["", "李四", "2"],
    ])
    starts_at_a = table_of([
        ["序号", "姓名", "身份证号"],
        ["1", "张三", "1"],
        ["", "合计", "2"],
        ["3", "李四", "3"],
    ])

    header_b = find_header(starts_at_b, MARKERS, SYNONYMS)
    header_a = find_header(starts_at_a, MARKERS, SYNONYMS)

    assert header_b.first_column == 1
    assert [number for number, _ in iter_data_rows(starts_at_b, header_b)] == [2]
    assert [number for number, _ in iter_data_rows(starts_at_a, header_a)] == [2, 3, 4]


# parse_date, cell_text, neutralise_formula ----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        dt.date(1980, 3, 4),
        dt.datetime(1980, 3, 4, 10, 0),
        "1980-03-04",
        "1980/03/04",
        "1980.03.04",
        "19800304",
        " 1980/3/4 ",
        "１９８０－０３－０４",
        "1980-03-04 00:00:00",
        "1980-03-04T10:20",
    ],
)
def test_parse_date_accepts_each_style(value):
    assert parse_date(value) == dt.date(1980, 3, 4)


@pytest.mark.parametrize(
    "value", ["", "1980-02-30", "19801301", "1980-03", "1980/03-04", "80-03-04", "29224", "三月四日"]
)
def test_parse_date_rejects_what_is_not_a_date(value):
    with pytest.raises(ValueError, match="不是有效日期"):
        parse_date(value)


@given(st.dates(min_value=dt.date(1000, 1, 1)), st.sampled_from(["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"]))
def test_parse_date_reads_back_every_written_style(date, style):
    text = f"{date.year:04d}" + date.strftime(style.replace("%Y", ""))
    assert parse_date(text) == date


def test_cell_text():
    assert cell_text(dt.date(1980, 1, 2)) == "1980-01-02"
    assert cell_text(dt.datetime(1980, 1, 2, 3, 4)) == "1980-01-02 03:04:00"
    assert cell_text(None) == ""
    assert cell_text("张三") == "张三"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+86 138", "'+86 138"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("＝1+1", "'＝1+1"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        (3, 3),
        (None, None),
    ],
)
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected
