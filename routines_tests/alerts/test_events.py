"""`alert_events_sensor` in real ticks: an asset check of severity ERROR that failed is alerted (a WARN one is
not), a schedule/sensor tick that errored (as the daemon records it in the instance's tick history) is alerted,
each once, with pt-BR bodies on the loopback Slack/Teams/SMTP servers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg

from routines.defs.alerts.events import build_alert_events_sensor
from routines.lib.resources import DatabaseResource


@dg.asset(
    group_name="market",
    check_specs=[
        dg.AssetCheckSpec("unique_key", asset="prices"),
        dg.AssetCheckSpec("row_drop", asset="prices"),
    ],
)
def prices() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(check_name="unique_key", passed=False, description="3 chaves repetidas"),
            dg.AssetCheckResult(check_name="row_drop", passed=False, severity=dg.AssetCheckSeverity.WARN),
        ]
    )


def record_failed_tick(instance, name: str, message: str) -> None:
    """What the daemon writes when a sensor's evaluation raises: its state and a FAILURE tick."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        SensorInstigatorData,
        TickData,
        TickStatus,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster_shared.error import SerializableErrorInfo

    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__))
    origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(location, "__repository__"), name)
    state = InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING, SensorInstigatorData())
    instance.add_instigator_state(state)
    instance.create_tick(
        TickData(
            instigator_origin_id=origin.get_id(),
            instigator_name=name,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.FAILURE,
            timestamp=time.time(),
            error=SerializableErrorInfo(message, [], "ConnectionError"),
            selector_id=state.selector_id,
        )
    )


def test_failed_error_checks_and_ticks_are_alerted_once(db_url, channels):
    sensor = build_alert_events_sensor(clock=lambda: datetime.now(UTC))
    defs = dg.Definitions(assets=[prices], sensors=[sensor])

    def tick(instance, cursor):
        with dg.build_sensor_context(
            instance=instance,
            repository_def=defs.get_repository_def(),
            cursor=cursor,
            resources={"database": DatabaseResource(url=db_url)},
        ) as context:
            sensor(context)
            return context.cursor

    with dg.instance_for_test() as instance:
        dg.materialize([prices], instance=instance)  # before the first tick: the past is not alerted
        cursor = tick(instance, None)
        assert channels.server.posts == []
        dg.materialize([prices], instance=instance)
        record_failed_tick(instance, "b3_publication_sensor", "ConnectionError: B3 fora do ar\n")
        cursor = tick(instance, cursor)
        cursor = tick(instance, cursor)  # nothing new: nothing sent twice

    texts = channels.slack_texts()
    assert len(texts) == 2
    assert texts[0].startswith("*[Verificação com erro] prices*")
    assert "Motivo: a verificação unique_key falhou (severidade ERROR): 3 chaves repetidas" in texts[0]
    assert "Execução no Dagster: http://dagster.example:3000/runs/" in texts[0]
    assert texts[1].startswith("*[Erro no tick] b3_publication_sensor*")
    assert "o tick do sensor b3_publication_sensor falhou: ConnectionError: B3 fora do ar" in texts[1]
    assert len(channels.teams_texts()) == 2
    assert [m.message["Subject"] for m in channels.smtp.messages] == [
        "[Verificação com erro] prices",
        "[Erro no tick] b3_publication_sensor",
    ]
