// swift-tools-version:6.1
// SSAST in Swift: converter, runtime, microphone screener and trainer behind one `ssast` CLI.
// Dependency direction: Runtime <- (AudioFile, Support <- Convert) <- (Train, Screening) <- Mic <- CLI. Runtime needs only
// the standard library, Glibc and its own low-level modules (CShim, the per-ISA kernel targets).
import PackageDescription
#if canImport(Glibc)
import Glibc
#endif

// Per-ISA kernel modules, for the architecture being built for. SwiftPM compiles and runs this manifest
// on the machine that builds, so `#if arch` names the build host, not the target: a cross build sets
// SSAST_TARGET_ARCH (scripts/build-aarch64 sets aarch64), a plain `swift build` gets the host's modules.
// The -target-cpu flags of the x86 modules would not even parse for aarch64.
//
// The x86 modules need -target-cpu, an unsafe flag, and SwiftPM refuses unsafe flags in a package that
// another one depends on by version. So they sit behind the default trait NativeKernels: a dependent
// that declares `traits: []` gets a package without them (portable kernels only, see README).
// Traits need tools 6.1; Swift 6.0.x toolchains read Package@swift-6.0.swift, which scripts/manifest-6.0
// writes from this file (a line ending in `// 6.0: CODE` becomes CODE there, `// 6.0: -` is dropped).
enum ISAFamily { case x86_64, aarch64, other }
let targetArch: ISAFamily = {
    switch Context.environment["SSAST_TARGET_ARCH"] {
    case "x86_64"?: return .x86_64
    case "aarch64"?, "arm64"?: return .aarch64
    case let other?: fatalError("SSAST_TARGET_ARCH=\(other): expected x86_64 or aarch64")
    case nil:
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .aarch64
        #else
        return .other
        #endif
    }
}()
let isaTargets: [Target]
switch targetArch {
case .x86_64:
    isaTargets = [
        .target(name: "KernelsAVX2", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX2",
                swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
        .target(name: "KernelsAVX512", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsAVX512",
                swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
    ]
case .aarch64:
    // NEON is part of every ARMv8-A core: no -target-cpu; SDOT code is selected per function in C.
    isaTargets = [
        .target(name: "KernelsNEON", dependencies: ["KernelsCore", "CKernels"], path: "Sources/KernelsNEON"),
    ]
case .other:
    isaTargets = []
}
let isaDependencies = isaTargets.map { Target.Dependency.target(name: $0.name, condition: .when(traits: ["NativeKernels"])) }  // 6.0: let isaDependencies = isaTargets.map { Target.Dependency(stringLiteral: $0.name) }

// The manifest is split into several declarations: one Package(...) expression holding every
// target is more than Swift 6.0.3's type checker (the aarch64 build's compiler) finishes in time.
let products: [Product] = [
    .executable(name: "ssast", targets: ["ssast"]),
    // For other Swift packages: load a model and score samples (module Runtime, documented in
    // Sources/Runtime/Runtime.docc); decode audio files; the screener (files, streams, ALSA); the converter.
    .library(name: "SSAST", targets: ["Runtime"]),
    .library(name: "SSASTAudioFile", targets: ["AudioFile"]),
    .library(name: "SSASTScreener", targets: ["Screening", "Mic"]),
    .library(name: "SSASTConvert", targets: ["Convert"]),
]

let buildInfoSettings: [CSetting] = Context.environment["SSAST_COMMIT"].map { c in
    [.define("SSAST_COMMIT", to: "\"" + c.filter { $0.isLetter || $0.isNumber || $0 == "-" } + "\"")]
} ?? []

let baseTargets: [Target] = [
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
]

// Linking the `ssast` command compactly (docs/PERFORMANCE.md, "Binary size"; PIE and ASLR kept): lld, no
// dynamic symbol table for the executable's own symbols (the static Swift runtime's link arguments add
// --export-dynamic, which also keeps every public symbol from --gc-sections), and the PIE's ~39 000
// relative relocations packed as DT_RELR (0.9 MB less). DT_RELR needs glibc 2.36 where the binary runs,
// which is the glibc of the machine that builds it (a cross build's host and sysroot are one release).
let glibcHasRELR: Bool = {
    #if canImport(Glibc)
    var buffer = [CChar](repeating: 0, count: 64)  // "glibc 2.36"
    guard confstr(Int32(_CS_GNU_LIBC_VERSION), &buffer, buffer.count) > 0 else { return false }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let v = text.split(separator: " ").last?.split(separator: ".").compactMap { Int($0) } ?? []
    return v.count >= 2 && (v[0], v[1]) >= (2, 36)
    #else
    return false
    #endif
}()
let compactLink: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "--no-export-dynamic"]
                 + (glibcHasRELR ? ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"] : []),
                 .when(platforms: [.linux], configuration: .release)),
]

