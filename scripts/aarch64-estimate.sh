#!/usr/bin/env bash
# Raspberry Pi 4 / 5 latency ESTIMATE for the CIAB-geometry SSAST-Tiny model (fp32 and int8), from
# instructions counted under emulation (not a measurement on a board):
#   1. the aarch64 test driver runs the forward pass under qemu-aarch64 with the counting plugin
#      scripts/aarch64-count-plugin.c, once with 1 pass and once with 2 (SSAST_REPEAT); the
#      difference is exactly one pass's executed instructions, by class (FMLA, SDOT, SMLAL, other
#      SIMD/FP, loads/stores, total), single-threaded;
#   2. -cpu cortex-a72 (Pi 4: no dot product -> "neon" kernels) and -cpu cortex-a76 (Pi 5: "dotprod",
#      whose 8-bit activations run the 8-bit attention; once more with SSAST_INT16_ATTENTION=1);
#   3. cycles per core = the largest of: vector-pipe cycles (each class / its issue rate from Arm's
#      software optimisation guides), load/store cycles, all instructions / decode width. That is a
#      throughput bound (perfect overlap, no cache misses); 4 threads divide it by 4.
#   4. the same for the attention alone: the functions of the attention objects (CKernels' attention_u8.c
#      and attention_i16.c: packing and compute passes, their helpers), counted per function by the plugin.
# Needs a release x86 ssast (converter) and the cross build (scripts/aarch64-build.sh). ~15 min.
# Usage: scripts/aarch64-estimate.sh [SSAST_X86_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
SSAST=${1:-.build/release/ssast}
FIX=${SSAST_FIXTURES:-../shared/fixtures}
export OUT=${OUT:-.build-aarch64}
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
scripts/aarch64-build.sh >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -shared -fPIC -O2 -o "$tmp/count.so" scripts/aarch64-count-plugin.c
conv=(convert "$FIX/models/tiny-patch-ciab-ft.pth" --fstride 10 --tstride 10 --target-length 512 --mean -8.2096
      --std 6.1568 --labels Negative,Positive)
"$SSAST" "${conv[@]}" -o "$tmp/fp32.ssast" >/dev/null
"$SSAST" "${conv[@]}" --dtype int8 -o "$tmp/int8.ssast" >/dev/null
E=$FIX/expected
count() {  # cpu dtype repeat -> file of "insn-count class n" and "insn-symbol name class n" lines
    local model=${2%-i16att}
    [ "$model" = "$2" ] || export SSAST_INT16_ATTENTION=1
    SSAST_THREADS=1 SSAST_REPEAT=$3 qemu-aarch64 -L "$SYSROOT" -cpu "$1" -plugin "$tmp/count.so,symbols=on" -d plugin \
        "$OUT/ssast-aarch64-tests" model "$tmp/$model.ssast" "$E/input_tiny-patch-ciab-ft__speech16k.npy" \
        "$E/logits_avgtok_tiny-patch-ciab-ft__speech16k.npy" 1 2>&1 | grep '^insn-' > "$tmp/$1-$2-$3.txt"
}
for job in "cortex-a72 fp32" "cortex-a72 int8" "cortex-a76 int8" "cortex-a76 int8-i16att"; do
    read -r cpu dtype <<<"$job"
    count "$cpu" "$dtype" 1 & count "$cpu" "$dtype" 2 & wait
done
# fp32 runs the same kernels on both boards (FMLA; dot product is int8 only): the A72 count serves both.
cp "$tmp/cortex-a72-fp32-1.txt" "$tmp/cortex-a76-fp32-1.txt"; cp "$tmp/cortex-a72-fp32-2.txt" "$tmp/cortex-a76-fp32-2.txt"
# The attention's functions: those defined in its two objects and in no other (static names may repeat).
NM=${NM:-aarch64-linux-gnu-nm}
"$NM" --defined-only "$OUT"/ckernels_attention_u8.o "$OUT"/ckernels_attention_i16.o 2>/dev/null | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u >"$tmp/attn.names"
for o in "$OUT"/*.o; do case $o in */ckernels_attention_*) ;; *) "$NM" --defined-only "$o" 2>/dev/null;; esac; done |
    awk '{print $NF}' | sort -u >"$tmp/other.names"
