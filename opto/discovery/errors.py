"""Errors of the discovery tasks; each names what broke so it can be fed back to a proposer."""

from __future__ import annotations

from opto.utils.errors import OptoError


class DiscoveryError(OptoError):
    """Base class of opto.discovery's errors."""


class LossContractError(DiscoveryError, ValueError):
    """A preference loss broke its interface (signature, output shape, mutation, exceptions).

    The message is written to be shown to whoever wrote the loss (a person or an LLM).
    """


class TrainingDivergedError(DiscoveryError, ArithmeticError):
    """Training produced a non-finite loss, derivative or parameter.

    ``message`` says what diverged; ``epoch`` and ``step`` locate the failure; the
    parameters at that point are discarded.
    """

    def __init__(self, message: str, *, epoch: int, step: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step


class ProposalParseError(DiscoveryError, ValueError):
    """A proposer's reply holds no usable ``{"thought", "name", "code"}`` proposal.

    The message says what was missing and is fed back to the proposer as it is.
    """


class ArchiveError(DiscoveryError, ValueError):
    """A discovery archive file cannot be read, or belongs to a different experiment."""


class EnvironmentProblemError(DiscoveryError, RuntimeError):
    """A baseline loss (known to be valid) failed: this machine cannot evaluate proposals.

    Typical causes: the sandbox child cannot import opto or numpy, or the limits are too tight
    for this machine. Every proposal would fail the same way and teach the proposer nothing, so
    the loop stops (and refuses to resume such an archive) instead of spending LLM calls.
    """
