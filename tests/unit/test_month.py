"""The one calendar-month type the monthly pack and its queries share."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.errors import ConfigError
from schemas.month import Month


def test_parse_bounds_previous_and_label() -> None:
    march = Month.parse("2026-03")
    assert (march.start, march.end) == (date(2026, 3, 1), date(2026, 4, 1))
    assert march.previous == Month(date(2026, 2, 1), date(2026, 3, 1))
    assert march.label == "March 2026"
    december = Month.parse("2025-12")
    assert december.end == date(2026, 1, 1) and Month.parse("2026-01").previous == december
    assert Month.containing(date(2024, 2, 29)) == Month.parse("2024-02")


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "March", "", "2026-03-01"])
def test_anything_but_year_month_is_a_config_error_naming_it(text: str) -> None:
    with pytest.raises(ConfigError, match="expected YYYY-MM") as refused:
        Month.parse(text)
    assert repr(text) in str(refused.value)
