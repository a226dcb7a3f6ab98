import AudioFile
import Runtime
import Screening
import TestSupport
import XCTest

/// Windows to events: thresholds, hysteresis, minimum length, times; and the screening core end to end
/// on generated audio with a stand-in model.
final class EventTests: XCTestCase {
    /// T = 128 frames (1.28 s), hop 64 frames (0.64 s), 10 ms frames: the default model's geometry.
    func windows(_ probs: [[Float]], lastPartialFrames: Int? = nil) -> [WindowResult] {
        probs.enumerated().map { i, p in
            let frames = i == probs.count - 1 ? (lastPartialFrames ?? 128) : 128
            let start = i * 64
            return WindowResult(index: i, startFrame: start, frames: frames, partial: frames < 128,
                                startS: Double(start) * 0.01, endS: (Double(start + frames - 1) * 160 + 400) / 16000,
                                logits: p, probabilities: p, rms: 0.1, rmsDB: -20, silent: false)
        }
    }

    func track(_ ws: [WindowResult], _ rules: EventRules) -> [Event] {
        let t = EventTracker(rules: rules, targetLength: 128, hopFrames: 64, secondsPerFrame: 0.01)
        var out: [Event] = []
        for w in ws { out += t.add(w).ended }
        return out + t.finish(audioEndS: ws.last!.endS)
    }

    func rules(_ labels: [String], stored: Float? = nil, _ specs: [String] = [], eventLabels: [String]? = nil,
               minEvent: Double = 0) throws -> EventRules {
        try EventRules(labels: labels, storedThreshold: stored, thresholds: specs.map { try ThresholdSpec(parsing: $0) },
                       eventLabels: eventLabels, minEventSeconds: minEvent)
    }

