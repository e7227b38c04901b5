"""`python -m tests.bench [name …]`: run the benchmarks (all, or those named) and write var/bench.json."""
import sys

from tests.bench.harness import report, run, run_one

if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        run_one(sys.argv[2])
    else:
        report(run(sys.argv[1:]))
