// swift-tools-version:6.0
// SSAST in Swift: converter, runtime, microphone screener and trainer behind one `ssast` CLI.
// Dependency direction: Runtime <- (AudioFile, Convert) <- (Train, Mic) <- CLI. Runtime needs only
// the standard library, Glibc and its own low-level modules (CShim, the per-ISA kernel targets).
import PackageDescription

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
        .target(name: "KernelsAVX2", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX2",
                swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
        .target(name: "KernelsAVX512", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX512",
                swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        // The inference library: weight file, fbank, resampler, model, kernels, threads.
        .target(name: "Runtime", dependencies: ["CShim", "CKernels", "KernelsCore", "KernelsGeneric", "KernelsAVX2", "KernelsAVX512"],
                path: "Sources/Runtime"),
        // Audio files in (libsndfile) and out (WAV recording).
        .target(name: "AudioFile", dependencies: ["Runtime", "CSndfile"], path: "Sources/AudioFile"),
        // PyTorch / safetensors readers and the SSAST -> weight-file converter.
        .target(name: "Convert", dependencies: ["Runtime"], path: "Sources/Convert"),
        // Full fine-tuning with hand-written backward passes.
        .target(name: "Train", dependencies: ["Runtime", "Convert", "AudioFile"], path: "Sources/Train"),
        // Live ALSA capture and the sliding-window screener.
        .target(name: "Mic", dependencies: ["Runtime", "AudioFile", "CALSA"], path: "Sources/Mic"),
        // The one command-line tool.
        .executableTarget(name: "ssast", dependencies: [
            "Runtime", "AudioFile", "Convert", "Train", "Mic",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/CLI"),

        // Tests (run in release mode: `swift test -c release`).
        .target(name: "TestSupport", dependencies: ["Runtime"], path: "Tests/TestSupport"),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "AudioFile", "Convert", "TestSupport"]),
        .testTarget(name: "ConvertTests", dependencies: ["Convert", "Runtime", "TestSupport"],
                    exclude: ["Resources"]),  // small checkpoint files, read via #filePath
        .testTarget(name: "TrainTests", dependencies: ["Train", "Convert", "Runtime", "TestSupport"]),
        .testTarget(name: "MicTests", dependencies: ["Mic", "Runtime", "AudioFile", "Convert", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
