"""The pure state machine of invoice processes."""

from __future__ import annotations

import pytest

from routines.invoices import status as sm
from routines.invoices.status import IllegalTransition, Status


def test_the_main_flow_is_allowed():
    flow = [
        Status.AGUARDANDO_DOWNLOAD,
        Status.AGUARDANDO_APROVACAO,
        Status.AGUARDANDO_ENVIO_SAT,
        Status.UPLOAD_REALIZADO,
    ]
    for current, target in zip(flow, flow[1:], strict=False):
        assert sm.check(current, target) == target
    assert sm.TRANSITIONS[Status.UPLOAD_REALIZADO] == frozenset()  # the end: nothing follows


@pytest.mark.parametrize(
    "current,target",
    [
        ("AGUARDANDO_DOWNLOAD", "FALHA_DOWNLOAD"),
        ("FALHA_DOWNLOAD", "AGUARDANDO_DOWNLOAD"),
        ("AGUARDANDO_APROVACAO", "REJEITADO"),
        ("REJEITADO", "AGUARDANDO_DOWNLOAD"),
        ("AGUARDANDO_ENVIO_SAT", "FALHA_ENVIO_SAT"),
        ("FALHA_ENVIO_SAT", "AGUARDANDO_ENVIO_SAT"),
    ],
)
def test_failure_and_retry_paths(current, target):
    assert sm.check(current, target) == Status(target)


@pytest.mark.parametrize(
    "current,target",
    [
        ("AGUARDANDO_DOWNLOAD", "AGUARDANDO_ENVIO_SAT"),  # no approval skipped
        ("AGUARDANDO_DOWNLOAD", "UPLOAD_REALIZADO"),
        ("AGUARDANDO_APROVACAO", "AGUARDANDO_DOWNLOAD"),  # never backwards
        ("REJEITADO", "AGUARDANDO_ENVIO_SAT"),  # a rejected invoice does not move on
        ("UPLOAD_REALIZADO", "AGUARDANDO_DOWNLOAD"),
        ("UPLOAD_REALIZADO", "UPLOAD_REALIZADO"),
        ("FALHA_DOWNLOAD", "AGUARDANDO_APROVACAO"),
    ],
)
def test_illegal_transitions_raise(current, target):
    with pytest.raises(IllegalTransition) as info:
        sm.check(current, target, process_id=7)
    assert f"process 7: illegal transition {current} -> {target}" in str(info.value)


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown invoice process status 'BAIXADO'"):
        sm.check("AGUARDANDO_DOWNLOAD", "BAIXADO")


def test_every_status_has_a_transition_entry_and_a_label():
    assert set(sm.TRANSITIONS) == set(Status) == set(sm.LABELS)
