#!/usr/bin/env python3
"""Deterministic synthetic audio for the default model's recording-quality task.

Labels: speech, cough, breathing, silence (silence = room noise / near-digital silence). Each clip is
1.3 s of 16 kHz mono 16-bit WAV (enough samples for 128 Kaldi fbank frames).

  speech     espeak-ng reading seeded pseudo-words: many languages x voice variants, rates, pitches
  cough      1-3 bursts: white noise (+ optional buzzy voicing) shaped by sox filters, sharp attack,
             exponential decay
  breathing  1-2 slow-envelope breaths of band-passed noise (sox bandpass/highpass)
  silence    room noise only: low-passed noise, optional mains hum, or near-digital silence

Speech, cough and breathing clips are mixed with room noise at an SNR drawn from {30, 20, 10, 5} dB.

Determinism: every clip has its own random.Random seeded with the string "<split>:<class>:<index>"
(string seeds are hashed with SHA-512, independent of PYTHONHASHSEED), and espeak-ng and sox are
run without dither (-D) and without anything time- or machine-dependent, so the same command
produces the same files byte for byte with the same espeak-ng and sox versions. The splits share no
seeds, and no espeak-ng language and no voice variant appears in more than one split.

Uses only the Python standard library and the espeak-ng and sox command-line tools.

Usage: scripts/make-screening-data.py [--out DIR (default out/screening)] [--train N] [--val N] [--test N]
  (N = clips per class; defaults 100 / 25 / 40). Writes DIR/{train,val,test}/*.wav,
  DIR/{train,val,test}.json (SSAST datafiles; wav paths relative to DIR) and DIR/labels.csv.
"""
import argparse
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import wave

SR = 16000
CLIP = 20800            # 1.3 s: 1 + (20800 - 400) // 160 = 128 fbank frames
CLASSES = ["speech", "cough", "breathing", "silence"]
SNRS = [30, 20, 10, 5]

# Latin-script espeak-ng languages (pseudo-words read sensibly) and voice variants. Each list is
# dealt round-robin into train/train/train/val/test, so the splits never share a language or a variant.
LANGUAGES = ["af", "ca", "cs", "cy", "da", "de", "en-gb", "en-us", "en-gb-scotland", "en-029", "eo", "es",
             "es-419", "et", "eu", "fi", "fr-fr", "fr-be", "ga", "hr", "hu", "id", "is", "it", "la", "lt",
             "lv", "ms", "nb", "nl", "pl", "pt", "pt-br", "ro", "sk", "sl", "sq", "sv", "sw", "tr"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "croak", "adam", "Andy", "boris", "david", "ed", "edward", "iven",
            "john", "linda", "max", "michel", "paul", "pedro", "quincy", "rob", "robert", "steph",
            "anika", "aunty", "belinda", "benjamin", "caleb", "Alex"]

ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "pl", "kl", "sh"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ei"]
CODAS = ["", "", "", "n", "m", "s", "l", "r", "t"]


