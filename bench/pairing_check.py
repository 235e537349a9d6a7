#!/usr/bin/env python3
"""Self-check of bench/pairing.py (standard library only): `python3 bench/pairing_check.py`.
Hand-computed expectations for the ratio direction, the median and min–max over pairs,
and the idle wait's give-up rules on a simulated clock and load."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pairing import CPUSampler, IdleWaiter, pair_rows, ratio, summarise  # noqa: E402


def m(name, value, higher=True, unit="images/s"):
    return dict(name=name, value=value, unit=unit, higher_is_better=higher)


def check(cond, what):
    if not cond:
        sys.exit(f"pairing_check: FAILED: {what}")
    print(f"ok  {what}")


# Throughputs: funad / reference; times: reference / funad.
check(ratio(m("x", 3.0), m("x", 2.0)) == 1.5, "throughput ratio 3 / 2 = 1.5")
check(ratio(m("t", 2.0, False, "s"), m("t", 3.0, False, "s")) == 1.5, "time ratio 3 s / 2 s = 1.5 (funad faster)")
check(ratio(m("x", 0.0), m("x", 2.0)) is None and ratio(None, m("x", 1.0)) is None, "missing or zero side gives no ratio")

check(summarise([1.2, None, 0.8, 1.0]) == (1.0, (0.8, 1.2)), "median 1.0 and spread 0.8–1.2 of three pairs")
check(summarise([2.0, 1.0]) == (1.5, (1.0, 2.0)), "median of an even count is the mean of the middle two")
check(summarise([None]) is None, "no values, no summary")

f = [dict(measurements=[m("a", 2.0), m("b", 1.0, False, "s")]), dict(measurements=[m("a", 4.0)])]
r = [dict(measurements=[m("a", 1.0), m("b", 2.0, False, "s")]), dict(measurements=[m("a", 2.0), m("c", 5.0)])]
rows = {row["name"]: row for row in pair_rows(f, r)}
check(list(rows) == ["a", "b", "c"], "rows in funad's order, then the reference's own")
check(rows["a"]["ratios"] == [2.0, 2.0], "row a: ratio per pair 2/1 and 4/2")
check(rows["b"]["ratios"] == [2.0, None] and rows["b"]["funad"] == [1.0, None], "row b: second pair lacks it")
check(rows["c"]["ratios"] == [None, None] and rows["c"]["reference"] == [None, 5.0], "row c: reference only")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


with tempfile.NamedTemporaryFile("w", suffix=".stat", delete=False) as stat:
    stat.write("cpu  100 0 100 800 0 0 0 0 0 0\n")
sampler = CPUSampler(stat.name)

# Load falls 0.2 per poll from 2.0: below 1.3 after 4 polls.
clock = Clock()
loads = iter([2.0, 1.8, 1.6, 1.4, 1.2])
w = IdleWaiter(1.3, max_wait=60, budget=100, poll=5, load=lambda: next(loads), sampler=sampler, clock=clock, sleep=clock.sleep)
s = w.wait()
check(not s["gave_up"] and s["load"] == 1.2 and s["waited"] == 21.0, "waits 1 s + 4 polls of 5 s until load 1.2 < 1.3")

# A load that never falls: gives up at max_wait, then the run's budget caps later waits.
clock = Clock()
w = IdleWaiter(1.3, max_wait=30, budget=50, poll=5, load=lambda: 4.0, sampler=sampler, clock=clock, sleep=clock.sleep)
s1, s2, s3 = w.wait(), w.wait(), w.wait()
check(s1["gave_up"] and not s1["budget_spent"] and s1["waited"] == 31.0, "gives up after max_wait (first poll past 30 s)")
check(s2["gave_up"] and s2["budget_spent"] and s2["waited"] == 21.0, "the second wait stops when the 50 s budget is spent")
check(s3["gave_up"] and s3["waited"] == 1.0 and s3["load"] == 4.0, "with the budget spent a side starts at once, load recorded")
os.unlink(stat.name)
print("pairing_check: all passed")
