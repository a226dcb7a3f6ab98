// aarch64 test driver (scripts/aarch64-tests.sh): Runtime built with Embedded Swift for aarch64 Linux,
// run under qemu-aarch64. XCTest and Foundation do not exist there, so this small main runs the checks
// RuntimeTests run on x86 (Tests/KernelChecks, compiled into both) and the parity checks:
//   kernels [EXPECTED_ISA]  every fast kernel family the CPU offers against its `Reference` twin
//                           (KernelChecks' quick shapes and bounds), threads 1 vs 2 identical, the SDOT
//                           byte kernel and 8-bit attention bit for bit, dispatch (SSAST_ISA, unknown/
//                           unsupported names refused)
//   model W IN EXP BOUND    forward pass of weight file W on a fixture input (.npy): max |logit - EXP| <= BOUND
//   audio W WAV FB FBOUND EXP BOUND
//                           WAV file -> (downmix, resample) -> fbank (vs fixture FB within FBOUND)
//                           -> Classifier -> logits within BOUND of EXP (.npy, or comma-separated numbers)
// Every check prints a line; any failure makes the exit status 1.
import CKernels
import CLibc
import KernelChecks
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

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float { KernelChecks.maxAbsDiff(a, b) }
func typeName(_ t: WeightType) -> String { KernelChecks.typeName(t) }

func env(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

// MARK: - kernel twins (KernelChecks, shared with RuntimeTests; quick shapes)

func runKernels(expect: String?) {
    var r = CheckReport()
    var forced = env("SSAST_ISA")
    if forced == "" || forced == "auto" { forced = nil }
    let fams = must("engines") { () throws(SSASTError) in try KernelChecks.families(KernelChecks.familyNames) }
    // The SDOT byte kernel and 8-bit attention, bit for bit against their generic twins (the families
    // also run them through Engine).
    var bytes: [(String, ssast_u8_gemm_fn)] = []
    var attn: [(String, ssast_attn_u8_fn)] = []
    if Engine.availableISAs.contains("dotprod") {
        bytes.append(("dotprod", ssast_u8_gemm_dotprod))
        attn.append(("dotprod", ssast_attn_u8_dotprod))
    }
    KernelChecks.all(&r, fams, quick: true, forced: forced, expected: expect, byteKernels: bytes, byteAttention: attn)
    for n in r.notes { print("aarch64-tests: " + n) }
    for f in r.failures { check(false, f) }
    print("aarch64-tests: \(r.checks) kernel checks, \(r.failures.count) failed")
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
