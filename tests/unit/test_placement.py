from __future__ import annotations

import pytest

from stratus.invoke.placement import IdleView, pick_version, select_expired


@pytest.mark.parametrize("draw", [i / 100 for i in range(30)])
def test_draw_below_weight_goes_to_the_additional_version(draw: float) -> None:
    assert pick_version("1", {"2": 0.3}, draw) == "2"


@pytest.mark.parametrize("draw", [0.3, 0.31, 0.5, 0.99, 0.999999])
def test_draw_at_or_above_weight_goes_to_the_primary(draw: float) -> None:
    assert pick_version("1", {"2": 0.3}, draw) == "1"


def test_distribution_over_a_grid_of_draws() -> None:
    draws = [i / 1000 for i in range(1000)]
    picks = [pick_version("1", {"2": 0.25}, d) for d in draws]
    assert picks.count("2") == 250
    assert picks.count("1") == 750


def test_no_weights_always_primary() -> None:
    assert {pick_version("4", {}, d / 10) for d in range(10)} == {"4"}


def test_zero_and_full_weight() -> None:
    assert pick_version("1", {"2": 0.0}, 0.0) == "1"
    assert all(pick_version("1", {"2": 1.0}, d / 10) == "2" for d in range(10))


def test_several_weights_are_cumulative_in_version_order() -> None:
    weights = {"3": 0.25, "2": 0.125}
    assert pick_version("1", weights, 0.0) == "2"
    assert pick_version("1", weights, 0.124) == "2"
    assert pick_version("1", weights, 0.125) == "3"
    assert pick_version("1", weights, 0.374) == "3"
    assert pick_version("1", weights, 0.375) == "1"


def test_select_expired() -> None:
    idle = [IdleView("old", 0.0), IdleView("edge", 40.0), IdleView("fresh", 50.0)]
    assert select_expired(idle, now=100.0, idle_timeout=60.0) == ["old", "edge"]


def test_select_expired_none() -> None:
    assert select_expired([IdleView("a", 99.0)], now=100.0, idle_timeout=60.0) == []
    assert select_expired([], now=100.0, idle_timeout=60.0) == []


def test_select_expired_all_with_zero_timeout() -> None:
    idle = [IdleView("a", 1.0), IdleView("b", 2.0)]
    assert sorted(select_expired(idle, now=2.0, idle_timeout=0.0)) == ["a", "b"]