comm -23 "$tmp/attn.names" "$tmp/other.names" >"$tmp/attn.only"
[ -s "$tmp/attn.only" ] || { echo "aarch64-estimate: no attention symbols found in $OUT" >&2; exit 1; }
only_attention() {  # counts file -> the attention functions' sums as "insn-count class n" lines
    awk 'FNR == NR { keep[$1] = 1; next } $1 == "insn-symbol" && ($2 in keep) { c[$3] += $4 }
         END { for (k in c) print "insn-count", k, c[k] }' "$tmp/attn.only" "$1"
}
for f in "$tmp"/cortex-*.txt; do only_attention "$f" >"${f%.txt}.attn"; grep '^insn-count' "$f" >"${f%.txt}.all"; done
estimate() {  # what (all | attn), then rows of "board cpu dtype"
    local what=$1; shift
    printf '%-18s %-12s %8s %8s %8s %8s %8s %8s | %9s %9s\n' board dtype "total" fmla sdot smlal simd_oth ld_st "1 thr ms" "4 thr ms"
    for job in "$@"; do
        read -r board cpu dtype <<<"$job"
        awk -v board="$board" -v dtype="$dtype" '
        FNR == NR { one[$2] = $3; next } { c[$2] = $3 - one[$2] }
        END {
            # Issue rates per cycle. Cortex-A72 (UAN 0016A): 128-bit FMLA 1 (F0+F1), SMLAL 1 (F0), other
            # 128-bit ASIMD ~1, 1 load + 1 store pipe (taken as 1 memory op), decode 3 wide; 1.5 GHz (BCM2711).
            # Cortex-A76: FMLA 2, SDOT 2, SMLAL 1 (V0), other ASIMD 2 (V0/V1), 2 loads, decode 4; 2.4 GHz (BCM2712).
            if (board == "pi4") { v = c["fmla"] + c["smlal"] + c["simd_fp_other"] + c["sdot"]; m = c["load_store"]; w = 3; ghz = 1.5 }
            else { v = (c["fmla"] + c["sdot"] + c["simd_fp_other"]) / 2 + c["smlal"]; m = c["load_store"] / 2; w = 4; ghz = 2.4 }
            cyc = v; if (m > cyc) cyc = m; if (c["total"] / w > cyc) cyc = c["total"] / w
            ms = cyc / ghz / 1e6
            printf "%-18s %-12s %7.3fG %7.3fG %7.3fG %7.3fG %7.3fG %7.3fG | %9.1f %9.1f\n", \
                board " (" (board == "pi4" ? "A72 1.5GHz" : "A76 2.4GHz") ")", dtype, c["total"]/1e9, c["fmla"]/1e9, \
                c["sdot"]/1e9, c["smlal"]/1e9, c["simd_fp_other"]/1e9, c["load_store"]/1e9, ms, ms / 4
        }' "$tmp/$cpu-$dtype-1.$what" "$tmp/$cpu-$dtype-2.$what"
    done
}
rows=("pi4 cortex-a72 fp32" "pi4 cortex-a72 int8" "pi5 cortex-a76 fp32" "pi5 cortex-a76 int8" "pi5 cortex-a76 int8-i16att")
echo "Whole forward pass (int8-i16att: SSAST_INT16_ATTENTION=1):"
estimate all "${rows[@]}"
echo "The attention alone ($(wc -l <"$tmp/attn.only") functions of attention_u8.c / attention_i16.c; libc's memset/memcpy not included):"
estimate attn "${rows[@]}"
