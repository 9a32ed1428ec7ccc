"""Timing shared by the PyTorch benches (the same protocol as examples/common/mod.rs)."""
import time


class Timings:
    """Wall times of `runs` calls of `f` made after `warmup` untimed ones, in ms, sorted. `f`
    should end by bringing its result to the CPU, so that asynchronous devices finish."""

    def __init__(self, f, warmup, runs):
        for _ in range(warmup):
            f()
        self.ms = []
        for _ in range(runs):
            start = time.perf_counter()
            f()
            self.ms.append((time.perf_counter() - start) * 1e3)
        self.ms.sort()

    def __format__(self, spec):
        spec = spec or ".1f"
        ms = self.ms
        return (f"median {ms[len(ms) // 2]:{spec}} ms over {len(ms)} runs "
                f"(min {ms[0]:{spec}}, max {ms[-1]:{spec}})")
