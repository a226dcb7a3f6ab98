import Glibc
import Runtime

/// What the screener needs from a model: its input geometry and normalisation, and one call that maps
/// a normalised [targetLength, melBins] input (time-major, as SSAST's dataloader yields it) to logits.
public protocol WindowClassifier: AnyObject {
    var targetLength: Int { get }
    var melBins: Int { get }
    var labels: [String] { get }
    var datasetMean: Float { get }
    var datasetStd: Float { get }
    func logits(normalisedInput: UnsafePointer<Float>) throws -> [Float]
    func probabilities(_ logits: [Float]) -> [Float]
}

/// A classifier from a closure (for tests, or any model outside this project).
public final class ClosureClassifier: WindowClassifier {
    public let targetLength: Int, melBins: Int
    public let labels: [String]
    public let datasetMean: Float, datasetStd: Float
    public let activation: ModelConfig.Activation
    private let call: (UnsafePointer<Float>) throws -> [Float]

    public init(targetLength: Int, melBins: Int = 128, labels: [String], datasetMean: Float, datasetStd: Float,
                activation: ModelConfig.Activation = .softmax, call: @escaping (UnsafePointer<Float>) throws -> [Float]) {
        self.targetLength = targetLength; self.melBins = melBins; self.labels = labels
        self.datasetMean = datasetMean; self.datasetStd = datasetStd; self.activation = activation; self.call = call
    }

    public func logits(normalisedInput: UnsafePointer<Float>) throws -> [Float] { try call(normalisedInput) }

    public func probabilities(_ logits: [Float]) -> [Float] { activation.probabilities(logits) }
}

/// One scored (or gated) window.
public struct WindowResult: Sendable {
    public var index: Int
    /// First fbank frame of the window; the window covers frames [startFrame, startFrame + frames).
    public var startFrame: Int
    /// Real frames in the window (targetLength except a zero-padded final window).
    public var frames: Int
    /// Fewer real frames than the model's length: the rest is zero padding (the ragged end).
    public var partial: Bool
    /// Stream time (16 kHz samples / 16000) of the first and one past the last sample the frames read.
    public var startS: Double
    public var endS: Double
    public var logits: [Float]
    public var probabilities: [Float]
    /// Root mean square of the window's samples (linear, full scale 1) and in dBFS.
    public var rms: Float
    public var rmsDB: Float
    /// Below the energy gate: not scored, logits and probabilities empty.
    public var silent: Bool
    /// Source losses so far (filled by `ScreeningSession`).
    public var xruns: Int = 0
    public var droppedFrames: Int = 0
    /// Seconds from the arrival of the window's last sample to the result (filled by `ScreeningSession`).
    public var latencyS: Double = 0
    /// Seconds spent in the model call.
    public var modelS: Double = 0

    public init(index: Int, startFrame: Int, frames: Int, partial: Bool, startS: Double, endS: Double,
                logits: [Float], probabilities: [Float], rms: Float, rmsDB: Float, silent: Bool) {
        self.index = index; self.startFrame = startFrame; self.frames = frames; self.partial = partial
        self.startS = startS; self.endS = endS; self.logits = logits; self.probabilities = probabilities
        self.rms = rms; self.rmsDB = rmsDB; self.silent = silent
    }

    /// Index of the most probable label (nil for a gated window).
    public var top: Int? { probabilities.indices.max { probabilities[$0] < probabilities[$1] } }
}

/// Sliding-window screener over a 16 kHz mono stream.
///
/// Windows are `targetLength` fbank frames, starting every `hopFrames` frames. The fbank is computed
/// incrementally (`FbankStream`: every frame exactly once, whatever the chunking) into a ring of the
/// last `targetLength` frames; a window is assembled, normalised ((x - mean) / (2 std)) and scored as
/// soon as its last frame exists. At the end of the stream, frames not covered by a window get one
/// final window over the last `targetLength` frames; a stream shorter than one window gets one window
/// zero-padded like SSAST's dataloader pads a short clip (equal to classifying the whole clip).
public final class Screener {
    public let classifier: WindowClassifier
    public let hopFrames: Int
    /// Windows whose RMS is below this (dBFS) are reported silent and not scored; nil = score all.
    public let gateDB: Float?
    public let settings: FbankSettings
    private let fbank: FbankStream
    private let T: Int, bins: Int
    private var frameRing: [Float]              // T frames x bins, frame j at slot j % T
    private var input: [Float]                   // one assembled, normalised window
    private var framesTotal = 0
    private var nextStart = 0                    // first frame of the next window
    private var lastEnd = 0                      // one past the last frame of the last full window
    private var windowsEmitted = 0
    // Per-frame-shift energy: chunk c = samples [c*shift, (c+1)*shift), slot c % energyCap.
    private var energy: [Double]
    private let energyCap: Int
    private var samplesIn = 0
    private var chunkAcc: Double = 0
    private var newFrames: [Float] = []
    private static let sliceSamples = 1600       // push at most this many samples at once (bounds the energy ring)

