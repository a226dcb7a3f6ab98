// swift-tools-version:6.0
// SSAST in Swift: converter, runtime, microphone screener and trainer behind one `ssast` CLI.
// Dependency direction: Runtime <- (AudioFile, Support <- Convert) <- (Train, Screening) <- Mic <- CLI. Runtime needs only
// the standard library, Glibc and its own low-level modules (CShim, the per-ISA kernel targets).
import PackageDescription

// Per-ISA kernel modules. `#if arch` is evaluated on the machine that builds (SwiftPM compiles this
// manifest for the host), so a native build gets its own architecture's modules: the -target-cpu
// flags of the x86 ones would not even parse for aarch64. The aarch64 cross build from x86
// (scripts/aarch64-tests.sh, Embedded Swift) compiles KernelsNEON without SwiftPM.
#if arch(x86_64)
let isaTargets: [Target] = [
    .target(name: "KernelsAVX2", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX2",
            swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
    .target(name: "KernelsAVX512", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX512",
            swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
]
#elseif arch(arm64)
// NEON is part of every ARMv8-A core: no -target-cpu; SDOT code is selected per function in C.
let isaTargets: [Target] = [
    .target(name: "KernelsNEON", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsNEON"),
]
#else
let isaTargets: [Target] = []
#endif
let isaDependencies = isaTargets.map { Target.Dependency(stringLiteral: $0.name) }

let package = Package(
    name: "ssast",
    products: [
        .executable(name: "ssast", targets: ["ssast"]),
        .library(name: "Runtime", targets: ["Runtime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Tiny C shim: CPUID/XGETBV (x86) and getauxval (aarch64) for run-time kernel selection.
        .target(name: "CShim", path: "Sources/CShim"),
        // System libraries, found with pkg-config.
        .systemLibrary(name: "CSndfile", path: "Sources/CSndfile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CALSA", path: "Sources/CALSA", pkgConfig: "alsa",
                       providers: [.apt(["libasound2-dev"])]),

        // Kernel bodies written once (generic over the SIMD vector), specialised by one thin module per
        // ISA under that module's -target-cpu; int8 dot products in C with per-function target attributes.
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "KernelsCore", path: "Sources/KernelsCore"),
        .target(name: "KernelsGeneric", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsGeneric"),
    ] + isaTargets + [
        // The inference library: weight file, fbank, resampler, model, kernels, threads.
        .target(name: "Runtime", dependencies: ["CShim", "CKernels", "KernelsCore", "KernelsGeneric"] + isaDependencies,
                path: "Sources/Runtime"),
        // Audio files in (libsndfile) and out (WAV recording).
        .target(name: "AudioFile", dependencies: ["Runtime", "CSndfile"], path: "Sources/AudioFile"),
        // Above Runtime, instead of Foundation (whose ICU data would triple the binary): files and
        // folders, child processes, locks, Ctrl-C, printf-style numbers, JSON; Glibc only.
        .target(name: "Support", dependencies: ["Runtime"], path: "Sources/Support"),
        // PyTorch / safetensors readers and the SSAST -> weight-file converter.
        .target(name: "Convert", dependencies: ["Runtime", "Support"], path: "Sources/Convert"),
        // Full fine-tuning with hand-written backward passes.
        .target(name: "Train", dependencies: ["Runtime", "Support", "Convert", "AudioFile"], path: "Sources/Train"),
        // Screening: audio sources, streaming conditioning, sliding windows over the whole signal, events.
        .target(name: "Screening", dependencies: ["Runtime", "Support", "AudioFile"], path: "Sources/Screening"),
        // Live ALSA capture and the listen session (recording, latency).
        .target(name: "Mic", dependencies: ["Runtime", "Support", "AudioFile", "Screening", "CALSA"], path: "Sources/Mic"),
        // The one command-line tool.
        .executableTarget(name: "ssast", dependencies: [
            "Runtime", "Support", "AudioFile", "Convert", "Train", "Screening", "Mic",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/CLI"),

        // Tests (run in release mode: `swift test -c release`).
        .target(name: "TestSupport", dependencies: ["Runtime"], path: "Tests/TestSupport"),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "KernelsCore", "AudioFile", "Convert", "TestSupport"]),
        .testTarget(name: "ConvertTests", dependencies: ["Convert", "Runtime", "TestSupport"],
                    exclude: ["Resources"]),  // small checkpoint files, read via #filePath
        .testTarget(name: "TrainTests", dependencies: ["Train", "Convert", "Runtime", "TestSupport"]),
        .testTarget(name: "MicTests", dependencies: ["Mic", "Screening", "Runtime", "AudioFile", "Convert", "TestSupport"]),
        .testTarget(name: "ScreeningTests", dependencies: ["Screening", "Runtime", "AudioFile", "TestSupport"]),
        .testTarget(name: "SupportTests", dependencies: ["Support", "Runtime"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
