"""Training on datasets: data, guides, evaluation, search algorithms, checkpoints, logging.

from opto.trainer import train
result = train(model=agent, train_dataset={"inputs": xs, "infos": answers},
               guide=my_metric, algorithm="BeamsearchAlgorithm", run_dir="runs/exp1")
"""

from opto.trainer.algorithms import (
    GEPA,
    POLCA,
    AbstractAlgorithm,
    BasicSearchAlgorithm,
    BeamSearch,
    BeamsearchAlgorithm,
    MinibatchAlgorithm,
    ParetobasedPS,
    PrioritySearch,
    SearchLoop,
    SequentialSearch,
    SequentialUpdate,
    Strategies,
    StreamingPrioritySearch,
    Trainer,
    TrainResult,
    UCBSearchAlgorithm,
)
from opto.trainer.checkpoint import CheckpointError, RunDirectory
from opto.trainer.evaluators import aggregate_vector_scores, evaluate, evaluate_vector
from opto.trainer.guide import ExactMatchGuide, Guide, LLMJudge, MetricGuide
from opto.trainer.loader import DataLoader, DatasetError
from opto.trainer.objectives import ObjectiveConfig
from opto.trainer.search_template import SearchTemplate
from opto.trainer.snapshots import apply_snapshot, take_snapshot
from opto.trainer.train import resume, train
from opto.trainer.utils import batchify

__all__ = [
    "GEPA",
    "POLCA",
    "AbstractAlgorithm",
    "BasicSearchAlgorithm",
    "BeamSearch",
    "BeamsearchAlgorithm",
    "CheckpointError",
    "DataLoader",
    "DatasetError",
    "ExactMatchGuide",
    "Guide",
    "LLMJudge",
    "MetricGuide",
    "MinibatchAlgorithm",
    "ObjectiveConfig",
    "ParetobasedPS",
    "PrioritySearch",
    "RunDirectory",
    "SearchLoop",
    "SearchTemplate",
    "SequentialSearch",
    "SequentialUpdate",
    "Strategies",
    "StreamingPrioritySearch",
    "TrainResult",
    "Trainer",
    "UCBSearchAlgorithm",
    "aggregate_vector_scores",
    "apply_snapshot",
    "batchify",
    "evaluate",
    "evaluate_vector",
    "resume",
    "take_snapshot",
    "train",
]
