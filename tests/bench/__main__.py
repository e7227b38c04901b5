"""`python -m tests.bench [name …]`: run the benchmarks (all, or those named) and write var/bench.json."""
import sys

from tests.bench.harness import report, run

if __name__ == "__main__":
    report(run(sys.argv[1:]))
