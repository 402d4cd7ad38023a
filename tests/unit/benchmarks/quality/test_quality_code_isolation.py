"""Generated code runs only in isolation: trace-opt's side uses a limited child process, opto's
side the subprocess sandbox; HumanEval's test programs are right for the canonical solutions."""

import os

import pytest
from qbench.generators import battleship, humaneval
from qbench.isolation import IsolatedCodeError, run_isolated

from opto.runtime import SubprocessPolicy

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX process limits")


def test_a_result_comes_back_as_json_data():
    code = "def f(a, b):\n    return {'sum': a + b, 'items': [a, b]}\n"
    assert run_isolated(code, "f", [2, 3]) == {"sum": 5, "items": [2, 3]}


def test_the_codes_own_exception_is_reported_with_its_type():
    with pytest.raises(IsolatedCodeError, match="ZeroDivisionError: division by zero"):
        run_isolated("def f():\n    return 1 / 0\n", "f", [])


def test_a_runaway_loop_is_stopped_at_the_deadline():
    with pytest.raises(IsolatedCodeError, match="did not finish within 1 s"):
        run_isolated("def f():\n    while True:\n        pass\n", "f", [], wall_time=1, cpu_time=30)


def test_cpu_time_and_memory_are_limited():
    with pytest.raises(IsolatedCodeError, match="CPU time"):
        run_isolated("def f():\n    while True:\n        pass\n", "f", [], wall_time=30, cpu_time=1)
    with pytest.raises(IsolatedCodeError, match="MemoryError"):
        run_isolated("def f():\n    return len(bytearray(8 * 2**30))\n", "f", [])


def test_an_exit_without_answer_or_an_unreadable_answer_is_an_error():
    with pytest.raises(IsolatedCodeError, match="without an answer"):
        run_isolated("import os\ndef f():\n    os._exit(0)\n", "f", [])
    with pytest.raises(IsolatedCodeError, match="not JSON data"):
        run_isolated("def f():\n    return object()\n", "f", [])
    forged = "import os\ndef f():\n    print('@@quality-result@@[1', flush=True)\n    os._exit(0)\n"
    with pytest.raises(IsolatedCodeError, match="could not be read"):
        run_isolated(forged, "f", [])


def test_the_child_gets_no_environment():
    os.environ["QUALITY_SECRET_FOR_TEST"] = "s3cret"
    try:
        code = "import os\ndef f():\n    return os.environ.get('QUALITY_SECRET_FOR_TEST')\n"
        assert run_isolated(code, "f", []) is None
    finally:
        del os.environ["QUALITY_SECRET_FOR_TEST"]


SCANNER = (
    "def choose_shot(board):\n"
    "    for r, row in enumerate(board):\n"
    "        for c, cell in enumerate(row):\n"
    "            if cell == '.':\n"
    "                return (r, c)\n"
)


def test_the_game_engine_plays_the_same_in_both_isolations():
    boards = [battleship.generate_board(seed) for seed in range(3)]
    program = SCANNER + battleship.ENGINE
    args = [boards, battleship.SIZE, battleship.SHOTS]
    child = run_isolated(program, "play_games", args)
    sandbox = SubprocessPolicy(wall_time=20, echo_output=False).load(program, "play_games")
    assert sandbox(*args) == child
    for ships, game in zip(boards, child, strict=True):
        assert game["shots"][:3] == [[0, 0], [0, 1], [0, 2]]
        result = battleship.score_shots(ships, game["shots"])
        assert result["repeated"] == 0 and result["invalid"] == 0
        assert result["hits"] == sum(1 for r, _ in ships if r * battleship.SIZE < 18)


def test_a_policy_that_raises_or_aims_off_the_board_wastes_its_shots():
    policy = "def choose_shot(board):\n    if board[0][0] == '.':\n        return (0, 0)\n    return (9, 9)\n"
    games = run_isolated(policy + battleship.ENGINE, "play_games", [[[[0, 0]]], 6, 4])
    assert games[0]["shots"] == [[0, 0], None, None, None]
    assert "invalid target (9, 9)" in games[0]["notes"][0]


def test_humaneval_test_programs_pass_the_canonical_solutions_and_not_the_stubs():
    problems = {p["task_id"]: p for p in humaneval.load_problems()}
    eligible = [p for p in problems.values() if humaneval.split_tests(p) is not None]
    assert len(eligible) == 96
    sandbox = SubprocessPolicy(wall_time=30, echo_output=False)
    for problem in eligible[::8]:
        tests = humaneval.split_tests(problem)
        solution = problem["prompt"] + problem["canonical_solution"]
        program = humaneval.test_program("", solution, problem["entry_point"], tests)
        outcomes = sandbox.load(program, humaneval.RUNNER_NAME)()
        assert [status for status, _ in outcomes] == ["pass"] * len(tests), problem["task_id"]
        stub = humaneval.test_program(
            humaneval.prelude(problem), humaneval.stub_code(problem), problem["entry_point"], tests
        )
        stub_outcomes = sandbox.load(stub, humaneval.RUNNER_NAME)()
        assert "fail" in [status for status, _ in stub_outcomes], problem["task_id"]


def test_humaneval_selection_is_seeded_and_splits_visible_from_heldout():
    first = humaneval.select(seed=0, count=5)
    assert first == humaneval.select(seed=0, count=5)
    assert [t["task_id"] for t in first] != [t["task_id"] for t in humaneval.select(1, 5)]
    for task in first:
        assert 2 <= len(task["visible_tests"]) <= 5 and task["heldout_tests"]
        assert task["stub"].rstrip().endswith("pass")
        for test in task["visible_tests"]:  # shown as the optimizer knows the function
            assert "candidate" not in test["source"] and task["entry_point"] in test["source"]


def test_a_random_policy_plays_the_same_games_every_time():
    policy = (
        "import random\n"
        "def choose_shot(board):\n"
        "    return (random.randrange(len(board)), random.randrange(len(board[0])))\n"
    )
    args = [[battleship.generate_board(s) for s in range(2)], battleship.SIZE, battleship.SHOTS]
    first = run_isolated(policy + battleship.ENGINE, "play_games", args)
    assert run_isolated(policy + battleship.ENGINE, "play_games", args) == first
    assert first[0]["shots"] != first[1]["shots"]
