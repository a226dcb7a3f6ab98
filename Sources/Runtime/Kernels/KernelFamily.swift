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
/// attributes), so they are plain function pointers here (`CKernelSet`). Kernel arguments travel as
/// small structs (KernelsCore's GemmProblem, AttentionProblem, ...; ckernels.h's ssast_i8_matrix, ...).
struct KernelFamily {
    let name: String
    /// False for test-only families: never picked automatically, selectable by name.
    let automatic: Bool
    let supported: () -> Bool
    /// The Swift kernel table; nil for "reference" (the plain twins).
    let table: () -> KernelTable?
    /// The C kernels (int8 linears, int16 attention).
    let c: CKernelSet

    private static func has(_ feature: Int) -> Bool { let bits = UInt32(feature); return ssast_cpu_features() & bits == bits }

    static let all: [KernelFamily] = {
        var f: [KernelFamily] = []
        #if canImport(KernelsAVX2)
        f += [
            KernelFamily(name: "avx512vnni", automatic: true, supported: { has(SSAST_CPU_AVX512 | SSAST_CPU_AVX512VNNI) },
                         table: { avx512Kernels() }, c: .avx512(vnni: true)),
            KernelFamily(name: "avx512", automatic: true, supported: { has(SSAST_CPU_AVX512) },
                         table: { avx512Kernels() }, c: .avx512(vnni: false)),
            // AVX-VNNI (Alder Lake and later, Zen 5): the AVX2 kernels with VEX vpdpbusd for 8-bit activations.
            KernelFamily(name: "avxvnni", automatic: true, supported: { has(SSAST_CPU_AVX2 | SSAST_CPU_AVXVNNI) },
                         table: { avx2Kernels() }, c: .avx2.with(gemmU8: ssast_u8_gemm_avxvnni, attentionU8: ssast_attn_u8_avxvnni)),
            KernelFamily(name: "avx2", automatic: true, supported: { has(SSAST_CPU_AVX2) },
                         table: { avx2Kernels() }, c: .avx2),
            // The AVX-512 Swift kernels at 16 lanes on AVX2 (the AVX-512 C tiles need AVX-512 to run at all).
            KernelFamily(name: "avx512-shape", automatic: false, supported: { has(SSAST_CPU_AVX2) },
                         table: { avx512ShapeKernels() }, c: .avx2),
        ]
        #elseif arch(arm64)
        f += [
            KernelFamily(name: "dotprod", automatic: true, supported: { has(SSAST_CPU_NEON | SSAST_CPU_DOTPROD) },
                         table: { neonKernels() }, c: .neon.with(gemmI8: ssast_i8_gemm_dotprod, gemmU8: ssast_u8_gemm_dotprod,
                                                                 attentionU8: ssast_attn_u8_dotprod)),
            KernelFamily(name: "neon", automatic: true, supported: { has(SSAST_CPU_NEON) },
                         table: { neonKernels() }, c: .neon),
        ]
        #endif
        f += [
            KernelFamily(name: "generic", automatic: true, supported: { true }, table: { genericKernels() }, c: .generic),
            KernelFamily(name: "reference", automatic: true, supported: { true }, table: { nil }, c: .generic),
        ]
        return f
    }()

    /// Every family name of every architecture, for error messages.
    static let allNames = ["avx512vnni", "avx512", "avxvnni", "avx2", "avx512-shape", "dotprod", "neon", "generic", "reference"]
}

/// A family's C kernels (CKernels), each taking the argument structs of ckernels.h.
struct CKernelSet {
    /// int16-lane activations (9...12 bits): quantiser and GEMM.
    var quantizeI8: ssast_i8_quantize_fn
    var gemmI8: ssast_i8_gemm_fn
    /// 8-bit activations: the quantiser, and the byte-multiplying GEMM (nil: widened to int16 lanes).
    var quantizeU8: ssast_u8_quantize_fn
    var gemmU8: ssast_u8_gemm_fn?
    /// int16-product attention: packing pass and compute pass.
    var attentionI16Pack: ssast_attn_i16_pack_fn
    var attentionI16: ssast_attn_i16_fn
    /// 8-bit-product attention: packing pass (identical results everywhere) and compute pass, run with
    /// 8-bit activations; compute nil: the int16 attention at every width (no byte-multiplying attention).
    var attentionU8Pack: ssast_attn_u8_pack_fn = ssast_attn_u8_pack
    var attentionU8: ssast_attn_u8_fn? = nil

    func with(gemmI8: ssast_i8_gemm_fn? = nil, gemmU8: ssast_u8_gemm_fn?, attentionU8: ssast_attn_u8_fn? = nil) -> CKernelSet {
        var s = self
        if let g = gemmI8 { s.gemmI8 = g }
        s.gemmU8 = gemmU8
        s.attentionU8 = attentionU8
        return s
    }

    static let generic = CKernelSet(quantizeI8: ssast_i8_quantize_generic, gemmI8: ssast_i8_gemm_generic,
                                    quantizeU8: ssast_u8_quantize_generic, gemmU8: nil,
                                    attentionI16Pack: ssast_attn_i16_pack_generic, attentionI16: ssast_attn_i16_generic,
                                    attentionU8: ssast_attn_u8_generic)
    #if arch(x86_64)
    static let avx2 = CKernelSet(quantizeI8: ssast_i8_quantize_avx2, gemmI8: ssast_i8_gemm_avx2,
                                 quantizeU8: ssast_u8_quantize_avx2, gemmU8: nil,
                                 attentionI16Pack: ssast_attn_i16_pack_avx2, attentionI16: ssast_attn_i16_avx2,
                                 attentionU8Pack: ssast_attn_u8_pack_avx2)
    static func avx512(vnni: Bool) -> CKernelSet {
        CKernelSet(quantizeI8: ssast_i8_quantize_avx2, gemmI8: vnni ? ssast_i8_gemm_avx512vnni : ssast_i8_gemm_avx512,
                   quantizeU8: ssast_u8_quantize_avx2, gemmU8: vnni ? ssast_u8_gemm_avx512vnni : nil,
                   attentionI16Pack: ssast_attn_i16_pack_avx2, attentionI16: vnni ? ssast_attn_i16_avx512vnni : ssast_attn_i16_avx512,
                   attentionU8Pack: ssast_attn_u8_pack_avx2, attentionU8: vnni ? ssast_attn_u8_avx512vnni : nil)
    }
    #elseif arch(arm64)
    static let neon = CKernelSet(quantizeI8: ssast_i8_quantize_generic, gemmI8: ssast_i8_gemm_neon,
                                 quantizeU8: ssast_u8_quantize_generic, gemmU8: nil,
                                 attentionI16Pack: ssast_attn_i16_pack_generic, attentionI16: ssast_attn_i16_neon)
    #endif
}
