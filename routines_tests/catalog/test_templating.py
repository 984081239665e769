"""URL/file name templates: days of the routine's calendar, environment variables."""

from __future__ import annotations

from datetime import date

import pytest

from routines.calendar.registry import get_calendar
from routines.catalog.templating import check_template, render, render_body, render_env
from routines.errors import UserError


def test_days_around_carnival():
    anbima = get_calendar("ANBIMA")
    text = render(
        "{day:%d%m%Y}/{previous_business_day}/{next_business_day:%d-%m}/{month_end:%d}/{{x}}",
        date(2025, 3, 5),
        anbima,
    )
    assert text == "05032025/2025-02-28/06-03/31/{x}"
    assert render("{previous_business_day:%d/%m}", date(2025, 3, 4), anbima) == "28/02"
    assert render_body({"d": ["{day:%m-%d-%Y}", 1]}, date(2025, 3, 6)) == {"d": ["03-06-2025", 1]}


def test_unknown_placeholder_is_refused():
    with pytest.raises(ValueError, match=r"unknown placeholder \{dia\}"):
        check_template("https://x/{dia:%Y}")


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("CATALOG_TOKEN", "s3cr3t")
    assert render_env("Bearer ${CATALOG_TOKEN}") == "Bearer s3cr3t"
    monkeypatch.delenv("MIRROR", raising=False)
    assert render_env("${MIRROR:-https://olinda.bcb.gov.br}/x") == "https://olinda.bcb.gov.br/x"
    monkeypatch.setenv("MIRROR", "http://127.0.0.1:1")
    assert render_env("${MIRROR:-https://olinda.bcb.gov.br}/x") == "http://127.0.0.1:1/x"
    monkeypatch.delenv("CATALOG_TOKEN")
    with pytest.raises(
        UserError, match="routine r, header Authorization: environment variable CATALOG_TOKEN is not set"
    ):
        render_env("Bearer ${CATALOG_TOKEN}", "routine r, header Authorization")


def test_download_content_checks():
    import io
    import zipfile

    from routines.catalog.runner import check_content
    from routines.catalog.schema import Checks
    from routines.errors import InputFileError

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("COTAHIST_D05032025.TXT", "00COTAHIST.2025BOVESPA 20250305\n")
    data = buffer.getvalue()
    check_content(data, Checks(zip_member="COTAHIST_D*.TXT"), "u")
    with pytest.raises(InputFileError, match=r"u, field checks.zip_member: ZIP has no member 'OTHER\*'"):
        check_content(data, Checks(zip_member="OTHER*"), "u")
    with pytest.raises(InputFileError, match="field checks.not_html: got an HTML page"):
        check_content(b"  <HTML><body>404</body></html>", Checks(), "u")
    with pytest.raises(InputFileError, match="field checks.non_empty: empty file"):
        check_content(b" \n", Checks(), "u")
    with pytest.raises(InputFileError, match="field checks.min_size: 3 bytes, less than the minimum 100"):
        check_content(b"a;b", Checks(min_size=100), "u")
