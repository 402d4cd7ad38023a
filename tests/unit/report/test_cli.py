"""The ``opto`` command: every subcommand, its help, its output and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest
from report_toys import make_run

from opto.cli import main
from opto.cli.main import printable

COMMANDS = ("show", "report", "resume", "doctor", "estimate")


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_with_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: opto {command}" in out
    assert "exit codes:" in out and "3    the run directory or archive is missing" in out


def test_no_command_prints_help_and_is_a_usage_error(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "show" in out and "estimate" in out


def test_a_wrong_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["resume", "somewhere"])  # --model is required
    assert done.value.code == 2


def test_show_a_run(beam_run, capsys):
    code, out, _ = run_cli(capsys, "show", str(beam_run))
    assert code == 0
    assert out.splitlines()[0] == f"Training run {beam_run}"
    for label in (
        "status           completed",
        "steps            3 of 3",
        "best score",
        "objectives",
        "calls            14",
        "tokens",
        "cost",
        "best model",
    ):
        assert label in out, label
    assert "To continue" not in out


def test_show_as_json(beam_run, capsys):
    code, out, _ = run_cli(capsys, "show", "--json", str(beam_run))
    data = json.loads(out)
    assert code == 0
    assert (data["kind"], data["status"], data["steps"], data["usage"]["calls"]) == (
        "training-run",
        "completed",
        3,
        14,
    )
    assert data["best_model"] == str(beam_run / "best_model.json")


def test_show_a_run_stopped_by_its_budget_says_how_to_continue(tmp_path, capsys):
    make_run(tmp_path / "run", num_steps=5, max_calls=3)
    code, out, _ = run_cli(capsys, "show", str(tmp_path / "run"))
    assert code == 0
    assert "stopped by its budget" in out
    assert (
        f"To continue: opto resume {tmp_path / 'run'} --model report_toys:Labeller "
        "--guide MODULE:FUNCTION --set max_calls=LARGER"
    ) in out


def test_show_an_archive(archive_file, capsys):
    code, out, _ = run_cli(capsys, "show", str(archive_file))
    assert code == 0
    assert "entries      6 (failed 1, invalid 1, valid 4)" in out
    assert "best         #5 best_one: fitness 0.47" in out
    assert out.splitlines()[-4].split()[:2] == ["#5", "0.47"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "config.json").write_text("{oops"), "config.json is damaged"),
        (lambda d: (d / "checkpoint.json").write_text("[" * 50_000), "checkpoint.json is damaged"),
    ],
)
def test_a_damaged_run_is_exit_code_3_with_one_line_and_no_traceback(
    beam_run, damage, message, capsys
):
    damage(beam_run)
    for command in ("show", "report"):
        code, out, err = run_cli(capsys, command, str(beam_run))
        assert code == 3 and out == ""
        assert message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_a_missing_run_is_exit_code_3(tmp_path, capsys):
    code, _, err = run_cli(capsys, "show", str(tmp_path / "nowhere"))
    assert code == 3 and "does not exist" in err


def test_terminal_control_characters_from_run_files_are_shown_not_obeyed(beam_run, capsys):
    config = json.loads((beam_run / "config.json").read_text())
    config["algorithm"] = "Beam\x1b]0;owned\x07\x1b[2J"
    (beam_run / "config.json").write_text(json.dumps(config))
    _, out, _ = run_cli(capsys, "show", str(beam_run))
    assert "\x1b" not in out and "\x07" not in out
    assert "Beam\\x1b]0;owned\\x07\\x1b[2J" in out
    assert printable("a\tb\nc\x00") == "a\tb\nc\\x00"


def test_report_writes_the_file_asked_for(beam_run, tmp_path, capsys):
    target = tmp_path / "out" / "r.html"
    code, out, _ = run_cli(capsys, "report", str(beam_run), "-o", str(target), "--no-graphs")
    assert code == 0 and out.strip() == f"report written to {target}"
    assert target.read_text().startswith("<!DOCTYPE html>")


TOY_MODULE = textwrap.dedent(
    """
    from report_toys import Labeller, scripted_replies, two_objectives
    from opto.llm import ScriptedLLM
    from opto.optimizers import OptoPrime

    class ScriptedOptimizer(OptoPrime):
        def __init__(self, parameters, **kwargs):
            super().__init__(parameters, llm=ScriptedLLM([scripted_replies()] * 50), **kwargs)
    """
)


def test_resume_continues_a_run_stopped_by_its_budget(tmp_path, capsys):
    run_dir = tmp_path / "run"
    first = make_run(run_dir, num_steps=4, max_calls=3)
    assert first.stopped == "budget"
    toys = tmp_path / "toys.py"
    toys.write_text(TOY_MODULE)
    common = [
        "resume",
        str(run_dir),
        "--model",
        f"{toys}:Labeller",
        "--guide",
        f"{toys}:two_objectives",
        "--optimizer",
        f"{toys}:ScriptedOptimizer",
        "--logger",
        "NullLogger",
    ]
    code, _, err = run_cli(capsys, *common)
    assert code == 4, err  # still out of budget
    code, _, err = run_cli(capsys, *common, "--set", "max_calls=100")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "show", "--json", str(run_dir))
    data = json.loads(out)
    assert (data["status"], data["steps"]) == ("completed", 4)


def test_resume_needs_code_the_run_directory_cannot_hold(beam_run, tmp_path, capsys):
    toys = tmp_path / "toys.py"
    toys.write_text(TOY_MODULE)
    code, _, err = run_cli(capsys, "resume", str(beam_run), "--model", f"{toys}:Labeller")
    assert code == 2 and "MetricGuide around a function of yours" in err
    code, _, err = run_cli(capsys, "resume", str(beam_run), "--model", "no_such_module:X")
    assert code == 2 and "cannot import no_such_module" in err
    code, _, err = run_cli(capsys, "resume", str(beam_run), "--model", f"{toys}:nothing")
    assert code == 2 and "has no 'nothing'" in err
    code, _, err = run_cli(capsys, "resume", str(beam_run), "--model", f"{toys}:two_objectives")
    assert code == 2 and "cannot be called without arguments" in err


def test_resume_never_imports_what_a_run_directory_names(beam_run, tmp_path, capsys):
    marker = tmp_path / "imported"
    evil = tmp_path / "evil_guide.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    config = json.loads((beam_run / "config.json").read_text())
    config["components"] = {
        "model": "evil_guide:X",
        "optimizers": ["evil_guide:Y"],
        "guide": "evil_guide:Z",
    }
    (beam_run / "config.json").write_text(json.dumps(config))
    toys = tmp_path / "toys.py"
    toys.write_text(TOY_MODULE)
    code, _, err = run_cli(capsys, "resume", str(beam_run), "--model", f"{toys}:Labeller")
    assert code == 2 and "records no guide" in err
    run_cli(capsys, "show", str(beam_run))
    assert not marker.exists()


SCRIPT = textwrap.dedent(
    """
    import sys
    from report_toys import make_run
    print("training for", sys.argv[1:])
    make_run(None, algorithm="BeamsearchAlgorithm", num_steps=int(sys.argv[1]))
    raise SystemExit("the estimate should have stopped the script before this line")
    """
)


def test_estimate_runs_a_script_up_to_its_train_call(tmp_path, capsys):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    code, out, err = run_cli(capsys, "estimate", str(script), "3")
    assert code == 0, err
    assert "training for ['3']" in out
    assert "Estimate for BeamsearchAlgorithm (no model was called)" in out
    assert "steps             3" in out
    code, out, _ = run_cli(capsys, "estimate", "--json", str(script), "2")
    data = json.loads(out[out.index("{") :])
    assert (data["steps"], data["algorithm"]) == (2, "BeamsearchAlgorithm")
    assert data["calls"] == data["parts"]["optimizer"]["calls"] > 0
    code, out, _ = run_cli(
        capsys, "estimate", "--json", "--reasoning-tokens", "1000", str(script), "2"
    )
    longer = json.loads(out[out.index("{") :])
    assert longer["assumed_reasoning_tokens"] == 1000
    assert longer["completion_tokens"] == data["completion_tokens"] + 850 * data["calls"]


def test_estimate_of_a_script_that_never_trains(tmp_path, capsys):
    script = tmp_path / "nothing.py"
    script.write_text("print('hello')\n")
    code, _, err = run_cli(capsys, "estimate", str(script))
    assert code == 1 and "finished without calling opto.trainer.train" in err
    code, _, err = run_cli(capsys, "estimate", str(tmp_path / "missing.py"))
    assert code == 2 and "no script" in err


def test_doctor_reports_versions_graphviz_the_llm_and_the_sandbox(capsys):
    code, out, _ = run_cli(capsys, "doctor", "--offline")
    assert code == 0
    assert out.startswith("opto ") and "packages: graphviz" in out
    assert "[ok  ] Graphviz: dot - graphviz version" in out
    assert "[warn] LLM: none configured" in out
    assert "] sandbox: layers on: " in out


def test_doctor_says_whether_the_endpoint_answers(httpserver, monkeypatch, capsys):
    httpserver.expect_request("/v1/models").respond_with_json({"data": []}, status=401)
    monkeypatch.setenv("OPTO_LLM_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPTO_LLM_MODEL", "local-model")
    code, out, _ = run_cli(capsys, "doctor")
    assert code == 0
    assert f"[ok  ] LLM: local-model via the openai backend at {httpserver.url_for('/v1')}" in out
    assert "answers (HTTP 401)" in out
    assert "sk-" not in out


def test_doctor_fails_when_the_configured_endpoint_does_not_answer(monkeypatch, capsys):
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("OPTO_LLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPTO_LLM_MODEL", "m")
    code, out, _ = run_cli(capsys, "doctor", "--timeout", "2")
    assert code == 1
    assert f"[FAIL] endpoint: http://127.0.0.1:{port}/v1/models does not answer within 2 s" in out


def test_the_console_script_and_python_dash_m(beam_run):
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "opto"]
    assert script.value == "opto.cli:main"
    done = subprocess.run(
        [sys.executable, "-m", "opto", "show", str(beam_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "status           completed" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "opto", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith("opto ")


def test_the_command_line_and_opto_stay_light_to_import():
    code = (
        "import sys, opto, opto.cli; "
        "print(sorted(m for m in ('opto.report', 'opto.trainer', 'matplotlib', 'litellm', "
        "'openai', 'opto.cli.show') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_file_named_twice_is_imported_once(tmp_path):
    from opto.cli.targets import load_target

    counter = tmp_path / "count.py"
    counter.write_text("RUNS = []\nRUNS.append(1)\nA = 'a'\nB = 'b'\n")
    assert load_target(f"{counter}:A", "--model") == "a"
    assert load_target(f"{counter}:B", "--guide") == "b"
    assert load_target(f"{counter}:RUNS", "--guide") == [1]
