"""The arithmetic of bench/run-all, kept apart so that it can be checked on its own
(bench/pairing_check.py): waiting for an idle machine, and the ratio of two sides over
interleaved pairs of runs.
"""
import statistics
import time


def ratio(funad, reference):
    """funad speed / reference speed for one pair of measurements (dicts with value and
    higher_is_better): > 1 means funad is faster. None when a side is missing or not positive."""
    if funad is None or reference is None or funad["value"] <= 0 or reference["value"] <= 0:
        return None
    if funad["higher_is_better"]:
        return funad["value"] / reference["value"]
    return reference["value"] / funad["value"]


def summarise(values):
    """Median and (min, max) of a list of numbers, None entries left out; None when empty."""
    xs = [v for v in values if v is not None]
    if not xs:
        return None
    return statistics.median(xs), (min(xs), max(xs))


def pair_rows(funad_docs, reference_docs):
    """Rows of pair i come from funad_docs[i] and reference_docs[i]. Returns, per row name
    in funad's order (then the reference's own rows), the per-pair funad values, reference
    values and ratios, each a list with one entry per pair (None where a side lacked it)."""
    names = []
    for doc in funad_docs + reference_docs:
        for m in doc.get("measurements", []):
            if m["name"] not in names:
                names.append(m["name"])
    out = []
    for name in names:
        fs = [next((m for m in d.get("measurements", []) if m["name"] == name), None) for d in funad_docs]
        rs = [next((m for m in d.get("measurements", []) if m["name"] == name), None) for d in reference_docs]
        unit = next(m["unit"] for m in fs + rs if m is not None)
        pairs = max(len(fs), len(rs))
        fs += [None] * (pairs - len(fs))
        rs += [None] * (pairs - len(rs))
        out.append(dict(name=name, unit=unit,
                        funad=[m and m["value"] for m in fs], reference=[m and m["value"] for m in rs],
                        ratios=[ratio(f, r) for f, r in zip(fs, rs)]))
    return out


class CPUSampler:
    """Share of the machine's CPU time that was busy since the previous call, from
    /proc/stat: what the machine did in the last seconds, which the 1-minute load average
    (an exponential average over a minute) blurs."""

    def __init__(self, stat_path="/proc/stat"):
        self.path = stat_path
        self.last = self._read()

    def _read(self):
        with open(self.path) as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def busy(self):
        total, idle = self._read()
        dt, di = total - self.last[0], idle - self.last[1]
        self.last = (total, idle)
        return None if dt <= 0 else max(0.0, min(1.0, 1 - di / dt))


def load1(path="/proc/loadavg"):
    with open(path) as f:
        return float(f.read().split()[0])


class IdleWaiter:
    """Waits, before each side of a benchmark, until the 1-minute load average is below
    `threshold`, polling every `poll` seconds for at most `max_wait` seconds per side and
    `budget` seconds over the whole run (so that a machine that never gets quiet still
    finishes). Each call returns what the side started under: the load, the CPU busy share
    over the last poll, the seconds waited, and whether the wait gave up."""

    def __init__(self, threshold, max_wait, budget, poll=5.0, load=load1, sampler=None, clock=time.monotonic, sleep=time.sleep):
        self.threshold, self.max_wait, self.budget, self.poll = threshold, max_wait, budget, poll
        self.load, self.clock, self.sleep = load, clock, sleep
        self.sampler = sampler or CPUSampler()
        self.spent = 0.0

    def wait(self):
        start = self.clock()
        limit = max(0.0, min(self.max_wait, self.budget - self.spent))
        self.sampler.busy()
        self.sleep(min(self.poll, 1.0))  # a first short window for the busy share
        busy = self.sampler.busy()
        while True:
            load = self.load()
            waited = self.clock() - start
            if load < self.threshold:
                gave_up = False
                break
            if waited >= limit:
                gave_up = True
                break
            self.sleep(self.poll)
            busy = self.sampler.busy()
        waited = self.clock() - start
        self.spent += waited
        return dict(load=load, busy=busy, waited=waited, gave_up=gave_up, budget_spent=gave_up and limit < self.max_wait)
