#!/usr/bin/env bash
# Predicted throughput of the kernels' inner loops with llvm-mca (Debian package llvm-19).
#
# Takes each kernel's hottest innermost loop from the release build's object files (the loop with the
# most multiply-add instructions), runs it through llvm-mca for several CPU models, and prints
# per loop and CPU: cycles per iteration, multiply-adds per iteration, and the fraction of that CPU's
# multiply-add peak, where the peak is llvm-mca's own prediction for a loop of 12 independent
# multiply-adds of the same instruction and width (so both figures come from the same model).
# AVX-512 code is predicted for cascadelake, icelake-server and znver4; AVX2 (ymm) code also for
# alderlake, whose cores have no AVX-512. aarch64 loops (SDOT, cortex-a76) come from the Embedded cross
# build's objects (scripts/aarch64-build.sh, AARCH64_BUILD_DIR), when present.
#
# Usage: scripts/mca.sh [--markdown]      (after `swift build -c release`)
set -euo pipefail
cd "$(dirname "$0")/.."
MCA=${LLVM_MCA:-llvm-mca-19}
OBJDUMP=${LLVM_OBJDUMP:-llvm-objdump-19}
NM=${LLVM_NM:-llvm-nm-19}
BUILD=${BUILD_DIR:-.build/x86_64-unknown-linux-gnu/release}
ARM_BUILD=${AARCH64_BUILD_DIR:-.build-aarch64}
markdown=0; [[ ${1:-} == --markdown ]] && markdown=1
for t in "$MCA" "$OBJDUMP" "$NM"; do
    command -v "$t" >/dev/null || { echo "mca.sh: $t not found (apt-get install llvm-19)" >&2; exit 1; }
