"""Run every benchmark module (`benchmarks/bench_*.py`) and print its table.

Each module exposes ``run() -> list[Row]``; rows are printed as one table per
module. Select modules with ``python -m benchmarks wire domain``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks
from benchmarks._table import print_table


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    wanted = {f"bench_{a}" if not a.startswith("bench_") else a for a in argv}
    failed = 0
    for name in names:
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        start = time.perf_counter()
        print(f"\n== {name} ==", flush=True)
        try:
            rows = module.run()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            print(f"{name} failed: {type(exc).__name__}: {exc}")
            continue
        print_table(rows)
        print(f"({time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
