"""The project's benchmarks: `make bench` runs every `bench_*.py` module here on a fresh database."""
