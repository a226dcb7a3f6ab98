import AudioFile
import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// The model against the original PyTorch SSAST: inputs, logits of both heads and per-layer traces.
final class ModelParityTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    static var converted: [String: String] = [:]   // "model|head|dtype" -> weight file
    static let dir = Fixtures.temporaryDirectory("parity")

    /// Converts a fixture checkpoint once per (head, dtype), with the manifest's settings.
    static func weightFile(_ model: String, head: ModelConfig.Pooling, dtype: WeightType = .f32) throws -> String {
        let key = "\(model)|\(head)|\(dtype)"
        if let p = converted[key] { return p }
        let m = (Fixtures.manifest["models"] as! [String: [String: Any]])[model]!
        var o = ConvertOptions()
        o.fstride = m["fstride"] as? Int; o.tstride = m["tstride"] as? Int; o.targetLength = m["input_tdim"] as? Int
        o.mean = (m["dataset_mean"] as? Double).map(Float.init); o.std = (m["dataset_std"] as? Double).map(Float.init)
        o.pooling = head; o.dtype = dtype
        let out = dir + "/\(model)-\(head)-\(dtype).ssast"
        try SSASTConverter.convert(input: Fixtures.model(model), output: out, options: o)
        converted[key] = out
        return out
    }

    static var cases: [[String: String]] { Fixtures.manifest["cases"] as! [[String: String]] }

    func testLogitsFromFixtureInputsBothHeads() throws {
        // The selected kernels, then each test-only family (the AVX-512 Swift kernels at 16 lanes on AVX2).
        for isa in [nil] + Engine.testISAs {
            try logitsFromFixtureInputs(engine: try Engine(threads: 1, isa: isa))
        }
    }

    /// int8 weights with 8- and 12-bit activations against the fp32 conversion: every fixture model,
    /// both heads, every fixture input, within ONNX Runtime's own int8 error on the anchors' model
    /// (`Bounds.int8Logits`). Run on the default family and on "generic" (no byte multiply: it widens
    /// the same bytes to int16 lanes, so the integer sums are the same).
    func testInt8LogitsAgainstFP32() throws {
        let reference = try Engine(threads: 2)
        var engines: [(Engine, Int)] = []
        for isa in [nil] + (Engine.availableISAs.first == "generic" ? [] : ["generic"]) {
            for bits in Engine.int8ActivationWidths {
                let e = try Engine(threads: 2, isa: isa)
                e.int8ActivationBits = bits
                engines.append((e, bits))
            }
        }
        for head in [ModelConfig.Pooling.avgtok, .cls] {
            for modelName in Set(Self.cases.map { $0["model"]! }).sorted() {
                let fp32 = try SSASTModel(path: try Self.weightFile(modelName, head: head))
                let int8 = try SSASTModel(path: try Self.weightFile(modelName, head: head, dtype: .i8))
                let state = RunState(config: fp32.config)
                var worst = [Float](repeating: 0, count: engines.count)
                var inputs = 0
                for c in Self.cases where c["model"] == modelName {
                    let x = try Fixtures.npy(c["input"]!)
                    let want = Array(try x.data.withUnsafeBufferPointer { (p) throws(SSASTError) in try fp32.forward(p, state: state, engine: reference) })
                    for (i, (e, _)) in engines.enumerated() {
                        let got = Array(try x.data.withUnsafeBufferPointer { (p) throws(SSASTError) in try int8.forward(p, state: state, engine: e) })
                        worst[i] = max(worst[i], maxAbsDiff(got, want))
                    }
                    inputs += 1
                }
                XCTAssertEqual(inputs, 7, modelName)
                for (i, (e, bits)) in engines.enumerated() {
                    print("parity int8 (\(e.isaName), \(bits)-bit activations): \(modelName) logits_\(head) max |logit - fp32 logit| = \(worst[i]) over \(inputs) inputs (bound \(Bounds.int8Logits))")
                    XCTAssertLessThan(worst[i], Bounds.int8Logits, "\(modelName) \(head) \(e.isaName) \(bits)-bit")
                }
            }
        }
    }

    func logitsFromFixtureInputs(engine: Engine) throws {
        for head in [ModelConfig.Pooling.avgtok, .cls] {
            var worst: Float = 0
            for modelName in Set(Self.cases.map { $0["model"]! }).sorted() {
                let model = try SSASTModel(path: try Self.weightFile(modelName, head: head))
                let state = RunState(config: model.config)
                for c in Self.cases where c["model"] == modelName {
                    let x = try Fixtures.npy(c["input"]!)
                    XCTAssertEqual(x.shape, [model.config.targetLength, 128])
                    let expected = try Fixtures.npy(c["logits_\(head)"]!).data
                    let got = Array(try x.data.withUnsafeBufferPointer { try model.forward($0, state: state, engine: engine) })
                    let d = maxAbsDiff(got, expected)
                    XCTAssertLessThan(d, 1e-3, "\(modelName) \(c["audio"]!) \(head): \(got) vs \(expected)")
                    worst = max(worst, d)
                }
            }
            print("parity (\(engine.isaName)): logits_\(head) max abs diff over all cases = \(worst)")
        }
    }

    func testLayerTraces() throws {
        let engine = try Engine(threads: 1)
        for c in Self.cases where c["trace_block0"] != nil {
            let model = try SSASTModel(path: try Self.weightFile(c["model"]!, head: .avgtok))
            let state = RunState(config: model.config)
            let x = try Fixtures.npy(c["input"]!)
            var traces: [String: [Float]] = [:]
            try x.data.withUnsafeBufferPointer { _ = try model.forward($0, state: state, engine: engine) { traces[$0] = Array($1) } }
            let last = "block\(model.config.depth - 1)"
            for (ours, theirs) in [("patch_embed", "trace_patch_embed"), ("tokens_in", "trace_tokens_in"),
                                   ("block0", "trace_block0"), (last, "trace_block11"), ("final_norm", "trace_final_norm")] {
                let expected = try Fixtures.npy(c[theirs]!)
                let got = try XCTUnwrap(traces[ours], "no trace \(ours)")
                let d = maxAbsDiff(got, expected.data)
                XCTAssertLessThan(d, 1e-3, "\(c["model"]!) \(theirs)")
                print("parity: \(c["model"]!) \(theirs) max abs diff \(d)")
            }
        }
    }

    /// Audio file -> decode -> resample -> fbank -> model, against the fixture logits.
    func testLogitsFromAudioFiles() throws {
        let engine = try Engine(threads: 1)
        for c in Self.cases {
            let model = try SSASTModel(path: try Self.weightFile(c["model"]!, head: .avgtok))
            let classifier = try Classifier(model: model, engine: engine)
            let samples = try loadMono16k(path: Fixtures.audio(c["audio"]!))
            let sr = ((Fixtures.manifest["audio"] as! [String: [String: Any]])[c["audio"]!]!["sample_rate"] as! Int)
            // Model inputs first (1e-4 for 16 kHz audio), then logits.
            let (frames, fb) = try classifier.fbank.compute(samples)
            fb.withUnsafeBufferPointer { classifier.prepareInput(fbank: $0, frames: frames, start: 0) }
            let expectedInput = try Fixtures.npy(c["input"]!).data
            let windows = try classifier.classify(samples: samples)
            XCTAssertEqual(windows.count, 1)
            let expected = try Fixtures.npy(c["logits_avgtok"]!).data
            let d = maxAbsDiff(windows[0].output, expected)
            XCTAssertLessThan(d, Bounds.logits, "\(c["model"]!) \(c["audio"]!)")
            let inputDiff = maxAbsDiff(try normalisedInput(classifier, samples), expectedInput)
            if sr == 16000 { XCTAssertLessThan(inputDiff, 1e-4, "input \(c["audio"]!)") }
            print("parity: audio \(c["model"]!) \(c["audio"]!) (\(sr) Hz): input diff \(inputDiff), logits diff \(d)")
        }
    }

    private func normalisedInput(_ cl: Classifier, _ samples: [Float]) throws -> [Float] {
        let (frames, fb) = try cl.fbank.compute(samples)
        return try InputPreparation(config: cl.model.config).prepare(fb, frames: frames)
    }
}
