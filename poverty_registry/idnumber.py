"""公民身份号码 (GB 11643-1999): normalisation, check character, birth date and sex, masking.

Pure Python: used by the models, the ledger import, the matching and the settlement command alike.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from operator import mul

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# Full-width digits and letters (U+FF10…) and the ideographic space map to ASCII.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


class IdNumberError(ValueError):
    """An ID number that cannot be a valid 公民身份号码; the message is for a township clerk."""


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: dt.date
    sex: str  # "M" or "F"


def to_halfwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


# The weighted sum over the ASCII codes of 17 digits is the sum over the digits plus 48 × the weights' sum.
_ASCII_ZERO_SUM = 48 * sum(WEIGHTS)


def check_char(first17: str) -> str:
    """The check character of 17 ASCII digits (imports check hundreds of thousands: no per-digit int())."""
    return CHECK_CHARS[(sum(map(mul, first17.encode(), WEIGHTS)) - _ASCII_ZERO_SUM) % 11]


def _birth_date(digits: str) -> dt.date:
    try:
        return dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise IdNumberError(f"出生日期 {digits[0:8]} 不是有效日期") from None


def parse_id_number(raw: str | None, today: dt.date | None = None) -> IdNumber:
    """Normalise and validate; raise IdNumberError with a Chinese message when invalid."""
    today = today or dt.date.today()
    if type(raw) is str and quick_valid(raw, _digits_of(today)):  # imports: nearly every number is this
        return IdNumber(number=raw, birth_date=dt.date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14])),
                        sex="M" if raw[16] in "13579" else "F")
    text = _normalised(raw)
    if not text:
        raise IdNumberError("不能为空")
    if len(text) == 15:
        if not text.isascii() or not text.isdigit():
            raise IdNumberError("15位号码只能包含数字")
        text = _from_15_digits(text)
    elif len(text) != 18:
        raise IdNumberError(f"位数错误：应为18位（或15位旧号码），实际{len(text)}位")
    elif not text.isascii() or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise IdNumberError("只能包含数字，最后一位可以是X")
    expected = check_char(text[:17])
    if text[17] != expected:
        raise IdNumberError(f"校验位错误，应为 {expected}")
    birth = _birth_date(text[6:14])
    if birth > today:
        raise IdNumberError(f"出生日期 {birth.isoformat()} 晚于今天")
    sex = "M" if int(text[16]) % 2 == 1 else "F"
    return IdNumber(number=text, birth_date=birth, sex=sex)


def _normalised(raw) -> str:
    """Spaces removed, full-width characters half-width, lower-case x upper-case (§3)."""
    return "".join(to_halfwidth(str(raw or "")).split()).upper()


def _from_15_digits(text: str) -> str:
    first17 = text[:6] + "19" + text[6:]
    return first17 + check_char(first17)


def comparable_number(raw) -> str:
    """The number a cell stands for, normalised as parse_id_number does (a 15-digit number converted) but not
    checked: two cells for one person compare equal before either is checked. Cheap for a number that is
    already normalised."""
    if type(raw) is str and len(raw) == 18 and raw.isascii() and raw[:17].isdigit() and raw[17] in "0123456789X":
        return raw
    text = _normalised(raw)
    return _from_15_digits(text) if len(text) == 15 and text.isascii() and text.isdigit() else text


@functools.lru_cache(maxsize=4)
def _digits_of(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def quick_valid(text, today_digits: str) -> bool:
    """The common case, an already normalised valid 18-digit number, without parse_id_number's general path;
    anything else (or anything doubtful) goes through parse_id_number for its normalising and its message."""
    if type(text) is not str or len(text) != 18 or not text.isascii() or not text[:17].isdigit():
        return False
    if check_char(text[:17]) != text[17]:
        return False
    birth = text[6:14]
    if not ("18000101" <= birth <= today_digits) or not ("01" <= birth[4:6] <= "12"):
        return False
    day = birth[6:]
    if day <= "28":
        return day >= "01"
    return day <= _MONTH_ENDS[birth[4:6]] and (birth[4:6] != "02" or day != "29" or _leap(int(birth[:4])))


_MONTH_ENDS = {f"{m:02d}": f"{31 if m in (1, 3, 5, 7, 8, 10, 12) else 30 if m != 2 else 29}" for m in range(1, 13)}


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def normalize_id_number(raw: str | None) -> str:
    return parse_id_number(raw).number


def mask_id_number(number: str | None) -> str:
    """430602********123X: region and last four kept, birth date and sequence hidden."""
    if not number:
        return ""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
