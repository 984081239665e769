"""The external folder (ROUTINES_CATALOG_DIR) read when the code location loads, `routines catalog validate`,
and the schema's errors naming file, routine and field."""

from __future__ import annotations

import textwrap

import dagster as dg
import pytest

from routines.catalog.cli import validate_paths
from routines.cli import main
from routines_tests.helpers import load_code_location

GOOD = """\
name: cdi_rates
calendar: B3
schedule: {type: daily, time: "09:15", business_days_late: 1}
owners: [mesa@example.com]
deadline: {time: "10:00", business_days_after: 1}
catch_up: {lookback_business_days: 3}
execution:
  type: download_file
  url: "https://example.com/cdi/{day:%Y%m%d}.txt"
"""

BAD = """\
name: broken_routine
schedule: {type: daily, time: "9h"}
execution:
  type: api_call
  url: "https://example.com/x"
"""


def _write(folder, name, content):
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(content), encoding="utf-8")


def _sensor_skip(defs: dg.Definitions) -> str:
    sensor = defs.resolve_sensor_def("routines_catalog_folder")
    with dg.build_sensor_context() as context:
        return sensor.evaluate_tick(context).skip_message


def test_invalid_external_file_leaves_the_rest_running_and_names_its_error(tmp_path, monkeypatch):
    folder = tmp_path / "catalog"
    _write(folder, "cdi.yaml", GOOD)
    _write(folder, "broken.yaml", BAD)
    monkeypatch.setenv("ROUTINES_CATALOG_DIR", str(folder))
    defs = load_code_location()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "catalog/cdi_rates" in keys and "catalog/ptax_usd_brl" in keys  # external + project routines
    assert "catalog/broken_routine" not in keys
    assert defs.resolve_schedule_def("catalog_cdi_rates_schedule") is not None
    skip = _sensor_skip(defs)
    assert (
        f"{folder / 'broken.yaml'}, routine broken_routine, field schedule.time: '9h' is not a time HH:MM"
        in skip
    )
    cdi = defs.resolve_assets_def(dg.AssetKey(["catalog", "cdi_rates"]))
    spec = next(s for s in cdi.specs if s.key == dg.AssetKey(["catalog", "cdi_rates"]))
    assert spec.metadata["routines/deadline"].value == {
        "calendar": "B3",
        "time": "10:00",
        "business_days_after": 1,
    }
    assert spec.tags["routines/catch_up_lookback"] == "3"
    assert spec.owners == ["mesa@example.com"]


def test_reload_picks_up_a_new_file(tmp_path, monkeypatch):
    folder = tmp_path / "catalog"
    _write(folder, "cdi.yaml", GOOD)
    monkeypatch.setenv("ROUTINES_CATALOG_DIR", str(folder))
    first = load_code_location()
    assert not first.resolve_asset_graph().has(dg.AssetKey(["catalog", "selic_rates"]))
    assert _sensor_skip(first).startswith("1 rotina(s) carregada(s)")
    _write(folder, "selic.yaml", GOOD.replace("cdi_rates", "selic_rates"))
    second = load_code_location()
    assert second.resolve_asset_graph().has(dg.AssetKey(["catalog", "selic_rates"]))
    assert _sensor_skip(second).startswith("2 rotina(s) carregada(s)")


def test_name_of_a_project_routine_and_unknown_upstream_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "catalog"
    _write(folder, "dup.yaml", GOOD.replace("cdi_rates", "ptax_usd_brl"))
    _write(
        folder,
        "after.yaml",
        """\
        name: needs_missing
        schedule: {type: after, upstream: [missing_routine]}
        execution: {type: python, callable: "routines.catalog.examples:ptax_monthly_average"}
        """,
    )
    monkeypatch.setenv("ROUTINES_CATALOG_DIR", str(folder))
    defs = load_code_location()
    skip = _sensor_skip(defs)
    assert "dup.yaml, routine ptax_usd_brl, field name: already declared in" in skip
    assert (
        "after.yaml, routine needs_missing, field upstream: no catalog routine named 'missing_routine'"
        in skip
    )


