"""DiscoPOP at small scale: reward vs KL and reward vs beta for DPO, SLiC, IPO and LRML.

Trains every (preset, loss, beta, seed) of the grid on opto.discovery's preference task, writes
one JSON line per run to benchmarks/results/discopop_reproduction.jsonl (git-ignored), a
summary to benchmarks/results/discopop_summary.json, one figure per preset to
benchmarks/figures/discopop_<preset>.png, and prints the two verdicts:

(a) at beta = 0.01, LRML ends below the reference policy's reward in >= 8/10 seeds while DPO
    ends above it in >= 8/10;
(b) at two or more betas where LRML escapes (above the reference in >= 8/10 seeds), its KL is
    lower than DPO's in >= 8/10 paired seeds and its mean paired reward difference to DPO is
    no worse than minus one standard deviation of that difference ("no reward cost").

Alongside (b) it prints two comparisons at matched KL rather than at equal beta: the paired
difference of the frontier gap (optimal reward at the run's KL minus its reward), and for each
loss the best reward over the beta grid under a KL budget.

Usage::

    python benchmarks/discopop_reproduction.py                 # 3 presets, 10 seeds, 2 workers
    python benchmarks/discopop_reproduction.py --presets overfit --seeds 3
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opto.discovery import REFERENCE_LOSSES, PreferenceTask, TrainingDivergedError  # noqa: E402
from opto.discovery.metrics import expected_reward, optimal_frontier  # noqa: E402

LOSSES = ("dpo", "slic", "ipo", "lrml")
BETAS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0)
PRESETS = ("base", "overfit", "big_steps")
BUDGETS = (0.05, 0.1, 0.3, 1.0)
STYLE = {
    "dpo": ("tab:blue", "o"),
    "slic": ("tab:orange", "s"),
    "ipo": ("tab:green", "^"),
    "lrml": ("tab:red", "D"),
}
NAMES = {"dpo": "DPO", "slic": "SLiC", "ipo": "IPO", "lrml": "LRML (DiscoPOP)"}

_tasks: dict[str, PreferenceTask] = {}


def run_one(job: tuple[str, str, float, int]) -> dict:
    """Train and measure one grid point (in a worker process)."""
    preset, loss_name, beta, seed = job
    task = _tasks.setdefault(preset, PreferenceTask(preset))
    start = time.perf_counter()
    try:
        row = task.evaluate(REFERENCE_LOSSES[loss_name], beta, seed, name=loss_name).to_dict()
        row["status"] = "ok"
    except TrainingDivergedError as exc:
        row = {"preset": preset, "loss": loss_name, "beta": beta, "seed": seed}
        row.update(status="diverged", error=str(exc), reward=math.nan, kl=math.nan)
        world = task.world(seed)
        row["reference_reward"] = expected_reward(world.reference_log_probs, world.reward)
    row["seconds"] = time.perf_counter() - start
    return row


def select(rows: list[dict], preset: str, loss: str, beta: float) -> dict[int, dict]:
    """Rows of one grid cell, by seed."""
    return {
        r["seed"]: r
        for r in rows
        if r["preset"] == preset and r["loss"] == loss and r["beta"] == beta
    }


def mean_sd(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return statistics.fmean(finite), sd


def verdict_a(rows: list[dict], preset: str, seeds: int) -> dict:
    """LRML below and DPO above the reference at beta = 0.01."""
    need = math.ceil(0.8 * seeds)
    lrml = select(rows, preset, "lrml", 0.01).values()
    dpo = select(rows, preset, "dpo", 0.01).values()
    below = sum(r["reward"] < r["reference_reward"] for r in lrml)
    above = sum(r["reward"] > r["reference_reward"] for r in dpo)
    return {
        "lrml_below_reference": below,
        "dpo_above_reference": above,
        "seeds": seeds,
        "holds": below >= need and above >= need,
    }


def verdict_b(rows: list[dict], preset: str, seeds: int, betas: tuple[float, ...]) -> dict:
    """Lower KL than DPO at no reward cost, at the betas where LRML escapes."""
    need = math.ceil(0.8 * seeds)
    per_beta = []
    for beta in betas:
        lrml, dpo = select(rows, preset, "lrml", beta), select(rows, preset, "dpo", beta)
        paired = sorted(set(lrml) & set(dpo))
        escaped = sum(lrml[s]["reward"] > lrml[s]["reference_reward"] for s in paired)
        if escaped < need:
            continue
        kl_lower = sum(lrml[s]["kl"] < dpo[s]["kl"] for s in paired)
        d_reward = [lrml[s]["reward"] - dpo[s]["reward"] for s in paired]
        d_kl = [lrml[s]["kl"] - dpo[s]["kl"] for s in paired]
        d_gap = [lrml[s]["frontier_gap"] - dpo[s]["frontier_gap"] for s in paired]
        reward_mean, reward_sd = mean_sd(d_reward)
        kl_mean, kl_sd = mean_sd(d_kl)
        gap_mean, gap_sd = mean_sd(d_gap)
        no_cost = reward_mean >= -reward_sd
        per_beta.append(
            {
                "beta": beta,
                "lrml_escaped": escaped,
                "kl_lower_than_dpo": kl_lower,
                "d_reward_mean": reward_mean,
                "d_reward_sd": reward_sd,
                "d_kl_mean": kl_mean,
                "d_kl_sd": kl_sd,
                "d_frontier_gap_mean": gap_mean,
                "d_frontier_gap_sd": gap_sd,
                "no_reward_cost": no_cost,
                "qualifies": kl_lower >= need and no_cost,
            }
        )
    qualifying = [p["beta"] for p in per_beta if p["qualifies"]]
    return {"per_beta": per_beta, "qualifying_betas": qualifying, "holds": len(qualifying) >= 2}


def budget_table(rows: list[dict], preset: str, losses, seeds: int) -> list[dict]:
    """Best reward over the beta grid with KL <= budget, per seed, paired against DPO.

    The comparison at matched KL: the reference policy (KL 0) always fits the budget.
    """
    table = []
    for budget in BUDGETS:
        best = {}
        for loss in losses:
            best[loss] = []
            for seed in range(seeds):
                fits = [
                    r["reward"]
                    for r in rows
                    if r["preset"] == preset
                    and r["loss"] == loss
                    and r["seed"] == seed
                    and r["kl"] <= budget
                ]
                reference = next(
                    r["reference_reward"]
                    for r in rows
                    if r["preset"] == preset and r["seed"] == seed
                )
                best[loss].append(max([*fits, reference]))
        for loss in losses:
            entry = {"budget": budget, "loss": loss}
            entry["best_reward"], entry["best_reward_sd"] = mean_sd(best[loss])
            if "dpo" in best:
                d = [a - b for a, b in zip(best[loss], best["dpo"], strict=True)]
                entry["d_vs_dpo"], entry["d_vs_dpo_sd"] = mean_sd(d)
            table.append(entry)
    return table


def print_budgets(table: list[dict]) -> None:
    print("  best reward with KL <= budget (paired difference to DPO, mean ± sd):")
    for budget in BUDGETS:
        cells = [c for c in table if c["budget"] == budget]
        parts = []
        for c in cells:
            text = f"{c['loss']} {round(c['best_reward'], 6) + 0.0:+.3f}"
            if c["loss"] != "dpo" and "d_vs_dpo" in c:
                text += f" ({c['d_vs_dpo']:+.3f} ± {c['d_vs_dpo_sd']:.3f})"
            parts.append(text)
        print(f"    KL <= {budget:<4g}: " + " | ".join(parts))


def cell_table(rows: list[dict], preset: str, losses, betas) -> list[dict]:
    """Mean and sd of the metrics per (loss, beta)."""
    table = []
    for loss in losses:
        for beta in betas:
            cell = list(select(rows, preset, loss, beta).values())
            entry = {"loss": loss, "beta": beta, "n": len(cell)}
            for metric in ("reward", "kl", "win_rate", "frontier_gap", "train_accuracy"):
                entry[metric], entry[metric + "_sd"] = mean_sd(
                    [r.get(metric, math.nan) for r in cell]
                )
            entry["below_reference"] = sum(r["reward"] < r["reference_reward"] for r in cell)
            entry["diverged"] = sum(r["status"] != "ok" for r in cell)
            table.append(entry)
    return table


def frontier_curve(preset: str, seeds: int, kls) -> list[float]:
    """The exact optimal reward at each KL, averaged over the seeds' worlds."""
    task = PreferenceTask(preset)
    curves = []
    for seed in range(seeds):
        world = task.world(seed)
        curves.append(optimal_frontier(world.reference_log_probs, world.reward, kls))
    return [statistics.fmean(values) for values in zip(*curves, strict=True)]


