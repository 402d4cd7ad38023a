"""A candidate as an opto model: one trainable parameter per component, one traced evaluation.

``CandidateModel`` holds each named component (a prompt, a config, the source of a function)
as a trainable ``ParameterNode``; its ``forward(example)`` is one traced operation, the
evaluation, whose inputs are the components. So the trainer's loop, checkpoints and pool work
on it unchanged, and the optimizer sees the components as its variables, the evaluator's
description (with the objective and background) as the operation's documentation, and the
rendered side info as the feedback.

Code components are Python source. The evaluator gets them as functions, loaded through an
execution policy of ``opto.runtime`` (the loader trainable bundles use): in this process by
default, or in the subprocess sandbox with ``policy="subprocess"``. A component that does not
load (a syntax error, no function, a refused import) makes the evaluation fail with that
message as its feedback.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from opto.optimize_anything.side_info import EvaluationRecord, run_evaluation
from opto.runtime import resolve_policy
from opto.trace import bundle, node
from opto.trace.modules import Module
from opto.trace.nodes import ParameterNode
from opto.utils.errors import OptoError

LOADED_KEPT = 8
"""Loaded code components a model keeps (a step evaluates a few candidates at most)."""


class EvaluationCache:
    """Evaluation records by (component values, example), shared by every copy of a model
    (the trainer scores candidates on copies): copying the cache gives the cache itself.

    A candidate that comes back unchanged (a rejected proposal, a re-scored incumbent) is
    then not evaluated again, which saves the user's evaluator calls. Records are stored and
    handed out as deep copies, so a caller that edits its record cannot change the cache;
    ``hits`` counts the lookups it answered.
    """

    def __init__(self) -> None:
        self.records: dict[str, EvaluationRecord] = {}
        self.lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def key(values: dict[str, Any], example: Any) -> str:
        """The cache key of one evaluation: a SHA-256 hex digest of the JSON of ``values``
        (``{component name: value}``) and the ``repr`` of ``example``.

        The ``repr`` stands in for examples that are not JSON data, so two examples with the
        same ``repr`` share a record.
        """
        text = json.dumps([values, repr(example)], sort_keys=True, default=repr)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> EvaluationRecord | None:
        """A copy of the record stored under ``key`` (counted in ``hits``), or None."""
        with self.lock:
            record = self.records.get(key)
            if record is not None:
                self.hits += 1
            return copy.deepcopy(record)

    def put(self, key: str, record: EvaluationRecord) -> None:
        """Store a copy of ``record`` under ``key`` (replacing an earlier one)."""
        with self.lock:
            self.records[key] = copy.deepcopy(record)

    def __deepcopy__(self, memo: dict) -> EvaluationCache:
        return self


class CandidateCodeError(OptoError, ValueError):
    """A code component could not be loaded as a function (its message is the feedback the
    optimizer reads; the evaluation it happened in scores the failure score)."""


class CandidateModel(Module):
    """The components of a candidate as trainable parameters, and their evaluation.

    Args:
        components: ``{name: text}``, the seed candidate.
        evaluator: the user's function ``evaluator(candidate)`` or
            ``evaluator(candidate, example)``.
        as_text: give the evaluator the lone component as a string rather than a dict (the
            seed was a string).
        with_example: call the evaluator with the example (a dataset was given).
        code: the names of components that are function source, given as functions.
        policy: the execution policy of code components (a policy or a name).
        description: what the operation's documentation says (objective and background).
        failure_score: the score of an evaluation that raises.
        capture_stdio: add the evaluator's printed output to the side info.
        cache: an ``EvaluationCache`` shared by the model's copies (None: no cache).
    """

    def __init__(
        self,
        components: dict[str, str],
        evaluator: Callable[..., Any],
        *,
        as_text: bool,
        with_example: bool,
        code: Iterable[str] = (),
        policy: Any = None,
        description: str = "",
        failure_score: float = 0.0,
        capture_stdio: bool = False,
        cache: EvaluationCache | None = None,
    ) -> None:
        self.names = list(components)
        self.code = frozenset(code)
        self.nodes = {
            name: node(
                value,
                trainable=True,
                name=_identifier(name),
                description=_component_description(name, name in self.code),
            )
            for name, value in components.items()
        }
        self.evaluator = evaluator
        self.as_text = as_text
        self.with_example = with_example
        self.policy = policy
        self.failure_score = failure_score
        self.capture_stdio = capture_stdio
        self.cache = cache
        self.function_names = {name: _function_names(components[name]) for name in self.code}
        self.loaded: dict[tuple[str, str], Any] = {}
        self.operation = bundle(description=f"[evaluate] {description}".strip())(self.evaluate)

    def parameters_dict(self) -> dict[str, ParameterNode]:
        """``{component name: parameter}``: snapshot paths are the component names."""
        return dict(self.nodes)

    def forward(self, example: Any) -> Any:
        """The traced evaluation of the current components on ``example``."""
        return self.operation(example, *(self.nodes[name] for name in self.names))

    def candidate(self, values: dict[str, Any]) -> Any:
        """The candidate as the user sees it: a string, or a dict by component name.

        Args:
            values: ``{component name: value}`` for every component (the value may be a
                loaded function for a code component).
        """
        return values[self.names[0]] if self.as_text else {n: values[n] for n in self.names}

    def evaluate(self, example: Any, *components: Any) -> EvaluationRecord:
        """Run the evaluator on the components (in ``names`` order) and ``example``."""
        values = dict(zip(self.names, components, strict=True))
        key = None
        if self.cache is not None:
            key = EvaluationCache.key(values, example)
            cached = self.cache.get(key)
            if cached is not None:
                return cached

        def call() -> Any:
            given = {
                name: self._function(name, value) if name in self.code else value
                for name, value in values.items()
            }
            candidate = self.candidate(given)
            if self.with_example:
                return self.evaluator(candidate, example)
            return self.evaluator(candidate)

        record = run_evaluation(call, self.failure_score, self.capture_stdio)
        if key is not None:
            self.cache.put(key, record)
        return record

    def _function(self, name: str, source: str) -> Callable[..., Any]:
        """The function a code component defines, loaded under the policy (kept per source)."""
        key = (name, source)
        if key in self.loaded:
            return self.loaded[key]
        function_name = _pick_function(source, self.function_names[name], name)
        try:
            loaded = resolve_policy(self.policy).load(source, function_name)
        except SyntaxError as error:
            raise CandidateCodeError(f"component {name!r} does not parse: {error}") from None
        kept = list(self.loaded.items())[-(LOADED_KEPT - 1) :]
        self.loaded = {**dict(kept), key: loaded}  # one assignment: threads may share it
        return loaded


def _identifier(name: str) -> str:
    """A variable name for the optimizer's prompt (component names may be any text)."""
    text = re.sub(r"\W", "_", name).strip("_") or "component"
    return text if not text[0].isdigit() else f"c_{text}"


def _component_description(name: str, is_code: bool) -> str:
    kind = "Python source defining a function" if is_code else "text"
    return f"the candidate's component {name!r} ({kind})"


def _function_names(source: str) -> tuple[str, ...]:
    """The top-level functions the seed's code defines (the proposal should keep one)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple(s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef))


def _pick_function(source: str, seed_names: tuple[str, ...], component: str) -> str:
    """The function to load from ``source``: the seed's function if it still defines it,
    else its only top-level function."""
    names = _function_names(source)
    if not names:
        try:
            ast.parse(source)
        except (SyntaxError, ValueError) as error:
            raise CandidateCodeError(f"component {component!r} does not parse: {error}") from None
        raise CandidateCodeError(f"component {component!r} defines no top-level function")
    for name in seed_names:
        if name in names:
            return name
    if len(names) == 1:
        return names[0]
    raise CandidateCodeError(
        f"component {component!r} defines several functions ({', '.join(names)}) and none "
        f"has the seed's name ({', '.join(seed_names) or 'none'}); keep the function's name"
    )
