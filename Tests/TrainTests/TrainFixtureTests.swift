import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// Two full fine-tuning steps of `tiny-patch-2block-train` against PyTorch (fixtures `train`):
/// loss, logits, EVERY gradient (max |diff| <= 1e-3 x max |grad| per tensor), params after Adam.
final class TrainFixtureTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    func testTwoStepsMatchPyTorch() throws {
        let manifest = Fixtures.manifest
        let train = try XCTUnwrap(manifest["train"] as? [String: Any])
        let modelInfo = try XCTUnwrap((manifest["models"] as? [String: Any])?["tiny-patch-2block-train.pth"] as? [String: Any])
        var o = ConvertOptions()
        o.fstride = modelInfo["fstride"] as? Int
        o.tstride = modelInfo["tstride"] as? Int
        o.targetLength = modelInfo["input_tdim"] as? Int
        o.mean = (modelInfo["dataset_mean"] as? Double).map(Float.init)
        o.std = (modelInfo["dataset_std"] as? Double).map(Float.init)
        let path = Fixtures.model("tiny-patch-2block-train.pth")
        let ck = try SSASTConverter.read(path, options: o)
        XCTAssertEqual(ck.config.depth, 2)

        // The DeiT heads are in PyTorch's parameter list too; load them from the raw checkpoint.
        let raw = try Checkpoint.load(path)
        let headW = try XCTUnwrap(raw["module.v.head.weight"])
        let layout = try ParameterLayout(config: ck.config, deitHeadClasses: headW.shape[0])
        let model = try TrainModel(layout: layout, engine: try Engine(threads: 2), maxBatch: 4)
        for v in layout.views {
            if let t = ck.tensors[v.name] { try model.setParameter(v.name, t.values) }
            else { try model.setParameter(v.name, try XCTUnwrap(raw["module." + v.name]).floats()) }
        }
        let deitBefore = model.parameter("v.head.weight")!

        let inputs = try Fixtures.npy(train["inputs"] as! String)
        XCTAssertEqual(inputs.shape, [4, 128, 128])
        let targets = (train["targets"] as! [Int])
        let nl = ck.config.labels.count
        var labels = [Float](repeating: 0, count: targets.count * nl)
        for (b, t) in targets.enumerated() { labels[b * nl + t] = 1 }
        let adam = Adam(layout: layout, lr: 1e-4, betas: (0.95, 0.999), eps: 1e-8, weightDecay: 5e-7)

        let steps = train["steps"] as! [[String: Any]]
        XCTAssertEqual(steps.count, 2)
        for (s, step) in steps.enumerated() {
            model.zeroGrad()
            let logits = try model.forward(inputs.data, batch: targets.count)
            let loss = try model.loss(labels: labels, kind: .ce)
            model.backward()

            let expLoss = Float(step["loss"] as! Double)
            print("step \(s): loss \(loss) expected \(expLoss) rel \(abs(loss - expLoss) / expLoss)")
            XCTAssertLessThan(abs(loss - expLoss) / expLoss, 1e-4, "step \(s) loss")
            let expLogits = try Fixtures.npy(step["logits"] as! String)
            let dl = maxAbsDiff(logits, expLogits.data)
            print("step \(s): logits max abs diff \(dl)")
            XCTAssertLessThan(dl, 1e-3, "step \(s) logits")

            let grads = step["grads"] as! [String: String]
            XCTAssertEqual(Set(grads.keys), Set(layout.views.map(\.name)), "fixture gradient list = our parameter list")
            for v in layout.views {
                let ours = try XCTUnwrap(model.gradient(v.name))
                let ref = try Fixtures.npy(try XCTUnwrap(grads[v.name]))
                if !v.inGraph {
                    // PyTorch stores None (saved as a NaN placeholder): no gradient flows there.
                    XCTAssertTrue(ref.data.allSatisfy { $0.isNaN }, "\(v.name): expected a None gradient in the fixture")
                    XCTAssertEqual(ours.map { abs($0) }.max(), 0, "\(v.name) gradient must be zero")
                    continue
                }
                XCTAssertEqual(ref.count, v.count, v.name)
                let scale = ref.data.map { abs($0) }.max()!
                let ratio = maxAbsDiff(ours, ref.data) / scale
                print(String(format: "step %d grad %-32@ max|g| %.3e  worst diff/max %.2e", s, v.name as NSString, scale, ratio))
                XCTAssertLessThanOrEqual(ratio, 1e-3, "step \(s) gradient \(v.name)")
            }

            adam.update(params: model.params, grads: model.grads)
            let after = step["params_after"] as! [String: String]
            for (name, file) in after.sorted(by: { $0.key < $1.key }) {
                let ref = try Fixtures.npy(file)
                let d = maxAbsDiff(try XCTUnwrap(model.parameter(name)), ref.data)
                print("step \(s): param after \(name) max abs diff \(d)")
                XCTAssertLessThan(d, 1e-6, "step \(s) param after \(name)")
            }
        }
        // Adam skipped the DeiT heads (grad None in PyTorch): weight decay did not move them.
        XCTAssertEqual(model.parameter("v.head.weight")!, deitBefore)
    }
}
