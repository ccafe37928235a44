"""Federal filing deadlines: original due dates per return type, extensions, and the weekend/holiday roll.

IRC §7503: a deadline that falls on a Saturday, Sunday or legal holiday moves to the next business day.
"Legal holiday" includes the federal holidays *and* DC Emancipation Day (April 16), which is why the 2022
individual deadline was Monday April 18 (Emancipation Day was observed on Friday April 15).
"""

from __future__ import annotations

from datetime import date, timedelta

# Return type → (month, day) of the original due date in the year after the tax year (calendar-year filers).
ORIGINAL_DUE = {
    "1040": (4, 15), "1041": (4, 15), "706": (4, 15), "709": (4, 15),
    "1065": (3, 15), "1120S": (3, 15),
    "1120": (4, 15),
    "990": (5, 15),
}
RETURN_TYPES = frozenset(ORIGINAL_DUE)
# Every extension of these returns (Forms 4868, 7004, 8868, 8892 / 4768 with 709) runs six months.
EXTENSION_MONTHS = 6


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A fixed-date holiday on a Saturday is observed on the Friday before, on a Sunday the Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def legal_holidays(year: int) -> frozenset[date]:
    mon, thu = 0, 3
    fixed = [date(year, 1, 1), date(year, 4, 16), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2021:
        fixed.append(date(year, 6, 19))  # Juneteenth
    days = {_observed(d) for d in fixed}
    # New Year's Day of the next year observed on Dec 31 of this one.
    days.add(_observed(date(year + 1, 1, 1)))
    days |= {
        _nth_weekday(year, 1, mon, 3),   # Martin Luther King Jr. Day
        _nth_weekday(year, 2, mon, 3),   # Washington's Birthday
        _last_weekday(year, 5, mon),     # Memorial Day
        _nth_weekday(year, 9, mon, 1),   # Labor Day
        _nth_weekday(year, 10, mon, 2),  # Columbus Day
        _nth_weekday(year, 11, thu, 4),  # Thanksgiving
    }
    return frozenset(d for d in days if d.year == year)


def next_business_day(day: date) -> date:
    """`day` itself if it is a business day, else the first business day after it."""
    while day.weekday() >= 5 or day in legal_holidays(day.year):
        day += timedelta(days=1)
    return day


def _unrolled_due(return_type: str, tax_year: int) -> date:
    month, day = ORIGINAL_DUE[return_type]
    return date(tax_year + 1, month, day)


def due_date(return_type: str, tax_year: int) -> date:
    return next_business_day(_unrolled_due(return_type, tax_year))


def extended_due_date(return_type: str, tax_year: int) -> date:
    """Six months after the unrolled original date (April 15 → October 15), rolled again."""
    original = _unrolled_due(return_type, tax_year)
    month = original.month + EXTENSION_MONTHS
    return next_business_day(original.replace(year=original.year + (month - 1) // 12, month=(month - 1) % 12 + 1))
