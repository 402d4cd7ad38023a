"""Battleship: a trainable shooting policy, trained on a few boards, scored on held-out ones.
The games run in isolation with the policy; the shots come back and are scored here."""

from __future__ import annotations

from typing import Any

from opto.trace import ExecutionError
from qbench.adapters.common import CodeFailure
from qbench.generators import battleship
from qbench.loop import Evaluation
from qbench.programs.codefile import load_function


class BattleshipProgram:
    """Improve ``choose_shot`` so that it sinks ships in few shots."""

    def __init__(self, side: Any, task: dict, work_dir: str) -> None:
        self.side = side
        self.train = task["data"]["train_boards"]
        self.heldout = task["data"]["heldout_boards"]
        self.threshold = task["success_threshold"]
        function = load_function(battleship.INITIAL_POLICY, "choose_shot", work_dir, "policy")
        self.policy = side.trainable(function)
        self._games: dict[str, tuple[list, str | None]] = {}

    def parameters(self) -> list:
        return [self.policy.parameter]

    def games(self) -> tuple[list, str | None]:
        """Scores of the train then held-out boards for the current code, and a failure."""
        code = str(self.policy.parameter.data)
        if code not in self._games:
            boards = self.train + self.heldout
            failure = None
            try:
                played = self.side.run_code(
                    code + "\n" + battleship.ENGINE,
                    "play_games",
                    [boards, battleship.SIZE, battleship.SHOTS],
                )
                if not isinstance(played, list) or len(played) != len(boards):
                    raise CodeFailure("the games gave no valid answer")
            except CodeFailure as error:
                failure = str(error)
                played = [{"shots": [], "notes": []} for _ in boards]
            results = []
            for ships, game in zip(boards, played, strict=True):
                game = game if isinstance(game, dict) else {}
                result = battleship.score_shots(ships, game.get("shots"))
                notes = game.get("notes")
                result["notes"] = (
                    [str(n)[:160] for n in notes[:4]] if isinstance(notes, list) else []
                )
                results.append(result)
            self._games[code] = (results, failure)
        return self._games[code]

    def evaluate(self) -> Evaluation:
        results, failure = self.games()
        heldout = results[len(self.train) :]
        score = sum(r["score"] for r in heldout) / len(heldout)
        return Evaluation(
            score,
            score >= self.threshold,
            {
                "heldout_hits": sum(r["hits"] for r in heldout),
                "heldout_ship_cells": sum(r["ship_cells"] for r in heldout),
                "failure": failure,
            },
        )

    def forward(self) -> tuple[Any, str]:
        results, failure = self.games()
        view = battleship.sample_view(self.train[0])
        try:
            with self.side.guard():
                output = self.policy(view)
        except ExecutionError as error:
            output = error.exception_node
        lines = []
        if failure:
            lines.append(f"The games could not be played: {failure}")
        for index, result in enumerate(results[: len(self.train)], start=1):
            line = (
                f"Game {index}: hit {result['hits']} of {result['ship_cells']} ship cells with "
                f"{battleship.SHOTS} shots; {result['repeated']} shots at cells already fired "
                f"at, {result['invalid']} invalid shots."
            )
            if result["notes"]:
                line += " Problems: " + " | ".join(result["notes"])
            lines.append(line)
        lines.append("Goal: hit every ship cell within the shots available.")
        return output, "\n".join(lines)
