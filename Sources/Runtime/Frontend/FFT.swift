#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Real FFT of a power-of-two length n >= 8, in Float, for the fbank.
///
/// The n real inputs are packed as n/2 complex values z[j] = x[2j] + i x[2j+1] (split re/im
/// arrays), transformed by a radix-2 decimation-in-frequency FFT whose inner loops run over
/// contiguous memory (so they vectorise) with the last two stages fused into one radix-4 pass,
/// and unpacked into the n/2 + 1 bins of the real spectrum. Twiddles are computed in Double once.
/// Float is enough: the fbank lands within ~6e-4 of torchaudio (its own float32 FFT differs
/// from a float64 one by about as much).
///
/// Not thread-safe (one instance per thread); the tables are immutable after init.
public final class RealFFT {
    public let n: Int
    /// Complex length, n / 2.
    let m: Int
    /// Per stage (half-span h = m/2, m/4, ..., 4): cos / -sin of 2 pi j / (2h), j < h, concatenated.
    let twr: [Float], twi: [Float]
    /// bitReverse[k] = position of output bin k after the in-place DIF passes.
    let bitReverse: [Int32]
    /// cos / -sin of 2 pi k / n for the real-spectrum unpacking, k in 0...m.
    let unr: [Float], uni: [Float]

    public init(length n: Int) throws {
        guard n >= 8, n <= 1 << 20, n & (n - 1) == 0 else {
            throw SSASTError("FFT length \(n) must be a power of two between 8 and 2^20")
        }
        self.n = n
        m = n / 2
        var tr: [Float] = [], ti: [Float] = []
        var h = m / 2
        while h >= 4 {
            for j in 0..<h {
                let a = 2 * Double.pi * Double(j) / Double(2 * h)
                tr.append(Float(cos(a))); ti.append(Float(-sin(a)))
            }
            h /= 2
        }
        twr = tr; twi = ti
        var bits = 0
        while 1 << bits < m { bits += 1 }
        var br = [Int32](repeating: 0, count: m)
        for k in 0..<m {
            var r = 0, v = k
            for _ in 0..<bits { r = (r << 1) | (v & 1); v >>= 1 }
            br[k] = Int32(r)
        }
        bitReverse = br
        var ur = [Float](), ui = [Float]()
        for k in 0...m {
            let a = 2 * Double.pi * Double(k) / Double(n)
            ur.append(Float(cos(a))); ui.append(Float(-sin(a)))
        }
        unr = ur; uni = ui
    }

    /// In-place complex FFT of length m on split arrays; output in bit-reversed order.
    @inline(__always)
    func complexDIF(_ re: UnsafeMutablePointer<Float>, _ im: UnsafeMutablePointer<Float>) {
        var h = m / 2
        var tw = 0
        twr.withUnsafeBufferPointer { wrb in
            twi.withUnsafeBufferPointer { wib in
                let wr = wrb.baseAddress!, wi = wib.baseAddress!
                while h >= 4 {
                    let span = 2 * h
                    var g = 0
                    while g < m {
                        let ar = re + g, ai = im + g, br = re + g + h, bi = im + g + h
                        let cr = wr + tw, ci = wi + tw
                        for j in 0..<h {
                            let xr = ar[j], xi = ai[j], yr = br[j], yi = bi[j]
                            let dr = xr - yr, di = xi - yi
                            ar[j] = xr + yr; ai[j] = xi + yi
                            br[j] = dr * cr[j] - di * ci[j]
                            bi[j] = dr * ci[j] + di * cr[j]
                        }
                        g += span
                    }
                    tw += h
                    h /= 2
                }
            }
        }
        // Last two stages (spans 4 and 2) as one radix-4 butterfly per group of 4: twiddles 1, -i.
        var g = 0
        while g < m {
            let x0r = re[g], x0i = im[g], x1r = re[g + 1], x1i = im[g + 1]
            let x2r = re[g + 2], x2i = im[g + 2], x3r = re[g + 3], x3i = im[g + 3]
            let s0r = x0r + x2r, s0i = x0i + x2i, d0r = x0r - x2r, d0i = x0i - x2i
            let s1r = x1r + x3r, s1i = x1i + x3i
            let d1r = x1i - x3i, d1i = x3r - x1r   // (x1 - x3) * -i
            re[g] = s0r + s1r; im[g] = s0i + s1i
            re[g + 1] = s0r - s1r; im[g + 1] = s0i - s1i
            re[g + 2] = d0r + d1r; im[g + 2] = d0i + d1i
            re[g + 3] = d0r - d1r; im[g + 3] = d0i - d1i
            g += 4
        }
    }

    /// |X[k]|^2 for k in 0...n/2 of the real signal whose even samples are in `re` and odd samples
    /// in `im` (n/2 each; both are overwritten). `power` receives n/2 + 1 values.
    public func powerSpectrum(packedEven re: UnsafeMutablePointer<Float>, odd im: UnsafeMutablePointer<Float>,
                              into power: UnsafeMutablePointer<Float>) {
        complexDIF(re, im)
        bitReverse.withUnsafeBufferPointer { brb in
            unr.withUnsafeBufferPointer { urb in
                uni.withUnsafeBufferPointer { uib in
                    let br = brb.baseAddress!, ur = urb.baseAddress!, ui = uib.baseAddress!
                    let z0r = re[0], z0i = im[0]
                    let x0 = z0r + z0i, xm = z0r - z0i
                    power[0] = x0 * x0
                    power[m] = xm * xm
                    for k in 1..<m {
                        let p = Int(br[k]), q = Int(br[m - k])
                        let ar = re[p], ai = im[p], bR = re[q], bI = -im[q]   // B = conj(Z[m-k])
                        let er = 0.5 * (ar + bR), ei = 0.5 * (ai + bI)
                        let orr = 0.5 * (ai - bI), oi = -0.5 * (ar - bR)    // (A - B) / 2i
                        let xr = er + (orr * ur[k] - oi * ui[k])
                        let xi = ei + (orr * ui[k] + oi * ur[k])
                        power[k] = xr * xr + xi * xi
                    }
                }
            }
        }
    }

    /// The complex real-signal spectrum X[0...n/2] of `x` (count n), for tests and tools.
    public func spectrum(_ x: [Float]) throws -> (re: [Float], im: [Float]) {
        guard x.count == n else { throw SSASTError("RealFFT.spectrum: got \(x.count) samples, need \(n)") }
        var re = [Float](repeating: 0, count: m), im = [Float](repeating: 0, count: m)
        for j in 0..<m { re[j] = x[2 * j]; im[j] = x[2 * j + 1] }
        var outR = [Float](repeating: 0, count: m + 1), outI = [Float](repeating: 0, count: m + 1)
        re.withUnsafeMutableBufferPointer { rb in
            im.withUnsafeMutableBufferPointer { ib in
                let r = rb.baseAddress!, i = ib.baseAddress!
                complexDIF(r, i)
                outR[0] = r[0] + i[0]; outR[m] = r[0] - i[0]
                for k in 1..<m {
                    let p = Int(bitReverse[k]), q = Int(bitReverse[m - k])
                    let ar = r[p], ai = i[p], bR = r[q], bI = -i[q]
                    let er = 0.5 * (ar + bR), ei = 0.5 * (ai + bI)
                    let orr = 0.5 * (ai - bI), oi = -0.5 * (ar - bR)
                    outR[k] = er + (orr * unr[k] - oi * uni[k])
                    outI[k] = ei + (orr * uni[k] + oi * unr[k])
                }
            }
        }
        return (outR, outI)
    }
}
