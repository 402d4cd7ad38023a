"""The ``opto`` command (also ``python -m opto``): argument parsing and dispatch.

Each subcommand imports what it needs only when it runs, so ``opto --help`` stays instant.
Errors end as one line on stderr and an exit code (see ``opto.cli.errors``); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from collections.abc import Sequence

from opto.cli.errors import (
    BUDGET_STOPPED,
    FAILURE,
    INTERRUPTED,
    OK,
    RUN_UNREADABLE,
    USAGE,
    CommandError,
)

EXIT_CODES = f"""exit codes:
  {OK}    success
  {FAILURE}    the command ran and failed (training raised, a doctor check failed, ...)
  {USAGE}    usage error (a wrong or missing argument)
  {RUN_UNREADABLE}    the run directory or archive is missing, not a run, or damaged
  {BUDGET_STOPPED}    opto resume: the run stopped on its budget
  {INTERRUPTED}  interrupted (Ctrl-C)"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``opto`` with its subcommands; separate from ``main`` so tests
    and the docs can read the ``--help`` text without running anything."""
    parser = argparse.ArgumentParser(
        prog="opto",
        description="Inspect, report, resume and estimate opto runs; check this machine.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print opto's version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    show = command(
        "show",
        "where a run stands: status, steps, best score, cost, tokens",
        "Print a training run's status, steps, best score, calls, tokens, cost, stop reason "
        "and where the best model is; for a discovery archive, its entries and best ones.",
    )
    show.add_argument("path", metavar="RUN_DIR", help="a run directory or a discovery archive")
    show.add_argument("--json", action="store_true", help="print JSON (for scripts)")

    report = command(
        "report",
        "write a self-contained HTML report of a run",
        "Write one HTML file (no network needed to open it): configuration, budget, score "
        "and cost plots, the search's lineage or Pareto front, and every step's prompt, "
        "reply, suggestion, refusals, parameter diffs and trace graph; for a discovery "
        "archive, the sortable table of entries, their code and fitness against generation.",
    )
    report.add_argument("path", metavar="RUN_DIR", help="a run directory or a discovery archive")
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write (default: RUN_DIR/report.html, or ARCHIVE.html)",
    )
    report.add_argument("--no-graphs", action="store_true", help="leave out the trace graphs")

    resume = command(
        "resume",
        "continue a run from its last checkpoint",
        "Continue the run in RUN_DIR from its last checkpoint. A run directory holds values, "
        "not code: name the model (and a guide that wraps your function) with MODULE:NAME or "
        "FILE.py:NAME. `opto show RUN_DIR` prints the command with the recorded model name.",
    )
    resume.add_argument("path", metavar="RUN_DIR")
    resume.add_argument(
        "--model",
        required=True,
        metavar="MODULE:NAME",
        help="the model: an instance, or a class or function that makes one",
    )
    resume.add_argument(
        "--guide",
        metavar="NAME|MODULE:NAME",
        help="the guide (default: the one the run recorded, if opto's own)",
    )
    resume.add_argument(
        "--optimizer",
        metavar="NAME|MODULE:NAME",
        help="the optimizer (default: the one the run recorded)",
    )
    resume.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="change an option, e.g. --set num_steps=20 --set max_cost=2.5 (repeatable)",
    )
    resume.add_argument("--logger", default="ConsoleLogger", help="a logger name of opto's")

    doctor = command(
        "doctor",
        "check versions, Graphviz, the LLM endpoint and the sandbox",
        "Check this machine: versions, Graphviz's dot, which LLM is configured and whether "
        "its endpoint answers, and which sandbox layers this kernel offers.",
    )
    doctor.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long to wait for the LLM endpoint (default 3)",
    )
    doctor.add_argument("--offline", action="store_true", help="do not contact the endpoint")

    estimate = command(
        "estimate",
        "project the calls, tokens and cost of a training script, without calling a model",
        "Run SCRIPT (with ARGS) up to its first opto.trainer.train(...) call, which projects "
        "the run instead of training: steps, calls, tokens and cost, from the algorithm's "
        "schedule, the data sizes and one real prompt built without calling the model.",
    )
    estimate.add_argument("script", metavar="SCRIPT")
    estimate.add_argument("arguments", nargs=argparse.REMAINDER, metavar="ARGS")
    estimate.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    estimate.add_argument(
        "--reply-tokens",
        type=int,
        metavar="N",
        help="assume replies of N tokens to the model's and the guide's calls (default 100)",
    )
    estimate.add_argument(
        "--reasoning-tokens",
        type=int,
        metavar="N",
        help="assume N tokens of reasoning in each optimizer reply, besides its values "
        "(default 150)",
    )
    return parser


def printable(text: str) -> str:
    """``text`` without terminal control characters (run files may hold escape sequences)."""
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else f"\\x{ord(ch):02x}"
        for ch in text
    )


def run(arguments: argparse.Namespace) -> int:
    """Execute the parsed command; returns the exit code.

    ``arguments`` is what ``build_parser().parse_args`` returned: its ``command`` picks the
    subcommand and the other attributes are that subcommand's options.
    """
    name = arguments.command
    if name == "show":
        from opto.cli.show import show

        print(printable(show(arguments.path, as_json=arguments.json)))
        return OK
    if name == "report":
        from opto.report import write_report

        written = write_report(arguments.path, arguments.output, graphs=not arguments.no_graphs)
        print(printable(f"report written to {written}"))
        return OK
    if name == "resume":
        from opto.cli.resume import resume_run

        return resume_run(
            arguments.path,
            arguments.model,
            arguments.guide,
            arguments.optimizer,
            arguments.overrides,
            arguments.logger,
        )
    if name == "doctor":
        from opto.cli.doctor import doctor

        text, healthy = doctor(arguments.timeout, network=not arguments.offline)
        print(text)
        return OK if healthy else FAILURE
    if name == "estimate":
        from opto.cli.estimate import estimate_json, estimate_script

        estimate = estimate_script(arguments.script, arguments.arguments).assuming(
            arguments.reply_tokens, arguments.reasoning_tokens
        )
        print(estimate_json(estimate) if arguments.json else estimate.summary())
        return OK
    raise CommandError(f"unknown command {name!r}", USAGE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``opto`` script; returns the exit code.

    ``argv`` is the command line without the program name (``None`` reads ``sys.argv``);
    passing a list lets tests and other programs run a command in-process.
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.version:
        from opto.version import __version__

        print(f"opto {__version__}")
        return OK
    if arguments.command is None:
        parser.print_help()
        return USAGE
    try:
        return run(arguments)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader went away (opto show ... | head): not an error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILURE
    except Exception as error:
        if arguments.debug:
            raise
        code, message = _classify(error)
        print(printable(f"opto {arguments.command}: {message}"), file=sys.stderr)
        return code


def _classify(error: Exception) -> tuple[int, str]:
    """Exit code and message for an error that ended a command."""
    if isinstance(error, CommandError):
        return error.code, str(error)
    from opto.report.values import RunFileError
    from opto.trainer.checkpoint import CheckpointError

    if isinstance(error, (RunFileError, CheckpointError)):
        return RUN_UNREADABLE, str(error)
    return FAILURE, f"{type(error).__name__}: {error}"
