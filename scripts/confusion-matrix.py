#!/usr/bin/env python3
"""Markdown confusion matrix, accuracy and one-vs-rest ROC-AUC from a predictions CSV written by
`ssast eval --predictions` (columns: file, target, one score per label). Standard library only.

Usage: scripts/confusion-matrix.py PREDICTIONS.csv
"""
import csv
import sys


def auc(scores, positive):
    # Mann-Whitney U with ties counted as one half.
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    if not pos or not neg:
        return float("nan")
    wins = sum((1.0 if a > b else 0.5 if a == b else 0.0) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        reader = csv.reader(f)
        header = next(reader)
        labels = header[2:]
        rows = [(r[1], [float(v) for v in r[2:]]) for r in reader]
    index = {l: i for i, l in enumerate(labels)}
    n = len(labels)
    cm = [[0] * n for _ in range(n)]
    for target, scores in rows:
        if target not in index:
            sys.exit("target %r is not a label column" % target)
        pred = max(range(n), key=lambda k: scores[k])
        cm[index[target]][pred] += 1
    correct = sum(cm[i][i] for i in range(n))
    print("accuracy %d/%d = %.4f\n" % (correct, len(rows), correct / len(rows)))
    print("| true \\ predicted | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * n)
    for i, l in enumerate(labels):
        print("| %s | " % l + " | ".join(str(v) for v in cm[i]) + " |")
    print()
    for i, l in enumerate(labels):
        a = auc([s[i] for _, s in rows], [t == l for t, _ in rows])
        print("ROC-AUC %s (one vs rest): %.4f" % (l, a))


if __name__ == "__main__":
    main()
