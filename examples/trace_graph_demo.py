"""Trace a small workflow, send feedback back through it, and draw the graph.

Runs offline: no LLM is involved yet. It shows what an optimizer receives: for every
trainable value, the part of the execution graph that explains the output, and the feedback.

    python examples/trace_graph_demo.py --out demo-output
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from opto.trace import node
from opto.trace.propagators import GraphPropagator


def workflow(greeting, punctuation, repeat, name):
    """A toy 'agent': builds a message from trainable pieces."""
    message = greeting + ", " + name
    message = message + punctuation * repeat
    return message.upper()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", help="folder for the drawing")
    args = parser.parse_args()

    greeting = node("hello", trainable=True, name="greeting", description="a short greeting")
    punctuation = node("!", trainable=True, name="punctuation")
    repeat = node(3, trainable=True, name="repeat", description="how many marks, 0 to 5")
    output = workflow(greeting, punctuation, repeat, "Ada")
    print(f"output: {output.data!r}")

    feedback = "Too loud: use a calm tone and at most one exclamation mark."
    drawing = output.backward(feedback, visualize=True)

    summary = sum(
        (GraphPropagator().aggregate(p.feedback) for p in (greeting, punctuation, repeat)),
        start=None,
    )
    print(f"feedback: {summary.user_feedback}")
    print("what the optimizer would see (level, node, value):")
    for level, item in summary.graph:
        kind = "parameter" if item.trainable else "input" if item.is_root else item.op_name
        print(f"  {level}  {item.py_name:<12} {kind:<10} {item.data!r}")

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    source_path = out_dir / "trace_graph.gv"
    source_path.write_text(drawing.source)
    if shutil.which("dot"):
        svg_path = drawing.render(out_dir / "trace_graph", format="svg", cleanup=True)
        print(f"drawing: {svg_path}")
    else:
        print(f"drawing source: {source_path} (install Graphviz to render it to SVG)")


if __name__ == "__main__":
    main()
