"""Benchmark 1b: does hiredis, uvloop or another redis-py release change the USSD turn?

The hop of `bench/ussd_turn.py` at 64 connections, Shortcode beside the bare baseline, once per variant.
Both servers of a variant run on the same interpreter, so they share the same redis-py release. Other
releases and hiredis get a virtualenv of their own under var/bench-venvs/ (installed from PyPI on the
first run), so the project's .venv is never changed. The variants take turns within each run, so a
noisy minute hurts them all alike. CPU µs per hop is the steadiest figure on a shared machine.

    .venv/bin/python bench/variants.py [--seconds 5] [--runs 3] [--releases 5.0.8,6.4.0,7.4.1]
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, SERVER_CORE, fmt, free_port, redis_server, save, spread, started
from bench.ussd_turn import PREFIX, SUBSCRIBERS, measure, position, silver_numbers

VENVS = ROOT / "var" / "bench-venvs"
CONNECTIONS = 64


@dataclass(frozen=True)
class Variant:
    label: str
    python: str
    uvloop: bool = False


def venv(name: str, *requirements: str) -> str:
    """A virtualenv with the project and `requirements` (pinned releases win over pyproject's ranges)."""
    where = VENVS / name
    python = where / "bin" / "python"
    stamp = where / ".installed"
    if not stamp.exists():
        print(f"  preparing {where.relative_to(ROOT)} ({' '.join(requirements)})", flush=True)
        subprocess.run([PY, "-m", "venv", str(where)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT), *requirements], check=True,
                       stdout=subprocess.DEVNULL)
        stamp.touch()
    return str(python)


def variants(releases: list[str]) -> list[Variant]:
    return [Variant(f"redis-py {redis.__version__}, asyncio", PY),
            Variant(f"redis-py {redis.__version__}, uvloop", PY, uvloop=True),
            Variant(f"redis-py {redis.__version__} + hiredis", venv("hiredis", f"redis=={redis.__version__}",
                                                                    "hiredis"))] + \
        [Variant(f"redis-py {r}, asyncio", venv(f"redis-{r}", f"redis=={r}")) for r in releases]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--releases", default="5.0.8,6.4.0,7.4.1", help="other redis-py releases to try")
    args = ap.parse_args()
    chosen = variants([r for r in args.releases.split(",") if r])
    tmp = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    db_url = f"sqlite:///{tmp}/bench.db"
    env = {"SHORTCODE_DATABASE_URL": db_url, "SHORTCODE_LOG_LEVEL": "info"}
    subprocess.run([PY, "-m", "bot.tools.cli", "seed", "--demo", "--subscribers", str(SUBSCRIBERS)],
                   env={**env, "PATH": ""}, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    sessions = 4 * CONNECTIONS
    pool = silver_numbers(db_url, sessions * 2)
    results: dict[str, dict[str, list[dict]]] = {v.label: {"baseline": [], "shortcode": []} for v in chosen}
    with redis_server(tmp) as (redis_url, _redis):
        for run in range(args.runs):
            for n, v in enumerate(chosen):
                redis.Redis.from_url(redis_url).flushdb()  # the same numbers again, with no session to resume
                sport, bport = free_port(), free_port()
                senv = {**env, "SHORTCODE_REDIS_URL": redis_url, "SHORTCODE_JOBS_INPROCESS_WORKER": "false",
                        "SHORTCODE_HTTP_PORT": str(sport), "SHORTCODE_REDIS_MAX_CONNECTIONS": "300",
                        "SHORTCODE_HTTP_UVLOOP": str(v.uvloop).lower()}
                base_argv = [v.python, "bench/baseline_app.py", str(bport), redis_url] + (["--uvloop"] if v.uvloop else [])
                with started("shortcode", [v.python, "-m", "bot.tools.cli", "serve"], SERVER_CORE, senv, tmp, sport) as sc, \
                        started("baseline", base_argv, SERVER_CORE, None, tmp, bport) as bl:
                    for i, (name, proc, port) in enumerate((("baseline", bl, bport), ("shortcode", sc, sport))):
                        numbers = pool[i * sessions:(i + 1) * sessions]
                        tag = f"{name[0]}v{n}r{run}x"
                        numbers_file = tmp / f"numbers-{tag}.txt"
                        numbers_file.write_text("\n".join(numbers) + "\n")
                        base = f"http://127.0.0.1:{port}"
                        asyncio.run(position(base, numbers, tag))
                        results[v.label][name].append(measure(proc, base, numbers_file, tag, CONNECTIONS,
                                                              args.seconds))
                r = results[v.label]
                print(f"  run {run + 1} {v.label:32} baseline {r['baseline'][-1]['cpu_us']:4.0f} µs/hop, "
                      f"shortcode {r['shortcode'][-1]['cpu_us']:4.0f} µs/hop", flush=True)
    report(results, args)


def report(results: dict, args) -> None:
    print(f"\nUSSD turn by variant, {CONNECTIONS} connections, {args.seconds:.0f} s a run, median of {args.runs} "
          f"(min-max)")
    print(f"{'variant':32} {'baseline req/s':>22} {'Shortcode req/s':>22} {'baseline µs/hop':>18} "
          f"{'Shortcode µs/hop':>18}  ratio")
    data = {}
    for label, r in results.items():
        row = {name: {k: spread([x[k] for x in runs]) for k in ("rps", "cpu_us", "p99_ms")}
               for name, runs in r.items()}
        row["errors"] = sum(x["errors"] for runs in r.values() for x in runs)
        row["ratio_to_baseline"] = row["shortcode"]["rps"]["median"] / row["baseline"]["rps"]["median"]
        data[label] = row
        print(f"{label:32} {fmt(row['baseline']['rps']):>22} {fmt(row['shortcode']['rps']):>22} "
              f"{fmt(row['baseline']['cpu_us']):>18} {fmt(row['shortcode']['cpu_us']):>18}  "
              f"{row['ratio_to_baseline']:.2f}x")
    path = save("variants", {"command": " ".join(sys.argv), "seconds": args.seconds, "runs": args.runs,
                             "connections": CONNECTIONS, "results": data})
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
