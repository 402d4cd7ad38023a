"""A small Battleship game for a trainable shooting policy.

Boards are drawn from a seed (ships of lengths 3, 2 and 2 on a 6 x 6 grid, no overlap). The
policy is a function ``choose_shot(board) -> (row, column)`` that sees only what a player sees:
``'.'`` for a cell not fired at, ``'X'`` for a hit, ``'O'`` for a miss. A game lasts a fixed
number of shots; its score is the fraction of ship cells hit.

``ENGINE`` is the game loop as source text: it runs in the same sandboxed child as the policy
(one child per evaluation rather than one per shot), and returns only the shots fired. The
trusted caller then scores those shots against boards it keeps itself (``score_shots``), so a
child that forges its answer can at most claim shots, never hits. Each game seeds ``random``,
so a policy that draws random numbers scores the same in a replay.
"""

from __future__ import annotations

import random

SIZE = 6
SHIP_LENGTHS = (3, 2, 2)
SHOTS = 18

INITIAL_POLICY = '''def choose_shot(board):
    """Pick the next cell to fire at.

    board: a list of rows (strings of equal length); '.' is a cell not fired at yet,
    'X' a hit, 'O' a miss. Returns (row, column), both 0-based.
    """
    return (0, 0)
'''

ENGINE = """
import random as _games_random


def play_games(boards, size, shots):
    results = []
    for index, ships in enumerate(boards):
        _games_random.seed(index)  # a policy drawing random numbers plays the same every time
        cells = {(cell[0], cell[1]) for cell in ships}
        view = [["."] * size for _ in range(size)]
        fired = []
        notes = []
        for turn in range(1, shots + 1):
            try:
                shot = choose_shot(["".join(row) for row in view])
            except Exception as error:
                notes.append(f"shot {turn}: {type(error).__name__}: {error}"[:160])
                fired.append(None)
                continue
            if not (
                isinstance(shot, (tuple, list))
                and len(shot) == 2
                and all(type(v) is int for v in shot)
                and all(0 <= v < size for v in shot)
            ):
                notes.append(f"shot {turn}: invalid target {shot!r}"[:160])
                fired.append(None)
                continue
            row, column = shot
            fired.append([row, column])
            if view[row][column] == ".":
                view[row][column] = "X" if (row, column) in cells else "O"
        results.append({"shots": fired, "notes": notes[:4]})
    return results
"""


def generate_board(seed: int) -> list[list[int]]:
    """Ship cells ``[[row, column], ...]`` of one board."""
    rng = random.Random(f"battleship/{seed}")
    taken: set[tuple[int, int]] = set()
    for length in SHIP_LENGTHS:
        while True:
            horizontal = rng.random() < 0.5
            row = rng.randrange(SIZE if horizontal else SIZE - length + 1)
            column = rng.randrange(SIZE - length + 1 if horizontal else SIZE)
            cells = {(row, column + i) if horizontal else (row + i, column) for i in range(length)}
            if not cells & taken:
                taken |= cells
                break
    return [list(cell) for cell in sorted(taken)]


def score_shots(ships: list[list[int]], shots: list) -> dict:
    """Replay ``shots`` (as returned by the child) on ``ships``: hits, waste and the score."""
    cells = {(cell[0], cell[1]) for cell in ships}
    seen: set[tuple[int, int]] = set()
    invalid = repeated = 0
    for shot in shots[:SHOTS] if isinstance(shots, list) else []:
        if not (
            isinstance(shot, list)
            and len(shot) == 2
            and all(type(v) is int and 0 <= v < SIZE for v in shot)
        ):
            invalid += 1
            continue
        cell = (shot[0], shot[1])
        if cell in seen:
            repeated += 1
        seen.add(cell)
    hits = len(seen & cells)
    return {
        "hits": hits,
        "ship_cells": len(cells),
        "repeated": repeated,
        "invalid": invalid,
        "score": hits / len(cells),
    }


def sample_view(ships: list[list[int]]) -> list[str]:
    """The board a player sees after three fixed opening shots, for the traced policy call."""
    cells = {(cell[0], cell[1]) for cell in ships}
    view = [["."] * SIZE for _ in range(SIZE)]
    for row, column in ((0, 0), (2, 3), (4, 1)):
        view[row][column] = "X" if (row, column) in cells else "O"
    return ["".join(row) for row in view]
