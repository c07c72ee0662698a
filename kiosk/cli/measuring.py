"""``kiosk bench`` and ``kiosk soak``: the measuring tools, behind the CLI."""

from __future__ import annotations

from kiosk.cli.output import print_json
from kiosk.cli.turns import default_engines
from kiosk.errors import BadInput


def bench(args) -> int:
    if args.servers:
        from kiosk.measure import fleet

        return fleet.run(args)
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
              f"{report.growth_per_1000_turns_mb:+.1f} MB per 1000 turns (median per cycle), "
              f"{report.failed_turns} failed")
    return 0 if report.failed_turns == 0 else 1


def eval_mt(args) -> int:
    from kiosk.measure import eval_mt as eval_module
    from kiosk.store.environment import from_environment

    if args.limit is not None and args.limit < 1:
        raise BadInput("--limit must be at least 1")
    pairs = eval_module.parse_pairs(args.pairs) if args.pairs else None
    results = eval_module.run(from_environment(), args.model, pairs, args.limit)
    if args.json:
        print_json(results if len(results) != 1 else results[0])
        return 0
    for result in results:
        print(f"{result['model_id']}  ({result['date']}, {result['cpu']}, {result['threads']} threads)")
        for name, scored in result["sets"].items():
            print(f"  {name}: {scored['description']}")
            print(f"    {'pair':<7} {'n':>4} {'chrF++':>7} {'BLEU':>6} {'tok':<8} {'script':>6} {'ms/sent':>8} {'tok/s':>7}")
            for pair, row in scored["pairs"].items():
                tps = "-" if row["tokens_per_s"] is None else f"{row['tokens_per_s']:.0f}"
                print(f"    {pair:<7} {row['sentences']:>4} {row['chrf']:>7.1f} {row['bleu']:>6.1f} {row['bleu_tokenizer']:<8} "
                      f"{row['target_script_share']:>6.0%} {row['ms_per_sentence']:>8.0f} {tps:>7}")
        if result["not_covered"]:
            print(f"  not covered by the model: {' '.join(result['not_covered'])}")
        print(f"  stored: {result['stored'] or 'not stored (' + result.get('store_error', '') + ')'}")
    return 0


def eval_asr(args) -> int:
    from kiosk.measure import eval_asr as eval_module
    from kiosk.store.environment import from_environment

    result = eval_module.run(from_environment(), args.manifest, args.model)
    if args.json:
        print_json(result)
        return 0
    print(f"{result['model_id']}  ({result['date']}, {result['cpu']}, {result['threads']} threads)")
    print(f"  manifest: {result['manifest']}")
    print(f"    {'lang':<5} {'clips':>5} {'metric':<6} {'error':>6} {'lang id':>7} {'p50 s':>6} {'worst s':>7}")
    for lang, row in result["languages"].items():
        print(f"    {lang:<5} {row['clips']:>5} {row['metric'].upper():<6} {row['error']:>6.3f} {row['language_id']:>7.0%} "
              f"{row['p50_s']:>6.2f} {row['worst_s']:>7.2f}")
    overall = result["overall"]
    print(f"    {'all':<5} {overall['clips']:>5} {'':<6} {'':>6} {'':>7} {overall['p50_s']:>6.2f} {overall['worst_s']:>7.2f}")
    print(f"  stored: {result['stored'] or 'not stored (' + result.get('store_error', '') + ')'}")
    return 0
