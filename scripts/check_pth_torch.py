#!/usr/bin/env python3
"""Manual check (needs PyTorch; not part of CI): a .pth written by `ssast train --export-pth`
loads with torch.load(weights_only=True) and has the same keys, order, shapes and dtypes as a
reference SSAST checkpoint written by torch.save (e.g. a fixture fine-tuned model of the same
geometry and label count), loads strictly into a module with the reference's keys, and survives a
torch.save / torch.load round trip unchanged.

usage: check_pth_torch.py OURS.pth REFERENCE.pth
"""
import sys
import torch

ours, ref = sys.argv[1], sys.argv[2]
a = torch.load(ours, map_location="cpu", weights_only=True)
b = torch.load(ref, map_location="cpu", weights_only=True)
print(f"{ours}: {type(a).__name__} with {len(a)} tensors; {ref}: {len(b)} tensors")
ok = True
if list(a.keys()) != list(b.keys()):
    ok = False
    print("key lists differ:")
    print("  only in ours:", [k for k in a if k not in b])
    print("  only in reference:", [k for k in b if k not in a])
for k in a:
    if k in b and (a[k].shape != b[k].shape or a[k].dtype != b[k].dtype):
        ok = False
        print(f"  {k}: ours {tuple(a[k].shape)} {a[k].dtype}, reference {tuple(b[k].shape)} {b[k].dtype}")
    if not torch.isfinite(a[k]).all():
        ok = False
        print(f"  {k}: non-finite values")
# A module whose state_dict has exactly these keys accepts the file strictly.
m = torch.nn.Module()
for k, v in b.items():
    m.register_buffer(k.replace(".", "_"), torch.zeros_like(v))
m.load_state_dict({k.replace(".", "_"): v for k, v in a.items()}, strict=True)
# Round trip through torch.save: the values survive unchanged.
import io
buf = io.BytesIO()
torch.save(a, buf)
buf.seek(0)
c = torch.load(buf, weights_only=True)
assert all(torch.equal(a[k], c[k]) for k in a)
print("same keys, order, shapes and dtypes: " + ("yes" if ok else "NO"))
sys.exit(0 if ok else 1)
