"""The deterministic query set: which augmented copies of each example a model is asked about.

A query is (mirror, dx, dy): optionally flip left-right, then shift the image content by dx
pixels right and dy pixels down, filling the uncovered border by reflection (or zeros). The
identity query always comes first, so index 0 is the un-augmented example.

Count = (1 + mirror) * (2 * shift / stride + 1)^2: 1, 2, 18 (shift 4, stride 4), 162 (stride 1).
This module is pure Python so that configs can be checked without torch.
"""

from __future__ import annotations

from typing import NamedTuple


class Query(NamedTuple):
    mirror: bool
    dx: int
    dy: int


def query_set(mirror: bool, shift: int, stride: int) -> list[Query]:
    """All queries for the config's `queries` section, identity first."""
    if shift < 0:
        raise ValueError(f"queries.shift must be >= 0, got {shift}")
    if shift > 0 and (stride < 1 or shift % stride):
        raise ValueError(f"queries.stride must divide queries.shift={shift}, got {stride}")
    offsets = range(-shift, shift + 1, stride) if shift else [0]
    queries = [Query(flip, dx, dy) for flip in ([False, True] if mirror else [False]) for dx in offsets for dy in offsets]
    queries.remove(Query(False, 0, 0))
    return [Query(False, 0, 0)] + queries


def nested_subsets(mirror: bool, shift: int, stride: int) -> dict[int, list[int]]:
    """Query count -> indices into query_set(mirror, shift, stride) of the paper's nested query
    sets (Table III) that the configured set contains: identity (1); + mirror (2); mirror x shifts
    {-s, 0, s}^2 for the largest s of 4, 2, 1 available (18); the configured set itself (162 for
    shift 4, stride 1)."""
    configured = query_set(mirror, shift, stride)
    position = {query: index for index, query in enumerate(configured)}
    candidates = [(False, 0, 1), (mirror, 0, 1)] + [(mirror, s, s) for s in (4, 2, 1)] + [(mirror, shift, stride)]
    subsets = {}
    for candidate in candidates:
        queries = query_set(*candidate)
        if all(query in position for query in queries):
            subsets.setdefault(len(queries), sorted(position[query] for query in queries))
    return dict(sorted(subsets.items()))
