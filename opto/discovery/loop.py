"""The discovery loop: an LLM proposes losses, each is checked, trained and scored, and the
result is fed back, one generation at a time, as in DiscoPOP.

One generation is: build the messages (:mod:`opto.discovery.context`), make one LLM call,
parse the reply (:mod:`opto.discovery.proposal`), skip it if its normalised code was seen before,
otherwise evaluate it (:mod:`opto.discovery.evaluator`: static checks, then sandboxed contract
tests and training), append the entry with its feedback text to the archive, and write the file.
A broken, hostile or unreadable proposal is an entry like any other: it uses its generation and
its error is what the proposer reads next. Only the LLM call itself can raise (no model, budget
exhausted, provider down); the archive is complete at that point and the run can be resumed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opto.discovery.archive import Archive, Entry
from opto.discovery.context import MODES, ArchiveView, build_messages
from opto.discovery.contract import ContractSpec
from opto.discovery.errors import ArchiveError, EnvironmentProblemError, ProposalParseError
from opto.discovery.evaluator import Outcome, ProposalEvaluator
from opto.discovery.interface import code_hash
from opto.discovery.losses import REFERENCE_LOSSES, reference_loss_source
from opto.discovery.objective import LossObjective
from opto.discovery.prompts import (
    duplicate_feedback,
    error_feedback,
    system_prompt,
    valid_feedback,
)
from opto.discovery.proposal import parse_proposal

DEFAULT_BASELINES = ("dpo", "slic", "ipo", "kto")
DEFAULT_LLM_OPTIONS = {"max_tokens": 2048}


class DiscoveryLoop:
    """Discover preference-optimization losses with ``llm``, recording everything in a JSON file.

    If ``archive_path`` exists the loop continues it: its objective, contract and baselines are
    used, and passing different ones raises :class:`ArchiveError` (fitness values would not be
    comparable). ``mode`` (``"transcript"`` or ``"archive"``) and ``view`` may change between
    runs. ``contract_policy`` and ``training_policy`` are the sandboxes of the two stages
    (:class:`~opto.runtime.SubprocessPolicy` with default limits when None). With
    ``static_check=False`` code importing modules other than numpy and math reaches the sandbox.
    ``on_entry`` is called with every new entry (for progress output). ``llm_options`` are
    sent with every call (default ``{"max_tokens": 2048}``).
    """

    def __init__(
        self,
        llm: Any,
        archive_path: str | os.PathLike,
        *,
        objective: LossObjective | None = None,
        mode: str = "transcript",
        view: ArchiveView | None = None,
        baselines: Sequence[str] | None = None,
        contract: ContractSpec | None = None,
        contract_policy: Any = None,
        training_policy: Any = None,
        static_check: bool | None = None,
        llm_options: dict[str, Any] | None = None,
        on_entry: Callable[[Entry], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown feedback mode {mode!r}; the modes are {MODES}")
        self.llm = llm
        self.mode = mode
        self.view = view or ArchiveView()
        self.llm_options = dict(DEFAULT_LLM_OPTIONS if llm_options is None else llm_options)
        self.on_entry = on_entry
        path = Path(archive_path)
        chosen = {
            "objective": objective.to_dict() if objective is not None else None,
            "contract": contract.to_dict() if contract is not None else None,
            "baselines": _check_baselines(baselines),
            "static_check": static_check,
        }
        if path.exists():
            self.archive = Archive.load(path)
            settings = self.archive.settings
            for key, value in chosen.items():
                if value is not None and value != settings.get(key):
                    raise ArchiveError(
                        f"the archive {path} was made with {key} {settings.get(key)!r}, not "
                        f"{value!r}; use another archive path, or leave {key} unset to continue "
                        "with the archive's"
                    )
        else:
            defaults = {
                "objective": LossObjective().to_dict(),
                "contract": ContractSpec().to_dict(),
                "baselines": list(DEFAULT_BASELINES),
                "static_check": True,
            }
            settings = {
                key: defaults[key] if value is None else value for key, value in chosen.items()
            }
            prompt = system_prompt(
                LossObjective.from_dict(settings["objective"]),
                ContractSpec.from_dict(settings["contract"]),
            )
            self.archive = Archive(path, settings, prompt)
            self.archive.save()
        self.archive.settings.update(mode=mode, view=self.view.to_dict())
        self.objective, self.contract, static = _stored_settings(self.archive)
        self.evaluator = ProposalEvaluator(
            self.objective,
            self.contract,
            contract_policy=contract_policy,
            training_policy=training_policy,
            static_check=static,
        )

    @classmethod
    def resume(cls, archive_path: str | os.PathLike, llm: Any, **options: Any) -> DiscoveryLoop:
        """Continue the run recorded in ``archive_path`` (which must exist) with the proposer
        ``llm``; ``options`` are the constructor's."""
        if not Path(archive_path).exists():
            raise ArchiveError(f"no discovery archive at {archive_path} to resume")
        return cls(llm, archive_path, **options)

    def run(self, generations: int) -> Archive:
        """Evaluate missing baselines, then propose until the archive holds ``generations``
        LLM proposals (a resumed run finishes the same total)."""
        if isinstance(generations, bool) or not isinstance(generations, int) or generations < 0:
            raise ValueError(f"generations must be an int >= 0, got {generations!r}")
        self.evaluate_baselines()
        self.check_baselines()
        while self.archive.generations < generations:
            self.step()
        return self.archive

    def evaluate_baselines(self) -> None:
        """Evaluate the baselines the archive does not hold yet (generation 0)."""
        present = {entry.name for entry in self.archive.seeds}
        for name in self.archive.settings["baselines"]:
            if name in present:
                continue
            code = reference_loss_source(name)
            outcome = self.evaluator.evaluate(code, name)
            doc = (REFERENCE_LOSSES[name].__doc__ or "").strip().splitlines()
            self._add(
                outcome,
                generation=0,
                origin="seed",
                name=name,
                thought=doc[0] if doc else "",
                code=code,
                code_hash=code_hash(code),
                feedback="",
            )

    def check_baselines(self) -> None:
        """Raise `EnvironmentProblemError` when a stored baseline is not valid.

        The baselines are reference losses that pass every stage on a working machine, so a
        failed one says the environment is broken (most often: the sandbox child cannot import
        a package), and a run, or a resumed archive, would only record the same failure for
        every proposal.
        """
        broken = [entry for entry in self.archive.seeds if entry.status != "valid"]
        if not broken:
            return
        first = broken[0]
        reason = (first.error or first.status).strip().splitlines()[-1][:300]
        names = ", ".join(entry.name for entry in broken)
        raise EnvironmentProblemError(
            f"the baseline loss(es) {names} in {self.archive.path} did not pass "
            f"({first.stage or first.status}: {reason}). Baselines are known to be valid, so "
            "this environment cannot evaluate proposals (for example the sandbox cannot import "
            "opto or numpy, or its limits are too tight for this machine). Fix it, then start "
            "a fresh archive: the stored entries were evaluated in the broken environment."
        )

    def step(self) -> Entry:
        """One generation: one LLM call, one archive entry."""
        generation = self.archive.generations + 1
        messages = build_messages(self.mode, self.archive, self.view)
        response = self.llm(messages=messages, **self.llm_options)
        return self.record_reply(response.content, generation, _usage(response))

    def record_reply(self, text: str | None, generation: int, usage: dict[str, Any]) -> Entry:
        """Parse, deduplicate, evaluate and archive one reply of the proposer: ``text`` is the
        reply (None when the model sent none), ``generation`` its round and ``usage`` the
        call's tokens and cost."""
        text = _encodable(text)
        reply = {"generation": generation, "origin": "llm", "reply": text, "usage": usage}
        try:
            proposal = parse_proposal(text)
        except ProposalParseError as error:
            outcome = Outcome("invalid", "parse", str(error))
            return self._add(
                outcome, name="(unreadable reply)", thought="", code="", code_hash=None, **reply
            )
        described = {"name": proposal.name, "thought": proposal.thought, "code": proposal.code}
        digest = code_hash(proposal.code)
        original = self.archive.original_of(digest)
        if original is not None:
            return self._add(
                Outcome("duplicate"),
                code_hash=digest,
                duplicate_of=original.id,
                feedback=duplicate_feedback(original),
                **described,
                **reply,
            )
        outcome = self.evaluator.evaluate(proposal.code, proposal.name)
        return self._add(outcome, code_hash=digest, **described, **reply)

    def _add(self, outcome: Outcome, **values: Any) -> Entry:
        if "feedback" not in values:
            if outcome.status == "valid":
                notes = outcome.diagnostics.get("notes", [])
                values["feedback"] = valid_feedback(outcome.fitness, outcome.metrics, notes)
            else:
                values["feedback"] = error_feedback(outcome.status, outcome.stage, outcome.error)
        entry = self.archive.add(
            status=outcome.status,
            stage=outcome.stage,
            error=outcome.error,
            fitness=outcome.fitness,
            metrics=outcome.metrics,
            diagnostics=outcome.diagnostics,
            seconds=outcome.seconds,
            **values,
        )
        if self.on_entry is not None:
            self.on_entry(entry)
        return entry