done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# The innermost backward-branch loop without a division of a function with the most instructions matching $3, as
# assembler text llvm-mca reads (AT&T syntax, the branch retargeted to a local label).
extract_loop() {  # object symbol pattern out
    "$OBJDUMP" -d --no-show-raw-insn --no-leading-headers --disassemble-symbols="$2" "$1" |
    awk -v pat="$3" '
        function hex(h,   v, i) { sub(/^0x/, "", h); v = 0; for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1; return v }
        /^ *[0-9a-f]+:/ {
            a = $1; sub(":", "", a); addr[n] = hex(a)
            line = $0; sub(/^ *[0-9a-f]+:[ \t]*/, "", line); sub(/[ \t]+#[ \t].*$/, "", line); sub(/[ \t]*\/\/.*$/, "", line)
            text[n] = line; n++
        }
        END {
            best = -1; bestCount = 0
            for (i = 0; i < n; i++) {
                if (text[i] !~ /^(j[a-z]+|b\.[a-z]+)[ \t]+0x[0-9a-f]+/) continue
                split(text[i], f, /[ \t]+/); target = hex(f[2])
                if (target >= addr[i]) continue
                for (s = i; s > 0 && addr[s] > target; s--) {}
                inner = 1
                for (j = s; j < i; j++) if (text[j] ~ /^(j[a-z]+|b\.[a-z]+)[ \t]+0x/) { split(text[j], g, /[ \t]+/); tg = hex(g[2]); if (tg < addr[j] && tg >= target) inner = 0 }
                if (!inner) continue
                # A multiply-add tile never divides: skip the GELU loops the fused fc1 store brings into
                # the GEMM wrappers (they have more multiply-adds than the tile).
                div = 0
                for (j = s; j <= i; j++) if (text[j] ~ /^vdivps/) div = 1
                if (div) continue
                c = 0
                for (j = s; j <= i; j++) if (text[j] ~ pat) c++
                if (c > bestCount) { bestCount = c; best = i; bestStart = s }
            }
            if (best < 0) exit 1
            print ".Lloop:"
            for (j = bestStart; j < best; j++) {
                t = text[j]
                if (t ~ /^(j[a-z]+|b\.[a-z]+|b)[ \t]+0x/) { split(t, g, /[ \t]+/); t = g[1] " .Lskip" }
                print "\t" t
            }
            split(text[best], g, /[ \t]+/); print "\t" g[1] " .Lloop"
            print ".Lskip:"
        }' > "$4"
}

# A loop of 12 independent multiply-adds (instruction $1 on register prefix $2), with a register or
# (zmm only) a broadcast memory operand ($4 = mem): the peak is the faster of the two, as some CPU
# models give the two forms different costs.
peak_loop() {  # insn reg out [mem]
    if [[ $2 == v ]]; then   # aarch64: by element, as the tiles use it
        { echo ".Lloop:"; for i in $(seq 4 15); do echo "	$1 v$i.4s, v0.16b, v1.4b[0]"; done
          echo "	subs x0, x0, #1"; echo "	b.ne .Lloop"; } > "$3"
        return
    fi
    local src="%${2}0"; [[ ${4:-} == mem ]] && src="(%rax){1to16}"
    { echo ".Lloop:"; for i in $(seq 4 15); do echo "	$1 $src, %${2}1, %${2}$i"; done
      echo "	decq %rcx"; echo "	jne .Lloop"; } > "$3"
}

cycles_per_iteration() {  # file cpu
    local triple=()
    [[ $2 == cortex-* ]] && triple=(-mtriple=aarch64)
    "$MCA" "${triple[@]}" -mcpu="$2" -iterations=1000 "$1" 2>/dev/null |
        awk '/^Iterations:/ {it = $2} /^Total Cycles:/ {c = $3} END {if (it) printf "%.2f", c / it}'
}

sym() { "$NM" --defined-only "$1" | awk -v p="$2" '$3 ~ p {print $3; exit}'; }

# name | object | symbol regex | multiply-add pattern | peak instruction | register | CPUs
loops=(
  "fp32 linear, AVX-512 (12x32 tile)|KernelsAVX512.build/AVX512.swift.o|gemmF32B0|vfmadd...ps.*zmm|vfmadd231ps|zmm|cascadelake icelake-server znver4"
  "fp32 attention, AVX-512 (6x32 tile)|KernelsAVX512.build/AVX512.swift.o|attentionB0yy|vfmadd...ps.*zmm|vfmadd231ps|zmm|cascadelake icelake-server znver4"
  "fp32 linear, AVX2 (6x16 tile)|KernelsAVX2.build/AVX2.swift.o|KernelsAVX207gemmF32B0|vfmadd...ps.*ymm|vfmadd231ps|ymm|cascadelake icelake-server znver4 alderlake"
  "int8 linear, 12-bit activations, AVX-512 VNNI (vpdpwssd)|CKernels.build/int8.c.o|^ssast_i8_gemm_avx512vnni$|vpdpwssd|vpdpwssd|zmm|cascadelake icelake-server znver4"
  "int8 linear, 8-bit activations, AVX-512 VNNI (vpdpbusd)|CKernels.build/u8.c.o|^ssast_u8_gemm_avx512vnni$|vpdpbusd.*zmm|vpdpbusd|zmm|cascadelake icelake-server znver4"
  "int8 linear, 12-bit activations, AVX-512 (vpmaddwd)|CKernels.build/int8.c.o|^ssast_i8_gemm_avx512$|vpmaddwd.*zmm|vpmaddwd|zmm|cascadelake icelake-server znver4"
  "int8 linear, 12-bit activations, AVX2 (vpmaddwd)|CKernels.build/int8.c.o|^ssast_i8_gemm_avx2$|vpmaddwd.*ymm|vpmaddwd|ymm|cascadelake icelake-server znver4 alderlake"
  "int8 linear, 8-bit activations, AVX-VNNI (vpdpbusd ymm)|CKernels.build/u8.c.o|^ssast_u8_gemm_avxvnni$|vpdpbusd.*ymm|{vex} vpdpbusd|ymm|alderlake"
  "fp32 attention, AVX2 (6x16 tile)|KernelsAVX2.build/AVX2.swift.o|KernelsAVX209attentionB0|vfmadd...ps.*ymm|vfmadd231ps|ymm|cascadelake icelake-server znver4 alderlake"
  "int16 attention, AVX-512 VNNI (vpdpwssd)|CKernels.build/attention_i16.c.o|^ssast_attn_i16_avx512vnni$|vpdpwssd|vpdpwssd|zmm|cascadelake icelake-server znver4"
  "int16 attention, AVX-512 (vpmaddwd)|CKernels.build/attention_i16.c.o|^ssast_attn_i16_avx512$|vpmaddwd.*zmm|vpmaddwd|zmm|cascadelake icelake-server znver4"
  "int16 attention, AVX2 (vpmaddwd)|CKernels.build/attention_i16.c.o|^ssast_attn_i16_avx2$|vpmaddwd|vpmaddwd|ymm|cascadelake icelake-server znver4 alderlake"
  "8-bit attention, AVX-512 VNNI (vpdpbusd)|CKernels.build/attention_u8.c.o|^ssast_attn_u8_avx512vnni$|vpdpbusd|vpdpbusd|zmm|cascadelake icelake-server znver4"
  "8-bit attention, AVX-VNNI (vpdpbusd ymm)|CKernels.build/attention_u8.c.o|^ssast_attn_u8_avxvnni$|vpdpbusd|vpdpbusd|ymm|alderlake"
  # aarch64 (objects of the Embedded cross build; the tile is a function of its own there)
  "8-bit attention, aarch64 SDOT (6x16 per pass)|aarch64:ckernels_attention_u8.o|^u8a_tile_dotprod$|sdot|sdot|v|cortex-a76"
)

if (( markdown )); then
    echo "| loop | CPU model | cycles / iteration | multiply-adds / iteration | peak cycles for them | fraction of peak |"
    echo "| --- | --- | --- | --- | --- | --- |"
fi
for entry in "${loops[@]}"; do
    IFS='|' read -r name obj symre pat peakinsn reg cpus <<< "$entry"
    o="$BUILD/$obj"
    if [[ $obj == aarch64:* ]]; then
        o="$ARM_BUILD/${obj#aarch64:}"
        [[ -f $o ]] || { echo "mca.sh: $o missing (scripts/aarch64-build.sh first): $name skipped" >&2; continue; }
    fi
    [[ -f $o ]] || { echo "mca.sh: $o missing (swift build -c release first)" >&2; exit 1; }
    s=$(sym "$o" "$symre") || true
    [[ -n $s ]] || continue   # a kernel this build does not have
    extract_loop "$o" "$s" "$pat" "$work/loop.s" || { echo "mca.sh: no loop with $pat in $s" >&2; continue; }
    # grep -c exits 1 on no match, which set -e would turn into a silent end of the whole script.
    count=$(grep -cE "$pat" "$work/loop.s" || true)
    [[ $count -gt 0 ]] || { echo "mca.sh: grep -E '$pat' matches nothing in the loop of $s: $name skipped" >&2; continue; }
    peak_loop "$peakinsn" "$reg" "$work/peak.s"
    peak_loop "$peakinsn" "$reg" "$work/peakmem.s" mem
    for cpu in $cpus; do
        c=$(cycles_per_iteration "$work/loop.s" "$cpu")
        p=$(cycles_per_iteration "$work/peak.s" "$cpu")
        if [[ $reg == zmm ]]; then
            m=$(cycles_per_iteration "$work/peakmem.s" "$cpu" || true)   # empty where the form does not exist (vpmaddwd)
            [[ -n $m ]] && p=$(awk -v a="$p" -v b="$m" 'BEGIN {print (b + 0 < a + 0 ? b : a)}')
        fi
        ideal=$(awk -v p="$p" -v n="$count" 'BEGIN {printf "%.2f", p / 12 * n}')
        frac=$(awk -v i="$ideal" -v c="$c" 'BEGIN {printf "%.0f%%", 100 * i / c}')
        if (( markdown )); then
            echo "| $name | $cpu | $c | $count | $ideal | $frac |"
        else
            printf '%-40s %-16s %7s cycles/iter  %3d madds  peak %7s  %5s\n' "$name" "$cpu" "$c" "$count" "$ideal" "$frac"
        fi
    done
    if [[ -n ${MCA_KEEP:-} ]]; then cp "$work/loop.s" "$MCA_KEEP/$(echo "$name" | tr -c 'a-zA-Z0-9' _).s"; fi
done
