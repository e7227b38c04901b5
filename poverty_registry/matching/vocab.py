"""The matching's vocabularies: inbox sources, difference codes, work-item and link statuses."""

SOURCES = {
    "poverty": "乡村振兴局贫困人口名单",
    "civil_affairs": "民政救助名单",
    "deaths": "公安死亡人员名单",
    "disability": "残联残疾人名单",
    "enrolment": "税务/医保参保名单",
}
# Sources whose unmatched rows are linked probabilistically to ledger persons (§8.2).
LINKED_SOURCES = ("poverty", "civil_affairs", "deaths", "disability")

DIFFERENCES = {
    "M01": "建档立卡人员当年未参保",
    "M02": "在乡村振兴局名单中、不在台账中",
    "M03": "在台账中、不在乡村振兴局名单中",
    "M04": "人员类别与民政/残联不一致",
    "M05": "有死亡记录",
    "M06": "身份证号相同、姓名不同",
    "M07": "疑似同一人待确认",
}

ITEM_STATUSES = {"new": "新发现", "in_progress": "处理中", "resolved": "已处理", "dismissed": "无问题"}
OPEN_STATUSES = ("new", "in_progress")
# Allowed moves of a work item (DOMAIN §8.3: new → in progress → resolved / not a problem).
ITEM_TRANSITIONS = {
    "new": ("in_progress", "resolved", "dismissed"),
    "in_progress": ("resolved", "dismissed"),
    "resolved": (),
    "dismissed": (),
}

LINK_STATUSES = {"proposed": "待确认", "confirmed": "已确认", "rejected": "已否决", "expired": "已失效"}
RUN_STATUSES = {"running": "进行中", "finished": "已完成", "failed": "失败"}
FILE_STATUSES = {"loaded": "已载入", "failed": "有错误，未载入"}
