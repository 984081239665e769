"""Tests that need ../shared/data skip without it on a developer's machine, and fail with CI=true."""

from __future__ import annotations

import pytest

from routines_tests.helpers import shared_data


def test_missing_reference_data_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not present"):
        shared_data("no-such-folder/COTAHIST_A1900.ZIP")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the reference data is required"):
        shared_data("no-such-folder/COTAHIST_A1900.ZIP")
