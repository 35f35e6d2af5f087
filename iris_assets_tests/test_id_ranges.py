"""Sets of ids as runs of consecutive ids, and the ids between them."""

import pytest

from iris_assets.id_ranges import HIGHEST, LOWEST, gaps, islands, split


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], []),
        ([5], [(5, 5)]),
        ([3, 1, 2, 2], [(1, 3)]),
        ([1, 2, 4, 7, 8, 9], [(1, 2), (4, 4), (7, 9)]),
        ([-2, -1, 0, 1], [(-2, 1)]),
    ],
)
def test_islands_are_the_runs_of_consecutive_ids(
    ids: list[int], expected: list[tuple[int, int]]
) -> None:
    """Any order and repeats; each run once, lowest first."""
    assert islands(ids) == expected


def test_the_gaps_hold_every_id_outside_the_islands_and_no_other() -> None:
    """Open intervals: an island's ends are outside every gap, the ids between islands inside."""
    scored = [1, 2, 3, 7, 8, 11]
    lows, highs = gaps(islands(scored))
    assert (lows, highs) == ([LOWEST, 3, 8, 11], [1, 7, 11, HIGHEST])

    def in_a_gap(i: int) -> bool:
        return any(low < i < high for low, high in zip(lows, highs, strict=True))

    assert [i for i in range(-1, 14) if in_a_gap(i)] == [
        i for i in range(-1, 14) if i not in scored
    ]


def test_no_island_leaves_one_gap_over_every_id() -> None:
    assert gaps([]) == ([LOWEST], [HIGHEST])


def test_split_gives_firsts_and_lasts() -> None:
    assert split([(1, 3), (7, 7)]) == ([1, 7], [3, 7])