def plot(rows, table, preset, seeds, losses, betas, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    finite_kls = [r["kl"] for r in rows if r["preset"] == preset and r["kl"] > 0]
    kls = np.geomspace(min(finite_kls) * 0.8, max(finite_kls) * 1.2, 60)
    left.plot(kls, frontier_curve(preset, seeds, kls), "k--", lw=1.2, label="optimal policy")
    for loss in losses:
        colour, marker = STYLE[loss]
        cells = [c for c in table if c["loss"] == loss]
        points = [r for r in rows if r["preset"] == preset and r["loss"] == loss]
        left.scatter(
            [r["kl"] for r in points],
            [r["reward"] for r in points],
            color=colour,
            marker=marker,
            s=9,
            alpha=0.25,
            linewidths=0,
        )
        left.plot(
            [c["kl"] for c in cells],
            [c["reward"] for c in cells],
            color=colour,
            marker=marker,
            ms=6,
            lw=1.2,
            label=NAMES[loss],
        )
        right.errorbar(
            [c["beta"] for c in cells],
            [c["reward"] for c in cells],
            yerr=[c["reward_sd"] for c in cells],
            color=colour,
            marker=marker,
            ms=5,
            lw=1.2,
            capsize=3,
            label=NAMES[loss],
        )
    for cell in table:
        if cell["loss"] == "lrml" and cell["beta"] in (0.01, betas[-1]):
            left.annotate(
                f"β={cell['beta']:g}",
                (cell["kl"], cell["reward"]),
                textcoords="offset points",
                xytext=(6, -10),
                fontsize=8,
                color=STYLE["lrml"][0],
            )
    for axis in (left, right):
        axis.axhline(0.0, color="grey", lw=1, ls=":", label="reference policy")
        axis.set_xscale("log")
        axis.set_ylabel("expected true reward (exact)")
        axis.grid(alpha=0.3, which="both")
    left.set_xlabel("KL(π ‖ π_ref) (exact, nats)")
    left.set_title("(a) reward vs KL: β-means (lines), single seeds (dots)")
    right.set_xlabel("β")
    right.set_title(f"(b) reward vs β: mean ± sd over {seeds} seeds")
    left.legend(loc="upper left", fontsize=8)
    right.legend(loc="lower right", fontsize=8)
    figure.suptitle(f"DiscoPOP miniature, preset '{preset}'", fontsize=12)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_table(table: list[dict]) -> None:
    print(
        f"  {'loss':5} {'beta':>6} {'reward':>16} {'KL':>15} {'win':>6} {'gap':>6} {'acc':>5}"
        f" {'<ref':>5}"
    )
    for c in table:
        print(
            f"  {c['loss']:5} {c['beta']:>6g} {c['reward']:+8.3f} ± {c['reward_sd']:5.3f} "
            f"{c['kl']:7.3f} ± {c['kl_sd']:5.3f} {c['win_rate']:6.3f} {c['frontier_gap']:6.3f} "
            f"{c['train_accuracy']:5.2f} "
            f"{c['below_reference']:>3}/{c['n']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(STYLE))
    parser.add_argument("--betas", nargs="+", type=float, default=list(BETAS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=pathlib.Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--figures", type=pathlib.Path, default=ROOT / "benchmarks" / "figures")
    args = parser.parse_args()
    betas = tuple(sorted(args.betas))
    jobs = [
        (preset, loss, beta, seed)
        for preset in args.presets
        for loss in args.losses
        for beta in betas
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    with multiprocessing.Pool(args.workers) as pool:
        rows = pool.map(run_one, jobs, chunksize=8)
    elapsed = time.perf_counter() - start
    args.results.mkdir(parents=True, exist_ok=True)
    with open(args.results / "discopop_reproduction.jsonl", "w") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    seconds = [r["seconds"] for r in rows]
    print(
        f"{len(rows)} training runs in {elapsed:.1f} s with {args.workers} workers "
        f"(per run: median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s)"
    )
    summary = {"seeds": args.seeds, "betas": betas, "elapsed_seconds": elapsed, "presets": {}}
    for preset in args.presets:
        table = cell_table(rows, preset, args.losses, betas)
        budgets = budget_table(rows, preset, args.losses, args.seeds)
        result = {"table": table, "kl_budgets": budgets}
        print(f"\npreset {preset!r}")
        print_table(table)
        print_budgets(budgets)
        if {"lrml", "dpo"} <= set(args.losses):
            result["a"] = verdict_a(rows, preset, args.seeds) if 0.01 in betas else None
            result["b"] = verdict_b(rows, preset, args.seeds, betas)
            a, b = result["a"], result["b"]
            if a is not None:
                print(
                    f"  (a) beta=0.01: LRML below reference in {a['lrml_below_reference']}"
                    f"/{a['seeds']} seeds, DPO above in {a['dpo_above_reference']}/{a['seeds']}"
                    f" -> {'HOLDS' if a['holds'] else 'does not hold'}"
                )
            for p in b["per_beta"]:
                print(
                    f"      beta={p['beta']:g}: LRML escaped {p['lrml_escaped']}/{args.seeds},"
                    f" KL lower than DPO in {p['kl_lower_than_dpo']}/{args.seeds},"
                    f" d_reward {p['d_reward_mean']:+.3f} ± {p['d_reward_sd']:.3f},"
                    f" d_KL {p['d_kl_mean']:+.3f} ± {p['d_kl_sd']:.3f},"
                    f" d_gap {p['d_frontier_gap_mean']:+.3f} ± {p['d_frontier_gap_sd']:.3f}"
                    f"{'  <- qualifies' if p['qualifies'] else ''}"
                )
            print(
                f"  (b) qualifying betas {b['qualifying_betas']} -> "
                f"{'HOLDS' if b['holds'] else 'does not hold'}"
            )
        figure = args.figures / f"discopop_{preset}.png"
        plot(rows, table, preset, args.seeds, args.losses, betas, figure)
        print(f"  figure: {figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure}")
        summary["presets"][preset] = result
    with open(args.results / "discopop_summary.json", "w") as out:
        json.dump(summary, out, indent=1)


if __name__ == "__main__":
    main()
