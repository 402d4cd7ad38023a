"""Budgets that stop a run before the call that would overspend.

Before a call, its cost is estimated and *reserved* in every budget that applies: the client's
own (`LLM(max_cost=...)`) and every `with budget(...)` scope open in the calling thread or task
(so two training runs in one process each spend against their own limit). If a budget
cannot hold the reservation, `BudgetExceeded` is raised and the call is not made. Reserving
(rather than only checking) keeps the limits exact when many threads call at once. After the
call the reservation is replaced by the real cost; a failed call gives its reservation back.

The estimate is: estimated prompt tokens x input price + max_tokens (or max_completion_tokens)
x n x output price. Without either only the prompt is counted, so one reply can go over `max_cost`; set `max_tokens`
for a hard limit. Cache hits are free and do not count as calls.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opto.llm.errors import BudgetExceeded, PriceUnknownError

logger = logging.getLogger(__name__)


class Budget:
    """Limits on money (`max_cost`, US dollars) and number of calls (`max_calls`).

    None means no limit of that kind. `name` appears in refusals and logs, so that a user
    with several budgets (a client's, a training run's) can tell which one stopped a call.
    `spent` and `calls` count what the calls settled so far really used.
    """

    def __init__(
        self, max_cost: float | None = None, max_calls: int | None = None, name: str = "budget"
    ) -> None:
        if max_cost is not None and max_cost < 0:
            raise ValueError(f"max_cost must not be negative, got {max_cost}")
        if max_calls is not None and max_calls < 0:
            raise ValueError(f"max_calls must not be negative, got {max_calls}")
        self.max_cost = max_cost
        self.max_calls = max_calls
        self.name = name
        self.spent = 0.0
        self.calls = 0
        self._reserved_cost = 0.0
        self._reserved_calls = 0
        self._lock = threading.Lock()

    @property
    def remaining_cost(self) -> float | None:
        """Dollars left before `max_cost` (never negative); None without a cost limit."""
        return None if self.max_cost is None else max(0.0, self.max_cost - self.spent)

    @property
    def remaining_calls(self) -> int | None:
        """Calls left before `max_calls` (never negative); None without a call limit."""
        return None if self.max_calls is None else max(0, self.max_calls - self.calls)

    def reserve(self, estimate: float | None, model: str | None = None) -> None:
        """Hold room for one call costing `estimate` (None: price unknown) or raise.

        Raises `BudgetExceeded` when the call would pass a limit and `PriceUnknownError`
        when a cost limit cannot be checked; `model` is named in either error.
        """
        with self._lock:
            if (
                self.max_calls is not None
                and self.calls + self._reserved_calls + 1 > self.max_calls
            ):
                raise BudgetExceeded(
                    f"{self.name}: max_calls={self.max_calls} reached "
                    f"({self.calls} made, {self._reserved_calls} in flight); the call was not made",
                    limit_name="max_calls",
                    limit=self.max_calls,
                    spent=self.calls,
                    needed=1,
                    model=model,
                )
            if self.max_cost is not None:
                if estimate is None:
                    raise PriceUnknownError(
                        f"{self.name}: max_cost={self.max_cost} cannot be enforced because the "
                        "price of this model is unknown; pass prices=(input_per_token, "
                        "output_per_token) to the client (0, 0 for a free local model)",
                        model=model,
                    )
                committed = self.spent + self._reserved_cost
                if committed + estimate > self.max_cost:
                    raise BudgetExceeded(
                        f"{self.name}: max_cost=${self.max_cost:.6g} would be exceeded "
                        f"(spent ${self.spent:.6g}, in flight ${self._reserved_cost:.6g}, "
                        f"this call up to ${estimate:.6g}); the call was not made",
                        limit_name="max_cost",
                        limit=self.max_cost,
                        spent=self.spent,
                        needed=estimate,
                        model=model,
                    )
            self._reserved_calls += 1
            self._reserved_cost += estimate or 0.0

    def settle(self, estimate: float | None, cost: float | None) -> None:
        """Replace the reservation of `estimate` (as passed to `reserve`) by `cost`, what the
        call really cost (None: unknown, counted as free)."""
        with self._lock:
            self._reserved_calls -= 1
            self._reserved_cost -= estimate or 0.0
            self.calls += 1
            self.spent += cost or 0.0

    def charge(self, cost: float, calls: int) -> None:
        """Count `calls` calls costing `cost` dollars in total that were made where this
        budget could not see them (another process, such as a sandboxed worker)."""
        with self._lock:
            self.calls += calls
            self.spent += cost

    def cancel(self, estimate: float | None) -> None:
        """Give the reservation of `estimate` (as passed to `reserve`) back: the call failed."""
        with self._lock:
            self._reserved_calls -= 1
            self._reserved_cost -= estimate or 0.0

    def __repr__(self) -> str:
        return (
            f"Budget(name={self.name!r}, spent={self.spent:.6g}, calls={self.calls}, "
            f"max_cost={self.max_cost}, max_calls={self.max_calls})"
        )


_ACTIVE: contextvars.ContextVar[tuple[Budget, ...]] = contextvars.ContextVar(
    "opto_budgets", default=()
)


def active_budgets() -> list[Budget]:
    """The `budget()` scopes open in this thread or task, outermost first."""
    return list(_ACTIVE.get())


@contextmanager
def budget(
    max_cost: float | None = None, max_calls: int | None = None, name: str = "budget"
) -> Iterator[Budget]:
    """Limit every call made in this thread or task while the block runs.

    Scopes nest; each one counts independently. asyncio tasks and `asyncio.to_thread` inherit
    the scope, and so do opto's own thread pools (evaluation, OptoPrimeMulti); a thread you
    start yourself does only if it runs in a copy of this context
    (`contextvars.copy_context().run`). Calls made elsewhere (another run in another thread)
    are not counted. For a limit on one client only, pass `max_cost` / `max_calls` to that
    client instead.

    `max_cost` is in US dollars and `max_calls` counts calls (None: no limit); `name`
    identifies this scope in refusals and logs. The block receives the `Budget` to read
    what it spent.
    """
    scope = Budget(max_cost=max_cost, max_calls=max_calls, name=name)
    token = _ACTIVE.set((*_ACTIVE.get(), scope))
    try:
        yield scope
    finally:
        _ACTIVE.reset(token)


def reserve_all(budgets: Sequence[Budget], estimate: float | None, model: str | None) -> None:
    """Reserve `estimate` dollars for one call to `model` in each of `budgets`, or in none:
    if one refuses, those already taken are given back before the error propagates (each
    reservation and refusal is logged)."""
    taken: list[Budget] = []
    try:
        for item in budgets:
            item.reserve(estimate, model)
            taken.append(item)
            logger.debug(
                "%s: reserved %s for a call to %s (%r)", item.name, _money(estimate), model, item
            )
    except Exception as error:
        logger.info("call to %s not made: %s", model, error)
        for item in taken:
            item.cancel(estimate)
        raise


def _money(estimate: float | None) -> str:
    return "an unknown cost" if estimate is None else f"${estimate:.6g}"
