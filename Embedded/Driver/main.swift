// aarch64 test driver (scripts/aarch64-tests.sh): Runtime built with Embedded Swift for aarch64 Linux,
// run under qemu-aarch64. XCTest and Foundation do not exist there, so this small main repeats what
// RuntimeTests check on x86, with the same bounds:
//   kernels                 every fast kernel family the CPU offers against its `Reference` twin
//                           (KernelTests' quick shapes and per-element bounds), threads 1 vs 2 identical,
//                           dispatch (SSAST_ISA override, unknown/unsupported names refused)
//   model W IN EXP BOUND    forward pass of weight file W on a fixture input (.npy): max |logit - EXP| <= BOUND
//   audio W WAV FB FBOUND EXP BOUND
//                           WAV file -> (downmix, resample) -> fbank (vs fixture FB within FBOUND)
//                           -> Classifier -> logits within BOUND of EXP (.npy, or comma-separated numbers)
// Every check prints a line; any failure makes the exit status 1.
import CLibc
import Runtime

var failures = 0

func fmt(_ v: Double) -> String {
    var buf = [CChar](repeating: 0, count: 32)
    buf.withUnsafeMutableBufferPointer { ssast_format_double($0.baseAddress!, 32, v) }
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
func fmt(_ v: Float) -> String { fmt(Double(v)) }

func check(_ ok: Bool, _ what: String) {
    if !ok { failures += 1; print("aarch64-tests: FAIL " + what) }
}

/// Unwraps a runtime call or reports its error as a failure and stops (nothing sensible can follow).
func must<T>(_ what: String, _ body: () throws(SSASTError) -> T) -> T {
    do throws(SSASTError) { return try body() } catch {
        print("aarch64-tests: FAIL " + what + ": " + error.message)
        exit(1)
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    if a.count != b.count { return .infinity }
    var m: Float = 0
    for i in 0..<a.count {
        let d = abs(a[i] - b[i])
        if d.isNaN { return .infinity }
        m = max(m, d)
    }
    return m
}

func env(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

// MARK: - kernel twins (KernelTests, quick shapes)

struct RNG {
    var s: UInt64
    mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
    mutating func array(_ n: Int, scale: Float = 1) -> [Float] {
        var a = [Float](repeating: 0, count: n)
        for i in 0..<n { a[i] = next() * scale }
        return a
    }
}

func packed(_ type: WeightType, _ w: [Float], n: Int, k: Int) -> (bytes: [UInt8], scales: [Float]) {
    switch type {
    case .f32: return (Packing.packF32(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
    case .f16: return (Packing.packF16(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
    case .i8:
        let (q, s) = Packing.packI8(w, n: n, k: k)
        return (q.withUnsafeBytes { Array($0) }, s)
    }
}

func typeName(_ t: WeightType) -> String { t == .f32 ? "fp32" : t == .f16 ? "fp16" : "int8" }

func testLinear(_ engines: [(String, Engine, Engine)], _ type: WeightType, bits: Int) {
    for (_, e1, e2) in engines { e1.int8ActivationBits = bits; e2.int8ActivationBits = bits }
    var rng = RNG(s: 42 &+ UInt64(type.rawValue))
    var cases: [(Int, Int, Int)] = []
    for m in [1, 5, 13] { for n in [2, 31, 33, 192] { for k in [1, 3, 17, 192, 256] { cases.append((m, n, k)) } } }
    cases.append((602, 33, 17))
    cases.append((80, 40, 30))  // k = 30: kPad not a multiple of 4 (SDOT's trailing pair)
    var worst: Float = 0
    for (m, n, k) in cases {
        let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n)
        var xa = x, wa = w
        for i in 0..<xa.count { xa[i] = abs(xa[i]) }
        for i in 0..<wa.count { wa[i] = abs(wa[i]) }
        let p = packed(type, w, n: n, k: k), pa = packed(type, wa, n: n, k: k)
        var ref = [Float](repeating: 0, count: m * n), bound = ref, y1 = ref, y2 = ref
        p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
            pa.bytes.withUnsafeBytes { wab in pa.scales.withUnsafeBufferPointer { sab in
                let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                let linAbs = PackedLinear(n: n, k: k, type: type, data: wab.baseAddress!, scales: sab.baseAddress, bias: nil)
                if type == .i8 {
                    if bits == 8 { Reference.linearU8Dynamic(x, m: m, lin, &ref) }
                    else { Reference.linearI8Dynamic(x, m: m, lin, qmax: Engine.activationQMax(bits: bits, k: k), &ref) }
                } else {
                    Reference.linear(x, m: m, lin, &ref)
                }
                Reference.linear(xa, m: m, linAbs, &bound)
                for (name, e1, e2) in engines {
                    e1.linear(x, m: m, lin, &y1)
                    e2.linear(x, m: m, lin, &y2)
                    let tag = "\(name) \(typeName(type)) linear (\(bits)-bit activations) m \(m) n \(n) k \(k)"
                    check(y1 == y2, tag + ": threads 1 vs 2 differ")
                    var bad = 0
                    for i in 0..<y1.count {
                        let d = abs(y1[i] - ref[i])
                        let tol: Float = type == .i8 ? 1e-5 * abs(ref[i]) + 2e-6 * bound[i] + 1e-6 : 2e-5 * bound[i] + 1e-6
                        if !(d <= tol) { bad += 1 }
                        worst = max(worst, d / max(tol, 1e-30))
                    }
                    check(bad == 0, tag + ": \(bad) elements outside the bound")
                }
            }}
        }}}
    }
    print("aarch64-tests: linear \(typeName(type))\(type == .i8 ? " \(bits)-bit" : ""): \(cases.count) shapes, worst error/bound \(fmt(worst))")
}

func testLinearAccumulateAndZeroRow(_ engines: [(String, Engine, Engine)]) {
    var rng = RNG(s: 77)
    for type in [WeightType.f32, .f16, .i8] {
        for (m, n, k) in [(13, 33, 17), (80, 192, 768), (7, 40, 400)] {
            let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n), y0 = rng.array(m * n, scale: 5)
            let p = packed(type, w, n: n, k: k)
            var plain = [Float](repeating: 0, count: m * n)
            p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                for (name, e1, e2) in engines {
                    e1.linear(x, m: m, lin, &plain)
                    var y1 = y0, y2 = y0
                    e1.linear(x, m: m, lin, &y1, accumulate: true)
                    e2.linear(x, m: m, lin, &y2, accumulate: true)
                    check(y1 == y2, "\(name) \(typeName(type)) accumulate threads 1 vs 2")
                    var bad = 0
                    for i in 0..<y1.count where !(abs(y1[i] - (y0[i] + plain[i])) <= 1e-5 * (abs(y0[i]) + abs(plain[i])) + 1e-6) { bad += 1 }
                    check(bad == 0, "\(name) \(typeName(type)) accumulate m \(m) n \(n) k \(k): \(bad) elements")
                }
            }}}
        }
    }
    // An all-zero activation row has no scale; the output must be exactly the bias.
    let n = 40, k = 6
    let w = rng.array(n * k), bias = rng.array(n)
    let (q, s) = Packing.packI8(w, n: n, k: k)
    let x = [Float](repeating: 0, count: 2 * k)
    for (name, _, e) in engines {
        var y = [Float](repeating: .nan, count: 2 * n)
        q.withUnsafeBytes { qb in s.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
            e.linear(x, m: 2, PackedLinear(n: n, k: k, type: .i8, data: qb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress), &y)
        }}}
        check(Array(y[0..<n]) == bias && Array(y[n...]) == bias, "\(name) int8 zero row is not exactly the bias")
    }
    print("aarch64-tests: linear accumulate (fp32, fp16, int8) and int8 zero rows checked")
}

