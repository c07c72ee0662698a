"""``kiosk bench`` and ``kiosk soak``: the measuring tools, behind the CLI."""

from __future__ import annotations

from kiosk.cli.output import print_json
from kiosk.cli.turns import default_engines
from kiosk.errors import BadInput


def bench(args) -> int:
    from kiosk.measure import bench as bench_module

    return bench_module.run(args)

def soak(args) -> int:
    from dataclasses import asdict

    from kiosk.measure.soak import soak as run_soak

    if args.turns < 1 or args.warmup < 0:
        raise BadInput("--turns must be at least 1 and --warmup at least 0")
    report = run_soak(args.turns, args.warmup, default_engines())
    if args.json:
        print_json(asdict(report))
    else:
        print(f"{report.turns} turns after {report.warmup_turns} warm-up turns in {report.seconds} s: "
              f"RSS {report.rss_after_warmup_mb} MB -> {report.rss_end_mb} MB ({report.growth_percent:+.2f} %), "
              f"{report.failed_turns} failed")
    return 0 if report.failed_turns == 0 else 1
