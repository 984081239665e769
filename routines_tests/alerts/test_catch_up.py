"""The catch-up sensor in real ticks at explicit times: it requests exactly the missing B3 sessions of the
lookback (never Carnival, never the day whose data cannot exist yet, never a running or failed one), the
upstream file with them when it is missing too, bounded per tick and by the pool."""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from routines.alerts.deadlines import TIMEZONE
from routines.defs.alerts.catch_up import build_catch_up_sensor, catch_up_definitions, catch_up_jobs
from routines.lib.partitions import business_day_partitions

DAYS = business_day_partitions("B3", "2025-02-17", end_date="2025-04-10")
BAD_DAY = "2025-02-26"


@dg.asset(partitions_def=DAYS, pool="b3")
def daily_file() -> None:
    return None


@dg.asset(
    partitions_def=DAYS,
    deps=[daily_file],
    pool="b3",
    metadata={"routines/deadline": {"calendar": "B3", "time": "20:00", "business_days_after": 0}},
    tags={"routines/catch_up_lookback": "7"},
)
def daily_quotes(context) -> None:
    if context.partition_key == BAD_DAY:
        raise dg.Failure("arquivo inválido: linha 12, campo PREULT", allow_retries=False)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TIMEZONE)


def tick(instance, defs, sensor):
    with dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def()) as context:
        result = sensor(context)
    return result if isinstance(result, list) else []


def test_catch_up_requests_exactly_the_missing_days(monkeypatch):
    base = dg.Definitions(assets=[daily_file, daily_quotes])
    assert catch_up_definitions(dg.Definitions(assets=[daily_file])).sensors is None or not list(
        catch_up_definitions(dg.Definitions(assets=[daily_file])).sensors
    )
    jobs = catch_up_jobs(base)
    moment = {"now": at("2025-03-06T19:00")}
    sensor = build_catch_up_sensor(jobs, clock=lambda: moment["now"])
    defs = dg.Definitions(assets=[daily_file, daily_quotes], jobs=list(jobs.values()), sensors=[sensor])
    with dg.instance_for_test() as instance:
        for day in ("2025-02-25", "2025-02-27"):
            assert dg.materialize([daily_file, daily_quotes], instance=instance, partition_key=day).success
        assert dg.materialize([daily_file], instance=instance, partition_key="2025-03-05").success
        bad = dg.materialize([daily_file, daily_quotes], instance=instance, partition_key=BAD_DAY,
                             raise_on_error=False)  # fmt: skip
        assert not bad.success
        # a run for 28/02 queued, not finished
        job = defs.resolve_job_def(jobs[dg.AssetKey("daily_quotes")].name)
        instance.create_run_for_job(
            job_def=job,
            tags={"dagster/partition": "2025-02-28"},
            asset_selection=frozenset({dg.AssetKey("daily_quotes")}),
        )

        # 06/03 19:00: lookback 7 B3 days = 24/02..06/03 (03/03 and 04/03 closed)
        requests = tick(instance, defs, sensor)
        requested = {r.partition_key: sorted(k.to_user_string() for k in r.asset_selection) for r in requests}
        assert requested == {
            "2025-02-24": ["daily_file", "daily_quotes"],
            "2025-03-05": ["daily_quotes"],  # its file is there already
        }  # 25 and 27 done, 26 failed on bad input, 28 running, 06/03 not due before 20:00
        assert all(
            r.job_name == "catch_up_daily_quotes" and r.tags["routines/catch_up"] == "true" for r in requests
        )
        assert {r.run_key for r in requests} == {
            "catch_up:daily_quotes:2025-02-24",
            "catch_up:daily_quotes:2025-03-05",
        }

        moment["now"] = at("2025-03-06T20:30")  # now 06/03 is due too; bounded per tick
        monkeypatch.setenv("ROUTINES_CATCH_UP_MAX_PER_TICK", "2")
        requests = tick(instance, defs, sensor)
        assert [r.partition_key for r in requests] == ["2025-02-24", "2025-03-05"]
        monkeypatch.setenv("ROUTINES_CATCH_UP_MAX_PER_TICK", "10")
        instance.event_log_storage.set_concurrency_slots("b3", 1)  # the pool bounds a tick too
        requests = tick(instance, defs, sensor)
        assert [r.partition_key for r in requests] == ["2025-02-24"]
