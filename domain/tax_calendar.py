"""Tax deadlines: federal holidays with their observed days, and the IRS rule for rolling a deadline.

IRC §7503: a deadline that falls on a Saturday, a Sunday or a "legal holiday" moves to the next day that is
none of these. Legal holidays are the federal holidays of 5 U.S.C. §6103 *and* holidays in the District of
Columbia, of which DC Emancipation Day (April 16) is the one that matters: in 2016, 2017, 2022 and 2023 it
pushed the April deadline. Its observed day is what counts (April 16 on a Saturday is observed Friday
April 15; on a Sunday, Monday April 17), so it is included here and only affects mid-April deadlines.

Observed rule for fixed-date holidays (5 U.S.C. §6103(b), Executive Order 11582): a Saturday holiday is
observed the Friday before, a Sunday holiday the Monday after. New Year's Day on a Saturday is therefore
observed on December 31 of the year before.

Statewide holidays of the state where a return is filed (e.g. Patriots' Day in Massachusetts and Maine)
also roll federal deadlines for residents of those states; that depends on the filer and is not modelled.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

SATURDAY, SUNDAY = 5, 6
MONDAY, THURSDAY = 0, 3
JUNETEENTH_FIRST_YEAR = 2021


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def observed(day: date) -> date:
    if day.weekday() == SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == SUNDAY:
        return day + timedelta(days=1)
    return day


def _fixed_holidays(year: int) -> list[tuple[date, str]]:
    days = [(date(year, 1, 1), "New Year's Day"), (date(year, 7, 4), "Independence Day"),
            (date(year, 11, 11), "Veterans Day"), (date(year, 12, 25), "Christmas Day"),
            (date(year, 4, 16), "DC Emancipation Day")]
    if year >= JUNETEENTH_FIRST_YEAR:
        days.append((date(year, 6, 19), "Juneteenth National Independence Day"))
    return days


@lru_cache(maxsize=256)
def legal_holidays(year: int) -> dict[date, str]:
    """Observed federal holidays (and DC Emancipation Day) falling in `year`."""
    holidays: dict[date, str] = {}
    # Next year's January 1 observed on December 31 belongs to this year.
    for actual, name in _fixed_holidays(year) + _fixed_holidays(year + 1)[:1]:
        day = observed(actual)
        if day.year == year:
            holidays[day] = name
    holidays[_nth_weekday(year, 1, MONDAY, 3)] = "Birthday of Martin Luther King, Jr."
    holidays[_nth_weekday(year, 2, MONDAY, 3)] = "Washington's Birthday"
    holidays[_last_weekday(year, 5, MONDAY)] = "Memorial Day"
    holidays[_nth_weekday(year, 9, MONDAY, 1)] = "Labor Day"
    holidays[_nth_weekday(year, 10, MONDAY, 2)] = "Columbus Day"
    holidays[_nth_weekday(year, 11, THURSDAY, 4)] = "Thanksgiving Day"
    return holidays


def is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY and day not in legal_holidays(day.year)


def roll_forward(day: date) -> date:
    """The deadline as the IRS applies it: `day`, or the next day that is not a weekend or legal holiday."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def estimated_tax_due_dates(tax_year: int) -> list[date]:
    """Form 1040-ES quarters: April 15, June 15, September 15 of the tax year and January 15 of the next,
    each rolled past weekends and legal holidays."""
    nominal = [date(tax_year, 4, 15), date(tax_year, 6, 15), date(tax_year, 9, 15), date(tax_year + 1, 1, 15)]
    return [roll_forward(day) for day in nominal]


def estimated_tax_due_window(tax_year: int) -> tuple[date, date]:
    """The dates a quarter of `tax_year` can be due on: January 1 of the tax year to December 31 of the next.
    The fourth quarter is due in January of the next year, and IRS disaster relief can postpone a deadline by
    months (Q4 2024 in Los Angeles County, due January 15, 2025: postponed to October 15, 2025)."""
    return date(tax_year, 1, 1), date(tax_year + 1, 12, 31)


def earliest_estimated_payment(tax_year: int) -> date:
    """January 1 of the year before the tax year: a payment can be made before its tax year begins (EFTPS
    schedules payments up to a year ahead), but not earlier than that."""
    return date(tax_year - 1, 1, 1)


# ---- return filing deadlines (returns, docs/tax_return.md) -------------------------------------------------

# Return type → (month, day) of the original due date in the year after the tax year (calendar-year filers).
ORIGINAL_DUE = {
    "1040": (4, 15), "1041": (4, 15), "706": (4, 15), "709": (4, 15),
    "1065": (3, 15), "1120S": (3, 15),
    "1120": (4, 15),
    "990": (5, 15),
}
# The one definition of the return types (Appendix A order; api/schemas/tax_return.py reads it).
RETURN_TYPES = ("1040", "1120", "1120S", "1065", "1041", "990", "706", "709")
assert set(RETURN_TYPES) == set(ORIGINAL_DUE), "every return type has its original due date"
# Every extension of these returns (Forms 4868, 7004, 8868, 8892 / 4768 with 709) runs six months.
EXTENSION_MONTHS = 6


def _unrolled_due(return_type: str, tax_year: int) -> date:
    month, day = ORIGINAL_DUE[return_type]
    return date(tax_year + 1, month, day)


def due_date(return_type: str, tax_year: int) -> date:
    return roll_forward(_unrolled_due(return_type, tax_year))


def extended_due_date(return_type: str, tax_year: int) -> date:
    """Six months after the unrolled original date (April 15 → October 15), rolled again."""
    original = _unrolled_due(return_type, tax_year)
    month = original.month + EXTENSION_MONTHS
    return roll_forward(original.replace(year=original.year + (month - 1) // 12, month=(month - 1) % 12 + 1))
