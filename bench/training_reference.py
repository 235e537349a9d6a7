#!/usr/bin/env python3
"""PyTorch CPU reference timings for the FUN-AD training hot paths, the same work as
Sources/FunADBench/TrainingBench.swift (same shapes, same thread count, seeded random
data, fastest of --repeats runs, data generation untimed):

  step         forward of B*P patches through Local-Net, balanced BCE (5 % pseudo-anomalies,
               the perturbed copies of every 1000th patch forwarded too, as the official
               code's second pass does for ambiguous ones) + 2.5 * L_MS over B*P/4 pairs,
               backward, torch.optim.RMSprop step
  bank_search  exact 2-NN (squared L2) of B*P queries in a bank of bank_images*P rows with
               self-exclusion, blocked ||q||^2 + ||m||^2 - 2 q m^T + topk
  mutual       mutual nearest pairs among the B*P batch features (same blocked search)
  scoring      scored_images*P patches through Local-Net under no_grad, in chunks of
               32 images (the official code's mini_loader), keeping scores and adapted features

Usage: PY=$(scripts/python-env | tail -n1); $PY bench/training_reference.py [--threads 2] [--small] [--json]
With --json the lines go to stderr and stdout gets one JSON object of measurements with the
same row names as `funad bench training --json` (bench/run-all pairs them).
"""
import argparse
import json
import sys
import time
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=0, help="runs per benchmark (default: step 3, scoring 2, searches 1)")
p.add_argument("--small", action="store_true", help="reduced shapes for a quick check")
p.add_argument("--only", default="step,bank_search,mutual,scoring")
p.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

B, P, D, BANK, SCORED = 32, 784, 1536, 100, 209
if a.small:
    B, P, D, BANK, SCORED = 8, 196, 768, 25, 52


class LocalNet(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.adaptor = nn.Sequential(nn.Linear(d, d), nn.LeakyReLU(0.2))
        self.discriminator = nn.Sequential(nn.Linear(d, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 128),
                                           nn.LeakyReLU(0.2), nn.Linear(128, 1), nn.Sigmoid())

    def forward(self, x):
        f = self.adaptor(x)
        return f, self.discriminator(f).squeeze(-1)


def best(fn, default_repeats=1):
    t = float("inf")
    for _ in range(a.repeats or default_repeats):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def rand(*shape):
    return torch.rand(*shape) * 2 - 1


def patch_features(images, patches, d):
    """[global | local_j] layout of real features: the first half of each row is the
    image's class token, shared by its patches (same data layout as the Swift bench)."""
    x = rand(images, patches, d)
    x[:, :, : d // 2] = x[:, :1, : d // 2]
    return x.reshape(images * patches, d)


def top2(queries, bank, excluded, qb=1024, mb=4096):
    """Blocked exact 2-NN; excluded[q] = bank row to skip or -1."""
    bn = (bank * bank).sum(1)
    out_d = torch.empty(queries.shape[0], 2)
    out_i = torch.empty(queries.shape[0], 2, dtype=torch.long)
    for q0 in range(0, queries.shape[0], qb):
        q = queries[q0:q0 + qb]
        qn = (q * q).sum(1, keepdim=True)
        best_d = torch.full((q.shape[0], 2), float("inf"))
        best_i = torch.full((q.shape[0], 2), -1, dtype=torch.long)
        ex = excluded[q0:q0 + qb]
        for m0 in range(0, bank.shape[0], mb):
            m = bank[m0:m0 + mb]
            dist = torch.addmm(qn + bn[m0:m0 + mb], q, m.T, alpha=-2)
            local = ex - m0
            hit = (local >= 0) & (local < m.shape[0])
            if hit.any():
                rows = torch.nonzero(hit).squeeze(1)
                dist[rows, local[rows]] = float("inf")
            d, i = dist.topk(2, dim=1, largest=False)
            cat_d = torch.cat([best_d, d], 1)
            cat_i = torch.cat([best_i, i + m0], 1)
            best_d, order = cat_d.topk(2, dim=1, largest=False)
            best_i = cat_i.gather(1, order)
        out_d[q0:q0 + qb] = best_d.clamp_min(0)
        out_i[q0:q0 + qb] = best_i
    return out_d, out_i


results = {}
only = set(a.only.split(","))
rows = B * P

if "step" in only:
    net = LocalNet(D)
    opt = torch.optim.RMSprop(net.parameters(), lr=2e-5, momentum=0.2)
    x = patch_features(B, P, D)
    labels = torch.zeros(rows)
    labels[::20] = 1
    pert_rows = torch.arange(0, rows, 1000)
    xp = x[pert_rows].clone()
    pairs = torch.stack([torch.arange(0, rows - 1, 4), torch.arange(1, rows, 4)], 1)
    bce, l1 = nn.BCELoss(), nn.L1Loss()

    def step():
        opt.zero_grad()
        _, pred = net(x)
        _, pp = net(xp)
        pg = pred.clone()
        pg[pert_rows] = pp
        loss = bce(pg[labels == 1], labels[labels == 1]) + bce(pg[labels == 0], labels[labels == 0])
        t, i = pred[pairs[:, 0]], pred[pairs[:, 1]]
        mid = (t + i) / 2
        loss = loss + 2.5 * 0.5 * (l1(i, mid) + l1(t, mid))
        loss.backward()
        opt.step()
    results["step"] = best(step, 3)

if "bank_search" in only:
    q = rand(rows, D)
    bank = rand(BANK * P, D)
    bank[:P] = q[:P]
    excluded = torch.full((rows,), -1, dtype=torch.long)
    excluded[:P] = torch.arange(P)
    with torch.no_grad():
        results["bank_search"] = best(lambda: top2(q, bank, excluded))

if "mutual" in only:
    f = rand(rows, D)
    with torch.no_grad():
        def mutual():
            _, i = top2(f, f, torch.arange(rows))
            nn1 = i[:, 0]
            idx = torch.arange(rows)
            ok = (nn1[nn1] == idx) & (nn1 > idx)
            return torch.nonzero(ok).squeeze(1)
        results["mutual"] = best(mutual)

if "scoring" in only:
    net = LocalNet(D)
    x = patch_features(SCORED, P, D)
    with torch.no_grad():
        def scoring():
            feats, scores = [], []
            for c0 in range(0, x.shape[0], 32 * P):
                f, s = net(x[c0:c0 + 32 * P])
                feats.append(f)
                scores.append(s)
            return torch.cat(feats), torch.cat(scores)
        results["scoring"] = best(scoring, 2)

out = sys.stderr if a.json else sys.stdout
print(f"pytorch {torch.__version__} threads={a.threads} shapes B={B} P={P} D={D} bank={BANK}x{P} scored={SCORED}x{P}", file=out)
for k, v in results.items():
    print(f"{k} {v:.3f} s", file=out)
if a.json:
    print(json.dumps({"area": "training", "tool": f"pytorch {torch.__version__}", "threads": a.threads,
                      "notes": [f"shapes B={B} P={P} D={D} bank={BANK}x{P} scored={SCORED}x{P}"],
                      "measurements": [dict(name=k, value=v, unit="s", higher_is_better=False, detail="") for k, v in results.items()]}))