def _stored_settings(archive: Archive) -> tuple[LossObjective, ContractSpec, bool]:
    """The objective, contract and static-check switch an archive was made with; a hand-edited
    or damaged file gives :class:`ArchiveError`, not whatever the parsing hit."""
    settings = archive.settings
    try:
        objective = LossObjective.from_dict(settings["objective"])
        contract = ContractSpec.from_dict(settings["contract"])
        if not isinstance(settings["baselines"], list):
            raise ValueError(f"baselines is {settings['baselines']!r}, not a list of names")
        _check_baselines(settings["baselines"])
        static = settings["static_check"]
        if not isinstance(static, bool):
            raise ValueError(f"static_check is {static!r}, not true or false")
    except (KeyError, TypeError, ValueError) as error:
        raise ArchiveError(
            f"the discovery archive {archive.path} has unusable settings: {error!r}"
        ) from None
    return objective, contract, static


def _check_baselines(baselines: Sequence[str] | None) -> list[str] | None:
    if baselines is None:
        return None
    names = list(baselines)
    unknown = [name for name in names if name not in REFERENCE_LOSSES]
    if unknown:
        known = ", ".join(sorted(REFERENCE_LOSSES))
        raise ValueError(f"unknown baseline(s) {unknown}; known: {known}")
    return names


def _encodable(text: str | None) -> str | None:
    """The reply with lone surrogates (JSON may escape them) replaced by "?": the transcript sends
    it back to the provider, and a request body must be valid UTF-8."""
    return None if text is None else text.encode("utf-8", "replace").decode("utf-8")


def _usage(response: Any) -> dict[str, Any]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return {}
    return {
        "model": getattr(response, "model", "") or "",
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost": usage.cost,
        "cache_hit": usage.cache_hit,
        "estimated": usage.estimated,
    }
