"""Import a township ledger file (DOMAIN §4.6): the same service as the admin page. The JSON keys come in
§4.6's order: rows_read, the ledger kind's counts (households_imported, persons_created, persons_updated,
persons_unchanged), rows_rejected, errors."""
from poverty_registry.import_command import ImportCommand


class Command(ImportCommand):
    help = "导入建档立卡台账（.xlsx/.xls/.csv），与后台页面使用同一导入服务"
    kind = "ledger"
    user_help = "以该账号的辖区和权限导入"
    user_required = True

    def summary(self, result: dict) -> str:
        return (f"读取 {result['rows_read']} 行；导入 {result['households_imported']} 户，新增 "
                f"{result['persons_created']} 人，修改 {result['persons_updated']} 人，未变 "
                f"{result['persons_unchanged']} 人；拒绝 {result['rows_rejected']} 行")