def test_cli_validate_exits_non_zero_naming_file_routine_and_field(tmp_path, capsys):
    folder = tmp_path / "catalog"
    _write(folder, "cdi.yaml", GOOD)
    _write(folder, "broken.yaml", BAD)
    _write(folder, "syntax.yaml", "name: [unclosed\n")
    assert main(["catalog", "validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert (
        f"{folder / 'broken.yaml'}, routine broken_routine, field schedule.time: '9h' is not a time HH:MM"
        in err
    )
    assert f"{folder / 'syntax.yaml'}: invalid YAML (line 2)" in err
    assert main(["catalog", "validate", str(folder / "cdi.yaml")]) == 0


def test_cli_validate_project_catalog_is_valid(capsys, monkeypatch):
    monkeypatch.delenv("ROUTINES_CATALOG_DIR", raising=False)
    assert main(["catalog", "validate"]) == 0
    assert "5 rotina(s) válida(s), 0 erro(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"deadline": {"time": "25:00"}}, "deadline.time", "'25:00' is not a time HH:MM"),
        (
            {"deadline": {"time": "10:00", "business_days_after": -1}},
            "deadline.business_days_after",
            "greater than or equal to 0",
        ),
        ({"catch_up": {"lookback_business_days": "x"}}, "catch_up.lookback_business_days", "valid integer"),
        ({"owners": ["nobody"]}, "owners", "expected an e-mail address or team:<name>"),
        ({"calendar": "NOPE"}, "calendar", "unknown calendar 'NOPE'"),
        (
            {"execution": {"type": "download_file", "url": "https://x/{dia}"}},
            "execution.url",
            "unknown placeholder {dia}",
        ),
        ({"schedule": {"type": "cron", "cron": "0 25 * * *"}}, "schedule.cron", "not a 5-field cron"),
        (
            {"schedule": {"type": "cyclic", "every_minutes": 10, "start": "18:00", "end": "09:00"}},
            "schedule",
            "end 09:00 is before start 18:00",
        ),
    ],
)
def test_schema_errors_name_the_field(tmp_path, change, field, message):
    import yaml

    data = yaml.safe_load(GOOD)
    data.update(change)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    valid, errors = validate_paths([tmp_path / "r.yaml"])
    assert valid == 0
    assert any(f"routine cdi_rates, field {field}: " in e and message in e for e in errors), errors


def test_folder_routines_run_alone_from_their_shared_job(tmp_path, monkeypatch, sqlite_db_url):
    folder = tmp_path / "catalog"
    for name in ("avg_one", "avg_two"):
        _write(
            folder,
            f"{name}.yaml",
            f"""\
            name: {name}
            schedule: {{type: daily, time: "07:00", business_days_late: 1}}
            execution: {{type: python, callable: "routines.catalog.examples:ptax_monthly_average"}}
            """,
        )
    monkeypatch.setenv("ROUTINES_CATALOG_DIR", str(folder))
    defs = load_code_location()
    schedule = defs.resolve_schedule_def("catalog_avg_two_schedule")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime(2025, 3, 5, 7, tzinfo=ZoneInfo("America/Sao_Paulo"))
    with dg.build_schedule_context(
        scheduled_execution_time=moment, repository_def=defs.get_repository_def()
    ) as ctx:
        request = schedule.evaluate_tick(ctx).run_requests[0]
    key = dg.AssetKey(["catalog", "avg_two"])
    assert request.partition_key == "2025-02-28" and request.asset_selection == [key]
    job = defs.resolve_job_def(schedule.job_name)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=request.partition_key, asset_selection=request.asset_selection
        )
    assert result.success
    materialized = [e.asset_key for e in result.get_asset_materialization_events()]
    assert materialized == [key]
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["month"].value == "2025-02" and metadata["quotes"].value == 0
