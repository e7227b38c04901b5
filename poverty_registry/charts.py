"""The home page's dashboard pieces: the small server-rendered SVG trend chart (templates/charts/trend.html: a
value per month of one year as a line, an optional target band or goal line), the tile that carries one number
with its chart, and which tiles each role sees. Like the statistics pages' bars, the geometry is computed here
and the template only draws it: no script, nothing the strict CSP would refuse."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

WIDTH, HEIGHT, PAD_X, PAD_TOP, PAD_BOTTOM = 240, 64, 6, 6, 14
MONTHS = range(1, 13)


@dataclass(frozen=True)
class Point:
    month: int
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Trend:
    label: str
    points: tuple[Point, ...]
    band: tuple[float, float] | None  # (y of the band's top, its height)
    goal: float | None  # y of a goal line
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def baseline(self) -> float:
        return float(HEIGHT - PAD_BOTTOM)

    @property
    def month_ticks(self) -> list[tuple[float, str, str]]:
        return [(_x(1), "1月", "start"), (_x(6), "6月", "middle"), (_x(12), "12月", "end")]


def _x(month: int) -> float:
    return PAD_X + (month - 1) * (WIDTH - 2 * PAD_X) / 11


def monthly_trend(label: str, values: dict[int, Decimal | int | float], *, months: int = 12, unit: str = "",
                  ceiling: float | None = None, band: tuple[float, float] | None = None,
                  goal: float | None = None, skip_missing: bool = False) -> Trend:
    """A line through `values` ({month: value}) for months 1..`months` (later months of the year are not
    drawn: they have not happened yet); a month without a value is drawn as 0, or left out with
    `skip_missing` (a ratio of a month without claims is no 0 %). The vertical scale runs from 0 to the
    largest of the values, `ceiling`, the band's top and the goal."""
    shown = [(month, float(values.get(month) or 0)) for month in MONTHS
             if month <= months and (month in values or not skip_missing)]
    top = max([v for _, v in shown] + [float(x) for x in (ceiling, goal) if x is not None]
              + ([float(band[1])] if band else []) + [0.0])
    span = HEIGHT - PAD_TOP - PAD_BOTTOM

    def y(value: float) -> float:
        return PAD_TOP + span * (1 - (value / top if top else 0))

    points = tuple(Point(month, _x(month), y(value), f"{month}月：{_number(value)}{unit}") for month, value in shown)
    band_box = (y(float(band[1])), y(float(band[0])) - y(float(band[1]))) if band else None
    return Trend(label, points, band_box, y(float(goal)) if goal is not None else None)


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def cumulative(values: dict[int, Decimal | int]) -> dict[int, Decimal | int]:
    """Running totals by month: what had accumulated by the end of each month."""
    total, out = 0, {}
    for month in MONTHS:
        total += values.get(month) or 0
        out[month] = total
    return out


@dataclass
class Tile:
    """One number of a role's dashboard: its value against its target, its parts and its trend by month."""

    key: str
    title: str
    value: str
    unit: str = ""
    target: str = ""
    state: str = ""  # "ok", "warn" or "bad": the value against its target
    parts: list[tuple[str, str]] = field(default_factory=list)
    chart: Trend | None = None
    url: str = ""


def percent(part, whole) -> Decimal | None:
    """part / whole in percent with two decimals (None when there is nothing to divide)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# What each role answers for this year (the home page shows these tiles, each also needing its permission).
ALL_TILES = ("enrolment_rate", "subsidy_paid", "oneshop_ratio", "low_self_pay", "matching_open", "fraud_hits",
             "money_recovered")
ROLE_TILES = {
    "township": ("enrolment_rate", "matching_open"),
    "county": ("enrolment_rate", "subsidy_paid", "oneshop_ratio", "low_self_pay", "matching_open"),
    "city": ("enrolment_rate", "subsidy_paid", "oneshop_ratio", "low_self_pay", "matching_open"),
    "supervisor": ("oneshop_ratio", "low_self_pay", "fraud_hits", "money_recovered"),
    "admin": ALL_TILES,
}


def shows_tile(user, key: str) -> bool:
    return key in (ALL_TILES if user.is_superuser else ROLE_TILES.get(user.role, ()))
