"""Helpers shared by the results-page scripts (averaging-results, cleaned-results, ensemble-results,
features-results, fp-spread-results, mtd-steps).

Each of those scripts writes its docs/ page from a heredoc Python program run at the repo root, which
imports this module (`sys.path.insert(0, "scripts")`, with `sys.dont_write_bytecode = True` so no
__pycache__ lands in scripts/). What is here means the same on every page; anything that differs
between pages (other rounding, other wording, other error handling) stays in its script.
"""
import glob
import json
import os
import statistics
import sys


def failer(prefix):
    """fail(message) for one script: invalid input ends in one line on stderr, prefixed with the
    script's name (e.g. "features-results: …"), and exit code 2, never a traceback."""
    def fail(message):
        print(f"{prefix}: {message}", file=sys.stderr)
        sys.exit(2)
    return fail


def half(v):
    """Half-range (half of max − min): the seed spread the pages state beside a mean; with three
    seeds a standard deviation would claim more than the runs show."""
    return (max(v) - min(v)) / 2


def ms(v):
    """Per-seed figures as a table cell: "mean ± half-range" to 0.1, or the figure itself when
    there is one seed (a ± 0.0 would read as a measured spread)."""
    return f"{v[0]:.1f}" if len(v) == 1 else f"{statistics.fmean(v):.1f} ± {half(v):.1f}"


def stage(rec, name):
    """The stage called name in a run record (run.json), or None when that run did not include it."""
    return next((s for s in rec["stages"] if s["name"] == name), None)


def record(path, fail, direct=False):
    """The run record of one cell, the folder given to `funad run --runs`: its workflow's latest
    run.json (None when the cell has not run yet, so the page lists it as not run). A record that
    cannot be read (a run killed while writing it) is one line through fail, not a traceback.
    direct: take path/run.json itself when it exists (averaging-results also accepts a run folder)."""
    f = os.path.join(path, "run.json")
    if not (direct and os.path.exists(f)):
        found = sorted(glob.glob(os.path.join(path, "*", "latest", "run.json")))
        if not found:
            return None
        f = found[0]
    try:
        return json.load(open(f))
    except (OSError, ValueError) as e:
        fail(f"{f}: not a readable run record ({e})")


def read_json(path, fail, what="run record"):
    """A JSON file the page is built from (a run record, a stage's output): one that cannot be
    read or parsed (a run killed while writing it) ends in one line through fail, not a traceback."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: not a readable {what} ({e})")


def bar(a, b):
    """The bar a difference between two rows (per-seed figures a and b) must exceed to count: the
    larger seed half-range of the two, and at least half a point, so the seed spread and
    rounding are not read as an effect."""
    return max(half(a), half(b), 0.5)


def verdict(metric, diff, limit):
    """One metric's difference against its bar (limit, from bar()), in the pages' wording:
    "image AUROC +0.3 (within the bar of 1.0)"."""
    return f"{metric} {diff:+.1f} ({'beyond' if abs(diff) > limit else 'within'} the bar of {limit:.1f})"
