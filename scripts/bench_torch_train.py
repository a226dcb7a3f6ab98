#!/usr/bin/env python3
"""Side-by-side anchor for `ssast train --benchmark --torch PYTHON` (needs PyTorch; not part of CI): PyTorch eager time of one full fine-tuning
step of an SSAST-Tiny-shaped model at the geometry of `ssast train --benchmark` (16x16 patches,
stride 10, 512 frames x 128 mel -> 600 patches + 2 tokens, dim 192, 3 heads, 12 blocks, 2 labels,
CE, Adam). The model is written out here (timm's DeiT block: LN -> qkv -> softmax attention ->
proj, LN -> fc1 -> GELU -> fc2) so no SSAST or timm install is needed.

usage: bench_torch_train.py [--threads 2] [--batch 8] [--steps 2]
`ssast train --benchmark --torch PYTHON` runs it once per round, alternating with our own steps, and prints the ratio.
"""
import argparse, time
import torch
import torch.nn as nn

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--steps", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
D, H, DEPTH, T, F = 192, 3, 12, 512, 128

class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.norm1, s.norm2 = nn.LayerNorm(D, eps=1e-6), nn.LayerNorm(D, eps=1e-6)
        s.qkv, s.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        s.fc1, s.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
    def forward(s, x):
        B, N, _ = x.shape
        q, k, v = s.qkv(s.norm1(x)).reshape(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) * (D // H) ** -0.5
        x = x + s.proj((att.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D))
        return x + s.fc2(nn.functional.gelu(s.fc1(s.norm2(x))))

class Model(nn.Module):
    def __init__(s):
        super().__init__()
        s.patch = nn.Conv2d(1, D, 16, stride=10)
        n = ((F - 16) // 10 + 1) * ((T - 16) // 10 + 1)
        s.cls, s.dist = nn.Parameter(torch.zeros(1, 1, D)), nn.Parameter(torch.zeros(1, 1, D))
        s.pos = nn.Parameter(torch.randn(1, n + 2, D) * 0.02)
        s.blocks = nn.ModuleList(Block() for _ in range(DEPTH))
        s.norm = nn.LayerNorm(D, eps=1e-6)
        s.head = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 2))
    def forward(s, x):
        x = s.patch(x.unsqueeze(1).transpose(2, 3)).flatten(2).transpose(1, 2)
        B = x.shape[0]
        x = torch.cat([s.cls.expand(B, -1, -1), s.dist.expand(B, -1, -1), x], 1) + s.pos
        for b in s.blocks: x = b(x)
        return s.head(s.norm(x)[:, 2:].mean(1))

m = Model()
opt = torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=5e-7)
x = torch.rand(a.batch, T, F) * 2 - 1
y = torch.arange(a.batch) % 2
times = []
for i in range(a.steps + 1):
    t0 = time.perf_counter()
    opt.zero_grad()
    loss = nn.functional.cross_entropy(m(x), y)
    loss.backward()
    opt.step()
    if i > 0: times.append(time.perf_counter() - t0)
ms = sum(times) / len(times) * 1000
per_sample = sorted(t * 1000 / a.batch for t in times)
import json, resource
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
print(f"PyTorch {torch.__version__} eager, batch {a.batch}, {a.threads} threads: {ms:.1f} ms/step, {ms / a.batch:.1f} ms/sample, peak RSS {rss_mb:.0f} MiB")
# median (upper middle, as ssast's) and fastest step, for the per-round ratios of `ssast train --benchmark`
print(json.dumps({"ms_per_step": ms, "ms_per_sample": ms / a.batch, "median_ms_per_sample": per_sample[len(per_sample) // 2],
                  "min_ms_per_sample": per_sample[0], "peak_rss_mib": rss_mb, "torch": torch.__version__}))
