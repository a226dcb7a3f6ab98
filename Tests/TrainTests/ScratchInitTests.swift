import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// `--init scratch`: the statistics of every tensor are those ScratchInit documents (timm's DeiT
/// init plus PyTorch defaults for SSAST's own layers), every parameter is present, and a seed fixes
/// the model.
final class ScratchInitTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    struct Moments { var n: Int; var mean: Double; var std: Double; var kurtosis: Double; var maxAbs: Double }

    func moments(_ x: [Float]) -> Moments {
        let n = Double(x.count)
        let mean = x.reduce(0.0) { $0 + Double($1) } / n
        var m2 = 0.0, m4 = 0.0, mx = 0.0
        for v in x {
            let d = Double(v) - mean
            m2 += d * d; m4 += d * d * d * d; mx = max(mx, abs(Double(v)))
        }
        m2 /= n; m4 /= n
        return Moments(n: x.count, mean: mean, std: m2.squareRoot(), kurtosis: m4 / (m2 * m2), maxAbs: mx)
    }

    func make(seed: UInt64, spec: String = "scratch:dim=96,depth=2,heads=3,patch=16")
        throws -> (config: ModelConfig, tensors: [String: [Float]], layout: ParameterLayout) {
        var r = Recipe()
        r.fstride = 10; r.tstride = 10; r.targetLength = 128; r.mean = -4.5; r.std = 4.25; r.seed = seed
        let labels = LabelSet(mids: ["a", "b", "c"], names: ["A", "B", "C"])
        var rng = SplitMix64(seed: seed)
        let start = try ModelInit.load(path: spec, labels: labels, recipe: r, rng: &rng)
        let config = start.config, tensors = start.tensors, notes = start.notes
        XCTAssertTrue(notes.first?.hasPrefix("initialised from scratch") ?? false, "\(notes)")
        return (config, tensors, try ParameterLayout(config: config, deitHeadClasses: 0))
    }

    func testSpecParsing() throws {
        XCTAssertNil(try ScratchInit.parse("model.pth"))
        XCTAssertNil(try ScratchInit.parse("scratchpad.ssast"))
        XCTAssertEqual(try ScratchInit.parse("scratch"), ScratchInit.Spec())
        let s = try XCTUnwrap(try ScratchInit.parse("scratch:dim=64, depth=3,heads=4,mlp=100,patch=8"))
        XCTAssertEqual([s.dim, s.depth, s.heads, s.mlpDim, s.fshape, s.tshape], [64, 3, 4, 100, 8, 8])
        for bad in ["scratch:dim=0", "scratch:dim", "scratch:width=3", "scratch:dim=x"] {
            XCTAssertThrowsError(try ScratchInit.parse(bad), bad) { e in
                XCTAssertTrue((e as? SSASTError)?.message.contains("--init \(bad)") ?? false, "\(e)")
            }
        }
    }

    func testStatisticsMatchTheDocumentedInit() throws {
        let (config, tensors, layout) = try make(seed: 11)
        XCTAssertEqual([config.dim, config.depth, config.heads, config.mlpDim, config.fshape, config.tshape], [96, 2, 3, 384, 16, 16])
        XCTAssertEqual([config.fstride, config.tstride, config.targetLength], [10, 10, 128])
        XCTAssertEqual(config.datasetMean, -4.5); XCTAssertEqual(config.datasetStd, 4.25)
        XCTAssertEqual(config.labels, ["A", "B", "C"])
        XCTAssertEqual(config.activation, .softmax, "default loss CE")
        // Every parameter of the model, with its size, and nothing else.
        XCTAssertEqual(Set(tensors.keys), Set(layout.views.map(\.name)))
        XCTAssertTrue(layout.views.contains { $0.name == "v.dist_token" })
        for v in layout.views { XCTAssertEqual(tensors[v.name]?.count, v.count, v.name) }

        var linear: [Float] = []
        for v in layout.views {
            let x = tensors[v.name]!, m = moments(x), name = v.name
            let isNorm = name.contains("norm") || name.hasPrefix("mlp_head.0")
            if isNorm {
                // LayerNorm: weight 1, bias 0 exactly.
                XCTAssertEqual(Set(x), [name.hasSuffix(".weight") ? 1 : 0], name)
            } else if name.hasPrefix("v.patch_embed.proj") || name.hasPrefix("mlp_head.1") {
                // PyTorch's Conv2d / Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
                let bound = 1 / Double(name.hasPrefix("v.patch") ? 16 * 16 : config.dim).squareRoot()
                XCTAssertLessThanOrEqual(m.maxAbs, bound, name)
                if m.n >= 1000 {
                    XCTAssertGreaterThan(m.maxAbs, 0.99 * bound, name)
                    XCTAssertEqual(m.std, bound / 3.0.squareRoot(), accuracy: 0.02 * bound / 3.0.squareRoot(), name)
                    XCTAssertEqual(m.kurtosis, 1.8, accuracy: 0.1, "\(name): uniform")
                    XCTAssertEqual(m.mean, 0, accuracy: 4 * m.std / Double(m.n).squareRoot(), name)
                } else if m.n >= 50 {
                    XCTAssertGreaterThan(m.maxAbs, 0.5 * bound, name)
                    XCTAssertEqual(m.std, bound / 3.0.squareRoot(), accuracy: 0.3 * bound / 3.0.squareRoot(), name)
                }
            } else if name.hasSuffix(".bias") {
                XCTAssertEqual(Set(x), [0], "\(name): Linear bias 0")
            } else {
                // Tokens, pos_embed and block Linear weights: trunc_normal(std 0.02) (the ±2 cut never bites).
                let tol = m.n >= 10_000 ? 0.02 : 0.3
                XCTAssertEqual(m.std, 0.02, accuracy: 0.02 * tol, name)
                XCTAssertEqual(m.mean, 0, accuracy: 5 * 0.02 / Double(m.n).squareRoot(), name)
                XCTAssertLessThan(m.maxAbs, 0.02 * 6.5, name)
                if name.contains(".blocks.") { linear += x }
                if m.n >= 10_000 { XCTAssertEqual(m.kurtosis, 3, accuracy: 0.15, "\(name): normal, not uniform") }
            }
        }
        // All block weights pooled (2 blocks x (qkv + proj + fc1 + fc2) = 2 x 12 x 96^2 values): tight.
        let all = moments(linear)
        XCTAssertEqual(all.n, 2 * 12 * 96 * 96)
        XCTAssertEqual(all.std, 0.02, accuracy: 0.02 * 0.01)
        XCTAssertEqual(all.kurtosis, 3, accuracy: 0.06)
        XCTAssertGreaterThan(all.maxAbs, 0.02 * 3.5, "tails of a normal are present")
    }

    func testSeedFixesTheModelAndTrainerStartsFromIt() throws {
        let a = try make(seed: 5), b = try make(seed: 5), c = try make(seed: 6)
        for v in a.layout.views { XCTAssertEqual(a.tensors[v.name]!, b.tensors[v.name]!, v.name) }
        XCTAssertNotEqual(a.tensors["v.blocks.0.attn.qkv.weight"]!, c.tensors["v.blocks.0.attn.qkv.weight"]!)
        XCTAssertNotEqual(a.tensors["v.pos_embed"]!, c.tensors["v.pos_embed"]!)
        XCTAssertNotEqual(a.tensors["mlp_head.1.weight"]!, c.tensors["mlp_head.1.weight"]!)

        // The trainer with --init scratch holds exactly these values (same seed, same draw order).
        let dir = Fixtures.temporaryDirectory("scratch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/labels.csv", json = dir + "/train.json"
        try "index,mid,display_name\n0,a,A\n1,b,B\n2,c,C\n".write(toFile: csv, atomically: true, encoding: .utf8)
        try "{\"data\": [{\"wav\": \"\(Fixtures.audio("speech16k.wav"))\", \"labels\": \"a\"}]}".write(toFile: json, atomically: true, encoding: .utf8)
        var r = Recipe()
        r.fstride = 10; r.tstride = 10; r.targetLength = 128; r.mean = -4.5; r.std = 4.25; r.seed = 5
        var notes: [String] = []
        let t = try Trainer(options: TrainOptions(initPath: "scratch:dim=96,depth=2,heads=3,patch=16", trainJSON: json, valJSON: nil,
                                                  labelCSV: csv, output: dir + "/m.ssast", recipe: r), notes: &notes)
        for v in a.layout.views { XCTAssertEqual(t.model.parameter(v.name)!, a.tensors[v.name]!, v.name) }
    }
}
