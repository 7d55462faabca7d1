"""The benchmarks: `make bench` (python -m bench) runs them side by side and prints the table."""
