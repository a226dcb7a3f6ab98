/// The Kaldi fbank configuration, as `torchaudio.compliance.kaldi.fbank` takes it, with the values
/// SSAST uses as defaults. Lengths are in samples (SSAST's 25 ms / 10 ms at 16 kHz) so that no
/// millisecond-to-sample rounding is hidden in here.
///
/// The numeric encoding (`fields`, `init(fields:)`) is what the weight-file header stores, so a
/// model carries the features it was trained on. Keys are stable; add new ones, never rename.
public struct FbankSettings: Equatable, Sendable {
    /// Window shapes, numbered for the encoding. Only those the front end implements are listed.
    public enum Window: Int, Sendable {
        case hanning = 1      // 0.5 - 0.5 cos(2 pi j / (N - 1)), symmetric (torch.hann_window periodic=False)
        case povey = 2        // hanning ^ 0.85 (Kaldi's default)
        case hamming = 3      // 0.54 - 0.46 cos(2 pi j / (N - 1))
        case rectangular = 4
    }

    public var sampleRate: Int = 16000
    public var frameLength: Int = 400
    public var frameShift: Int = 160
    public var melBins: Int = 128
    public var lowFreq: Double = 20
    /// Upper edge of the mel filters in Hz; <= 0 means offset from Nyquist, as in torchaudio
    /// (SSAST passes 0, i.e. 8000 Hz at 16 kHz; stored resolved so the header is explicit).
    public var highFreq: Double = 8000
    public var preemphasis: Double = 0.97
    public var window: Window = .hanning
    public var removeDCOffset: Bool = true
    /// FFT size: the frame zero-padded to a power of two (torchaudio round_to_power_of_two).
    public var paddedLength: Int = 512
    /// log(max(energy, logFloor)); torchaudio uses float32 epsilon.
    public var logFloor: Double = 1.1920928955078125e-07
    public var snipEdges: Bool = true
    public var htkCompat: Bool = true
    public var useEnergy: Bool = false
    public var dither: Double = 0
    /// SSAST subtracts the whole clip's mean from the waveform before the fbank (dataloader.py).
    public var subtractClipMean: Bool = true

    /// SSAST's settings (dataloader.py): 128 bins, hanning, no dither, htk_compat, no energy.
    public static let ssast = FbankSettings()

    public init() {}

    /// The upper mel edge in Hz after resolving "<= 0 means offset from Nyquist".
    public var effectiveHighFreq: Double { highFreq <= 0 ? highFreq + Double(sampleRate) / 2 : highFreq }
    /// Output values per frame.
    public var featureCount: Int { melBins }

    /// Stable numeric encoding: (key, value) pairs in a fixed order. Booleans are 0/1, the window
    /// its raw value. The weight file stores these as "fbank.<key>" in its header.
    public var fields: [(String, Double)] {
        [("sample_rate", Double(sampleRate)), ("frame_length", Double(frameLength)),
         ("frame_shift", Double(frameShift)), ("num_mel_bins", Double(melBins)),
         ("low_freq", lowFreq), ("high_freq", highFreq), ("preemphasis", preemphasis),
         ("window", Double(window.rawValue)), ("remove_dc_offset", removeDCOffset ? 1 : 0),
         ("padded_length", Double(paddedLength)), ("log_floor", logFloor),
         ("snip_edges", snipEdges ? 1 : 0), ("htk_compat", htkCompat ? 1 : 0),
         ("use_energy", useEnergy ? 1 : 0), ("dither", dither),
         ("subtract_clip_mean", subtractClipMean ? 1 : 0)]
    }

    /// Decodes `fields` (keys with or without a "fbank." prefix). Missing keys keep SSAST's
    /// defaults (files written before a key existed); unknown keys or non-integral counts are
    /// errors, since they would mean features this code cannot reproduce. Validates the result.
    public init(fields: [String: Double]) throws(SSASTError) {
        self.init()
        for (rawKey, v) in fields {
            let key = rawKey.hasPrefix("fbank.") ? String(rawKey.dropFirst(6)) : rawKey
            func int() throws(SSASTError) -> Int {
                guard v.isFinite, v == v.rounded(), abs(v) < 1e9 else {
                    throw SSASTError("fbank setting \(key) = \(v): expected an integer")
                }
                return Int(v)
            }
            func bool() throws(SSASTError) -> Bool {
                guard v == 0 || v == 1 else { throw SSASTError("fbank setting \(key) = \(v): expected 0 or 1") }
                return v == 1
            }
            switch key {
            case "sample_rate": sampleRate = try int()
            case "frame_length": frameLength = try int()
            case "frame_shift": frameShift = try int()
            case "num_mel_bins": melBins = try int()
            case "low_freq": lowFreq = v
            case "high_freq": highFreq = v
            case "preemphasis": preemphasis = v
            case "window":
                guard let w = Window(rawValue: try int()) else {
                    throw SSASTError("fbank setting window = \(v): unknown window type")
                }
                window = w
            case "remove_dc_offset": removeDCOffset = try bool()
            case "padded_length": paddedLength = try int()
            case "log_floor": logFloor = v
            case "snip_edges": snipEdges = try bool()
            case "htk_compat": htkCompat = try bool()
            case "use_energy": useEnergy = try bool()
            case "dither": dither = v
            case "subtract_clip_mean": subtractClipMean = try bool()
            default: throw SSASTError("unknown fbank setting '\(rawKey)' (written by a newer version?)")
            }
        }
        try validate()
    }

    /// Throws for combinations the front end does not implement or that torchaudio rejects.
    public func validate() throws(SSASTError) {
        func bad(_ why: String) -> SSASTError { SSASTError("unsupported fbank settings: \(why)") }
        guard sampleRate > 0 else { throw bad("sample rate \(sampleRate) must be positive") }
        guard frameLength >= 2 else { throw bad("frame length \(frameLength) samples must be >= 2") }
        guard frameShift > 0 else { throw bad("frame shift \(frameShift) must be positive") }
        guard paddedLength >= frameLength, paddedLength >= 8, paddedLength <= 1 << 16,
              paddedLength & (paddedLength - 1) == 0 else {
            throw bad("padded FFT length \(paddedLength) must be a power of two in 8...65536 and >= the frame length \(frameLength)")
        }
        guard melBins > 3 else { throw bad("num_mel_bins \(melBins) must be > 3") }
        let nyquist = Double(sampleRate) / 2, high = effectiveHighFreq
        guard lowFreq >= 0, lowFreq < nyquist, high > 0, high <= nyquist, lowFreq < high else {
            throw bad("mel range \(lowFreq)...\(high) Hz must lie within 0...\(nyquist) Hz")
        }
        guard preemphasis >= 0, preemphasis <= 1 else { throw bad("preemphasis \(preemphasis) must be in [0, 1]") }
        // Applied in float32: a floor below the smallest normal float would become 0 and give log(0) = -inf.
        guard logFloor >= Double(Float.leastNormalMagnitude), logFloor <= 1 else {
            throw bad("log floor (fbank.log_floor) \(logFloor) must be in [\(Float.leastNormalMagnitude), 1]")
        }
        guard snipEdges else { throw bad("snip_edges = false (reflected edges) is not implemented") }
        guard !useEnergy else { throw bad("use_energy = true is not implemented (SSAST does not use it)") }
        guard dither == 0 else { throw bad("dither \(dither) is not implemented (SSAST uses 0)") }
    }
}
