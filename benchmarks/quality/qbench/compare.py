"""Compare a replayed run with its recording: everything but wall-clock times must match."""

from __future__ import annotations

RUN_FIELDS = (
    "success",
    "steps_to_solve",
    "steps",
    "scores",
    "usage",
    "replies",
    "parsed",
    "applied",
    "refused",
    "unknown",
    "error",
)
STEP_FIELDS = ("score", "success", "details", "usage", "optimizer")


def differences(recorded: list[dict], replayed: list[dict]) -> list[str]:
    """Readable differences for every (task, implementation) the replay ran."""
    found: list[str] = []
    expected_runs = _by_key(recorded, "run")
    expected_steps = _by_key(recorded, "step")
    replayed_steps = _by_key(replayed, "step")
    for key, run in _by_key(replayed, "run").items():
        label = f"{key[0]} [{key[1]}]"
        if key not in expected_runs:
            found.append(f"{label}: not in the recording")
            continue
        for field in RUN_FIELDS:
            if run.get(field) != expected_runs[key].get(field):
                found.append(
                    f"{label}: {field} {expected_runs[key].get(field)!r} was "
                    f"recorded, the replay gave {run.get(field)!r}"
                )
        for step_key in sorted(k for k in expected_steps if k[:2] == key):
            step = replayed_steps.get(step_key)
            if step is None:
                found.append(f"{label}: step {step_key[2]} was not replayed")
                continue
            for field in STEP_FIELDS:
                if step.get(field) != expected_steps[step_key].get(field):
                    found.append(f"{label}: step {step_key[2]} {field} differs")
    return found


def _by_key(records: list[dict], kind: str) -> dict[tuple, dict]:
    keyed = {}
    for record in records:
        if record.get("kind") != kind:
            continue
        key = (record.get("task"), record.get("impl"))
        if kind == "step":
            key = (*key, record.get("step"))
        keyed[key] = record
    return keyed
