"""Small inboxes with every difference M01–M07 planted, shared by the matching tests (unit, Celery, browser).
The planting itself is the demo's (claims.demo_pages), so the demo inbox of `make run` is this one."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from claims.demo_pages import (  # noqa: F401 — re-exported for the matching tests
    HEADERS,
    Planted,
    id_for,
    one_digit_typo,
    plant_every_difference,
    write_list,
)
from tests.conftest import VILLAGE_A, VILLAGE_B

RUN_DATE = dt.date(2024, 6, 15)


def plant_everything(inbox: Path) -> Planted:
    """Ledger persons, enrolments and five department lists with each of M01–M07 planted once or twice."""
    return plant_every_difference(inbox, RUN_DATE, village_a=VILLAGE_A, village_b=VILLAGE_B)
