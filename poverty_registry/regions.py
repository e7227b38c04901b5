"""Administrative codes (统计用区划代码): level and parent follow from the code (DOMAIN §2)."""
from __future__ import annotations

# Digits of each level's code: province, city, county, township, village.
LEVEL_LENGTHS = (2, 4, 6, 9, 12)


class RegionCodeError(ValueError):
    pass


def canonical_code(raw: str) -> str:
    """Strip the zero padding of the 12-digit form: 430600000000 → 4306, 430602100000 → 430602100."""
    code = "".join(str(raw).split())
    if not code.isdigit() or len(code) not in LEVEL_LENGTHS:
        raise RegionCodeError(f"区划代码 {raw} 格式错误：应为2、4、6、9或12位数字")
    if len(code) == 12:
        for length in reversed(LEVEL_LENGTHS[:-1]):
            if set(code[length:]) <= {"0"}:
                code = code[:length]
            else:
                break
    if code in {"00", "0000"}:
        raise RegionCodeError(f"区划代码 {raw} 无效")
    return code


def level_of(code: str) -> int:
    return LEVEL_LENGTHS.index(len(code)) + 1


def parent_code(code: str) -> str | None:
    level = level_of(code)
    return code[: LEVEL_LENGTHS[level - 2]] if level > 1 else None
