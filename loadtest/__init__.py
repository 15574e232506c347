"""Load tests and benchmarks of the online service (loopback only, bounded)."""
