"""Long runs do not leak: a short soak in CI (the 1,000-turn figure is in the README)."""

from kiosk.measure.soak import soak


def test_short_soak_keeps_memory_flat(engines):
    report = soak(turns=30, warmup_turns=9, engines=engines)
    assert report.failed_turns == 0
    assert report.growth_percent < 5.0, report
