"""What the confirmation pages of claims' irreversible actions say (poverty_registry.confirmation): saving a
policy version, re-settling a year, confirming a case — each with its figures, counted by the services."""
from __future__ import annotations

from poverty_registry.confirmation import Ask, Fact
from poverty_registry.models import Region

from .models import Case
from .settlement import services
from .supervision import cases


def _resettle_facts(year: int, region: Region) -> tuple[list[Fact], str]:
    scope = services.resettle_preview(year, region.code)
    facts = [Fact("重新结算的人数", f"{scope.persons:,} 人", "persons"),
             Fact("重新结算的单据", f"{scope.claims:,} 张", "claims"),
             Fact("这些单据当前基金支付合计", f"¥{scope.paid:,.2f}", "paid")]
    what = (f"{region.name}{year}年度 {scope.persons:,} 人的 {scope.claims:,} 张结算单将按现行政策重新结算："
            "结果有变化的单据生成新的结算版本（原版本保留），应补付或应追回的差额随之产生，不能撤销。")
    return facts, what


def resettle_ask(year: int, region: Region, back: str) -> Ask:
    facts, what = _resettle_facts(year, region)
    return Ask(title=f"重新结算{year}年度", button="确认重新结算", cancel_url=back, consequence=what,
               facts=[Fact("区划", f"{region.full_name}（{region.code}）", "region"), *facts])


def policy_save_ask(year: int, region: Region, version: int, changed: list[str] | None, resettle: bool,
                    back: str) -> Ask:
    """`changed`: labels of the parameters that differ from the version edited; None when the year had none."""
    facts = [Fact("政策", f"{year}年度 {region.full_name}（{region.code}）", "policy"),
             Fact("新版本", f"{region.code}-{year}-v{version}（保存后即为现行版本）", "version"),
             Fact("修改的参数", "新设（该年度此前没有现行政策）" if changed is None else f"{len(changed)} 项",
                  "changed")]
    if resettle:
        more, what = _resettle_facts(year, region)
        facts += [Fact("重新结算", "是", "resettle"), *more]
        consequence = f"将保存为新版本 v{version} 并立即生效；随后{what}"
    else:
        facts.append(Fact("重新结算", "否", "resettle"))
        consequence = (f"将保存为新版本 v{version} 并立即生效：已结算的单据保持原结果，"
                       "此后到达或更正的单据按新版本结算。")
    if changed is None:
        notes = []
    else:
        notes = [f"修改：{'、'.join(changed)}"] if changed else ["参数未修改（仍将另存为新版本）。"]
    return Ask(title=f"保存{year}年度结算政策", facts=facts, consequence=consequence, button="确认保存",
               cancel_url=back, notes=notes)


def case_confirm_ask(case: Case, back: str) -> Ask:
    figures = cases.confirmation_figures(case)
    return Ask(
        title=f"审核认定案件 {case.number}",
        facts=[Fact("案件", f"{case.number} {case.title}", "case"),
               Fact("处理对象", figures.target, "target"),
               Fact("疑点", f"{figures.hits:,} 条（{figures.claims:,} 张结算单）", "hits"),
               Fact("应追回金额", f"¥{figures.amount:,.2f}", "amount"),
               Fact("罚款", f"¥{figures.penalty:,.2f}" + (f"（{case.penalty_multiple} 倍）" if case.penalty_multiple
                                                         else ""), "penalty"),
               Fact("合计应追缴", f"¥{figures.due:,.2f}", "due")],
        consequence=(f"认定后案件进入“已认定”，不能退回调查或排除疑点；"
                     f"须向{figures.target}追缴合计 ¥{figures.due:,.2f}。"),
        button="确认审核认定", cancel_url=back)
