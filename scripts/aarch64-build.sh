#!/usr/bin/env bash
# Cross-builds the runtime for aarch64 Linux from an x86-64 host with Embedded Swift, plus the test
# driver Embedded/Driver/main.swift, into OUT/ssast-aarch64-tests (default OUT: .build-aarch64).
#
# This toolchain has no aarch64 Linux standard library for ordinary Swift, but Embedded Swift
# compiles for aarch64-none-none-elf; with -fPIC those objects link against the aarch64 glibc
# (Debian: gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) and run on Linux or under qemu-aarch64.
# The modules are the same sources as the native build: KernelsCore, KernelsGeneric, KernelsNEON,
# Runtime (whole module), KernelChecks (the tests' kernel twin checks), CShim and CKernels (C, clang
# from the Swift toolchain).
# Env: SWIFTC (default swiftc), CLANG (default: clang beside swiftc), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-.build-aarch64}
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
SWIFTC=${SWIFTC:-$(command -v swiftc)}
CLANG=${CLANG:-$(dirname "$(readlink -f "$SWIFTC")")/clang}
CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
for tool in "$SWIFTC" "$CLANG" "$CC"; do
    command -v "$tool" >/dev/null || { echo "aarch64-build: $tool not found (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 1; }
done
[ -d "$SYSROOT/include" ] || { echo "aarch64-build: no aarch64 sysroot at $SYSROOT (apt-get install libc6-dev-arm64-cross)" >&2; exit 1; }
EMBEDDED_LIB=$(dirname "$(readlink -f "$SWIFTC")")/../lib/swift/embedded/aarch64-none-none-elf
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Embedded Swift for aarch64; glibc's headers see a Linux target (they key on __linux__).
SW=("$SWIFTC" -target aarch64-none-none-elf -enable-experimental-feature Embedded -wmo -O -parse-as-library
    -Xcc -fPIC -Xcc -isystem -Xcc "$SYSROOT/include" -Xcc -D__linux__ -Xcc -D__gnu_linux__ -Xcc -D__unix__
    -Xcc -fmodule-map-file="$ROOT/Embedded/CLibc/module.modulemap" -Xcc -fmodule-map-file="$ROOT/Embedded/modules.modulemap"
    -I "$ROOT/Embedded/CLibc" -I "$ROOT/Sources/CShim/include" -I "$ROOT/Sources/CKernels/include" -I "$OUT"
    -module-cache-path "$OUT/ModuleCache")
module() {  # name, sources...
    local name=$1; shift
    "${SW[@]}" -module-name "$name" -emit-module -emit-module-path "$OUT/$name.swiftmodule" "$@" -c -o "$OUT/$name.o"
}
cc() {  # source, object
    "$CLANG" --target=aarch64-linux-gnu --sysroot="$SYSROOT" -O2 -fPIC -Wall -I Sources/CShim/include -I Sources/CKernels/include -c "$1" -o "$2"
}
echo "aarch64-build: C (CShim, CKernels)"
cc Sources/CShim/cshim.c "$OUT/cshim.o"
for f in Sources/CKernels/*.c; do cc "$f" "$OUT/ckernels_$(basename "$f" .c).o"; done
echo "aarch64-build: Embedded Swift (KernelsCore, KernelsGeneric, KernelsNEON, Runtime, KernelChecks, driver)"
module KernelsCore Sources/KernelsCore/*.swift
module KernelsGeneric Sources/KernelsGeneric/*.swift
module KernelsNEON Sources/KernelsNEON/*.swift
module Runtime $(find Sources/Runtime -name '*.swift' | sort)
module KernelChecks Tests/KernelChecks/*.swift   # the kernel twin checks RuntimeTests also run
"${SW[@]}" -module-name AArch64Tests Embedded/Driver/*.swift -c -o "$OUT/driver.o"
"$CC" -o "$OUT/ssast-aarch64-tests" "$OUT"/*.o "$EMBEDDED_LIB/libswiftUnicodeDataTables.a" -lm -lpthread
echo "aarch64-build: built $OUT/ssast-aarch64-tests"