func testSgemm(_ engines: [(String, Engine, Engine)]) {
    var rng = RNG(s: 99)
    var count = 0
    for transA in [false, true] { for transB in [false, true] {
        for (m, n, k) in [(1, 2, 1), (5, 31, 17), (13, 33, 192), (7, 70, 3), (2, 577, 9)] {
            for (alpha, beta) in [(Float(1), Float(0)), (Float(0.5), Float(1.5))] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                let a = rng.array((transA ? k : m) * lda), b = rng.array((transB ? n : k) * ldb)
                let c0 = rng.array(m * ldc)
                var aa = a, ba = b, bound = c0
                for i in 0..<aa.count { aa[i] = abs(aa[i]) }
                for i in 0..<ba.count { ba[i] = abs(ba[i]) }
                for i in 0..<bound.count { bound[i] = abs(bound[i]) * abs(beta) }
                var ref = c0
                Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                beta: beta, c: &ref, ldc: ldc)
                Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: abs(alpha), a: aa, lda: lda,
                                b: ba, ldb: ldb, beta: 1, c: &bound, ldc: ldc)
                for (name, e1, e2) in engines {
                    var c1 = c0, c2 = c0
                    e1.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                             beta: beta, c: &c1, ldc: ldc)
                    e2.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                             beta: beta, c: &c2, ldc: ldc)
                    check(c1 == c2, "\(name) sgemm threads 1 vs 2")
                    var bad = 0
                    for i in 0..<m { for j in 0..<ldc {
                        let idx = i * ldc + j
                        if j >= n { if c1[idx] != c0[idx] { bad += 1 }; continue }
                        if !(abs(c1[idx] - ref[idx]) <= 2e-5 * bound[idx] + 1e-6) { bad += 1 }
                    }}
                    check(bad == 0, "\(name) sgemm tA \(transA) tB \(transB) m \(m) n \(n) k \(k): \(bad) elements")
                    count += 1
                }
            }
        }
    }}
    print("aarch64-tests: sgemm \(count) cases checked")
}

