"""Each execution type materialized against loopback servers, on SQLite and PostgreSQL (`db_url`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import create_engine, text

from routines_tests.catalog.servers import TESOURO_ROWS, serve_open_data, tesouro_csv
from routines_tests.catalog.support import assets_of, defs_of, demo_spec, resources, spec


def _rows(db_url: str, sql: str) -> list[tuple]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(sql)).all()]
    finally:
        engine.dispose()


def _materialize(defs, db_url, store, instance, **kwargs):
    return dg.materialize(
        assets_of(defs), resources=resources(db_url, store), instance=instance, raise_on_error=False, **kwargs
    )


def test_ptax_api_call_loads_the_day_and_replaces_it(db_url, tmp_path, monkeypatch):
    with serve_open_data() as (base_url, server), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_BCB_OLINDA_URL", base_url)
        defs = defs_of(demo_spec("ptax_usd_brl"))
        result = _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-03-06")
        assert result.success
        assert "@dataCotacao='03-06-2025'&$format=json" in server.requests[-1]
        rows = _rows(
            db_url,
            "select cotacao_compra, cotacao_venda, data_hora_cotacao, reference_date from ptax_usd_brl",
        )
        assert len(rows) == 1
        buy, sell, moment, day = rows[0]
        assert Decimal(str(buy)) == Decimal("5.7615") and Decimal(str(sell)) == Decimal("5.7621")
        assert str(moment).startswith("2025-03-06 13:04:26.457")
        assert str(day)[:10] == "2025-03-06"
        materialization = result.asset_materializations_for_node("catalog__ptax_usd_brl")[0]
        assert materialization.metadata["dagster/row_count"].value == 1
        assert len(materialization.metadata["sha256"].value) == 64
        assert "5.7621" in materialization.metadata["preview"].value
        # the same partition again: replaced, not doubled
        assert _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-03-06").success
        assert _rows(db_url, "select count(*) from ptax_usd_brl") == [(1,)]
        assert _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-03-05").success
        assert _rows(db_url, "select count(*) from ptax_usd_brl") == [(2,)]


def test_tesouro_download_then_load_of_the_same_day(db_url, tmp_path, monkeypatch):
    with serve_open_data() as (base_url, _server), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_TESOURO_TRANSPARENTE_URL", base_url)
        defs = defs_of(demo_spec("tesouro_direto_prices_download"), demo_spec("tesouro_direto_prices"))
        result = _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-02-28")
        assert result.success
        stored = (
            tmp_path
            / "store"
            / "catalog/tesouro_direto_prices_download/2025/02/28/PrecoTaxaTesouroDireto_20250228.csv"
        )
        assert stored.read_bytes() == tesouro_csv()
        rows = _rows(
            db_url,
            "select tipo_titulo, data_vencimento, data_base, taxa_compra_manha, pu_base_manha "
            "from tesouro_direto_prices order by tipo_titulo",
        )
        assert len(rows) == 3  # only the rows of 28/02 (the file holds the whole history)
        assert rows[2][0] == "Tesouro Selic" and str(rows[2][1])[:10] == "2027-03-01"
        assert str(rows[2][2])[:10] == "2025-02-28"
        assert Decimal(str(rows[2][3])) == Decimal("0.0522") and Decimal(str(rows[2][4])) == Decimal(
            "15903.56"
        )
        load = result.asset_materializations_for_node("catalog__tesouro_direto_prices")[0]
        assert load.metadata["rows_of_other_days"].value == 3


def test_invalid_file_writes_nothing_and_names_line_and_column(db_url, tmp_path, monkeypatch):
    bad = [*TESOURO_ROWS, "Tesouro Selic;01/03/2027;28/02/2025;0,05x2;0,0622;15922,15;15914,63;15903,56"]
    with serve_open_data() as (base_url, server), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_TESOURO_TRANSPARENTE_URL", base_url)
        defs = defs_of(demo_spec("tesouro_direto_prices_download"), demo_spec("tesouro_direto_prices"))
        assert _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-02-28").success
        before = _rows(db_url, "select * from tesouro_direto_prices order by tipo_titulo")
        server.tesouro = tesouro_csv(bad)
        result = _materialize(defs, db_url, tmp_path / "store", instance, partition_key="2025-02-28")
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.message
        assert "line 8, field taxa_compra_manha: '0,05x2' is not a decimal number" in message
        # the day's rows are still the previous load's: nothing deleted, nothing half-written
        assert _rows(db_url, "select * from tesouro_direto_prices order by tipo_titulo") == before
        assert len(before) == 3


def test_html_error_page_is_refused_and_other_4xx_is_fatal(sqlite_db_url, tmp_path, monkeypatch):
    with serve_open_data(tesouro=403) as (base_url, server), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_TESOURO_TRANSPARENTE_URL", base_url)
        defs = defs_of(demo_spec("tesouro_direto_prices_download"))
        result = _materialize(defs, sqlite_db_url, tmp_path / "store", instance, partition_key="2025-02-28")
        assert not result.success and len(server.requests) == 1  # fatal: not retried
        server.tesouro = b"<!DOCTYPE html><html><body>Manutencao</body></html>"
        result = _materialize(defs, sqlite_db_url, tmp_path / "store", instance, partition_key="2025-02-28")
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert "HTML page" in failure.step_failure_data.error.message


def test_declared_change_is_refused(db_url, tmp_path, monkeypatch):
    with serve_open_data() as (base_url, _), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_BCB_OLINDA_URL", base_url)
        original = demo_spec("ptax_usd_brl")
        assert _materialize(
            defs_of(original), db_url, tmp_path / "s", instance, partition_key="2025-03-06"
        ).success
        data = original.model_dump(mode="json")
        data["execution"]["table"]["columns"][0]["scale"] = 6
        changed = spec(data)
        result = _materialize(defs_of(changed), db_url, tmp_path / "s", instance, partition_key="2025-03-05")
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.message
        assert "table ptax_usd_brl does not match" in message
        assert (
            "cotacao_compra: table has cotacao_compra decimal(12,4), routine declares cotacao_compra decimal(12,6)"
            in message
        )
        assert _rows(db_url, "select count(*) from ptax_usd_brl") == [(1,)]


def _upsert_spec(partitioned: bool = True) -> dict:
    return {
        "name": "fund_quotas",
        "calendar": "ANBIMA",
        "schedule": {"type": "eventual"}
        if not partitioned
        else {"type": "daily", "time": "10:00", "business_days_late": 1},
        "execution": {
            "type": "load_file",
            "source": {"path": "{day:%Y%m%d}.txt"},
            "format": {
                "kind": "fixed_width",
                "encoding": "latin-1",
                "decimal_comma": True,
                "skip_prefixes": ["00", "99"],
            },
            "table": {
                "name": "fund_quotas",
                "key": ["cnpj", "quota_date"],
                "columns": [
                    {"name": "cnpj", "type": "text", "start": 3, "width": 14},
                    {"name": "quota_date", "type": "date", "format": "%d%m%Y", "start": 17, "width": 8},
                    {
                        "name": "quota",
                        "type": "decimal",
                        "precision": 18,
                        "scale": 8,
                        "start": 25,
                        "width": 16,
                    },
                    {"name": "holders", "type": "integer", "start": 41, "width": 6},
                ],
            },
        },
    }


def _quota(cnpj: str, quota: str, holders: int, day: str = "28022025") -> str:
    return f"01{cnpj}{day}{quota:>16}{holders:>6}"


def test_fixed_width_upsert_on_key(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    routine = spec(_upsert_spec())
    lines = [
        "00HEADER COTAS",
        _quota("12345678000190", "1,23456789", 123),
        _quota("98765432000199", "10,0", 7),
        "99TRAILER",
    ]
    (tmp_path / "20250228.txt").write_text("\n".join(lines) + "\n", encoding="latin-1")
    with dg.instance_for_test() as instance:
        defs = defs_of(routine)
        assert _materialize(defs, db_url, tmp_path / "s", instance, partition_key="2025-02-28").success
        lines[1] = _quota("12345678000190", "1,30000000", 124)
        (tmp_path / "20250228.txt").write_text("\n".join(lines) + "\n", encoding="latin-1")
        assert _materialize(defs, db_url, tmp_path / "s", instance, partition_key="2025-02-28").success
    rows = _rows(db_url, "select cnpj, quota, holders from fund_quotas order by cnpj")
    assert [(r[0], Decimal(str(r[1])), r[2]) for r in rows] == [
        ("12345678000190", Decimal("1.3"), 124),
        ("98765432000199", Decimal("10"), 7),
    ]


def test_python_routine_gets_day_params_and_resources(db_url, tmp_path, monkeypatch):
    with serve_open_data() as (base_url, _), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_BCB_OLINDA_URL", base_url)
        ptax = defs_of(demo_spec("ptax_usd_brl"))
        for day in ("2025-02-27", "2025-02-28"):
            assert _materialize(ptax, db_url, tmp_path / "s", instance, partition_key=day).success
        result = _materialize(
            defs_of(demo_spec("ptax_monthly_average")),
            db_url,
            tmp_path / "s",
            instance,
            partition_key="2025-02-01",
        )
    assert result.success
    metadata = result.asset_materializations_for_node("catalog__ptax_monthly_average")[0].metadata
    assert metadata["month"].value == "2025-02"
    assert metadata["quotes"].value == 2
    assert metadata["average_sell"].value == str(
        ((Decimal("5.8189") + Decimal("5.8985")) / 2).quantize(Decimal("0.0001"))
    )
    assert metadata["missing_days"].value == 18  # 20 business days in Feb 2025 (ANBIMA), 2 quoted


def test_cyclic_api_call_stores_each_slot_response(sqlite_db_url, tmp_path, monkeypatch):
    with serve_open_data() as (base_url, server), dg.instance_for_test() as instance:
        monkeypatch.setenv("ROUTINES_BCB_OLINDA_URL", base_url)
        defs = defs_of(demo_spec("ptax_usd_intraday"))
        result = dg.materialize(
            assets_of(defs),
            resources=resources(sqlite_db_url, tmp_path / "s"),
            instance=instance,
            tags={"routines/business_day": "2025-03-05"},
        )
        assert result.success
        assert "@moeda='USD'&@dataCotacao='03-05-2025'" in server.requests[-1]
    stored = tmp_path / "s" / "catalog/ptax_usd_intraday/2025/03/05/response.json"
    assert '"tipoBoletim": "Fechamento"' in stored.read_text()


@pytest.mark.parametrize("content_ok", [True, False])
def test_eventual_file_arrival_processed_or_rejected(sqlite_db_url, tmp_path, content_ok):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = _upsert_spec(partitioned=False)
    data["schedule"] = {"type": "eventual", "watch": {"folder": str(inbox), "pattern": "COTAS_*.txt"}}
    del data["execution"]["source"]
    routine = spec(data)
    defs = defs_of(routine)
    line = (
        _quota("12345678000190", "1,23456789", 123)
        if content_ok
        else _quota("12345678000190", "1,2", 1, "XX022025")
    )
    (inbox / "COTAS_1.txt").write_text(line + "\n", encoding="latin-1")
    (inbox / "ignored.csv").write_text("x")
    sensor = next(s for s in defs.sensors if s.name == "catalog_fund_quotas_sensor")
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            requests = sensor.evaluate_tick(context).run_requests
        assert len(requests) == 1
        import hashlib

        digest = hashlib.sha256((line + "\n").encode("latin-1")).hexdigest()
        assert requests[0].run_key == f"fund_quotas:{digest}"
        result = dg.materialize(
            assets_of(defs),
            resources=resources(sqlite_db_url, tmp_path / "s"),
            instance=instance,
            tags={**requests[0].tags, "dagster/run_key": requests[0].run_key},  # as the daemon launches it
            raise_on_error=False,
        )
        assert result.success is content_ok
        assert not (inbox / "COTAS_1.txt").exists()
        if content_ok:
            assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["COTAS_1.txt"]
            assert _rows(sqlite_db_url, "select count(*) from fund_quotas") == [(1,)]
            # the same content dropped again: set aside in duplicates/ with a note, never loaded twice
            (inbox / "COTAS_1.txt").write_text(line + "\n", encoding="latin-1")
            with dg.build_sensor_context(instance=instance) as context:
                skipped = sensor.evaluate_tick(context)
            assert skipped.run_requests == [] and "já carregado" in skipped.skip_message
            assert not (inbox / "COTAS_1.txt").exists()
            note = (inbox / "duplicates" / "COTAS_1.txt.note.txt").read_text()
            assert f"conteúdo idêntico ao já carregado pela execução {result.run_id}" in note
            assert _rows(sqlite_db_url, "select count(*) from fund_quotas") == [(1,)]
        else:
            rejected = sorted(p.name for p in (inbox / "rejected").iterdir())
            assert rejected == ["COTAS_1.txt", "COTAS_1.txt.error.txt"]
            error = (inbox / "rejected" / "COTAS_1.txt.error.txt").read_text()
            assert error.startswith("COTAS_1.txt: ") and "line 1" in error, error


def test_deadline_owners_and_catch_up_are_on_the_asset():
    defs = defs_of(demo_spec("ptax_usd_brl"))
    asset = assets_of(defs)[0]
    key = dg.AssetKey(["catalog", "ptax_usd_brl"])
    spec_ = next(s for s in asset.specs if s.key == key)
    assert spec_.metadata["routines/deadline"].value == {
        "calendar": "ANBIMA",
        "time": "14:30",
        "business_days_after": 0,
    }
    assert spec_.tags["routines/catch_up_lookback"] == "5"
    assert spec_.owners == ["team:tesouraria"]
    assert datetime and date  # imported for the other tests