    /// An event late in a recording that spans two windows: each window speaks for the middle hop of
    /// its span, so windows 8 and 9 (5.12–6.42 s, 5.76–7.06 s) give 5.44–6.72 s.
    func testLateEventSpanningTwoWindows() throws {
        var p = [[Float]](repeating: [0.9, 0.1], count: 15)
        p[8] = [0.2, 0.8]; p[9] = [0.3, 0.7]
        let events = track(windows(p), try rules(["Negative", "Positive"]))
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].label, 1)
        XCTAssertEqual(events[0].startS, 5.44, accuracy: 1e-9)
        XCTAssertEqual(events[0].endS, 6.72, accuracy: 1e-9)
        XCTAssertEqual(events[0].peak, 0.8)
    }

    /// No window reaches the threshold: no event, and a two-label verdict is the first label.
    func testNoEvent() throws {
        let r = try rules(["Negative", "Positive"])
        let ws = windows([[Float]](repeating: [0.6, 0.4], count: 10))
        let events = track(ws, r)
        XCTAssertEqual(events, [])
        XCTAssertEqual(r.verdict(aggregate: Aggregate.max.combine(ws), events: events), 0)
    }

    /// The model's stored threshold applies to the second label of a two-label model; --threshold P
    /// overrides it; the verdict follows the events (never contradicts them).
    func testStoredThresholdAndVerdict() throws {
        let ws = windows([[0.9, 0.1], [0.95, 0.05], [0.9, 0.1]])
        let stored = try rules(["Noise", "Speech"], stored: 0.08)
        XCTAssertEqual(stored.thresholds, [0.5, 0.08])
        XCTAssertEqual(stored.eventLabels, [false, true])
        let e1 = track(ws, stored)
        XCTAssertEqual(e1.map(\.label), [1, 1])          // windows 0 and 2 (0.05 is below 0.8 x 0.08)
        XCTAssertEqual(stored.verdict(aggregate: Aggregate.mean.combine(ws), events: e1), 1)   // mean says Noise; the event decides
        let overridden = try rules(["Noise", "Speech"], stored: 0.08, ["0.5"])
        XCTAssertEqual(overridden.thresholds, [0.5, 0.5])
        XCTAssertEqual(track(ws, overridden), [])
    }

    /// Several labels with their own thresholds (LABEL=P beats P), and --event-labels.
    func testMultiLabelThresholds() throws {
        let labels = ["speech", "cough", "breathing", "silence"]
        let r = try rules(labels, ["0.6", "cough=0.3"])
        XCTAssertEqual(r.thresholds, [0.6, 0.3, 0.6, 0.6])
        XCTAssertEqual(r.eventLabels, [true, true, true, true])
        let ws = windows([[0.1, 0.1, 0.1, 0.7],
                          [0.1, 0.35, 0.05, 0.5],
                          [0.5, 0.4, 0.05, 0.05],
                          [0.7, 0.1, 0.1, 0.1]])
        let events = track(ws, r)
        // silence: windows 0 (0.7) and 1 (0.5 >= 0.8 x 0.6): 0–1.60 s; cough: windows 1, 2: 0.96–2.24 s; speech: window 3 to the end.
        XCTAssertEqual(events.map { labels[$0.label] }, ["silence", "cough", "speech"])
        XCTAssertEqual(events[0].endS, 1.6, accuracy: 1e-9)
        XCTAssertEqual(events[1].startS, 0.96, accuracy: 1e-9)
        XCTAssertEqual(events[1].endS, 2.24, accuracy: 1e-9)
        XCTAssertEqual(events[2].startS, 2.24, accuracy: 1e-9)
        XCTAssertEqual(events[2].endS, ws.last!.endS, accuracy: 1e-9)
        let onlyCough = try rules(labels, ["cough=0.3"], eventLabels: ["cough"])
        XCTAssertEqual(track(ws, onlyCough).map(\.label), [1])
        XCTAssertThrowsError(try rules(labels, ["sneeze=0.3"]))
        XCTAssertThrowsError(try rules(labels, eventLabels: ["sneeze"]))
        for bad in ["1.5", "-0.1", "cough=", "=0.3", "nan", "x"] { XCTAssertThrowsError(try ThresholdSpec(parsing: bad), bad) }
        XCTAssertEqual(try ThresholdSpec(parsing: "a=b=0.25"), ThresholdSpec(label: "a=b", value: 0.25))
    }

    /// Hysteresis keeps a wavering probability one event; without it the event splits. A minimum
    /// length drops single-window events.
    func testHysteresisAndMinimumLength() throws {
        let ws = windows([[0.3, 0.7], [0.55, 0.45], [0.3, 0.7], [0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.9, 0.1]])
        let events = track(ws, try rules(["n", "p"]))
        XCTAssertEqual(events.count, 2)                                     // windows 0–2, window 5
        let split = try EventRules(labels: ["n", "p"], storedThreshold: nil, hysteresis: 0)
        XCTAssertEqual(track(ws, split).count, 3)                           // windows 0, 2, 5
        XCTAssertEqual(events[0].startS, 0, accuracy: 1e-9)
        XCTAssertEqual(events[0].endS, 2.24, accuracy: 1e-9)               // windows 0..2 (0.45 >= 0.4 continues)
        let noHysteresis = track(ws, split)
        XCTAssertEqual(noHysteresis[0].endS, 0.96, accuracy: 1e-9)         // 0.45 < 0.5 ends it after window 0
        let long = track(ws, try rules(["n", "p"], minEvent: 1.0))
        XCTAssertEqual(long.count, 1)                                       // only the 2.24 s event survives
    }

    /// Evaluation decides as classify does: a two-label model's stored threshold beats the argmax.
    func testDecisionsAndScreeningCounts() throws {
        let r = try rules(["Negative", "Positive"], stored: 0.3)
        XCTAssertEqual(r.decide([0.75, 0.25]), 0)
        XCTAssertEqual(r.decide([0.6, 0.4]), 1)                              // argmax says Negative; the threshold decides
        let multi = try rules(["a", "b", "c"], ["b=0.2"])
        XCTAssertEqual(multi.decide([0.5, 0.3, 0.2]), 0)                     // more labels: the most probable
        let c = ThresholdCounts(scores: [0.9, 0.8, 0.4, 0.35, 0.3, 0.1, 0.05], positive: [true, true, true, false, false, false, true],
                                threshold: 0.35)
        XCTAssertEqual(c, { var e = ThresholdCounts(scores: [], positive: [], threshold: 0); e.tp = 3; e.fn = 1; e.fp = 1; e.tn = 2; return e }())
        XCTAssertEqual(c.sensitivity, 0.75); XCTAssertEqual(c.specificity, 2.0 / 3)
        XCTAssertEqual(c.ppv, 0.75); XCTAssertEqual(c.npv, 2.0 / 3)
        XCTAssertTrue(ThresholdCounts(scores: [0.1], positive: [false], threshold: 0.5).sensitivity.isNaN)
        XCTAssertEqual(confusionMatrix(truth: [0, 0, 1, 2, 2], decided: [0, 1, 1, 2, 0], classes: 3), [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    }

    // MARK: - The core end to end, with generated audio and a stand-in model

    /// A stand-in model: P(burst) = the fraction of the window's frames that are loud.
    func burstClassifier() -> ClosureClassifier {
        ClosureClassifier(targetLength: 128, labels: ["background", "burst"], datasetMean: -8.2, datasetStd: 6.15) { x in
            var loud = 0
            for t in 0..<128 {
                let f = x + t * 128
                if f[0] == f[1] && f[5] == f[77] && f[0] == f[127] { continue }   // a padding frame (constant)
                var m: Float = 0
                for b in 0..<128 { m += x[t * 128 + b] }
                if m / 128 > 0.45 { loud += 1 }
            }
            let f = Float(loud) / 128
            return [logf(1 - f + 1e-6), logf(f + 1e-6)]
        }
    }

    /// 10 s of faint noise with a loud burst at 6.0–7.3 s; `length` cuts it.
    func recording(length: Double = 10, burst: Bool = true) -> [Float] {
        var rng = TestNoise(seed: 7)
        return (0..<Int(length * 16000)).map { i in
            let t = Double(i) / 16000
            let a: Float = burst && t >= 6.0 && t < 7.3 ? 0.3 : 0.001
            return a * rng.uniform()
        }
    }

    func screen(_ samples: [Float], hop: Double? = nil, firstWindow: Bool = false) throws -> ScreeningResult {
        let c = burstClassifier()
        let setup = try ScreeningSetup(classifier: c, settings: .ssast, rules: try rules(c.labels), hopSeconds: hop,
                                       firstWindowOnly: firstWindow)
        return try setup.screen(try BufferSource(samples: samples, sampleRate: 16000, channels: 1))
    }

    func testLateBurstFoundWithItsTime() throws {
        let r = try screen(recording())
        XCTAssertEqual(r.durationS, 10, accuracy: 1e-9)
        XCTAssertEqual(r.windows.count, 15)                       // 0, 0.64, ..., 8.32, then the last 128 of 998 frames
        XCTAssertEqual(r.windows.last!.startFrame, 870)
        XCTAssertFalse(r.windows.contains(where: \.partial))
        XCTAssertEqual(r.events.count, 1, "\(r.events)")
        let e = r.events[0]
        XCTAssertEqual(e.label, 1)
        // Windows at 5.76 and 6.40 s hold mostly burst: 6.08–7.36 s (the burst is 6.0–7.3 s).
        XCTAssertEqual(e.startS, 6.08, accuracy: 1e-9)
        XCTAssertEqual(e.endS, 7.36, accuracy: 1e-9)
        XCTAssertGreaterThan(e.peak, 0.75)
        XCTAssertEqual(r.label, 1)
    }

    func testQuietRecordingHasNoEvent() throws {
        let r = try screen(recording(burst: false))
        XCTAssertEqual(r.events, [])
        XCTAssertEqual(r.label, 0)
        XCTAssertLessThan(Aggregate.max.combine(r.windows)[1], 0.01)
    }

    /// The ragged end: a recording that stops 0.3 s into the burst. The last window is aligned to the
    /// end (no padding), so it sees 0.3 s of burst in 1.28 s and raises nothing; the first-window cut
    /// (SSAST's) sees only the first 1.28 s.
    func testRaggedEnd() throws {
        let r = try screen(recording(length: 6.3))
        XCTAssertEqual(r.windows.last!.frames, 128)
        XCTAssertEqual(r.windows.last!.startS, 6.3 - 1.28 - 0.015, accuracy: 0.011)
        XCTAssertEqual(r.events, [])
        // The same stretch zero-padded (SSAST's padding, what a padded final window would see) is not
        // what the screener scores: a short clip alone is the only padded window.
        let short = try screen(Array(recording(length: 6.8).suffix(16000)))   // 1 s: 0.8 s of it burst
        XCTAssertEqual(short.windows.count, 1)
        XCTAssertTrue(short.windows[0].partial)
        XCTAssertEqual(short.windows[0].frames, 98)
        XCTAssertEqual(short.events.count, 1)                        // a clip shorter than a window may raise an event
        let first = try screen(recording(), firstWindow: true)
        XCTAssertEqual(first.windows.count, 1)
        XCTAssertEqual(first.windows[0].startFrame, 0)
        XCTAssertEqual(first.events, [])
    }
}

/// Deterministic test noise: a 64-bit LCG's top bits, uniform in [-1, 1).
struct TestNoise {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
}