def split_of(items, split):
    slot = {"train": (0, 1, 2), "val": (3,), "test": (4,)}[split]
    return [x for i, x in enumerate(items) if i % 5 in slot]


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            sys.exit("%s: expected 16-bit mono" % path)
        raw = w.readframes(w.getnframes())
    return [v / 32768.0 for v in struct.unpack("<%dh" % (len(raw) // 2), raw)]


def write_wav(path, x):
    ints = [max(-32768, min(32767, int(round(v * 32768.0)))) for v in x]
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(struct.pack("<%dh" % len(ints), *ints))


class Sox:
    """Runs sox effects on a list of floats through temporary 16-bit WAVs (no dither, guarded gain)."""

    def __init__(self, tmp):
        self.tmp = tmp

    def effects(self, x, effects):
        peak = max(1e-9, max(abs(v) for v in x))
        scale = 0.5 / peak                 # use the 16-bit range well; undone below
        src, dst = os.path.join(self.tmp, "in.wav"), os.path.join(self.tmp, "out.wav")
        write_wav(src, [v * scale for v in x])
        run(["sox", "-D", "-G", src, dst] + [str(e) for e in effects])
        y = read_wav(dst)
        return [v / scale for v in y]


def rms(x):
    return math.sqrt(sum(v * v for v in x) / max(1, len(x)))


def peak_normalise(x, dbfs):
    p = max(1e-9, max(abs(v) for v in x))
    g = 10 ** (dbfs / 20) / p
    return [v * g for v in x]


def room_noise(rng, sox, n):
    """Steady low-passed noise, sometimes with mains hum; unit-free (caller sets the level)."""
    white = [rng.gauss(0, 1) for _ in range(n)]
    x = sox.effects(white, ["lowpass", "-1", rng.choice([150, 300, 600, 1200, 2500]), "highpass", 20])
    if rng.random() < 0.3:
        f = rng.choice([50, 60])
        a = rms(x) * rng.uniform(0.5, 2.0)
        ph = rng.uniform(0, 2 * math.pi)
        x = [v + a * (math.sin(2 * math.pi * f * t / SR + ph) + 0.5 * math.sin(4 * math.pi * f * t / SR)
                      + 0.25 * math.sin(6 * math.pi * f * t / SR)) for t, v in enumerate(x)]
    return x


def pseudo_text(rng):
    words = []
    for _ in range(rng.randint(4, 7)):
        words.append("".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                             for _ in range(rng.randint(1, 3))))
    return " ".join(words)


def speech(rng, sox, split, tmp):
    lang, variant = rng.choice(split_of(LANGUAGES, split)), rng.choice(split_of(VARIANTS, split))
    rate, pitch = rng.randint(110, 230), rng.randint(15, 85)
    raw, res = os.path.join(tmp, "espeak.wav"), os.path.join(tmp, "speech16k.wav")
    run(["espeak-ng", "-v", "%s+%s" % (lang, variant), "-s", str(rate), "-p", str(pitch), "-w", raw, pseudo_text(rng)])
    # Drop leading silence, resample to 16 kHz mono (sox's rate effect, no dither).
    run(["sox", "-D", raw, "-r", str(SR), "-c", "1", "-b", "16", res, "silence", "1", "0.01", "0.5%"])
    s = read_wav(res)
    if len(s) >= CLIP:
        off = rng.randint(0, min(len(s) - CLIP, 4000))
        x = s[off:off + CLIP]
    else:
        off = rng.randint(0, CLIP - len(s))
        x = [0.0] * off + s + [0.0] * (CLIP - off - len(s))
    return peak_normalise(x, rng.uniform(-20, -2)), "%s+%s rate %d pitch %d" % (lang, variant, rate, pitch)


def cough(rng, sox):
    x = [0.0] * CLIP
    t = rng.randint(0, int(0.3 * SR))
    count = rng.choice([1, 1, 2, 2, 3])
    for _ in range(count):
        if t >= CLIP - 800:
            break
        n = int(rng.uniform(0.18, 0.40) * SR)
        src = [rng.gauss(0, 1) for _ in range(n)]
        if rng.random() < 0.6:        # a voiced (buzzy) phase after the explosive onset
            f0, start = rng.uniform(110, 350), int(rng.uniform(0.02, 0.06) * SR)
            a, ph = rng.uniform(0.5, 1.5), 0.0
            for i in range(start, n):
                ph += f0 * (1 - 0.3 * i / n) / SR
                src[i] += a * (2 * (ph % 1.0) - 1)
        shaped = sox.effects(src, ["highpass", rng.randint(100, 300), "lowpass", rng.randint(2500, 6500),
                                   "equalizer", rng.randint(400, 900), "1.5q", rng.randint(4, 10),
                                   "equalizer", rng.randint(1200, 2600), "2q", rng.randint(2, 8)])
        att, tau = rng.uniform(0.003, 0.012) * SR, rng.uniform(0.04, 0.12) * SR
        fade = int(0.03 * SR)    # short fade-out so a burst never ends with a click
        for i in range(n):
            env = i / att if i < att else math.exp(-(i - att) / tau) + 0.2 * math.exp(-(i - att) / (3 * tau))
            env *= min(1.0, (n - i) / fade)
            if t + i < CLIP:
                x[t + i] += env * shaped[i]
        t += n + int(rng.uniform(0.05, 0.30) * SR)
    return peak_normalise(x, rng.uniform(-12, -1)), "%d bursts" % count


def breathing(rng, sox):
    x = [0.0] * CLIP
    t = rng.randint(-int(0.3 * SR), int(0.3 * SR))
    count = 0
    while t < CLIP - 1600 and count < 2:
        n = int(rng.uniform(0.5, 1.1) * SR)
        exhale = rng.random() < 0.5
        centre = rng.randint(400, 900) if exhale else rng.randint(800, 1800)
        shaped = sox.effects([rng.gauss(0, 1) for _ in range(n)],
                             ["highpass", rng.randint(100, 250), "bandpass", centre, "%dh" % rng.randint(600, 2000)])
        p = rng.uniform(1.0, 2.0)
        for i in range(n):
            if 0 <= t + i < CLIP:
                x[t + i] += (math.sin(math.pi * i / n) ** 2) ** p * shaped[i]
        t += n + int(rng.uniform(0.1, 0.4) * SR)
        count += 1
    return peak_normalise(x, rng.uniform(-32, -12)), "%d breaths" % count


def silence(rng, sox):
    if rng.random() < 0.15:     # near-digital silence: a few LSBs of noise
        return [rng.gauss(0, rng.uniform(0.5, 3)) / 32768 for _ in range(CLIP)], "near-digital silence"
    x = room_noise(rng, sox, CLIP)
    level = rng.uniform(-75, -45)
    g = 10 ** (level / 20) / max(1e-12, rms(x))
    return [v * g for v in x], "room noise %.0f dBFS rms" % level


def make_clip(split, cls, index, tmp):
    rng = random.Random("%s:%s:%d" % (split, cls, index))
    sox = Sox(tmp)
    if cls == "silence":
        return silence(rng, sox)
    x, what = {"speech": lambda: speech(rng, sox, split, tmp), "cough": lambda: cough(rng, sox),
               "breathing": lambda: breathing(rng, sox)}[cls]()
    snr = rng.choice(SNRS)
    bg = room_noise(rng, sox, CLIP)
    g = rms(x) / 10 ** (snr / 20) / max(1e-12, rms(bg))
    y = [a + g * b for a, b in zip(x, bg)]
    p = max(abs(v) for v in y)
    if p > 0.98:
        y = [v * 0.98 / p for v in y]
    return y, "%s, SNR %d dB" % (what, snr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="out/screening")   # /out/ is git-ignored
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--val", type=int, default=25)
    ap.add_argument("--test", type=int, default=40)
    a = ap.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit("%s is not installed (Debian: apt-get install espeak-ng sox)" % tool)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "labels.csv"), "w") as f:
        f.write("index,mid,display_name\n")
        for i, c in enumerate(CLASSES):
            f.write("%d,%s,%s\n" % (i, c, c))
    tmp = tempfile.mkdtemp(prefix="screening-")
    try:
        for split, per_class in (("train", a.train), ("val", a.val), ("test", a.test)):
            os.makedirs(os.path.join(a.out, split), exist_ok=True)
            entries, notes = [], []
            for i in range(per_class):
                for cls in CLASSES:     # interleaved, so a datafile prefix is class-balanced
                    rel = "%s/%s_%04d.wav" % (split, cls, i)
                    x, what = make_clip(split, cls, i, tmp)
                    write_wav(os.path.join(a.out, rel), x)
                    entries.append({"wav": rel, "labels": cls})
                    notes.append("%s\t%s\t%s" % (rel, cls, what))
                sys.stderr.write("\r%s: %d/%d per class" % (split, i + 1, per_class))
            sys.stderr.write("\n")
            with open(os.path.join(a.out, split + ".json"), "w") as f:
                json.dump({"data": entries}, f, indent=1)
                f.write("\n")
            with open(os.path.join(a.out, split + "-notes.tsv"), "w") as f:
                f.write("\n".join(notes) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
