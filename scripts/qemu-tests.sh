#!/usr/bin/env bash
# Kernel dispatch on emulated CPUs: runs the release test binary's KernelTests under
#   qemu-x86_64 -cpu Haswell  -> the engine must pick "avx2" and every test pass
#   qemu-x86_64 -cpu qemu64   -> the engine must pick "generic" and every test pass (no AVX at all,
#                                so any AVX instruction reached outside dispatch dies with SIGILL)
# and checks that the per-ISA kernel objects define no weak stdlib specialisations (a weak symbol
# compiled for AVX-512 could be merged by the linker into another ISA's path).
# Usage: scripts/qemu-tests.sh [TEST_BINARY]   (default: build with SCRATCH=.build, then use it)
# Env: SCRATCH (build folder, default .build), TEST_SPEC (default RuntimeTests.KernelTests).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
SPEC=${TEST_SPEC:-RuntimeTests.KernelTests}
if [ "$(uname -m)" != x86_64 ]; then echo "qemu-tests: not an x86-64 host, nothing to do"; exit 0; fi
if ! command -v qemu-x86_64 >/dev/null; then
    echo "qemu-tests: qemu-x86_64 not found (Debian: apt-get install qemu-user)" >&2; exit 1
fi
BIN=${1:-}
if [ -z "$BIN" ]; then
    swift build -c release --build-tests --scratch-path "$SCRATCH"
    BIN=$(find "$SCRATCH/release/" -maxdepth 1 -name '*PackageTests.xctest' | head -1)
fi
[ -x "$BIN" ] || { echo "qemu-tests: no test binary at '$BIN'" >&2; exit 1; }

fail=0
objdir=$(dirname "$BIN")
# A weak symbol that a per-ISA module shares with any other object (another ISA module, the runtime)
# may be resolved by the linker to the copy compiled for the newest CPU and then run on an older one.
# Weak symbols a module defines alone (e.g. its own SIMD witness-table accessors) are harmless.
for mod in KernelsAVX512 KernelsAVX2; do
    ls "$objdir/$mod.build/"*.o >/dev/null 2>&1 || continue
    others=$(find "$objdir/" -name '*.o' -path '*.build/*' ! -path "*/$mod.build/*" -print0 | xargs -0 nm 2>/dev/null \
             | awk '$2 ~ /^[TWVtw]$/ {print $3}' | sort -u || true)
    shared=$(nm "$objdir/$mod.build/"*.o | awk '$2 == "W" && $3 ~ /^\$ss/ {print $3}' | sort -u | comm -12 - <(echo "$others"))
    if [ -n "$shared" ]; then echo "qemu-tests: FAIL $mod shares weak stdlib specialisations with other objects:"; echo "$shared"; fail=1
    else echo "qemu-tests: $mod: no weak stdlib specialisations shared with other objects"; fi
done

run() {
    local cpu=$1 expect=$2 log
    log=$(mktemp)
    echo "qemu-tests: qemu-x86_64 -cpu $cpu $BIN $SPEC (expect $expect)"
    if SSAST_KERNEL_TESTS_QUICK=1 qemu-x86_64 -cpu "$cpu" "$BIN" "$SPEC" >"$log" 2>&1; then status=0; else status=$?; fi
    grep -E '^KernelTests:|Executed|error:' "$log" | sort -u || true
    if [ "$status" -ne 0 ]; then echo "qemu-tests: FAIL -cpu $cpu exited with status $status"; tail -20 "$log"; fail=1
    elif ! grep -q "default engine picks $expect\$" "$log"; then echo "qemu-tests: FAIL -cpu $cpu did not pick $expect"; fail=1
    elif ! grep -qE 'Executed [1-9][0-9]* tests?, with 0 failures' "$log"; then echo "qemu-tests: FAIL -cpu $cpu: tests failed or none ran"; fail=1
    else echo "qemu-tests: ok -cpu $cpu picked $expect, all tests passed"; fi
    rm -f "$log"
}
run Haswell avx2
run qemu64 generic
exit $fail
