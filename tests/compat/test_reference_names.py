"""Every public name of trace-opt 0.1.3.8 and OpenTrace 0.2 is importable from the module the
reference defines it in, and every member of their classes exists, except the names
docs/compatibility.md leaves out (each with its reason there).

``data/reference_names.json`` lists, per reference and module, the names that module defines
(not those it only imports from elsewhere) and each class's members: facts taken from the
references' public surface. A name lost in a refactor (a function moved out of the module
Trace users import it from) fails here.
"""

import importlib
import json
from pathlib import Path

import pytest

NAMES = json.loads((Path(__file__).parent / "data" / "reference_names.json").read_text())
COMPATIBILITY = (Path(__file__).parents[2] / "docs" / "compatibility.md").read_text()

RESERVED = ("reserved_cls_member_names", "reserved_cls_name", "reserved_cls_name_to_source")
LEFT_OUT = {
    # (what the doc names, the dotted names it covers)
    "opto.trace.operators.TYPE_CHECKING": {"opto.trace.operators.TYPE_CHECKING"},
    "opto.optimizers.textgrad.GRADIENT_MULTIPART_TEMPLATE": {
        f"opto.optimizers.textgrad.{name}"
        for name in (
            "GRADIENT_MULTIPART_TEMPLATE",
            "GRADIENT_OF_RESULTS_INSTRUCTION",
            "SEARCH_QUERY_BACKWARD_INSTRUCTION",
        )
    },
    "opto.utils.llm.AutoGenLLM": {
        "opto.utils.llm.AutoGenLLM.create",
        "opto.utils.llm.AutoGenLLM.model",
    },
    "`.model` as a property": {
        f"opto.utils.llm.{cls}.model" for cls in ("LLM", "LiteLLM", "CustomLLM", "DummyLLM")
    },
    "reserved_cls_name": {
        f"{module}.{cls}.{name}"
        for module, cls in (
            ("opto.features.flows.compose", "TracedLLM"),
            ("opto.features.flows.compose", "TracedLLMModel"),
            ("opto.features.predefined_agents", "BasicLearner"),
            ("opto.features.predefined_agents", "Learner"),
            ("opto.features.predefined_agents.learner", "BasicLearner"),
            ("opto.features.predefined_agents.learner", "BasicLearnerModel"),
            ("opto.features.predefined_agents.learner", "Learner"),
        )
        for name in RESERVED
    },
}
DOCUMENTED_GAPS = set().union(*LEFT_OUT.values())


def missing_names(modules: dict) -> list[str]:
    """The reference names this installation of opto lacks."""
    missing = []
    for module_name, names in modules.items():
        module = importlib.import_module(module_name)
        for name, entry in names.items():
            dotted = f"{module_name}.{name}"
            if entry == "module":
                try:
                    importlib.import_module(dotted)
                except ImportError:
                    missing.append(dotted)
                continue
            if not hasattr(module, name):
                missing.append(dotted)
                continue
            if isinstance(entry, list):
                owner = getattr(module, name)
                missing.extend(
                    f"{dotted}.{member}" for member in entry if not hasattr(owner, member)
                )
    return missing


@pytest.mark.parametrize("reference", sorted(NAMES))
def test_every_name_of_the_reference_is_where_trace_users_import_it(reference):
    assert sorted(set(missing_names(NAMES[reference])) - DOCUMENTED_GAPS) == []


def test_every_name_left_out_is_explained_in_docs_compatibility():
    for what in LEFT_OUT:
        assert what in COMPATIBILITY, what


def test_the_check_sees_a_name_that_is_gone():
    modules = {"opto.trace.bundle": {"to_data": "function", "no_such_name": "function"}}
    assert missing_names(modules) == ["opto.trace.bundle.no_such_name"]