let libraryTargets: [Target] = [
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
    // Build facts for `ssast --version`: scripts/install sets SSAST_COMMIT; a plain build says unknown.
    .target(name: "CBuildInfo", path: "Sources/CBuildInfo",
            cSettings: buildInfoSettings),
    // The command-line parser: options declared once per command; help, man page and completions from them.
    .target(name: "Arguments", path: "Sources/CLI/Arguments"),
    // The one command-line tool.
    .executableTarget(name: "ssast", dependencies: [
        "Runtime", "CBuildInfo", "Support", "AudioFile", "Convert", "Train", "Screening", "Mic", "Arguments",
    ], path: "Sources/CLI", exclude: ["Arguments"], linkerSettings: compactLink),

]

let testTargets: [Target] = [
    // Tests (run in release mode: `swift test -c release`).
    .target(name: "TestSupport", dependencies: ["Runtime"], path: "Tests/TestSupport"),
    // The kernel twin checks, shared with the Embedded aarch64 test driver (scripts/aarch64-build.sh).
    .target(name: "KernelChecks", dependencies: ["Runtime", "CKernels"], path: "Tests/KernelChecks"),
    // The byte-multiplying x86 int8 tiles compiled again on SIMDe (Debian libsimde-dev), so every
    // CPU checks them against the generic kernel.
    .target(name: "CKernelsSIMDe", dependencies: ["CKernels"], path: "Tests/CKernelsSIMDe"),
    .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "KernelsCore", "CKernels", "CKernelsSIMDe", "AudioFile", "Convert",
                                                     "TestSupport", "KernelChecks"]),
    .testTarget(name: "ConvertTests", dependencies: ["Convert", "Runtime", "TestSupport"],
                exclude: ["Resources"]),  // small checkpoint files, read via #filePath
    .testTarget(name: "TrainTests", dependencies: ["Train", "Convert", "Runtime", "AudioFile", "TestSupport"]),
    .testTarget(name: "MicTests", dependencies: ["Mic", "Screening", "Runtime", "AudioFile", "Convert", "TestSupport"]),
    .testTarget(name: "ScreeningTests", dependencies: ["Screening", "Runtime", "AudioFile", "TestSupport"]),
    .testTarget(name: "SupportTests", dependencies: ["Support", "Runtime"]),
    .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
    .testTarget(name: "ArgumentsTests", dependencies: ["Arguments"]),
    .testTarget(name: "FuzzTests", dependencies: ["Runtime", "Convert", "Train", "TestSupport"]),
]

let targets: [Target] = baseTargets + isaTargets + libraryTargets + testTargets

let package = Package(
    name: "ssast",
    products: products,
    traits: [  // 6.0: -
        .trait(name: "NativeKernels", description: "Per-ISA kernel modules built with -target-cpu (unsafe flags): AVX2 and AVX-512 on x86-64."),  // 6.0: -
        .default(enabledTraits: ["NativeKernels"]),  // 6.0: -
    ],  // 6.0: -
    dependencies: [
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),  // swift package generate-documentation
    ],
    targets: targets,
    swiftLanguageModes: [.v5]
)