func testAttention(_ engines: [(String, Engine, Engine)]) {
    var rng = RNG(s: 5)
    var worst: Float = 0, worstI16: Float = 0
    for (t, heads, dh) in [(1, 3, 64), (7, 3, 64), (37, 2, 24), (9, 1, 5), (130, 2, 17)] {
        let d = heads * dh
        let qkv = rng.array(t * 3 * d, scale: 2)
        var ref = [Float](repeating: 0, count: t * d), refI16 = ref, y1 = ref, y2 = ref
        Reference.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &ref)
        Reference.attentionI16(qkv: qkv, tokens: t, heads: heads, headDim: dh, &refI16)
        var vmax: Float = 0
        for j in 0..<t { for e in 0..<d { vmax = max(vmax, abs(qkv[j * 3 * d + 2 * d + e])) } }
        for (name, e1, e2) in engines {
            e1.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1)
            e2.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2)
            check(y1 == y2, "\(name) attention threads 1 vs 2, t \(t)")
            let e = maxAbsDiff(y1, ref)
            worst = max(worst, e)
            check(e <= 2e-5, "\(name) attention t \(t) heads \(heads) dh \(dh): \(fmt(e))")
            e1.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1, quantized: true)
            e2.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2, quantized: true)
            check(y1 == y2, "\(name) int16 attention threads 1 vs 2, t \(t)")
            let q = maxAbsDiff(y1, refI16)
            worstI16 = max(worstI16, q / vmax)
            check(q <= 3e-4 * vmax, "\(name) int16 attention t \(t) heads \(heads) dh \(dh): \(fmt(q))")
        }
    }
    print("aarch64-tests: attention max |diff| vs reference \(fmt(worst)); int16 attention \(fmt(worstI16))·max|v|")
}

