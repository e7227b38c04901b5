"""Import a hospital's claim file (DOMAIN §6.1) from the command line and settle what it touched."""
from poverty_registry.import_command import ImportCommand


class Command(ImportCommand):
    help = "导入医疗机构结算单（CSV/Excel，DOMAIN §6.1 列）并结算受影响的人员年度"
    kind = "claims"
    user_help = "按该账号的辖区检查参保人（不填则不限辖区）"

    def summary(self, result: dict) -> str:
        return (f"读取 {result['rows_read']} 行：新增 {result['created']}，替换 {result['updated']}，"
                f"结算 {result['settled']}，拒绝 {result['rows_rejected']}")
