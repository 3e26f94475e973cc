"""`make bench`: every benchmark, each printing its table.

Benchmarks that need the database run in a throw-away test database created here (on the
configured DATABASE_URL), so they never touch real data.
"""

import argparse
import os
import sys

import django

from bench import calculator_bench

BENCHES = [
    "calculator",
    "compiler",
    "quote",
    "loyalty",
    "rules",
    "upload",
    "sync",
    "usage",
    "outbox",
    "wallet",
    "redemption",
    "rewards",
]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"{', '.join(BENCHES)} (default: all)"
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--orders", type=int, default=10_000, help="orders placed by `rules`")
    parser.add_argument(
        "--customers", type=int, default=1_000_000, help="customers swept by `rewards`"
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}")
    args.names = args.names or BENCHES

    if "calculator" in args.names:
        sys.argv = [sys.argv[0], "--runs", str(args.runs)]
        calculator_bench.main()

    database_benches = [name for name in args.names if name != "calculator"]
    if not database_benches:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench import (
        compile_bench,
        loyalty_bench,
        outbox_bench,
        quote_bench,
        redemption_bench,
        reward_bench,
        rules_bench,
        sync_bench,
        upload_bench,
        usage_bench,
        wallet_bench,
    )

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        if "compiler" in database_benches:
            compile_bench.main(runs=args.runs)
        if "quote" in database_benches:
            quote_bench.main(runs=args.runs)
        if "loyalty" in database_benches:
            loyalty_bench.main()
        if "rules" in database_benches:
            rules_bench.main(orders=args.orders)
        if "upload" in database_benches:
            upload_bench.main(runs=args.runs)
        if "sync" in database_benches:
            sync_bench.main(runs=args.runs)
        if "usage" in database_benches:
            usage_bench.main(runs=args.runs)
        if "outbox" in database_benches:
            outbox_bench.main(runs=args.runs)
        if "wallet" in database_benches:
            wallet_bench.main(runs=args.runs)
        if "redemption" in database_benches:
            redemption_bench.main(runs=args.runs)
        if "rewards" in database_benches:
            reward_bench.main(customers=args.customers)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
