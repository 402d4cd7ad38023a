"""``evaluate`` gives what numpy code written for Trace expects."""

import numpy as np
from trainer_compat_toys import DATA, Greeter, GreetingGuide

from opto.trace import bundle, model, node
from opto.trainer.evaluators import evaluate


def test_scores_are_an_array_numpy_can_average():
    scores = evaluate(Greeter("Hello"), GreetingGuide(), DATA["inputs"], DATA["infos"])
    assert isinstance(scores, np.ndarray) and scores.shape == (6,)
    assert np.mean(scores) == 1.0 and scores.dtype == float
    half = evaluate(Greeter("Hi"), GreetingGuide(), ["Ada", "Bob"], ["Hi Ada", "Hello Bob"])
    assert np.mean(half) == 0.5 and half.sum() == 1.0 and (half > 0).tolist() == [True, False]
    assert half.feedback == ["", ""] and half.errors == [None, None]


def test_several_samples_per_input_give_one_row_per_input():
    scores = evaluate(
        Greeter("Hi"),
        GreetingGuide(),
        ["Ada", "Bob", "Cy"],
        ["Hi Ada", "x", "Hi Cy"],
        num_samples=4,
        num_threads=3,
    )
    assert scores.shape == (3, 4)
    assert scores.mean(axis=1).tolist() == [1.0, 0.0, 1.0]
    assert np.mean(scores, axis=0).tolist() == [2 / 3] * 4
    assert np.mean(scores) == 2 / 3


@bundle()
def shout(word, name):
    """Fails for an empty name."""
    if not name:
        raise ValueError("no name")
    return f"{word} {name}!"


@model
class Shouter:
    def __init__(self):
        self.word = node("Hello", trainable=True, name="word")

    def forward(self, name):
        return shout(self.word, name)


def test_failed_runs_score_min_score_or_are_left_out_of_the_mean():
    inputs, infos = ["Ada", "", "Bob"], ["Hello Ada!", "?", "Hello Bob!"]
    scored = evaluate(Shouter(), GreetingGuide(), inputs, infos, min_score=0.0)
    assert scored.tolist() == [1.0, 0.0, 1.0] and np.mean(scored) == 2 / 3
    unscored = evaluate(Shouter(), GreetingGuide(), inputs, infos)
    assert unscored.tolist() == [1.0, None, 1.0] and unscored.dtype == object
    assert np.mean(unscored) == 1.0  # the missing score is left out
    assert "no name" in unscored.errors[1]