func testElementwise(_ engines: [(String, Engine, Engine)]) {
    var rng = RNG(s: 11)
    for dim in [1, 7, 100, 192] {
        let rows = 13
        var x = rng.array(rows * dim, scale: 3)
        for i in 0..<x.count { x[i] += 0.5 }
        let g = rng.array(dim), b = rng.array(dim)
        var ref = [Float](repeating: 0, count: rows * dim), y = ref
        Reference.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &ref)
        for (name, e1, e2) in engines {
            for e in [e1, e2] {
                e.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &y)
                check(maxAbsDiff(y, ref) <= 2e-5, "\(name) layerNorm dim \(dim)")
            }
        }
    }
    for cols in [1, 7, 33, 602] {
        let rows = 5
        let x = rng.array(rows * cols, scale: 20)
        var ref = x
        Reference.softmax(&ref, rows: rows, cols: cols)
        for (name, e1, e2) in engines {
            for e in [e1, e2] {
                var y = x
                e.softmax(&y, rows: rows, cols: cols)
                check(maxAbsDiff(y, ref) <= 2e-6, "\(name) softmax cols \(cols)")
            }
        }
    }
    var x = [Float](repeating: 0, count: 20001)
    for i in 0..<x.count { x[i] = Float(i) * 1e-3 - 10 }
    x += [0, -0.0, 1e-30, -1e-30, 30, -30]
    var ref = x
    Reference.gelu(&ref, count: ref.count)
    var worst: Float = 0
    for (name, e1, e2) in engines {
        for e in [e1, e2] {
            var y = x
            e.gelu(&y, count: y.count)
            let d = maxAbsDiff(y, ref)
            worst = max(worst, d)
            check(d <= 1e-6, "\(name) gelu: \(fmt(d))")
        }
    }
    print("aarch64-tests: layerNorm, softmax checked; gelu max |diff| vs erff reference \(fmt(worst))")
}

func testDispatch(expect: String?) {
    let avail = Engine.availableISAs
    let e = must("Engine()") { () throws(SSASTError) in try Engine(threads: 1) }
    print("aarch64-tests: CPU supports \(avail.joined(separator: ", ")); default engine picks \(e.isaName)")
    var forced = env("SSAST_ISA")
    if forced == "" || forced == "auto" { forced = nil }
    check(e.isaName == (forced ?? avail[0]), "default engine picks \(e.isaName), expected \(forced ?? avail[0])")
    if let x = expect { check(e.isaName == x, "default engine picks \(e.isaName), the script expected \(x)") }
    for name in ["generic", "reference"] {
        check(must(name) { () throws(SSASTError) in try Engine(threads: 1, isa: name) }.isaName == name, "isa \(name) not honoured")
    }
    for name in ["sse9", "avx2", "avx512", "dotprod", "neon"] where !avail.contains(name) {
        do throws(SSASTError) {
            _ = try Engine(threads: 1, isa: name)
            check(false, "isa \(name) accepted on a CPU without it")
        } catch {
            let unknown = name == "sse9"
            let msg = error.message
            check(unknown ? contains(msg, "unknown kernel ISA") : contains(msg, "does not support"), "isa \(name): \(msg)")
        }
    }
    do throws(SSASTError) { _ = try Engine(threads: 0); check(false, "threads 0 accepted") } catch {}
}

func contains(_ s: String, _ needle: String) -> Bool {
    let a = Array(s.utf8), b = Array(needle.utf8)
    if b.isEmpty { return true }
    if a.count < b.count { return false }
    for i in 0...(a.count - b.count) where Array(a[i..<(i + b.count)]) == b { return true }
    return false
}

func runKernels(expect: String?) {
    testDispatch(expect: expect)
    var names: [String] = []
    for n in Engine.availableISAs where n != "reference" { names.append(n) }
    var engines: [(String, Engine, Engine)] = []
    for n in names {
        engines.append((n, must(n) { () throws(SSASTError) in try Engine(threads: 1, isa: n) },
                        must(n) { () throws(SSASTError) in try Engine(threads: 2, isa: n) }))
    }
    print("aarch64-tests: kernel twins for \(names.joined(separator: ", "))")
    testLinear(engines, .f32, bits: 12)
    testLinear(engines, .f16, bits: 12)
    testLinear(engines, .i8, bits: 12)
    testLinear(engines, .i8, bits: 8)
    testLinearAccumulateAndZeroRow(engines)
    testSgemm(engines)
    testAttention(engines)
    testElementwise(engines)
}

// MARK: - model and audio parity

func threadCount() -> Int { Int(env("SSAST_THREADS") ?? "") ?? 2 }

