import CKernels
import CShim
#if canImport(KernelsAVX2)  // absent without the NativeKernels trait (Package.swift)
import KernelsAVX2
import KernelsAVX512
#endif
#if arch(arm64)
import KernelsNEON
#endif
import KernelsCore
import KernelsGeneric

/// The registry of kernel families: each one's name, CPU test and tables, in the one list `all`
/// (best first: the first automatic family the CPU supports is the default). Adding a family is one
/// entry here.
///
/// The Swift tables come from one module per instruction set (KernelsAVX2, KernelsAVX512, ...), each
/// compiled with its own -target-cpu and holding its own non-generic @inline(never) wrappers around
/// KernelsCore's generic bodies. They must stay separate, explicit wrappers: a shared generic table
/// builder leaves unspecialised copies of Core's bodies whose stdlib helpers are emitted as weak
/// symbols, and the linker keeps one copy of each for the whole program, so code compiled for
/// AVX-512 could be reached from the AVX2 path (a SIGILL on AVX2 CPUs), and those weak symbols end
/// up shared between modules. The C kernels choose their instructions per function (target
/// attributes), so the byte kernels are plain function pointers here.
struct KernelFamily {
    let name: String
    /// False for test-only families: never picked automatically, selectable by name.
    let automatic: Bool
    let supported: () -> Bool
    /// The Swift/C kernel table; nil for "reference" (the plain twins).
    let table: () -> KernelTable?
    /// 8-bit activations: the quantiser, and the byte-multiplying GEMM (nil: widened to int16 lanes).
    let quantizeU8: ssast_u8_quantize_fn
    let gemmU8: ssast_u8_gemm_fn?

    private static func has(_ feature: Int) -> Bool { let bits = UInt32(feature); return ssast_cpu_features() & bits == bits }

    static let all: [KernelFamily] = {
        var f: [KernelFamily] = []
        #if canImport(KernelsAVX2)
        f += [
            KernelFamily(name: "avx512vnni", automatic: true, supported: { has(SSAST_CPU_AVX512 | SSAST_CPU_AVX512VNNI) },
                         table: { avx512Kernels(vnni: true) }, quantizeU8: ssast_u8_quantize_avx2, gemmU8: ssast_u8_gemm_avx512vnni),
            KernelFamily(name: "avx512", automatic: true, supported: { has(SSAST_CPU_AVX512) },
                         table: { avx512Kernels(vnni: false) }, quantizeU8: ssast_u8_quantize_avx2, gemmU8: nil),
            // AVX-VNNI (Alder Lake and later, Zen 5): the AVX2 table with VEX vpdpbusd for 8-bit activations.
            KernelFamily(name: "avxvnni", automatic: true, supported: { has(SSAST_CPU_AVX2 | SSAST_CPU_AVXVNNI) },
                         table: { avx2Kernels() }, quantizeU8: ssast_u8_quantize_avx2, gemmU8: ssast_u8_gemm_avxvnni),
            KernelFamily(name: "avx2", automatic: true, supported: { has(SSAST_CPU_AVX2) },
                         table: { avx2Kernels() }, quantizeU8: ssast_u8_quantize_avx2, gemmU8: nil),
            KernelFamily(name: "avx512-shape", automatic: false, supported: { has(SSAST_CPU_AVX2) },
                         table: { avx512ShapeKernels() }, quantizeU8: ssast_u8_quantize_avx2, gemmU8: nil),
        ]
        #elseif arch(arm64)
        f += [
            KernelFamily(name: "dotprod", automatic: true, supported: { has(SSAST_CPU_NEON | SSAST_CPU_DOTPROD) },
                         table: { neonKernels(dotprod: true) }, quantizeU8: ssast_u8_quantize_generic, gemmU8: ssast_u8_gemm_dotprod),
            KernelFamily(name: "neon", automatic: true, supported: { has(SSAST_CPU_NEON) },
                         table: { neonKernels(dotprod: false) }, quantizeU8: ssast_u8_quantize_generic, gemmU8: nil),
        ]
        #endif
        f += [
            KernelFamily(name: "generic", automatic: true, supported: { true }, table: { genericKernels() },
                         quantizeU8: ssast_u8_quantize_generic, gemmU8: nil),
            KernelFamily(name: "reference", automatic: true, supported: { true }, table: { nil },
                         quantizeU8: ssast_u8_quantize_generic, gemmU8: nil),
        ]
        return f
    }()

    /// Every family name of every architecture, for error messages.
    static let allNames = ["avx512vnni", "avx512", "avxvnni", "avx2", "avx512-shape", "dotprod", "neon", "generic", "reference"]
}
