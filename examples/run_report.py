"""Train a small model with a search, then look at the run: `opto show` and `opto report`.

The model turns a Celsius temperature into a sentence in Fahrenheit; its scale, offset and
answer template are trainable. Beam search improves them on two objectives (accuracy and a
short answer), with a validation and a test set, and keeps everything in a run directory.
Then the example prints what `opto show RUN_DIR` prints and writes `opto report RUN_DIR`'s
self-contained HTML report.

Offline (no model configured, or --offline) the optimizer's replies are SCRIPTED for this
example; they are priced as gpt-4o would be, so the report has costs to show.

    python examples/run_report.py [--out DIR] [--offline]
                                  [--archive ARCHIVE.json] [--screenshots DIR]

--archive also reports a discovery archive (e.g. the one discopop_discovery.py writes);
--screenshots saves PNGs of the reports' sections with headless Chromium (the images in
docs/cli.md are made this way).
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import re
import shutil
from pathlib import Path

from _support import choose_llm, run

from opto.cli.show import show
from opto.llm import Price
from opto.optimizers import OptoPrime
from opto.report import write_report
from opto.trace import bundle, model, node
from opto.trainer import train

CELSIUS = [-10, 0, 5, 12, 20, 25, 30, 37, 40, 55, 80, 100]
DATA = {"inputs": CELSIUS, "infos": [c * 1.8 + 32 for c in CELSIUS]}
VALIDATION = {"inputs": [-5, 15, 35, 60], "infos": [23.0, 59.0, 95.0, 140.0]}
TEST = {"inputs": [10, 50, 90], "infos": [50.0, 122.0, 194.0]}
GPT_4O_PRICES = (2.5e-6, 1e-5)  # dollars per input and output token


@bundle()
def convert(celsius, scale, offset):
    """Fahrenheit from Celsius: celsius * scale + offset."""
    return celsius * scale + offset


@bundle()
def phrase(template, value):
    """The answer: the template with {value} replaced by the number (one decimal)."""
    return template.replace("{value}", f"{value:.1f}")


@model
class Converter:
    def __init__(self):
        self.scale = node(
            1.0, trainable=True, name="scale", description="multiplies the Celsius value"
        )
        self.offset = node(0, trainable=True, name="offset", description="added after scaling")
        self.template = node(
            "The temperature expressed in degrees Fahrenheit is {value} degrees.",
            trainable=True,
            name="template",
            description="the answer; {value} is replaced by the number",
        )

    def forward(self, celsius):
        return phrase(self.template, convert(celsius, self.scale, self.offset))


def accuracy_and_brevity(response, reference):
    """Two objectives: closeness to the reference, and a short answer."""
    found = re.search(r"-?\d+(\.\d+)?", response)
    value = float(found.group()) if found else float("inf")
    return {"accuracy": 1.0 / (1.0 + abs(value - reference) / 10), "brevity": -len(response) / 40}


def scripted_replies():
    """Replies in OptoPrime's format: move scale and offset towards 1.8 and 32 by a different
    amount per proposal, shorten the template once, suggest one value of the wrong type and
    one name that is not a parameter, as real models sometimes do."""
    counter = itertools.count(1)

    def reply(request):
        prompt = request["messages"][-1]["content"]
        scale_name, scale = re.search(r"\(float\) (scale\d+)=(-?[\d.]+)", prompt).groups()
        offset_name, offset = re.search(r"\(int\) (offset\d+)=(-?\d+)", prompt).groups()
        template_name = re.search(r"\(str\) (template\d+)=", prompt).group(1)
        k = next(counter)
        step = 0.4 + 0.2 * (k % 3)
        suggestion = {
            scale_name: round(float(scale) + (1.8 - float(scale)) * step, 3),
            offset_name: round(int(offset) + (32 - int(offset)) * step),
        }
        if k == 3:
            suggestion[template_name] = "{value} °F"
        if k == 5:
            suggestion[offset_name] = "thirty-two"
            suggestion["precision"] = 1
        reasoning = (
            "The answers are too low for warm temperatures and too high for cold ones, so the "
            "scale is too small and the offset too small: Fahrenheit is 1.8 times Celsius plus "
            "32. I move both towards those values; a shorter template also helps brevity."
        )
        return json.dumps({"reasoning": reasoning, "answer": "", "suggestion": suggestion})

    return [reply] * 200


def capture(
    report: Path, shots: dict[str, str], out: Path, width: int = 1280, fragment: str = ""
) -> None:
    """PNGs of the elements ``shots`` names (file name -> CSS selector) on the page."""
    from _screenshots import Browser

    browser = Browser(width)
    try:
        browser.open(report.resolve().as_uri() + fragment)
        for name, selector in shots.items():
            print(f"[screenshot] {browser.capture(selector, out / name)}")
    finally:
        browser.close()


def terminal_image(text: str, path: Path) -> None:
    """A PNG of ``text`` as a terminal shows it (a dark page with the text, via Chromium)."""
    page = path.with_suffix(".html")
    page.write_text(
        "<html><body style='margin:0;background:#1e1e1e'><pre id='terminal' style='margin:0;"
        "padding:14px 18px;color:#e6e6e6;font:14px/1.5 monospace;display:inline-block'>"
        f"{html.escape(text)}</pre></body></html>"
    )
    capture(page, {path.name: "#terminal"}, path.parent, width=900)
    page.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo-output/report-example")
    parser.add_argument("--offline", action="store_true", help="scripted replies even with a model")
    parser.add_argument("--archive", help="also report this discovery archive")
    parser.add_argument("--screenshots", help="save PNGs of the reports here (needs Chromium)")
    args = parser.parse_args()

    out = Path(args.out)
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    llm, scripted = choose_llm(scripted_replies(), offline=args.offline)
    if scripted:
        llm.prices = Price(*GPT_4O_PRICES)  # priced as gpt-4o, so the report shows costs
    agent = Converter()
    train(
        model=agent,
        train_dataset=DATA,
        algorithm="BeamsearchAlgorithm",
        optimizer=OptoPrime(agent.parameters(), llm=llm),
        guide=accuracy_and_brevity,
        batch_size=3,
        num_steps=4,
        beam_width=2,
        num_proposals=2,
        validate_dataset=VALIDATION,
        test_dataset=TEST,
        test_frequency=2,
        objective_config={"mode": "weighted", "weights": {"accuracy": 1.0, "brevity": 0.2}},
        run_dir=run_dir,
    )
    shown = show(str(run_dir))
    print(f"\n$ opto show {run_dir}\n{shown}")
    report = write_report(run_dir)
    print(f"\n$ opto report {run_dir}\nreport written to {report}")
    archive_report = write_report(args.archive, out / "archive.html") if args.archive else None
    if archive_report:
        print(f"report of {args.archive} written to {archive_report}")
    if args.screenshots:
        shots = Path(args.screenshots)
        capture(
            report,
            {
                "report-overview.png": "body",
                "report-steps.png": "#steps",
                "report-search.png": "#search",
            },
            shots,
        )
        if archive_report:
            capture(
                archive_report,
                {"report-archive.png": "#entries", "report-fitness.png": "#fitness"},
                shots,
                fragment="#sort=fitness-desc",
            )
        terminal_image(f"$ opto show {run_dir}\n{shown}", shots / "opto-show.png")
    if scripted:
        print("(The optimizer's replies were SCRIPTED, not written by a model.)")


if __name__ == "__main__":
    run(main)
