"""``python -m bench`` (``make bench``): start a local control plane once, run the chosen
scenarios (all by default) each with its own simulated GitLabs and operator, save each
scenario's raw result as JSON under ``bench/results/`` as soon as it is done, then draw the
PNGs under ``docs/benchmarks/`` and write ``docs/benchmarks.md`` from every saved result
(so running one scenario refreshes its section and keeps the others).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import at_rest, compare, plots, report, scale, streaming, throughput
from bench.methods import TEXT
from bench.stack import BenchStack

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("throughput", "compare", "streaming", "at_rest", "scale")


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _record(name: str, result: dict[str, Any], began: float) -> dict[str, Any]:
    return {
        "scenario": name,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_seconds": time.time() - began,
        "machine": report.machine(),
        "result": result,
    }


def _other_cases(saved: Path, ns: list[int]) -> list[dict[str, Any]]:
    """Scenario 1's saved cases for other N than those about to run: running some N
    refreshes their rows and keeps the others."""
    if not saved.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(saved.read_text())["result"].get("cases", [])
    return [case for case in cases if case["n"] not in ns]


def _with(result: dict[str, Any], kept: list[dict[str, Any]]) -> dict[str, Any]:
    return {**result, "cases": [*kept, *result["cases"]]}


def _runners(
    args: argparse.Namespace, results: Path
) -> dict[str, Callable[[BenchStack], dict[str, Any]]]:
    began = time.time()

    target = results / "throughput.json"
    kept = _other_cases(target, args.n)

    def partial(result: dict[str, Any]) -> None:
        # A long scenario keeps what it measured so far, should it be stopped.
        record = _record("throughput", _with(result, kept), began)
        target.write_text(json.dumps(record, indent=1))

    return {
        "throughput": lambda stack: _with(
            throughput.run(
                stack,
                args.n,
                runs=args.runs,
                modes=tuple(args.mode or throughput.MODES),
                say=_say,
                save=partial,
            ),
            kept,
        ),
        "compare": lambda stack: compare.run(stack, args.compare_n, runs=args.compare_runs),
        "streaming": lambda stack: streaming.run(
            stack, sizes=args.stream_size, rounds=args.stream_rounds
        ),
        "at_rest": lambda stack: at_rest.run(
            stack,
            runs=args.rest_runs,
            finished=args.rest_finished,
            in_flight=args.rest_in_flight,
            minutes=args.rest_minutes,
        ),
        "scale": lambda stack: scale.run(
            stack, runs=args.scale_runs, max_in_flight=args.scale_in_flight
        ),
    }


def run_scenarios(args: argparse.Namespace, chosen: list[str], results: Path) -> bool:
    work = Path(tempfile.mkdtemp(prefix="gitlab-ferry-bench-"))
    stack = BenchStack(work)
    runners = _runners(args, results)
    ok = True
    try:
        _say(f"work directory (logs, simulator data): {work}")
        _say("starting a local Kubernetes control plane")
        stack.start_kubernetes()
        for name in chosen:
            _say(f"scenario {name}")
            began = time.time()
            try:
                result = runners[name](stack)
            except Exception:  # noqa: BLE001 - report it, go on with the other scenarios
                traceback.print_exc()
                ok = False
                continue
            took = time.time() - began
            record = _record(name, result, began)
            (results / f"{name}.json").write_text(json.dumps(record, indent=1))
            _say(f"scenario {name} done in {took / 60:.1f} min")
    finally:
        stack.stop()
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return ok


def write_outputs(results: Path, docs: Path) -> Path:
    found = {
        name: json.loads((results / f"{name}.json").read_text())
        for name in SCENARIOS
        if (results / f"{name}.json").exists()
    }
    images = docs / "benchmarks"
    images.mkdir(parents=True, exist_ok=True)
    tp, cp, rest = (found.get(k, {}).get("result") for k in ("throughput", "compare", "at_rest"))
    if tp:
        plots.throughput(tp, images / "throughput.png")
    if cp:
        plots.compare(cp, images / "compare.png")
    if tp or rest:
        largest = max(tp["cases"], key=lambda case: case["n"]) if tp else None
        rest_run = rest["runs"][rest["median_index"]] if rest else None
        plots.memory(
            plots.median_run(largest) if largest else None, rest_run, images / "memory.png"
        )
    target = docs / "benchmarks.md"
    previous = target.read_text() if target.exists() else ""
    target.write_text(report.render(found, TEXT, previous))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=SCENARIOS, help="Run this scenario (repeatable)."
    )
    parser.add_argument(
        "--n",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[20, 120, 500],
        help="Scenario 1 migrations, comma-separated (default 20,120,500).",
    )
    parser.add_argument(
        "--mode", action="append", choices=throughput.MODES, help="Scenario 1 way (repeatable)."
    )
    parser.add_argument("--runs", type=int, default=3, help="Scenario 1 runs per N and way.")
    parser.add_argument("--compare-n", type=int, default=20, help="Scenario 2 migrations.")
    parser.add_argument("--compare-runs", type=int, default=3, help="Scenario 2 runs.")
    parser.add_argument(
        "--stream-size",
        type=lambda text: text.split(","),
        default=["1GiB", "2GiB"],
        help="Scenario 3 repository sizes, comma-separated (default 1GiB,2GiB).",
    )
    parser.add_argument("--stream-rounds", type=int, default=3, help="Scenario 3 rounds.")
    parser.add_argument("--rest-finished", type=int, default=1000, help="Scenario 4 objects.")
    parser.add_argument("--rest-in-flight", type=int, default=100, help="Scenario 4 in flight.")
    parser.add_argument("--rest-minutes", type=int, default=2, help="Scenario 4 minutes.")
    parser.add_argument("--rest-runs", type=int, default=3, help="Scenario 4 runs.")
    parser.add_argument("--scale-runs", type=int, default=3, help="Scenario 5 runs.")
    parser.add_argument(
        "--scale-in-flight", type=int, default=scale.MAX_IN_FLIGHT, help="Scenario 5 maxInFlight."
    )
    parser.add_argument("--report-only", action="store_true", help="Only redraw from results.")
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)
    chosen = [name for name in SCENARIOS if name in (args.only or SCENARIOS)]
    args.results.mkdir(parents=True, exist_ok=True)
    began = time.time()
    ok = True
    if not args.report_only:
        ok = run_scenarios(args, chosen, args.results)
    target = write_outputs(args.results, args.docs)
    _say(f"wrote {target} in {(time.time() - began) / 60:.1f} min")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
