"""A team deployment under load: three `cs-mcp serve --transport http` replicas on one
`redis-server` and one sandbox process with Contentstack's rate limits, all on loopback.
First a confirmation token is issued on replica 1, redeemed on replica 2 and replayed on replica
3; then 3 x `--clients` MCP clients alternate `create_entry` and `get_entry` for `--seconds`,
and Redis is killed (SIGKILL) once `--kill-after` calls have completed and started again once
`--restart-after` more have. Prints the calls, errors, latency, the 429s the sandbox sent and
its peak requests per second per family, the confirmation's fate, and the audit lines in the
replicas' files and in the merged trail beside the number of write calls.

    python -m bench.team [--clients 20] [--seconds 60] [--kill-after 300] [--restart-after 120]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from bench._common import machine
from bench._team import failed_targets, redis_available, report, team_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20, help="clients per replica")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-after", type=int, default=300, help="completed calls before Redis is killed")
    parser.add_argument("--restart-after", type=int, default=120, help="completed calls before it is started again")
    args = parser.parse_args()
    if not redis_available():
        raise SystemExit("redis-server is not installed (.ci/redis.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        figures = anyio.run(team_run, Path(tmp), args.clients, args.seconds, args.kill_after, args.restart_after)
    print(report(figures) + f"\n  [{machine()}]")
    for error in sorted(set(figures.errors))[:10]:
        print(f"  error: {error}")
    broken = failed_targets(figures)
    if broken:
        raise SystemExit("missed: " + "; ".join(broken))


if __name__ == "__main__":
    main()
