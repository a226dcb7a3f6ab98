#!/usr/bin/env python3
"""Writes the small checkpoint files used by Tests/ConvertTests/CheckpointReaderTests.swift.

Standard library only (no torch): the pickles are made by Python's own pickler with stand-in
`torch` modules, so they carry exactly the globals and persistent ids torch.save writes
(`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`, ('storage', cls, key, 'cpu', numel));
the zip layout (top folder, data.pkl, data/<key>, version, byteorder, 64-byte aligned data)
mimics PyTorchStreamWriter. Values are simple formulas the Swift tests recompute.

Run from the project root:  python3 scripts/make_checkpoint_test_files.py
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ConvertTests", "Resources")

# ---- stand-in torch modules, so pickle writes the real global names ---------------------------

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils
torch._utils = torch_utils


def _fn(mod, modname, name):
    def f(*args):
        raise RuntimeError("stand-in")
    f.__module__ = modname
    f.__name__ = f.__qualname__ = name
    setattr(mod, name, f)
    return f


rebuild_v2 = _fn(torch_utils, "torch._utils", "_rebuild_tensor_v2")
rebuild_v3 = _fn(torch_utils, "torch._utils", "_rebuild_tensor_v3")
rebuild_param = _fn(torch_utils, "torch._utils", "_rebuild_parameter")

STORAGE_CLASSES = {}
for cname in ["FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage",
              "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "UntypedStorage"]:
    cls = type(cname, (), {"__module__": "torch"})
    setattr(torch, cname, cls)
    STORAGE_CLASSES[cname] = cls


class DType:
    __module__ = "torch"

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name  # pickled as the global torch.<name>


for dn in ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]:
    setattr(torch, dn, DType(dn))

# struct formats and storage classes per dtype
DT = {
    "float32": ("<f", 4, "FloatStorage"), "float16": ("<e", 2, "HalfStorage"),
    "bfloat16": (None, 2, "BFloat16Storage"), "float64": ("<d", 8, "DoubleStorage"),
    "int64": ("<q", 8, "LongStorage"), "int32": ("<i", 4, "IntStorage"), "int16": ("<h", 2, "ShortStorage"),
    "int8": ("<b", 1, "CharStorage"), "uint8": ("<B", 1, "ByteStorage"), "bool": ("<?", 1, "BoolStorage"),
}


def pack(dtype, values):
    fmt, size, _ = DT[dtype]
    if dtype == "bfloat16":  # truncate float32 (test values are exact in bf16)
        return b"".join(struct.pack("<f", v)[2:] for v in values)
    return b"".join(struct.pack(fmt, v) for v in values)


class Storage:
    def __init__(self, key, dtype, values, untyped=False):
        self.key, self.dtype, self.untyped = key, dtype, untyped
        self.data = pack(dtype, values)
        self.numel = len(values)


class Tensor:
    """Reduces like torch.Tensor._reduce_ex_internal for a CPU tensor."""

    def __init__(self, storage, offset, size, stride, v3=False, parameter=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.v3, self.parameter = v3, parameter

    def __reduce_ex__(self, proto):
        if self.v3:
            r = (rebuild_v3, (self.storage, self.offset, self.size, self.stride, False,
                              collections.OrderedDict(), getattr(torch, self.storage.dtype)))
        else:
            r = (rebuild_v2, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))
        if self.parameter:
            return (rebuild_param, (Param(r), False, collections.OrderedDict()))
        return r


class Param:
    def __init__(self, r):
        self.r = r

    def __reduce_ex__(self, proto):
        return self.r


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            if obj.untyped:  # torch >= 2: UntypedStorage with the byte count
                return ("storage", torch.UntypedStorage, obj.key, "cpu", len(obj.data))
            return ("storage", STORAGE_CLASSES[DT[obj.dtype][2]], obj.key, "cpu", obj.numel)
        return None


def dumps(obj, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def storages_of(sd):
    out, seen = [], set()

    def visit(v):
        if isinstance(v, Tensor) and v.storage.key not in seen:
            seen.add(v.storage.key)
            out.append(v.storage)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x)
    visit(sd)
    return out


# ---- zip writer (stored entries, 64-byte aligned data, optional ZIP64 everywhere) -------------

def write_zip(path, top, files, zip64=False, deflate=False):
    out = bytearray()
    central = []
    for rel, data in files:
        name = (top + "/" + rel).encode()
        crc = zlib.crc32(data)
        method = 8 if deflate else 0
        payload = zlib.compress(data)[2:-4] if deflate else data
        off = len(out)
        z64local = struct.pack("<HHQQ", 1, 16, len(data), len(payload)) if zip64 else b""
        base = off + 30 + len(name) + len(z64local) + 4
        pad = (-base) % 64
        extra = z64local + struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' padding, as torch writes
        s32c = 0xFFFFFFFF if zip64 else len(payload)
        s32u = 0xFFFFFFFF if zip64 else len(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, method, 0, 0x21,
                           crc, s32c, s32u, len(name), len(extra))
        out += name + extra + payload
        central.append((name, crc, len(payload), len(data), off, method))
    cd_off = len(out)
    for name, crc, clen, ulen, off, method in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, ulen, clen, off)
            c32, u32, o32 = 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF
        else:
            extra, c32, u32, o32 = b"", clen, ulen, off
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20, 0, method, 0, 0x21,
                           crc, c32, u32, len(name), len(extra), 0, 0, 0, 0, o32)
        out += name + extra
    cd_size = len(out) - cd_off
    n = len(central)
    if zip64:
        rec = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_off, 0)
    with open(path, "wb") as f:
        f.write(out)
    with zipfile.ZipFile(path) as z:  # the stdlib reader must agree with what we wrote
        assert z.testzip() is None
        for rel, data in files:
            assert z.read(top + "/" + rel) == data


def save(name, top, obj, protocol=2, pkl=None, **kw):
    files = [("data.pkl", pkl if pkl is not None else dumps(obj, protocol)), ("byteorder", b"little")]
    files += [("data/" + s.key, s.data) for s in storages_of(obj)]
    files += [("version", b"3\n")]
    write_zip(os.path.join(OUT, name), top, files, **kw)


def od(pairs):
    return collections.OrderedDict(pairs)


def main():
    os.makedirs(OUT, exist_ok=True)
    nan, inf = float("nan"), float("inf")

    # 1. every dtype; values recomputed by the Swift test.
    f32 = Storage("0", "float32", [i * 0.5 - 1 for i in range(6)])
    f16 = Storage("1", "float16", [0.5, -1.25, 65504.0, 2.0 ** -24, inf, nan])
    bf16 = Storage("2", "bfloat16", [1.0, -2.5, 2.0 ** 100, -0.0078125])
    f64 = Storage("3", "float64", [0.1, -1e300, 3.0])
    i64 = Storage("4", "int64", [1024])
    i32 = Storage("5", "int32", [-7, 0, 2147483647])
    i16 = Storage("6", "int16", [-32768, 5])
    i8 = Storage("7", "int8", [-128, 127])
    u8 = Storage("8", "uint8", [0, 255, 17])
    bo = Storage("9", "bool", [True, False, True])
    sd = od([
        ("f32", Tensor(f32, 0, [2, 3], [3, 1])),
        ("f16", Tensor(f16, 0, [6], [1])),
        ("bf16", Tensor(bf16, 0, [2, 2], [2, 1])),
        ("f64", Tensor(f64, 0, [3], [1])),
        ("i64", Tensor(i64, 0, [], [])),
        ("i32", Tensor(i32, 0, [3], [1])),
        ("i16", Tensor(i16, 0, [2], [1])),
        ("i8", Tensor(i8, 0, [2], [1])),
        ("u8", Tensor(u8, 0, [3], [1])),
        ("bool", Tensor(bo, 0, [3], [1])),
    ])
    save("dtypes.pth", "dtypes", sd)

    # 2. views: one shared storage 0..23, offsets, a transposed view, an expanded (stride 0) view.
    shared = Storage("shared", "float32", [float(i) for i in range(24)])
    other = Storage("x", "float32", [100.0, 101.0])
    views = od([
        ("a", Tensor(shared, 0, [2, 3], [3, 1])),
        ("b", Tensor(shared, 10, [4], [1])),
        ("t", Tensor(shared, 12, [3, 4], [1, 3])),      # t[i][j] = 12 + i + 3j
        ("e", Tensor(shared, 2, [2, 3], [0, 1])),       # e[i][j] = 2 + j
        ("s", Tensor(other, 1, [], [])),                # scalar at offset 1 -> 101
        ("z", Tensor(other, 0, [0, 5], [5, 1])),        # empty
    ])
    save("views.pth", "some_other-top.name", views)

    # 3. a training checkpoint: {"model": state_dict, "epoch": 7, ...} -> flattened one level.
    w = Storage("0", "float32", [1.0, 2.0, 3.0, 4.0])
    nested = {"epoch": 7, "model": od([("layer.weight", Tensor(w, 0, [2, 2], [2, 1])),
                                       ("layer.bias", Tensor(w, 2, [2], [1]))]),
              "lr": 0.25, "arch": "tiny", "best": True}
    save("nested.pth", "archive", nested)

    # 4. protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL), _rebuild_tensor_v3 with
    #    UntypedStorage + dtype, a Parameter wrapper, ZIP64 records everywhere.
    u = Storage("0", "float16", [1.5, -2.0, 0.25, 8.0], untyped=True)
    p4 = od([("h", Tensor(u, 1, [3], [1], v3=True)),
             ("p", Tensor(Storage("1", "float32", [9.0, 8.0]), 0, [2], [1], parameter=True))])
    save("proto4_zip64.pth", "p4", p4, protocol=4, zip64=True)

    # 5. safetensors: header order, every data type the reader knows (a few), metadata.
    st_tensors = [("w", "F32", [2, 2], pack("float32", [1.0, -2.0, 3.5, 4.0])),
                  ("h", "F16", [3], pack("float16", [0.5, -0.25, 1024.0])),
                  ("b", "BF16", [2], pack("bfloat16", [1.0, -3.0])),
                  ("n", "I64", [], pack("int64", [-42])),
                  ("m", "BOOL", [2], pack("bool", [False, True]))]
    header, data = {"__metadata__": {"format": "pt", "note": "test"}}, b""
    for name, dt, shape, raw in st_tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    hb = json.dumps(header).encode()
    hb += b" " * ((-len(hb)) % 8)
    with open(os.path.join(OUT, "tiny.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + data)

    # 6. legacy (torch < 1.6) format: magic, protocol, sys_info, object, keys, raw storages.
    with open(os.path.join(OUT, "legacy.pth"), "wb") as f:
        for v in [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True,
                                                 "type_sizes": {"short": 2, "int": 4, "long": 4}}]:
            pickle.dump(v, f, protocol=2)
        f.write(dumps(od([("a", Tensor(Storage("0", "float32", [1.0]), 0, [1], [1]))])))
        pickle.dump(["0"], f, protocol=2)
        f.write(struct.pack("<q", 1) + pack("float32", [1.0]))

    # 7. hostile or broken pickles inside otherwise valid archives.
    save("evil_global.pth", "evil", None, pkl=b"\x80\x02cposix\nsystem\nq\x00X\x05\x00\x00\x00echo!q\x01\x85q\x02Rq\x03.")
    save("evil_stack_global.pth", "evil2", None,
         pkl=b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x041+1\x94\x85\x94R\x94.")
    good = dumps(od([("a", Tensor(Storage("0", "float32", [1.0, 2.0]), 0, [2], [1]))]))
    k = good.index(b"X\x01\x00\x00\x00a")       # the key string opcode -> an undefined opcode byte
    save("unknown_opcode.pth", "badop", None, pkl=good[:k] + b"\xff" + good[k + 1:])
    save("compressed.pth", "comp", od([("a", Tensor(Storage("0", "float32", [1.0, 2.0]), 0, [2], [1]))]),
         deflate=True)
    # storage entry shorter than numel * itemsize: the pickle claims 8 floats, the file has 2
    bad = dumps(od([("a", Tensor(Storage("0", "float32", [0.0] * 8), 0, [8], [1]))]))
    write_zip(os.path.join(OUT, "short_storage.pth"), "short",
              [("data.pkl", bad), ("data/0", pack("float32", [1.0, 2.0])), ("version", b"3\n")])
    # a view reaching past its storage (offset 3 + 2 elements on a 4-element storage)
    save("view_out_of_range.pth", "oob", od([("a", Tensor(Storage("0", "float32", [1.0] * 4), 3, [2], [1]))]))
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
