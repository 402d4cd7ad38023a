"""Fix a function with OptoPrime: the strange_sort_list example from Trace's README.

The function's source is a trainable parameter. Each step runs it on a test, turns the result
(or the exception) into feedback, and lets OptoPrime propose new code. Offline, the "LLM" is a
list of scripted replies (labelled as such); with OPTO_LLM_MODEL set it is a real model.

    python examples/quickstart.py [--offline] [--out demo-output]
"""

from __future__ import annotations

import argparse
import shutil
import textwrap
from pathlib import Path

import graphviz
from _support import choose_llm, reply, run

from opto import trace
from opto.optimizers import OptoPrime
from opto.runtime import InProcessPolicy

# Code written by a model runs in this process under guards: a suggestion that loops forever
# or keeps allocating is stopped and reported to the optimizer as an error, instead of hanging
# or exhausting the machine's memory. The subprocess policy is the choice for real isolation.
GUARDED = InProcessPolicy(timeout=10, memory_growth="1GiB")


@trace.bundle(trainable=True, policy=GUARDED)
def strange_sort_list(lst):
    """
    Given a list of integers, return the list in strange order: start with the minimum, then
    the maximum of the remaining integers, then the minimum of the rest, and so on.
    """
    lst = sorted(lst)
    return lst


def check(lst, result):
    """Feedback text on one test case, or None when the result is right."""
    expected, rest = [], sorted(lst)
    while rest:
        expected.append(rest.pop(0))
        if rest:
            expected.append(rest.pop())
    if result == expected:
        return None
    return f"strange_sort_list({lst}) returned {result}, but the expected output is {expected}."


SCRIPTED_REPLIES = [
    reply(
        "The code only sorts. It must alternate between the smallest and largest remaining "
        "values. A first attempt (with a typo, to show that broken code is refused safely).",
        {
            "__code0": "def strange_sort_list(lst):\n"
            "    result = []\n"
            "    rest = sorted(lst\n"
            "    return result\n"
        },
    ),
    reply(
        "Take from the front and the back of the sorted list in turn.",
        {
            "__code0": "def strange_sort_list(lst):\n"
            '    """\n'
            "    Given a list of integers, return the list in strange order: start with the "
            "minimum, then the\n"
            "    maximum of the remaining integers, then the minimum of the rest, and so on.\n"
            '    """\n'
            "    rest = sorted(lst)\n"
            "    result = []\n"
            "    while rest:\n"
            "        result.append(rest.pop(0))\n"
            "        if rest:\n"
            "            result.append(rest.pop())\n"
            "    return result\n"
        },
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offline", action="store_true", help="use scripted replies")
    parser.add_argument("--out", default="demo-output", help="folder for the graph drawing")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    llm, _ = choose_llm(SCRIPTED_REPLIES, offline=args.offline)
    optimizer = OptoPrime(strange_sort_list.parameters(), llm=llm)
    test_input = [5, 1, 4, 2, 3]
    drawing, drawn_step = None, 0
    for step in range(1, args.steps + 1):
        try:
            output = strange_sort_list(test_input)
            feedback = check(test_input, output.data)
        except trace.ExecutionError as error:
            output = error.exception_node
            feedback = output.create_feedback("full")
        print(f"\nstep {step}: output = {output.data}")
        if feedback is None:
            print("correct: done")
            break
        print(f"feedback: {feedback}")
        optimizer.zero_feedback()
        drawing = optimizer.backward(output, feedback, visualize=True)
        drawn_step = step
        add_feedback(drawing, output, feedback, step)
        result = optimizer.step()
        for name, reason in result.refused.items():
            print(f"refused a suggestion for {name}: {reason}")
        if result.unknown:
            print(f"ignored suggested names that are not variables: {', '.join(result.unknown)}")
        if result:
            print("the code was updated")
    print("\nfinal code:\n" + strange_sort_list.parameter.data)
    if drawing is not None:
        save_drawing(drawing, Path(args.out), drawn_step)


def add_feedback(drawing, output, feedback: str, step: int) -> None:
    """Title the drawing with its step and attach the feedback the optimizer was given."""
    lines = textwrap.wrap(feedback, 60) or [""]
    label = "\\n".join(graphviz.escape(line) for line in lines)
    drawing.attr(label=f"step {step}: the graph and feedback OptoPrime was given", labelloc="t")
    drawing.node(
        "feedback", label=f"feedback\\n{label}", shape="note", style="filled", fillcolor="#FFF4CC"
    )
    drawing.edge(output.py_name, "feedback", style="dashed")


def save_drawing(drawing, out: Path, step: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "quickstart_graph.gv").write_text(drawing.source)
    what = f"trace graph of step {step} (the last step that had feedback)"
    if shutil.which("dot"):
        path = drawing.render(out / "quickstart_graph", format="svg", cleanup=True)
        print(f"{what}: {path}")
    else:
        print(f"{what}: {out / 'quickstart_graph.gv'} (install Graphviz to render)")


if __name__ == "__main__":
    run(main)