func expectedValues(_ arg: String) -> [Float] {
    if hasSuffix(arg, ".npy") { return must(arg) { () throws(SSASTError) in try readNPY(arg) }.data }
    var out: [Float] = []
    for part in arg.split(separator: ",") { out.append(Float(strtod(String(part), nil))) }
    return out
}

func hasSuffix(_ s: String, _ suffix: String) -> Bool {
    let a = Array(s.utf8), b = Array(suffix.utf8)
    return a.count >= b.count && Array(a[(a.count - b.count)...]) == b
}

func runModel(_ weights: String, _ input: String, _ expected: String, _ bound: Float) {
    let t0 = monotonicTime()
    let model = must(weights) { () throws(SSASTError) in try SSASTModel(path: weights) }
    let engine = must("engine") { () throws(SSASTError) in try Engine(threads: threadCount()) }
    let x = must(input) { () throws(SSASTError) in try readNPY(input) }
    check(x.count == model.config.targetLength * model.config.melBins, "input \(input) has \(x.count) values")
    let state = RunState(config: model.config)
    func forward() -> [Float] {
        must("forward") { () throws(SSASTError) in
            Array(try x.data.withUnsafeBufferPointer { (p) throws(SSASTError) in try model.forward(p, state: state, engine: engine) })
        }
    }
    let t1 = monotonicTime()
    let got = forward()
    let t2 = monotonicTime()
    // SSAST_REPEAT=n runs n - 1 more forward passes: scripts/aarch64-estimate.sh counts the
    // instructions of one pass as the difference between two runs.
    for _ in 1..<max(1, Int(env("SSAST_REPEAT") ?? "") ?? 1) {
        _ = forward()
    }
    let want = expectedValues(expected)
    let d = maxAbsDiff(got, want)
    print("aarch64-tests: model \(basename(weights)) [\(typeName(model.weightType)), \(engine.isaName), \(engine.threads) threads] on \(basename(input)): "
          + "logits \(list(got)), max |diff| \(fmt(d)) (bound \(fmt(bound))); load \(fmt(t1 - t0)) s, forward \(fmt(t2 - t1)) s")
    check(d <= bound, "model \(basename(weights)) on \(basename(input)): max |diff| \(fmt(d)) > \(fmt(bound))")
}

func list(_ v: [Float]) -> String {
    var s = "["
    for (i, x) in v.enumerated() { s += (i > 0 ? ", " : "") + fmt(x) }
    return s + "]"
}

func basename(_ p: String) -> String {
    guard let i = p.utf8.lastIndex(of: UInt8(ascii: "/")) else { return p }
    return String(p[p.utf8.index(after: i)...])
}

/// RIFF/WAVE with 16-bit PCM or 32-bit float samples (the fixture formats): interleaved floats in
/// [-1, 1] as libsndfile gives them (int16 / 32768).
func readWAV(_ path: String) -> (samples: [Float], channels: Int, rate: Int) {
    let f = must(path) { () throws(SSASTError) in try MappedFile(path: path) }
    let b = f.bytes
    guard b.count >= 12, b.le(UInt32.self, at: 0) == 0x4646_4952, b.le(UInt32.self, at: 8) == 0x4556_4157 else {
        print("aarch64-tests: FAIL \(path): not a RIFF/WAVE file"); exit(1)
    }
    var pos = 12, format = 0, channels = 0, rate = 0, bits = 0
    while pos + 8 <= b.count {
        let id = b.le(UInt32.self, at: pos), size = Int(b.le(UInt32.self, at: pos + 4))
        let body = pos + 8
        if id == 0x2074_6d66 { // "fmt "
            format = Int(b.le(UInt16.self, at: body)); channels = Int(b.le(UInt16.self, at: body + 2))
            rate = Int(b.le(UInt32.self, at: body + 4)); bits = Int(b.le(UInt16.self, at: body + 14))
            if format == 0xFFFE { format = Int(b.le(UInt16.self, at: body + 24)) }  // WAVE_FORMAT_EXTENSIBLE
        } else if id == 0x6174_6164 { // "data"
            let n = min(size, b.count - body)
            var out: [Float] = []
            if format == 1 && bits == 16 {
                out = [Float](repeating: 0, count: n / 2)
                for i in 0..<(n / 2) { out[i] = Float(Int16(bitPattern: b.le(UInt16.self, at: body + 2 * i))) / 32768 }
            } else if format == 3 && bits == 32 {
                out = [Float](repeating: 0, count: n / 4)
                for i in 0..<(n / 4) { out[i] = Float(bitPattern: b.le(UInt32.self, at: body + 4 * i)) }
            } else {
                print("aarch64-tests: FAIL \(path): WAV format \(format), \(bits) bits not handled by this driver"); exit(1)
            }
            return (out, channels, rate)
        }
        pos = body + size + (size & 1)
    }
    print("aarch64-tests: FAIL \(path): no data chunk"); exit(1)
}

