#!/usr/bin/env python3
"""Reference logits for HuggingFaceASTTests: a Hugging Face ASTForAudioClassification with 4 heads,
hidden size 192 (so heads != hidden / 64), 2 layers, layer_norm_eps 0.1, strides 10 x 10, max_length 100,
3 labels. Weights and input come from the integer formula the Swift test uses (exact in float32 on
both sides); the forward pass below is written from the transformers modeling code
(models/audio_spectrogram_transformer), in float64, independent of our Swift implementation.
Run: python3 hf_ast_reference.py  (needs numpy only); prints the logits to paste into the test."""
import math
import numpy as np

D, HEADS, DEPTH, MLP, LABELS = 192, 4, 2, 768, 3
FSTRIDE, TSTRIDE, MAXLEN, MEL, EPS = 10, 10, 100, 128, 0.1
FDIM, TDIM = (MEL - 16) // FSTRIDE + 1, (MAXLEN - 16) // TSTRIDE + 1
TOKENS = FDIM * TDIM + 2
P = "audio_spectrogram_transformer."

def tensors():
    """(name, shape, base, step) in the order the Swift test uses for the formula's tensor index."""
    out = [(P + "embeddings.cls_token", [1, 1, D], 0, 2e-5), (P + "embeddings.distillation_token", [1, 1, D], 0, 2e-5),
           (P + "embeddings.position_embeddings", [1, TOKENS, D], 0, 2e-5),
           (P + "embeddings.patch_embeddings.projection.weight", [D, 1, 16, 16], 0, 5e-5),
           (P + "embeddings.patch_embeddings.projection.bias", [D], 0, 1e-5)]
    for i in range(DEPTH):
        l = P + "encoder.layer.%d." % i
        for part in ["query", "key", "value"]:
            out += [(l + "attention.attention.%s.weight" % part, [D, D], 0, 3e-4 if part != "value" else 5e-5), (l + "attention.attention.%s.bias" % part, [D], 0, 1e-5)]
        out += [(l + "attention.output.dense.weight", [D, D], 0, 5e-5), (l + "attention.output.dense.bias", [D], 0, 1e-5),
                (l + "intermediate.dense.weight", [MLP, D], 0, 5e-5), (l + "intermediate.dense.bias", [MLP], 0, 1e-5),
                (l + "output.dense.weight", [D, MLP], 0, 5e-5), (l + "output.dense.bias", [D], 0, 1e-5),
                (l + "layernorm_before.weight", [D], 1, 1e-4), (l + "layernorm_before.bias", [D], 0, 1e-4),
                (l + "layernorm_after.weight", [D], 1, 1e-4), (l + "layernorm_after.bias", [D], 0, 1e-4)]
    out += [(P + "layernorm.weight", [D], 1, 1e-4), (P + "layernorm.bias", [D], 0, 1e-4),
            ("classifier.layernorm.weight", [D], 1, 1e-4), ("classifier.layernorm.bias", [D], 0, 1e-4),
            ("classifier.dense.weight", [LABELS, D], 0, 5e-3), ("classifier.dense.bias", [LABELS], 0, 1e-3)]
    return out

def values(t, n, base, step):
    i = np.arange(n, dtype=np.uint64)
    u = ((i + np.uint64(1)) * np.uint64(2654435761) + np.uint64((t + 1) * 40503)) & np.uint64(0xFFFFFFFF)
    k = (u % np.uint64(2001)).astype(np.int64) - 1000
    return np.float32(base) + k.astype(np.float32) * np.float32(step)

def weights():
    return {name: values(t, int(np.prod(shape)), b, s).reshape(shape) for t, (name, shape, b, s) in enumerate(tensors())}

def model_input():
    # [MAXLEN, MEL], time-major, already normalised: 99 is the formula's tensor index for the input.
    return values(99, MAXLEN * MEL, 0, 1e-3).reshape(MAXLEN, MEL)

def layernorm(x, w, b):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + EPS) * w + b

def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))

def forward(W, x):
    W = {k: v.astype(np.float64) for k, v in W.items()}
    spec = x.astype(np.float64).T          # input_values.unsqueeze(1).transpose(2, 3): [mel, time]
    k = W[P + "embeddings.patch_embeddings.projection.weight"][:, 0]
    patches = np.zeros((FDIM * TDIM, D))
    for fi in range(FDIM):
        for ti in range(TDIM):
            win = spec[fi * FSTRIDE:fi * FSTRIDE + 16, ti * TSTRIDE:ti * TSTRIDE + 16]
            patches[fi * TDIM + ti] = (k * win).sum(axis=(1, 2)) + W[P + "embeddings.patch_embeddings.projection.bias"]
    h = np.concatenate([W[P + "embeddings.cls_token"][0], W[P + "embeddings.distillation_token"][0], patches])
    h = h + W[P + "embeddings.position_embeddings"][0]
    hd = D // HEADS
    for i in range(DEPTH):
        l = P + "encoder.layer.%d." % i
        lin = lambda z, n: z @ W[l + n + ".weight"].T + W[l + n + ".bias"]
        a = layernorm(h, W[l + "layernorm_before.weight"], W[l + "layernorm_before.bias"])
        q, kk, v = (lin(a, "attention.attention." + p).reshape(TOKENS, HEADS, hd).transpose(1, 0, 2) for p in ["query", "key", "value"])
        s = q @ kk.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(TOKENS, D)
        h = h + lin(ctx, "attention.output.dense")
        a = layernorm(h, W[l + "layernorm_after.weight"], W[l + "layernorm_after.bias"])
        h = h + lin(gelu(lin(a, "intermediate.dense")), "output.dense")
    h = layernorm(h, W[P + "layernorm.weight"], W[P + "layernorm.bias"])
    pooled = (h[0] + h[1]) / 2
    z = layernorm(pooled, W["classifier.layernorm.weight"], W["classifier.layernorm.bias"])
    return z @ W["classifier.dense.weight"].T + W["classifier.dense.bias"]

if __name__ == "__main__":
    W, x = weights(), model_input()
    print("logits (4 heads):", ", ".join("%.7g" % v for v in forward(W, x)))
    # What a reader that ignored config.json would compute (hidden / 64 = 3 heads, eps 1e-12).
    HEADS, EPS = 3, 1e-12
    print("logits as 3 heads, eps 1e-12:", ", ".join("%.7g" % v for v in forward(W, x)))
