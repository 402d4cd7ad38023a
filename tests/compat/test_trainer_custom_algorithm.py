"""A training algorithm written the way Trace 0.2 users write theirs: a ``Trainer`` subclass
that runs batches with ``batch_run``, joins them with ``batchify``, asks the optimizer for
several proposals with ``async_run`` and keeps the best by ``np.mean`` of ``evaluate``."""

import json

import numpy as np
import pytest
from trainer_compat_toys import DATA, Greeter, GreetingGuide, Recorder, optimizer_for, teacher

from opto.trainer.algorithms.algorithm import AbstractAlgorithm, Trainer
from opto.trainer.evaluators import evaluate
from opto.trainer.loader import DataLoader
from opto.trainer.loggers import BaseLogger
from opto.trainer.utils import async_run, batch_run, batchify


class Collect(BaseLogger):
    def __init__(self):
        super().__init__()
        self.values = []

    def log(self, name, data, step, **kwargs):
        self.values.append((name, data, step, kwargs.get("color")))


class BestOfN(Trainer):
    def __init__(self, agent, optimizer, num_threads=None, logger=None, *args, **kwargs):
        super().__init__(agent, num_threads, logger, *args, **kwargs)
        self.optimizer = optimizer
        self.n_iters = 0

    @staticmethod
    def forward(agent, x, guide, info):
        target = agent(x)
        score, feedback = guide(x, target.data, info)
        return target, score, feedback

    def score(self, guide, xs, infos, num_threads):
        return np.mean(evaluate(self.agent, guide, xs, infos, num_threads=num_threads))

    def train(
        self,
        guide,
        train_dataset,
        *,
        num_epochs=1,
        batch_size=2,
        num_proposals=2,
        num_threads=None,
        save_path=None,
        **kwargs,
    ):
        loader = DataLoader(train_dataset, batch_size=batch_size, randomize=False)
        batch_scores = []
        for _ in range(num_epochs):
            for xs, infos in loader:
                run = batch_run(max_workers=num_threads, description="Forward")(self.forward)
                targets, scores, feedbacks = zip(*run(self.agent, xs, guide, infos), strict=True)
                batch_scores.append(np.mean(scores))
                self.optimizer.zero_feedback()
                self.optimizer.backward(batchify(*targets), batchify(*feedbacks).data)
                step_args = {"bypassing": True, "verbose": False}
                if self._use_asyncio(num_threads):
                    proposals = async_run(
                        [self.optimizer.step] * num_proposals,
                        kwargs_list=[step_args] * num_proposals,
                        max_workers=num_threads,
                    )
                else:
                    proposals = [self.optimizer.step(**step_args) for _ in range(num_proposals)]
                current = {p: p.data for p in self.optimizer.parameters}
                best, best_score = current, self.score(guide, xs, infos, num_threads)
                for update in proposals:
                    self.optimizer.update(update)
                    candidate = self.score(guide, xs, infos, num_threads)
                    if candidate > best_score:
                        best, best_score = update, candidate
                    self.optimizer.update(current)
                self.optimizer.update(best)
                self.n_iters += 1
                self.logger.log("Batch score", best_score, self.n_iters, color="green")
                if save_path:
                    self.save_agent(save_path, self.n_iters)
        return batch_scores, self.score(
            guide, train_dataset["inputs"], train_dataset["infos"], num_threads
        )


@pytest.mark.filterwarnings("ignore:OptoPrime. no suggestion")
@pytest.mark.parametrize("threads", [1, 4])
def test_a_user_written_algorithm_trains_the_greeter(tmp_path, threads):
    agent = Greeter("Hi")
    logger = Collect()
    recorder = Recorder(teacher)
    algorithm = BestOfN(agent, optimizer_for(agent, recorder), num_threads=threads, logger=logger)
    scores, final = algorithm.train(
        GreetingGuide(),
        DATA,
        batch_size=2,
        num_threads=threads,
        save_path=str(tmp_path / "ckpt" / "agent.pkl"),
    )
    assert agent.prefix.data == "Hello"
    assert final == 1.0 and scores[0] == 0.0 and scores[-1] == 1.0
    assert algorithm._use_asyncio(threads) is (threads > 1)
    assert len(recorder.prompts) == 6  # two proposals for each of the three batches
    assert "ID [0]:" in recorder.prompts[0] and "batchify" in recorder.prompts[0]
    assert logger.values[0] == ("Batch score", 1.0, 1, "green")
    saved = tmp_path / "ckpt" / "agent_iter3.pkl"
    assert json.loads(saved.read_text())["parameters"] == {"prefix": "Hello"}
    restored = Greeter("Hi")
    restored.load(saved)
    assert restored.prefix.data == "Hello"
    assert ("Saved agent", str(saved), 3, "blue") in logger.values


def test_the_base_classes_as_trace_defines_them():
    agent = Greeter()
    assert AbstractAlgorithm(agent, "anything", extra=1).agent is agent
    assert AbstractAlgorithm(agent).train() is None
    trainer = Trainer(agent, num_threads=3)
    assert trainer.num_threads == 3 and trainer.logger is not None
    assert trainer._use_asyncio() and not trainer._use_asyncio(1) and trainer._use_asyncio(2)
    assert not Trainer(agent)._use_asyncio()
    with pytest.warns(UserWarning, match="ignores"):
        Trainer(agent, None, None, "unused", option=1)
    with pytest.raises(TypeError, match="Module"):
        Trainer("not a model")
    for call in (
        lambda: trainer.train(None, DATA),
        lambda: trainer.save("x"),
        lambda: Trainer.load("x"),
        lambda: trainer.resume(model=agent, train_dataset=DATA),
    ):
        with pytest.raises(NotImplementedError):
            call()


def test_save_agent_names_the_file_by_iteration(tmp_path):
    trainer = Trainer(Greeter("Hey"), logger=Collect())
    plain = trainer.save_agent(tmp_path / "a" / "model.json")
    assert plain == str(tmp_path / "a" / "model.json")
    assert trainer.save_agent(tmp_path / "model.json", 4).endswith("model_iter4.json")
    last = trainer.save_agent(save_path=tmp_path / "model.json", iteration=9, final=True)
    assert last.endswith("model_iter9_final.json")
