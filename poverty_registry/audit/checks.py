"""`manage.py check --deploy`: the audit anchors need a key and a file out of the database's and the app's reach."""
from pathlib import Path

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_anchor_check(app_configs, **kwargs):
    warnings = []
    key = settings.AUDIT_ANCHOR_KEY
    if not key:
        warnings.append(Warning(
            "未设置 AUDIT_ANCHOR_KEY：生产环境将拒绝写入审计锚点，审计链可被有数据库权限者整体改写而不被发现",
            hint="python -c \"import secrets; print(secrets.token_hex(32))\" 生成密钥，仅放在环境变量中",
            id="poverty_registry.W001"))
    elif len(key) < 32:
        warnings.append(Warning("AUDIT_ANCHOR_KEY 过短（少于 32 个字符）", id="poverty_registry.W002"))
    anchor_file = Path(settings.AUDIT_ANCHOR_FILE).resolve()
    for name in ("VAR_DIR", "MEDIA_ROOT", "BASE_DIR"):
        directory = Path(getattr(settings, name)).resolve()
        if anchor_file.is_relative_to(directory):
            warnings.append(Warning(
                f"审计锚点文件 {anchor_file} 位于应用目录 {name} 之下",
                hint="设置 AUDIT_ANCHOR_FILE 到另一磁盘或主机上只能追加（chattr +a）的文件，见 README“Audit anchors”",
                id="poverty_registry.W003"))
            break
    return warnings
