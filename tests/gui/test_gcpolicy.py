"""The window's runtime policy: while jobs run, the rare young pass never walks a huge young
generation on the UI thread, and the GIL is handed over sooner while the window lives."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, QTimer

from musicorg.gui import gcpolicy


@pytest.fixture
def young_passes(qtbot: Any) -> Iterator[tuple[QTimer, list[int]]]:
    """The policy installed with jobs running (never idle), its timer, and the generation of
    each collection that runs."""
    parent = QObject()
    timer = gcpolicy.install(parent, lambda: False)
    passes: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(seen)
    yield timer, passes
    gc.callbacks.remove(seen)
    parent.deleteLater()
    del parent
    gcpolicy.uninstall()
    gc.unfreeze()


def test_busy_pass_waits_while_the_young_generation_is_huge(
    young_passes: tuple[QTimer, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    timer, passes = young_passes
    monkeypatch.setattr(gcpolicy, "BUSY_EVERY_S", 0.0)  # a busy pass is due at every tick
    held = [[i] for i in range(gcpolicy.BUSY_YOUNG_MAX + 50_000)]  # a job's fresh rows
    assert gc.get_count()[0] > gcpolicy.BUSY_YOUNG_MAX
    timer.timeout.emit()
    assert passes == []  # not walked while the job holds them
    del held  # the job ends: its rows go, and the count with them
    assert gc.get_count()[0] <= gcpolicy.BUSY_YOUNG_MAX
    timer.timeout.emit()
    assert passes == [0]


def test_busy_pass_runs_anyway_after_waiting_too_long(
    young_passes: tuple[QTimer, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    timer, passes = young_passes
    monkeypatch.setattr(gcpolicy, "BUSY_EVERY_S", 0.0)
    monkeypatch.setattr(gcpolicy, "BUSY_DEFER_MAX_S", 0.0)  # waited long enough already
    held = [[i] for i in range(gcpolicy.BUSY_YOUNG_MAX + 50_000)]
    timer.timeout.emit()
    assert passes == [0]  # cyclic garbage stays bounded however long a job runs
    assert len(held) > gcpolicy.BUSY_YOUNG_MAX


def test_the_gil_is_handed_over_sooner_while_the_window_lives(qtbot: Any) -> None:
    before = sys.getswitchinterval()
    parent = QObject()
    gcpolicy.install(parent, lambda: True)
    assert sys.getswitchinterval() == pytest.approx(gcpolicy.SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() < before
    assert not gc.isenabled()
    gcpolicy.uninstall()  # as when the window is destroyed
    assert sys.getswitchinterval() == pytest.approx(before)
    assert gc.isenabled()
    gc.unfreeze()
    parent.deleteLater()
