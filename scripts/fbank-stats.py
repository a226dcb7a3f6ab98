#!/usr/bin/env python3
"""Dataset fbank mean and std for `ssast train --mean/--std`, as SSAST's recipes derive them:
mean and std of the (target_length x 128) log-mel fbank over every training clip, after padding/cutting.

Kaldi fbank as SSAST's dataloader computes it (torchaudio.compliance.kaldi.fbank with htk_compat,
hanning window, 128 bins, dither 0): 25 ms frames every 10 ms, snip edges, DC removal, pre-emphasis
0.97, Hann window, |FFT 512|^2, Kaldi mel triangles 20..8000 Hz, log floored at float32 epsilon.
Needs numpy (a development tool, not part of the product).

Usage: scripts/fbank-stats.py DATAFILE.json [--target-length 128]
"""
import argparse
import json
import os
import struct
import wave

import numpy as np


def mel(f):
    return 1127.0 * np.log(1.0 + f / 700.0)


def mel_banks(bins=128, nfft=512, sr=16000, lo=20.0, hi=8000.0):
    fft_bins = nfft // 2
    mlo, mhi = mel(lo), mel(hi)
    delta = (mhi - mlo) / (bins + 1)
    freqs = mel(np.arange(fft_bins) * sr / nfft)
    banks = np.zeros((bins, fft_bins + 1))
    for b in range(bins):
        left, centre, right = mlo + b * delta, mlo + (b + 1) * delta, mlo + (b + 2) * delta
        up = (freqs - left) / (centre - left)
        down = (right - freqs) / (right - centre)
        banks[b, :fft_bins] = np.maximum(0.0, np.minimum(up, down))
    return banks


def fbank(x, banks):
    x = x - x.mean()
    n = 1 + (len(x) - 400) // 160
    if n < 1:
        raise SystemExit("clip shorter than 400 samples")
    frames = np.stack([x[i * 160:i * 160 + 400] for i in range(n)]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] - 0.97 * frames[:, :1], frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)
    spec = np.abs(np.fft.rfft(frames * window, 512)) ** 2
    return np.log(np.maximum(spec @ banks.T, np.finfo(np.float32).eps))


def read(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getframerate() != 16000:
            raise SystemExit("%s: expected 16-bit 16 kHz WAV" % path)
        raw = w.readframes(w.getnframes())
        ch = w.getnchannels()
    x = np.array(struct.unpack("<%dh" % (len(raw) // 2), raw), dtype=np.float64) / 32768.0
    return x.reshape(-1, ch).mean(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("datafile")
    ap.add_argument("--target-length", type=int, default=128)
    a = ap.parse_args()
    base = os.path.dirname(os.path.abspath(a.datafile))
    banks = mel_banks()
    feats = []
    for e in json.load(open(a.datafile))["data"]:
        p = e["wav"] if os.path.isabs(e["wav"]) else os.path.join(base, e["wav"])
        f = fbank(read(p), banks)
        t = a.target_length
        f = f[:t] if len(f) >= t else np.concatenate([f, np.zeros((t - len(f), f.shape[1]))])
        feats.append(f)
    allf = np.stack(feats)
    print("clips %d  mean %.4f  std %.4f" % (len(feats), allf.mean(), allf.std()))


if __name__ == "__main__":
    main()
