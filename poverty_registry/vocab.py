"""The ledger's vocabularies (codes stored, Chinese labels shown): categories, poverty status, sex, roles."""

CATEGORIES = {
    "tekun": "特困供养人员",
    "dibao": "低保对象",
    "monitor": "防止返贫监测对象",
    "tuopin": "脱贫人口",
    "low_income": "低收入人口",
    "severe_disability": "重度残疾人",
}
# The poor categories of DOMAIN §6.2, most favourable first.
POOR_CATEGORY_ORDER = ("tekun", "dibao", "monitor", "tuopin", "low_income")

POVERTY_STATUSES = {"not_lifted": "未脱贫", "lifted": "已脱贫", "monitored": "监测"}
SEXES = {"M": "男", "F": "女"}

ROLES = {
    "township": "乡镇经办",
    "county": "县级经办",
    "city": "市级经办",
    "supervisor": "基金监管",
    "admin": "系统管理员",
}

# The kinds of file the import framework takes (poverty_registry.importing.KINDS), as runs list them.
IMPORT_KINDS = {"ledger": "建档立卡台账", "enrolment": "参保名单", "claims": "医疗机构结算单"}

REGION_LEVELS = {1: "省", 2: "市", 3: "县（区）", 4: "乡镇（街道）", 5: "村（社区）"}
HEAD_RELATION = "户主"
