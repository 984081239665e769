"""Which COTAHIST files to download for a set of sessions, and where they go in the file store (pure).

A backfill of whole past months or years downloads the monthly (`COTAHIST_MMMYYYY.ZIP`) or yearly
(`COTAHIST_AYYYY.ZIP`) file once instead of one daily file per session; anything else uses daily files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from routines.calendar.core import Calendar
from routines.market.cotahist import daily_file_name, monthly_file_name, yearly_file_name

STORE_PREFIX = "market/b3"


@dataclass(frozen=True)
class PlannedFile:
    kind: str  # daily | monthly | yearly
    name: str  # file name on the B3 site
    days: tuple[date, ...]  # sessions loaded from it

    @property
    def key(self) -> str:
        """File store key: market/b3/YYYY/MM/DD/<name> (daily), market/b3/YYYY/MM/<name>, market/b3/YYYY/<name>."""
        first = self.days[0]
        if self.kind == "daily":
            return f"{STORE_PREFIX}/{first:%Y/%m/%d}/{self.name}"
        if self.kind == "monthly":
            return f"{STORE_PREFIX}/{first:%Y/%m}/{self.name}"
        return f"{STORE_PREFIX}/{first:%Y}/{self.name}"

    @property
    def expected_date(self) -> date | None:
        """The header date to check: a daily file's header carries its session."""
        return self.days[0] if self.kind == "daily" else None


def plan_downloads(days: list[date], calendar: Calendar, today: date) -> list[PlannedFile]:
    """Files covering `days`: yearly for whole past years, monthly for whole past months, else daily."""
    wanted = sorted(set(days))
    remaining = set(wanted)
    plan: list[PlannedFile] = []
    for year in sorted({d.year for d in wanted}):
        if year >= today.year:
            continue
        sessions = calendar.business_days_of_year(year)
        if sessions and set(sessions) <= remaining:
            plan.append(PlannedFile("yearly", yearly_file_name(year), tuple(sessions)))
            remaining -= set(sessions)
    for year, month in sorted({(d.year, d.month) for d in remaining}):
        if (year, month) >= (today.year, today.month):
            continue
        sessions = calendar.business_days_of_month(year, month)
        if sessions and set(sessions) <= remaining:
            plan.append(PlannedFile("monthly", monthly_file_name(year, month), tuple(sessions)))
            remaining -= set(sessions)
    plan.extend(PlannedFile("daily", daily_file_name(day), (day,)) for day in sorted(remaining))
    return sorted(plan, key=lambda p: p.days[0])


def check_cotahist(path, planned: PlannedFile, name: str | None = None):
    """Validate a downloaded COTAHIST file completely for `planned`: the rules of `CotahistReader` (the same the
    load applies), every planned session present. Raises InputFileError naming the line and field; returns its
    `CotahistSummary`."""
    from routines.market.cotahist import CotahistReader

    reader = CotahistReader(
        path,
        name=name or planned.name,
        expected_date=planned.expected_date,
        sessions=planned.days,
        chunk_records=16384,
    )
    for _ in reader:
        pass
    return reader.summary


def download_and_store(client, planned: PlannedFile, store):
    """Download `planned` from the B3 site, check it, store it under `planned.key` (only when valid).

    Returns (StoredFile, CotahistSummary, source URL). HTTP errors are raised as classified by
    `routines.http` (404 before publication and 5xx are retryable)."""
    import os

    url = client.url(planned.name)
    response = client.get(planned.name, stream=True)
    staging_key = f"{planned.key}.checking"
    try:
        staged = store.write_chunks(staging_key, response.iter_content(chunk_size=1 << 20))
    finally:
        response.close()
    try:
        summary = check_cotahist(staged.path, planned)
    except BaseException:
        staged.path.unlink(missing_ok=True)
        raise
    target = store.path(planned.key)
    os.replace(staged.path, target)
    from routines.files import StoredFile

    return StoredFile(target, planned.key, staged.size, staged.sha256), summary, url
