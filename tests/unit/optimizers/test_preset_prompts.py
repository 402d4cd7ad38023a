"""Every preset optimizer sends exactly the requests recorded in golden/presets/.

The presets (OptoPrime, OptoPrimeV2 with each symbol set, OPRO, OPROv2, OptoPrimeMulti with
each technique) are built from parts of one core; these files were recorded before the core
was split into parts and must not change when the parts move. Two steps each, so memory and
refusal notes are in the second prompt. Set OPTO_WRITE_GOLDEN=1 to record them again after a
deliberate prompt change.
"""

import json
import os
import warnings
from pathlib import Path

import pytest

from opto.llm import ScriptedLLM
from opto.optimizers import (
    OPRO,
    OPROv2,
    OptimizerPromptSymbolSet2,
    OptimizerPromptSymbolSetJSON,
    OptoPrime,
    OptoPrimeMulti,
    OptoPrimeV2,
)
from opto.trace import GRAPH, bundle, node

PRESETS = Path(__file__).parent / "golden" / "presets"
KEPT = ("messages", "response_format", "max_tokens", "temperature", "n")


@bundle()
def scale(a, b):
    """Scales a by len(b)."""
    return a * len(b)


def json_reply(request):
    last = request["messages"][-1]["content"]
    if last.endswith("of the best candidate only."):
        return "2"
    return json.dumps({"reasoning": "r", "answer": "", "suggestion": {"x0": "4.5", "y0": 1}})


def tag_reply(tag):
    def reply(request):
        return (
            f"<reasoning>r</reasoning><{tag}><name>x0</name><value>4.5</value></{tag}>"
            f"<{tag}><name>y0</name><value>1</value></{tag}>"
        )

    return reply


def record(make, reply, steps=2):
    GRAPH.clear()
    llm = ScriptedLLM([reply] * 40)
    x = node(3, trainable=True, name="x", description="a positive int")
    optimizer = make([x], llm)
    for step in range(steps):
        GRAPH.clear()
        out = scale(x, node("hi")) + step
        optimizer.zero_feedback()
        optimizer.backward(out, f"feedback {step}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the refusal warnings are not what is checked
            optimizer.step()
    requests = [{k: r[k] for k in KEPT if k in r} for r in llm.requests]
    # concurrent candidate requests arrive in any order
    return sorted(requests, key=lambda r: json.dumps(r, sort_keys=True))


def multi(generation, selection, **options):
    return lambda p, llm: OptoPrimeMulti(
        p,
        llm,
        num_responses=3,
        generation_technique=generation,
        selection_technique=selection,
        **options,
    )


SCENARIOS = {
    "optoprime": (lambda p, llm: OptoPrime(p, llm), json_reply),
    "optoprime_example_memory_highlight": (
        lambda p, llm: OptoPrime(
            p, llm, include_example=True, memory_size=2, highlight_variables=True
        ),
        json_reply,
    ),
    "optoprime_keys_symbols_repair": (
        lambda p, llm: OptoPrime(
            p,
            llm,
            json_keys={"answer": None, "suggestion": "proposal"},
            prompt_symbols={"variables": "#Params", "feedback": "#Critique"},
            repair_attempts=1,
            use_json_object_format=False,
        ),
        json_reply,
    ),
    "optoprime_v2": (lambda p, llm: OptoPrimeV2(p, llm), tag_reply("variable")),
    "optoprime_v2_example_memory_repair": (
        lambda p, llm: OptoPrimeV2(p, llm, include_example=True, memory_size=2, repair_attempts=1),
        tag_reply("variable"),
    ),
    "optoprime_v2_set2": (
        lambda p, llm: OptoPrimeV2(p, llm, optimizer_prompt_symbol_set=OptimizerPromptSymbolSet2()),
        tag_reply("var"),
    ),
    "optoprime_v2_json": (
        lambda p, llm: OptoPrimeV2(
            p, llm, optimizer_prompt_symbol_set=OptimizerPromptSymbolSetJSON(), memory_size=1
        ),
        json_reply,
    ),
    "opro": (lambda p, llm: OPRO(p, llm), json_reply),
    "oprov2": (lambda p, llm: OPROv2(p, llm, include_example=True), tag_reply("solution")),
    "multi_temperature_best_of_n": (
        multi("temperature_variation", "best_of_n", temperature_min_max=(0.2, 0.8)),
        json_reply,
    ),
    "multi_self_refinement_moa": (multi("self_refinement", "moa"), json_reply),
    "multi_alternatives_majority": (multi("iterative_alternatives", "majority"), json_reply),
    "multi_experts_last": (
        multi("multi_experts", "last", experts_list=["poet", "auditor"]),
        json_reply,
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_preset_requests_match_the_golden_files(name):
    make, reply = SCENARIOS[name]
    got = record(make, reply)
    path = PRESETS / f"{name}.json"
    if os.environ.get("OPTO_WRITE_GOLDEN") == "1":
        PRESETS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))