func runAudio(_ weights: String, _ wav: String, _ fbankPath: String, _ fbankBound: Float, _ expected: String, _ bound: Float) {
    let (raw, channels, rate) = readWAV(wav)
    let mono = channels == 1 ? raw : must("downmix") { () throws(SSASTError) in try downmix(raw, channels: channels) }
    let t0 = monotonicTime()
    let samples = rate == 16000 ? mono : must("resample") { () throws(SSASTError) in try resample(mono, from: rate, to: 16000) }
    let model = must(weights) { () throws(SSASTError) in try SSASTModel(path: weights) }
    let engine = must("engine") { () throws(SSASTError) in try Engine(threads: threadCount()) }
    must("int8 activations") { () throws(SSASTError) in try engine.chooseInt8Activations(requested: nil, model: model) }
    let classifier = must("classifier") { () throws(SSASTError) in try Classifier(model: model, engine: engine) }
    let (frames, fb) = must("fbank") { () throws(SSASTError) in try classifier.fbank.compute(samples) }
    let t1 = monotonicTime()
    let want = must(fbankPath) { () throws(SSASTError) in try readNPY(fbankPath) }
    let fd = maxAbsDiff(fb, want.data)
    print("aarch64-tests: fbank of \(basename(wav)) (\(rate) Hz, \(channels) ch, \(frames) frames): max |diff| \(fmt(fd)) (bound \(fmt(fbankBound))); resample+fbank \(fmt(t1 - t0)) s")
    check(fd <= fbankBound, "fbank \(basename(wav)): \(fmt(fd)) > \(fmt(fbankBound))")
    let windows = must("classify") { () throws(SSASTError) in try classifier.classify(fbank: fb, frames: frames) }
    let t2 = monotonicTime()
    let d = maxAbsDiff(windows[0].output, expectedValues(expected))
    print("aarch64-tests: audio \(basename(wav)) -> \(basename(weights)) [\(typeName(model.weightType)), \(engine.isaName), \(engine.int8ActivationBits)-bit activations, \(engine.threads) threads]: "
          + "logits \(list(windows[0].output)), max |diff| \(fmt(d)) (bound \(fmt(bound))); forward \(fmt(t2 - t1)) s")
    check(d <= bound, "audio \(basename(wav)) logits: max |diff| \(fmt(d)) > \(fmt(bound))")
}

@_cdecl("main")
func cMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    var args: [String] = []
    for i in 0..<Int(argc) { args.append(String(cString: argv[i]!)) }
    let usage = "usage: ssast-aarch64-tests kernels [EXPECTED_ISA] | model W IN EXP BOUND | audio W WAV FBANK FBOUND EXP BOUND"
    guard args.count >= 2 else { print(usage); return 2 }
    switch args[1] {
    case "kernels" where args.count <= 3: runKernels(expect: args.count == 3 ? args[2] : nil)
    case "model" where args.count == 6: runModel(args[2], args[3], args[4], Float(strtod(args[5], nil)))
    case "audio" where args.count == 8:
        runAudio(args[2], args[3], args[4], Float(strtod(args[5], nil)), args[6], Float(strtod(args[7], nil)))
    default: print(usage); return 2
    }
    if failures > 0 { print("aarch64-tests: \(failures) check(s) FAILED"); return 1 }
    print("aarch64-tests: \(args[1]): all checks passed")
    return 0
}
