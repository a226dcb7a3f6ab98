import Foundation
import XCTest
import Train

/// Validation statistics follow SSAST's traintest.validate(): per-class ROC-AUC and AP rank
/// sigmoid(logit) even for CE-trained models, while the reported scores and the two-class
/// threshold block use the model's own activation (softmax for CE), as `ssast classify` does.
final class EvalActivationTests: XCTestCase {
    // Two classes; the orderings of sigmoid(l1) and softmax P(1) = sigmoid(l1 - l0) differ.
    let logits: [Float] = [0, 1,   3, 2,   -2, -1,   -3, 0.5]
    let targets: [Float] = [0, 1,   1, 0,   0, 1,     1, 0]

    func testCERanksSigmoidOutputsLikeTheOriginal() {
        let (s, scores) = Metrics.evaluate(logits: logits, targets: targets, classes: 2, kind: .ce, loss: 0.25)
        // By hand: sigmoid(l1) = .731 .881 .269 .622, positives rows 0 and 2 -> 1 of 4 pairs ordered.
        XCTAssertEqual(s.auc[1], 0.25, accuracy: 1e-12)
        XCTAssertEqual(s.ap[1], 0.5, accuracy: 1e-12)
        // Class 0: sigmoid(l0) = .5 .953 .119 .047, positives rows 1 and 3 -> 2 of 4 pairs.
        XCTAssertEqual(s.auc[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.mAUC, 0.375, accuracy: 1e-12)
        // Softmax would have ranked class 1 as .731 .269 .731 .971: AUC 0.5, AP 2/3.
        let softAUC = Metrics.rocAUC(scores: (0..<4).map { Double(scores[$0 * 2 + 1]) }, positive: [true, false, true, false])
        XCTAssertEqual(softAUC, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.accuracy, 0.75, accuracy: 1e-12)   // argmax: the last row is wrong
        XCTAssertEqual(s.loss, 0.25)
        // Scores (predictions CSV, threshold) are softmax probabilities, rows summing to 1.
        XCTAssertEqual(scores, Metrics.softmax(logits, classes: 2))
        XCTAssertEqual(Double(scores[7]), 1 / (1 + exp(-3.5)), accuracy: 1e-6)
        let b = s.binary!
        XCTAssertEqual(b.sensitivityAt05, 1, accuracy: 1e-12)
        XCTAssertEqual(b.specificityAt05, 0.5, accuracy: 1e-12)  // P(1) = .971 >= 0.5 for a negative
    }

    func testBCEUsesSigmoidThroughout() {
        let (s, scores) = Metrics.evaluate(logits: logits, targets: targets, classes: 2, kind: .bce, loss: 0)
        XCTAssertEqual(scores, Metrics.sigmoid(logits))
        XCTAssertEqual(s.auc[1], 0.25, accuracy: 1e-12)
        // At 0.5 on sigmoid(l1): positives .731 (yes) .269 (no); negatives .881 .622 both above.
        XCTAssertEqual(s.binary!.sensitivityAt05, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.binary!.specificityAt05, 0, accuracy: 1e-12)
    }
}
