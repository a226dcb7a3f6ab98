#!/usr/bin/env bash
# Regenerates the default model (models/default.ssast, labels.csv, eval-subset/, examples/) from this
# repository alone: synthetic data (espeak-ng + sox, scripts/make-screening-data.py), `ssast train`
# from scratch (no pretrained weights), int8 conversion, test-set metrics. See models/MODEL_CARD.md.
#
#   scripts/make-default-model.sh            data + training + everything below (~25 min on 2 cores)
#   scripts/make-default-model.sh --no-train reuse out/train/default-fp32.ssast; convert, evaluate, pick files
#
# Work files go to out/ (git-ignored). SSAST_BIN overrides the ssast binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SSAST_BIN:-.build/release/ssast}
data=out/screening
work=out/train
[ -x "$bin" ] || swift build -c release --product ssast
mkdir -p "$work" models

if [ "${1:-}" != "--no-train" ]; then
  python3 scripts/make-screening-data.py --out "$data" --train 250 --val 25 --test 40
  # --mean/--std: the training set's fbank statistics (scripts/fbank-stats.py out/screening/train.json).
  "$bin" train --init scratch --train "$data/train.json" --val "$data/val.json" --labels "$data/labels.csv" \
    -o "$work/default-fp32.ssast" --target-length 128 --fstride 16 --tstride 16 --mean -7.1376 --std 4.2115 \
    --epochs 8 --batch-size 8 --lr 3e-4 --lr-scheduler-start 5 --lr-scheduler-step 1 --lr-scheduler-decay 0.8 \
    --freqm 12 --timem 8 --noise true --seed 1 --threads 2
fi

"$bin" convert "$work/default-fp32.ssast" -o models/default.ssast --dtype int8
cp "$data/labels.csv" models/labels.csv

echo "== test split (held-out languages and voices), int8 model, ssast eval"
"$bin" eval --model models/default.ssast --data "$data/test.json" --labels models/labels.csv --predictions "$work/test-pred.csv"
python3 scripts/confusion-matrix.py "$work/test-pred.csv"

# Committed evaluation subset: the first 10 test clips of each class (indices 0-9).
rm -rf models/eval-subset && mkdir -p models/eval-subset
python3 - "$data" <<'EOF'
import json, shutil, sys
data = sys.argv[1]
entries = []
for e in json.load(open(data + "/test.json"))["data"]:
    name = e["wav"].split("/")[-1]
    if int(name.split("_")[1].split(".")[0]) < 10:
        shutil.copy(data + "/" + e["wav"], "models/eval-subset/" + name)
        entries.append({"wav": name, "labels": e["labels"]})
json.dump({"data": entries}, open("models/eval-subset/eval.json", "w"), indent=1)
open("models/eval-subset/eval.json", "a").write("\n")
EOF
echo "== eval subset, ssast classify (int8 runtime)"
"$bin" classify --jsonl --model models/default.ssast models/eval-subset/eval.json > "$work/subset.jsonl"
python3 - "$work/subset.jsonl" <<'EOF'
import json, sys
target = {e["wav"]: e["labels"] for e in json.load(open("models/eval-subset/eval.json"))["data"]}
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = sum(r["label"] == target[r["file"].split("/")[-1]] for r in rows)
print("eval-subset check: %d/%d correct" % (ok, len(rows)))
EOF

# Examples: from test clips 10-39 (not in the subset), the first ones per class the model labels
# correctly (two for speech and cough, one for breathing and silence). Illustrations, not evidence.
"$bin" classify --jsonl --model models/default.ssast "$data/test.json" > "$work/test.jsonl"
rm -rf models/examples && mkdir -p models/examples
python3 - "$work/test.jsonl" <<'EOF'
import json, shutil, sys
want = {"speech": 2, "cough": 2, "breathing": 1, "silence": 1}
got = {k: 0 for k in want}
for line in open(sys.argv[1]):
    r = json.loads(line)
    name = r["file"].split("/")[-1]
    cls, idx = name.split("_")[0], int(name.split("_")[1].split(".")[0])
    if idx >= 10 and r["label"] == cls and got[cls] < want[cls]:
        got[cls] += 1
        shutil.copy(r["file"], "models/examples/%s-%d.wav" % (cls, got[cls]))
        print("example %s-%d.wav <- %s" % (cls, got[cls], r["file"]))
EOF
du -sh models/default.ssast models/eval-subset models/examples
