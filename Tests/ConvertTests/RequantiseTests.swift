import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// `ssast convert OURS.ssast -o OUT --dtype fp16|int8`: re-encoding the fp32 weight file `ssast train`
/// writes. Every tensor stays within its format's error bound, the header (geometry, labels,
/// normalisation, the validation threshold) is kept, and the result classifies like the fp32 file.
final class RequantiseTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    func testRequantisedFilesKeepHeaderBoundErrorsAndClassifyLikeFP32() throws {
        let dir = Fixtures.temporaryDirectory("requant")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The fp32 file as the trainer writes it (same writer path as Trainer.exportWeights), with a
        // threshold in the header as a two-class run stores it.
        let modelName = "tiny-patch-ciab-ft.pth"
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 512; o.mean = -8.2096; o.std = 6.1568
        o.labels = ["Negative", "Positive"]
        var ck = try SSASTConverter.read(Fixtures.model(modelName), options: o)
        ck.config.threshold = 0.3725
        let fp32 = dir + "/trained.ssast"
        let (meta, blobs) = try SSASTConverter.weightFileContents(ck, dtype: .f32, source: "ssast train")
        try WeightFileWriter.write(path: fp32, metadata: meta, tensors: blobs)

        let f16 = dir + "/trained-fp16.ssast", i8 = dir + "/trained-int8.ssast"
        let r16 = try SSASTConverter.requantise(input: fp32, output: f16, dtype: .f16)
        let r8 = try SSASTConverter.requantise(input: fp32, output: i8, dtype: .i8)
        XCTAssertEqual(r16.notes, [], "an fp32 input is not re-quantised")
        XCTAssertEqual(r8.notes, [])

        let w32 = try WeightFile(path: fp32)
        let config32 = try ModelConfig(weightFile: w32)
        XCTAssertEqual(config32.threshold, 0.3725)
        var quantised = 0
        for (path, dtype) in [(f16, WeightType.f16), (i8, .i8)] {
            let w = try WeightFile(path: path)
            XCTAssertEqual(try ModelConfig(weightFile: w), config32, "\(dtype): header kept (threshold, labels, geometry)")
            for name in ModelSchema.names(config32) {
                let original = ck.tensors[name]!.values
                XCTAssertEqual(try w32.dequantised(name), original, "fp32 file: \(name) exact")
                let back = try w.dequantised(name)
                XCTAssertEqual(back.count, original.count, name)
                let info = try XCTUnwrap(w.info(name))
                if info.type == .f32 {
                    XCTAssertEqual(back, original, "\(dtype): non-matmul tensor \(name) stays exact fp32")
                    continue
                }
                XCTAssertEqual(info.type, dtype, name)
                quantised += 1
                let rows = info.shape[0], k = original.count / rows
                var worst: Float = 0
                let scales = dtype == .i8 ? Array(UnsafeBufferPointer(start: try w.floats(name + ".scale", shape: [Packing.paddedN(rows)]), count: rows)) : []
                for j in 0..<rows {
                    let slice = (j * k)..<((j + 1) * k)
                    for c in slice { worst = max(worst, abs(back[c] - original[c])) }
                    if dtype == .i8 {
                        if let problem = int8ChannelProblem(original: original[slice], back: back[slice], scale: scales[j]) {
                            return XCTFail("int8 \(name) channel \(j): \(problem)")
                        }
                        continue
                    }
                    for c in slice {
                        // fp16: round to nearest, half an ulp = |x| 2^-11 (normal range) or 2^-25 (subnormal).
                        let x = original[c], d = abs(back[c] - x)
                        if d > max(abs(x) * 0x1p-11, 0x1p-25) {
                            return XCTFail("\(dtype) \(name)[\(c)]: |\(back[c]) - \(x)| = \(d)")
                        }
                    }
                }
                guard case .strings(let e)? = w.metadata["quant." + name] else { return XCTFail("no quant error for \(name)") }
                XCTAssertEqual(Float(e[0])!, worst, accuracy: 1e-9, "recorded max error of \(name)")
            }
        }
        XCTAssertEqual(quantised, 2 * (4 * 12 + 2), "qkv, proj, fc1, fc2 per block, patch embedding and head, in both files")

        // Re-quantising an already quantised file says so.
        let again = try SSASTConverter.requantise(input: i8, output: dir + "/again.ssast", dtype: .f16)
        XCTAssertEqual(again.notes.count, 1)
        XCTAssertTrue(again.notes[0].contains("already holds quantised weights"), again.notes[0])

        // All three classify the fixture inputs: fp32 as PyTorch does, fp16 and int8 close to fp32
        // (PyTorch simulation of these formats on this model: 0.0103 and ~0.12 max over logits up to ~18).
        let engine = try Engine(threads: 2)
        let models = try [fp32, f16, i8].map { try SSASTModel(path: $0) }
        let states = models.map { RunState(config: $0.config) }   // forward's result lives in its state
        let cases = (Fixtures.manifest["cases"] as! [[String: String]]).filter { $0["model"] == modelName }
        XCTAssertGreaterThanOrEqual(cases.count, 2)
        var worst16: Float = 0, worst8: Float = 0
        for c in cases {
            let x = try Fixtures.npy(c["input"]!)
            let logits = try models.indices.map { i in
                Array(try x.data.withUnsafeBufferPointer { try models[i].forward($0, state: states[i], engine: engine) })
            }
            XCTAssertLessThan(maxAbsDiff(logits[0], try Fixtures.npy(c["logits_avgtok"]!).data), 1e-3, c["audio"]!)
            worst16 = max(worst16, maxAbsDiff(logits[1], logits[0]))
            worst8 = max(worst8, maxAbsDiff(logits[2], logits[0]))
            let top = logits.map { l in l.indices.max { l[$0] < l[$1] }! }
            XCTAssertEqual(top[1], top[0], "fp16 top label \(c["audio"]!)")
            XCTAssertEqual(top[2], top[0], "int8 top label \(c["audio"]!)")
        }
        print("requantised: max |logit - fp32| fp16 \(worst16), int8 \(worst8) over \(cases.count) inputs")
        XCTAssertLessThan(worst16, 0.03)
        XCTAssertGreaterThan(worst16, 0, "fp16 file must not be the fp32 weights")
        XCTAssertLessThan(worst8, 0.35)
        XCTAssertGreaterThan(worst8, worst16, "int8 is the coarser format")
    }
}