    public init(classifier: WindowClassifier, hopFrames: Int = 100, gateDB: Float? = nil,
                settings: FbankSettings = .ssast) throws {
        guard classifier.targetLength >= 1 else { throw SSASTError("screener: target length must be positive") }
        guard hopFrames >= 1 else { throw SSASTError("screener: hop must be at least one frame (10 ms)") }
        guard classifier.melBins == settings.melBins else {
            throw SSASTError("screener: the model takes \(classifier.melBins) mel bins, the fbank makes \(settings.melBins)")
        }
        guard classifier.datasetStd > 0, classifier.datasetStd.isFinite else {
            throw SSASTError("screener: dataset std \(classifier.datasetStd) must be positive")
        }
        self.classifier = classifier
        self.hopFrames = hopFrames
        self.gateDB = gateDB
        self.settings = settings
        fbank = try FbankStream(settings: settings)
        T = classifier.targetLength
        bins = settings.melBins
        frameRing = [Float](repeating: 0, count: T * bins)
        input = [Float](repeating: 0, count: T * bins)
        energyCap = T + Screener.sliceSamples / max(1, settings.frameShift) + 8
        energy = [Double](repeating: 0, count: energyCap)
    }

    /// Frames computed so far.
    public var frameCount: Int { framesTotal }
    /// 16 kHz samples consumed so far.
    public var sampleCount: Int { samplesIn }

    /// Feeds 16 kHz mono samples; `emit` gets every window completed by them, in order.
    public func push(_ samples: [Float], emit: (WindowResult) throws -> Void) throws {
        var i = 0
        while i < samples.count {
            let n = min(Screener.sliceSamples, samples.count - i)
            let slice = samples[i..<(i + n)]
            accumulateEnergy(slice)
            newFrames.removeAll(keepingCapacity: true)
            let k = fbank.push(slice, into: &newFrames)
            for f in 0..<k {
                let slot = (framesTotal % T) * bins
                frameRing.withUnsafeMutableBufferPointer { r in
                    newFrames.withUnsafeBufferPointer { nf in
                        (r.baseAddress! + slot).update(from: nf.baseAddress! + f * bins, count: bins)
                    }
                }
                framesTotal += 1
                if framesTotal == nextStart + T {
                    try emit(scoreWindow(start: nextStart, frames: T))
                    lastEnd = nextStart + T
                    nextStart += hopFrames
                }
            }
            i += n
        }
    }

    /// Ends the stream: frames no window covered get one last window (the ragged end). When the stream
    /// held at least one window, it is the last `targetLength` frames, aligned to the end, so the model
    /// sees only real audio; a shorter stream is one window zero-padded as SSAST pads a short clip.
    public func finish(emit: (WindowResult) throws -> Void) throws {
        guard framesTotal > lastEnd else { return }
        let start = framesTotal >= T ? framesTotal - T : 0
        try emit(scoreWindow(start: start, frames: framesTotal - start))
        lastEnd = framesTotal
        nextStart = framesTotal - T + hopFrames
    }

    private func accumulateEnergy(_ s: ArraySlice<Float>) {
        let shift = settings.frameShift
        for x in s {
            chunkAcc += Double(x) * Double(x)
            samplesIn += 1
            if samplesIn % shift == 0 {
                energy[(samplesIn / shift - 1) % energyCap] = chunkAcc
                chunkAcc = 0
            }
        }
    }

    /// RMS over the frame-shift chunks [start, start + frames) that are complete: every sample the
    /// window's frames start on (the last frame's extra 240 samples are left out; a level, not a feature).
    private func windowRMS(start: Int, frames: Int) -> Float {
        let complete = samplesIn / settings.frameShift
        let end = min(start + frames, complete)
        guard end > start else { return 0 }
        var sum = 0.0
        for c in start..<end { sum += energy[c % energyCap] }
        return Float((sum / Double((end - start) * settings.frameShift)).squareRoot())
    }

    private func scoreWindow(start: Int, frames: Int) throws -> WindowResult {
        let rms = windowRMS(start: start, frames: frames)
        let db = rms > 0 ? 20 * log10f(rms) : -Float.infinity
        let shift = Double(settings.frameShift), rate = Double(settings.sampleRate)
        var r = WindowResult(index: windowsEmitted, startFrame: start, frames: frames, partial: frames < T,
                             startS: Double(start) * shift / rate,
                             endS: (Double(start + frames - 1) * shift + Double(settings.frameLength)) / rate,
                             logits: [], probabilities: [], rms: rms, rmsDB: db, silent: false)
        windowsEmitted += 1
        if let gateDB, db < gateDB {
            r.silent = true
            return r
        }
        // Frames [start, start + frames) in time order from the ring, prepared as every model input is.
        let prep = InputPreparation(targetLength: T, bins: bins, mean: classifier.datasetMean, std: classifier.datasetStd)
        frameRing.withUnsafeBufferPointer { ring in
            input.withUnsafeMutableBufferPointer { inp in
                prep.fill(inp.baseAddress!, frames: frames) { ring.baseAddress! + ((start + $0) % T) * bins }
            }
        }
        let t0 = monotonicTime()
        r.logits = try input.withUnsafeBufferPointer { try classifier.logits(normalisedInput: $0.baseAddress!) }
        r.modelS = monotonicTime() - t0
        r.probabilities = classifier.probabilities(r.logits)
        return r
    }
}
