"""Each routine type ticked through Carnival 2025 (03/03 and 04/03 closed on ANBIMA/B3, Ash Wednesday 05/03
open) and a month-end, with explicit times: run requests and skip reasons."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from routines_tests.catalog.support import defs_of, demo_spec, spec

SP = ZoneInfo("America/Sao_Paulo")


def _tick(defs: dg.Definitions, name: str, moment: datetime):
    from routines.lib.resources import DatabaseResource, FileStoreResource

    schedule = next(s for s in defs.schedules if s.name == name)
    full = dg.Definitions.merge(
        defs, dg.Definitions(resources={"database": DatabaseResource(), "file_store": FileStoreResource()})
    )
    with dg.build_schedule_context(
        scheduled_execution_time=moment, repository_def=full.get_repository_def()
    ) as context:
        data = schedule.evaluate_tick(context)
    return data.run_requests or [], data.skip_message


def test_daily_d0_through_carnival():
    defs = defs_of(demo_spec("ptax_usd_brl"))
    name = "catalog_ptax_usd_brl_schedule"
    requests, _ = _tick(defs, name, datetime(2025, 2, 28, 13, 30, tzinfo=SP))
    assert [r.partition_key for r in requests] == ["2025-02-28"]
    assert requests[0].run_key == "2025-02-28"
    for day in (3, 4):
        requests, skip = _tick(defs, name, datetime(2025, 3, day, 13, 30, tzinfo=SP))
        assert requests == []
        assert skip == f"0{day}/03/2025 não é dia útil no calendário ANBIMA: Carnaval"
    requests, _ = _tick(defs, name, datetime(2025, 3, 5, 13, 30, tzinfo=SP))
    assert [r.partition_key for r in requests] == ["2025-03-05"]
    requests, skip = _tick(defs, name, datetime(2025, 3, 8, 13, 30, tzinfo=SP))
    assert skip == "08/03/2025 não é dia útil no calendário ANBIMA: sábado"


def test_daily_d_plus_1_after_carnival_is_for_the_friday_before():
    defs = defs_of(demo_spec("tesouro_direto_prices_download"))
    requests, _ = _tick(
        defs, "catalog_tesouro_direto_prices_download_schedule", datetime(2025, 3, 5, 8, tzinfo=SP)
    )
    assert [r.partition_key for r in requests] == ["2025-02-28"]
    requests, _ = _tick(
        defs, "catalog_tesouro_direto_prices_download_schedule", datetime(2025, 3, 6, 8, tzinfo=SP)
    )
    assert [r.partition_key for r in requests] == ["2025-03-05"]


def test_monthly_first_business_day_is_ash_wednesday():
    defs = defs_of(demo_spec("ptax_monthly_average"))
    name = "catalog_ptax_monthly_average_schedule"
    requests, skip = _tick(defs, name, datetime(2025, 3, 3, 9, tzinfo=SP))
    assert requests == []
    assert skip == (
        "03/03/2025 (Carnaval) não é o 1º dia útil do mês no calendário ANBIMA: o 1º dia útil de 03/2025 é 05/03/2025"
    )
    requests, _ = _tick(defs, name, datetime(2025, 3, 5, 9, tzinfo=SP))
    assert [r.partition_key for r in requests] == ["2025-02-01"]  # the month that closed


def test_monthly_last_business_day_at_month_end():
    routine = spec(
        {
            "name": "month_end_close",
            "calendar": "B3",
            "schedule": {"type": "monthly", "time": "18:00", "nth_business_day": -1},
            "execution": {"type": "python", "callable": "routines.catalog.examples:ptax_monthly_average"},
        }
    )
    defs = defs_of(routine)
    requests, skip = _tick(defs, "catalog_month_end_close_schedule", datetime(2025, 2, 27, 18, tzinfo=SP))
    assert skip.endswith("o último dia útil de 02/2025 é 28/02/2025")
    requests, _ = _tick(defs, "catalog_month_end_close_schedule", datetime(2025, 2, 28, 18, tzinfo=SP))
    assert len(requests) == 1 and requests[0].run_key == "2025-02-28"
    requests, skip = _tick(defs, "catalog_month_end_close_schedule", datetime(2025, 3, 31, 18, tzinfo=SP))
    assert len(requests) == 1  # 31/03/2025 is a Monday, the last business day of March


@pytest.mark.parametrize(
    ("group", "day", "runs", "reason"),
    [
        ("holidays", 3, True, None),
        (
            "holidays",
            5,
            False,
            "05/03/2025 (dia útil no calendário ANBIMA) não pertence ao grupo feriados do calendário ANBIMA",
        ),
        ("business_days", 4, False, "04/03/2025 não é dia útil no calendário ANBIMA: Carnaval"),
        ("business_days", 5, True, None),
        ("non_business_days", 4, True, None),
        (
            "weekends",
            4,
            False,
            "04/03/2025 (Carnaval) não pertence ao grupo fins de semana do calendário ANBIMA",
        ),
        ("weekends", 2, True, None),
        ("every_day", 4, True, None),
    ],
)
def test_cron_proposes_day_group_decides(group, day, runs, reason):
    routine = spec(
        {
            "name": "cron_routine",
            "schedule": {"type": "cron", "cron": "15 7 * * *", "day_group": group},
            "execution": {"type": "python", "callable": "routines.catalog.examples:ptax_monthly_average"},
        }
    )
    defs = defs_of(routine)
    assert next(s for s in defs.schedules).cron_schedule == "15 7 * * *"
    requests, skip = _tick(defs, "catalog_cron_routine_schedule", datetime(2025, 3, day, 7, 15, tzinfo=SP))
    if runs:
        assert requests[0].run_key == f"cron_routine:2025-03-0{day}T07:15"
        assert requests[0].tags["routines/business_day"] == f"2025-03-0{day}"
    else:
        assert requests == [] and skip == reason


def test_cyclic_one_run_key_per_slot():
    defs = defs_of(demo_spec("ptax_usd_intraday"))
    name = "catalog_ptax_usd_intraday_schedule"
    schedule = next(s for s in defs.schedules if s.name == name)
    assert schedule.cron_schedule == "0-59/30 10-13 * * *"
    assert _tick(defs, name, datetime(2025, 3, 4, 10, tzinfo=SP))[1] == (
        "04/03/2025 não é dia útil no calendário ANBIMA: Carnaval"
    )
    keys = []
    for hour, minute in ((10, 0), (10, 30), (13, 0), (13, 30)):
        requests, _ = _tick(defs, name, datetime(2025, 3, 5, hour, minute, tzinfo=SP))
        keys.append(requests[0].run_key)
    assert keys == [f"ptax_usd_intraday:2025-03-05T{t}" for t in ("10:00", "10:30", "13:00", "13:30")]
    assert (
        _tick(defs, name, datetime(2025, 3, 5, 13, 59, tzinfo=SP))[1]
        == "13:59 fora da janela 10:00-13:30 de 05/03/2025"
    )
    assert (
        _tick(defs, name, datetime(2025, 3, 5, 10, 15, tzinfo=SP))[1]
        == "10:15 não é um horário do ciclo de 30 min"
    )


def test_after_waits_for_the_upstream_partition_of_the_same_day(sqlite_db_url, tmp_path, monkeypatch):
    from routines_tests.catalog.servers import serve_open_data
    from routines_tests.catalog.support import assets_of, resources

    defs = dg.Definitions.merge(
        defs_of(demo_spec("tesouro_direto_prices_download"), demo_spec("tesouro_direto_prices")),
        dg.Definitions(resources=resources(sqlite_db_url, tmp_path / "s")),
    )
    load_key = dg.AssetKey(["catalog", "tesouro_direto_prices"])
    # its own automation sensor, in the state of the routine's `enabled` (Dagster's default one starts stopped)
    sensor = defs.get_repository_def().get_sensor_def("catalog_tesouro_direto_prices_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING  # enabled: follows its download's runs
    assert sensor.asset_selection.resolve(defs.resolve_asset_graph()) == {load_key}
    now = datetime(2025, 3, 6, 9, tzinfo=SP)
    with dg.instance_for_test() as instance:
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
        assert result.total_requested == 0  # upstream not materialized: waits
        with serve_open_data() as (base_url, _):
            monkeypatch.setenv("ROUTINES_TESOURO_TRANSPARENTE_URL", base_url)
            download = [
                a
                for a in assets_of(defs)
                if dg.AssetKey(["catalog", "tesouro_direto_prices_download"]) in a.keys
            ]
            assert dg.materialize(
                download,
                resources=resources(sqlite_db_url, tmp_path / "s"),
                instance=instance,
                partition_key="2025-03-05",
            ).success
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=now, cursor=result.cursor
        )
        assert result.get_requested_partitions(load_key) == {"2025-03-05"}
