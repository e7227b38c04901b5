"""Import the tax/insurance system's enrolment list (DOMAIN §5) from the command line."""
from poverty_registry.import_command import ImportCommand


class Command(ImportCommand):
    help = "导入参保名单（CSV/Excel：身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划）"
    kind = "enrolment"
    user_help = "按该账号的辖区检查参保地区划（不填则不限辖区）"

    def summary(self, result: dict) -> str:
        return (f"读取 {result['rows_read']} 行：新增 {result['created']}，更新 {result['updated']}，"
                f"未变 {result['unchanged']}，拒绝 {result['rows_rejected']}")
