import CKernels
import CKernelsSIMDe
import KernelChecks
import Runtime
import XCTest

/// The 8-bit-activation int8 kernels (CKernels' ssast_u8_*) against their plain twin
/// ssast_u8_gemm_generic, bit for bit (KernelChecks.byteKernels): the AVX-512 VNNI and AVX-VNNI tiles
/// built on SIMDe (every CPU), the same tiles built natively where the CPU has them, and the AVX2
/// quantiser against the generic one.
final class ByteKernelTests: XCTestCase {
    func testByteKernelsMatchGenericBitForBit() throws {
        var kernels: [(String, ssast_u8_gemm_fn)] = [("avx512vnni (SIMDe)", ssast_u8_gemm_avx512vnni_simde),
                                                    ("avxvnni (SIMDe)", ssast_u8_gemm_avxvnni_simde)]
        var quantizers: [(String, ssast_u8_quantize_fn)] = []
        let isas = Engine.availableISAs
        #if arch(x86_64)
        if isas.contains("avx512vnni") { kernels.append(("avx512vnni (native)", ssast_u8_gemm_avx512vnni)) }
        if isas.contains("avxvnni") { kernels.append(("avxvnni (native)", ssast_u8_gemm_avxvnni)) }
        if isas.contains("avx2") { quantizers.append(("avx2", ssast_u8_quantize_avx2)) }
        #endif
        print("ByteKernelTests: checking \(kernels.map { $0.0 }.joined(separator: ", "))"
              + (isas.contains("avx512vnni") ? "" : "; AVX-512 VNNI tile NOT run natively (CPU lacks it)")
              + (isas.contains("avxvnni") ? "" : "; AVX-VNNI tile NOT run natively (CPU lacks it)"))
        var r = CheckReport()
        KernelChecks.byteKernels(&r, kernels: kernels, quantizers: quantizers)
        for n in r.notes { print("ByteKernelTests: " + n) }
        for f in r.failures.prefix(30) { XCTFail(f) }
        XCTAssertEqual(r.failures.count, 0, "\(r.failures.count) of \(r.checks) checks failed")
    }

    /// The 8-bit attention kernels against their plain twin ssast_attn_u8_generic, bit for bit
    /// (KernelChecks.byteAttention): SIMDe builds on every CPU (the x86 VNNI tiles and the aarch64 SDOT
    /// one), native ones where the CPU has them.
    func testByteAttentionMatchesGenericBitForBit() throws {
        var kernels: [(String, ssast_attn_u8_fn)] = [("avx512vnni (SIMDe)", ssast_attn_u8_avx512vnni_simde),
                                                    ("avxvnni (SIMDe)", ssast_attn_u8_avxvnni_simde),
                                                    ("dotprod (SIMDe)", ssast_attn_u8_dotprod_simde)]
        var packs: [(String, ssast_attn_u8_pack_fn)] = []
        let isas = Engine.availableISAs
        #if arch(x86_64)
        if isas.contains("avx512vnni") { kernels.append(("avx512vnni (native)", ssast_attn_u8_avx512vnni)) }
        if isas.contains("avxvnni") { kernels.append(("avxvnni (native)", ssast_attn_u8_avxvnni)) }
        if isas.contains("avx2") { packs.append(("avx2", ssast_attn_u8_pack_avx2)) }
        #elseif arch(arm64)
        if isas.contains("dotprod") { kernels.append(("dotprod (native)", ssast_attn_u8_dotprod)) }
        #endif
        print("ByteKernelTests: checking 8-bit attention \(kernels.map { $0.0 }.joined(separator: ", "))"
              + (isas.contains("avx512vnni") ? "" : "; AVX-512 VNNI attention NOT run natively (CPU lacks it)")
              + (isas.contains("avxvnni") ? "" : "; AVX-VNNI attention NOT run natively (CPU lacks it)"))
        var r = CheckReport()
        KernelChecks.byteAttention(&r, kernels: kernels, packs: packs, quick: false)
        for n in r.notes { print("ByteKernelTests: " + n) }
        for f in r.failures.prefix(30) { XCTFail(f) }
        XCTAssertEqual(r.failures.count, 0, "\(r.failures.count) of \(r.checks) checks failed")
    }
}
