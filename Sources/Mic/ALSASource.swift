import CALSA
import Glibc
import Runtime
import Support

/// Live capture from an ALSA PCM device.
///
/// Asks for the requested rate/channels (16 kHz mono by default) and S16_LE (else FLOAT_LE, S32_LE,
/// S24_LE, U8) but accepts whatever the device settles on (`set_rate_near`, `set_channels_near`):
/// `sampleRate`/`channels` report the negotiated values and the pipeline downmixes and resamples.
/// A capture pthread reads period-sized blocks and pushes them into a `FrameRing`; the consumer's
/// `read` takes from the ring. Overruns (-EPIPE) are recovered with `snd_pcm_recover` and counted.
public final class ALSASource: AudioSource {
    public struct Options {
        public var device: String = "default"
        public var rate: Int = 16000
        public var channels: Int = 1
        /// How much audio the ring holds before it drops the oldest (or blocks, see `policy`).
        public var ringSeconds: Double = 4
        public var policy: FrameRing.OverflowPolicy = .dropOldest
        /// ALSA period: the block the capture thread reads at once.
        public var periodFrames: Int = 1024
        /// An ALSA configuration (asoundrc syntax) to open the device from instead of the system one
        /// (`snd_pcm_open_lconf`): lets tests define a fixture PCM without touching HOME.
        public var configText: String? = nil
        public init() {}
    }

    public let sampleRate: Int
    public let channels: Int
    public let encoding: SampleEncoding
    public let deviceName: String
    public let periodFrames: Int
    private let core: CaptureCore

    public init(_ options: Options = Options()) throws {
        guard options.rate > 0, options.rate <= 768_000 else { throw SSASTError("capture rate must be 1..768000 Hz (got \(options.rate))") }
        guard options.channels > 0, options.channels <= 64 else { throw SSASTError("capture channels must be 1..64 (got \(options.channels))") }
        let device = options.device
        // With no sound card at all, ALSA complains about each configured PCM on the way to the error
        // below, which says the same in one line (and `ssast listen` adds why): quiet until it is open.
        routeALSAMessages(quiet: options.configText == nil && listSoundCards().isEmpty)
        var config: OpaquePointer? = nil
        var pcm: OpaquePointer? = nil
        var ok = false
        defer {
            if !ok {
                if let pcm { snd_pcm_close(pcm) }
                if let config { snd_config_delete(config) }
            }
        }
        func fail(_ what: String, _ err: Int32) -> SSASTError {
            SSASTError("ALSA device '\(device)': \(what): \(alsaMessage(err))")
        }

        var err: Int32
        if let text = options.configText {
            err = snd_config_top(&config)
            if err < 0 { throw fail("cannot create a configuration", err) }
            var input: OpaquePointer? = nil
            let bytes = Array(text.utf8)
            err = bytes.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { snd_input_buffer_open(&input, $0.baseAddress, buf.count) }
            }
            if err < 0 { throw fail("cannot read the configuration text", err) }
            err = snd_config_load(config, input)
            snd_input_close(input)
            if err < 0 { throw fail("the configuration text does not parse", err) }
            err = snd_pcm_open_lconf(&pcm, device, SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK, config)
        } else {
            err = snd_pcm_open(&pcm, device, SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK)
        }
        guard err >= 0, let pcm else {
            throw SSASTError("cannot open ALSA capture device '\(device)': \(alsaMessage(err)). "
                             + "Run `ssast devices` to list capture devices (e.g. default, plughw:CARD=X,DEV=0).")
        }
        routeALSAMessages()

        var hw: OpaquePointer? = nil
        err = snd_pcm_hw_params_malloc(&hw)
        guard err >= 0, let hw else { throw fail("out of memory for hardware parameters", err) }
        defer { snd_pcm_hw_params_free(hw) }
        err = snd_pcm_hw_params_any(pcm, hw)
        if err < 0 { throw fail("cannot query its capabilities", err) }
        err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)
        if err < 0 { throw fail("interleaved read access is not supported", err) }

        let preference: [(snd_pcm_format_t, SampleEncoding)] = [
            (SND_PCM_FORMAT_S16_LE, .s16le), (SND_PCM_FORMAT_FLOAT_LE, .f32le), (SND_PCM_FORMAT_S32_LE, .s32le),
            (SND_PCM_FORMAT_S24_LE, .s24le), (SND_PCM_FORMAT_U8, .u8),
        ]
        guard let chosen = preference.first(where: { snd_pcm_hw_params_test_format(pcm, hw, $0.0) == 0 }) else {
            throw SSASTError("ALSA device '\(device)' offers none of S16_LE, FLOAT_LE, S32_LE, S24_LE, U8; "
                             + "use a plughw: or default device, which convert formats")
        }
        err = snd_pcm_hw_params_set_format(pcm, hw, chosen.0)
        if err < 0 { throw fail("cannot set sample format", err) }

        var ch = UInt32(options.channels)
        err = snd_pcm_hw_params_set_channels_near(pcm, hw, &ch)
        if err < 0 { throw fail("no usable channel count", err) }
        var rate = UInt32(options.rate)
        var dir: Int32 = 0
        err = snd_pcm_hw_params_set_rate_near(pcm, hw, &rate, &dir)
        if err < 0 { throw fail("no usable sample rate", err) }
        var period = snd_pcm_uframes_t(max(32, options.periodFrames))
        dir = 0
        err = snd_pcm_hw_params_set_period_size_near(pcm, hw, &period, &dir)
        if err < 0 { throw fail("no usable period size", err) }
        var bufferFrames = period * 8
        err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &bufferFrames)
        if err < 0 { throw fail("no usable buffer size", err) }
        err = snd_pcm_hw_params(pcm, hw)
        if err < 0 { throw fail("cannot apply the hardware parameters", err) }

        // Read back what the device settled on.
        _ = snd_pcm_hw_params_get_channels(hw, &ch)
        dir = 0
        _ = snd_pcm_hw_params_get_rate(hw, &rate, &dir)
        dir = 0
        _ = snd_pcm_hw_params_get_period_size(hw, &period, &dir)
        guard ch >= 1, ch <= 64, rate >= 1000, rate <= 768_000, period >= 1 else {
            throw SSASTError("ALSA device '\(device)' negotiated an unusable format: \(rate) Hz, \(ch) channels")
        }
        err = snd_pcm_prepare(pcm)
        if err < 0 { throw fail("cannot prepare the stream", err) }

        sampleRate = Int(rate)
        channels = Int(ch)
        encoding = chosen.1
        deviceName = device
        periodFrames = Int(period)
        let ringFrames = max(Int(period) * 2, Int(options.ringSeconds * Double(rate)))
        let ring = FrameRing(channels: Int(ch), capacityFrames: ringFrames, policy: options.policy)
        core = CaptureCore(pcm: pcm, config: config, ring: ring, encoding: chosen.1, channels: Int(ch), period: Int(period))
        ok = true   // core owns pcm and config now
        try core.start()
    }

    deinit { core.stop() }

    public var description: String {
        "ALSA \(deviceName): \(sampleRate) Hz, \(channels) ch, \(encoding.rawValue), period \(periodFrames)"
    }

    public func read(into buffer: inout [Float]) throws -> Int {
        let maxFrames = buffer.count / channels
        guard maxFrames > 0 else { throw SSASTError("read buffer smaller than one frame (\(channels) channels)") }
        while true {
            let got = buffer.withUnsafeMutableBufferPointer { core.ring.read(into: $0.baseAddress!, maxFrames: maxFrames, timeout: 0.1) }
            if let got {
                if got == 0, let failure = core.failure { throw failure }
                return got
            }
        }
    }

    public func stop() { core.stop() }

    public var counters: SourceCounters {
        var c = core.counts
        c.droppedFrames = core.ring.droppedFrames
        return c
    }

    public var queuedFrames: Int { core.ring.queuedFrames }
}

/// libasound's message for an error code.
func alsaMessage(_ err: Int32) -> String {
    if let s = snd_strerror(err) { return String(cString: s) }
    return "error \(err)"
}

/// The state the capture thread shares with the consumer. Kept apart from `ALSASource` so the thread's
/// reference does not keep the public object alive (its deinit stops the thread).
final class CaptureCore {
    let pcm: OpaquePointer
    let config: OpaquePointer?
    let ring: FrameRing
    let encoding: SampleEncoding
    let channels: Int
    let period: Int
    private let lock = Lock()
    private var stopRequested = false
    private var thread: pthread_t? = nil
    private var closed = false
    private var _failure: SSASTError? = nil
    private var _counts = SourceCounters()

    init(pcm: OpaquePointer, config: OpaquePointer?, ring: FrameRing, encoding: SampleEncoding, channels: Int, period: Int) {
        self.pcm = pcm; self.config = config; self.ring = ring
        self.encoding = encoding; self.channels = channels; self.period = period
    }

    var failure: SSASTError? { lock.lock(); defer { lock.unlock() }; return _failure }
    var counts: SourceCounters { lock.lock(); defer { lock.unlock() }; return _counts }
    private var shouldStop: Bool { lock.lock(); defer { lock.unlock() }; return stopRequested }

    func start() throws {
        var tid = pthread_t()
        let ctx = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&tid, nil, { raw in
            let core = Unmanaged<CaptureCore>.fromOpaque(raw!).takeRetainedValue()
            core.captureLoop()
            return nil
        }, ctx)
        if rc != 0 {
            Unmanaged<CaptureCore>.fromOpaque(ctx).release()
            closeDevice()
            throw SSASTError("cannot start the capture thread (pthread_create error \(rc))")
        }
        lock.lock(); thread = tid; lock.unlock()
    }

    /// Asks the thread to finish, waits for it, closes the device. Idempotent; thread-safe.
    func stop() {
        lock.lock()
        stopRequested = true
        let t = thread
        thread = nil
        lock.unlock()
        ring.close()            // wakes a producer blocked on a full ring and lets the reader drain
        if let t { pthread_join(t, nil) }
        closeDevice()
    }

    private func closeDevice() {
        lock.lock(); defer { lock.unlock() }
        if closed { return }
        closed = true
        snd_pcm_drop(pcm)
        snd_pcm_close(pcm)
        if let config { snd_config_delete(config) }
    }

    private func fatal(_ message: String) {
        lock.lock(); if _failure == nil { _failure = SSASTError(message) }; lock.unlock()
        ring.close()
    }

    /// Recovers from an overrun or suspend; false when the device is gone.
    private func recover(_ err: Int32) -> Bool {
        if err == -EPIPE { lock.lock(); _counts.xruns += 1; lock.unlock() }
        let r = snd_pcm_recover(pcm, err, 1)
        if r < 0 {
            fatal("ALSA capture failed: \(alsaMessage(err)) (recovery: \(alsaMessage(r)))")
            return false
        }
        _ = snd_pcm_start(pcm)
        return true
    }

    private func captureLoop() {
        let frameBytes = encoding.bytesPerSample * channels
        var raw = [UInt8](repeating: 0, count: period * frameBytes)
        var floats = [Float](repeating: 0, count: period * channels)
        // Capture does not start by itself under snd_pcm_wait: start it explicitly.
        let s = snd_pcm_start(pcm)
        if s < 0 && !recover(s) { return }
        while !shouldStop {
            let w = snd_pcm_wait(pcm, 100)
            if w < 0 { if recover(w) { continue } else { return } }
            if w == 0 { continue }   // timeout: look at the stop flag again
            let n = raw.withUnsafeMutableBytes { snd_pcm_readi(pcm, $0.baseAddress, snd_pcm_uframes_t(period)) }
            if n == -Int(EAGAIN) { continue }
            if n < 0 { if recover(Int32(n)) { continue } else { return } }
            if n == 0 { continue }
            let frames = Int(n)
            raw.withUnsafeBytes { r in
                floats.withUnsafeMutableBufferPointer { f in encoding.convert(r.baseAddress!, count: frames * channels, to: f.baseAddress!) }
            }
            // Counted before the ring makes the frames readable: a reader that has consumed them must
            // never see a smaller captured count (counted after, a fast reader did: a test failure).
            // Once the ring has them, captured == delivered + dropped + still buffered.
            lock.lock(); _counts.capturedFrames += frames; lock.unlock()
            let open = floats.withUnsafeBufferPointer { ring.write($0.baseAddress!, frames: frames) }
            if !open {   // stopped: these frames never reached the ring
                lock.lock(); _counts.capturedFrames -= frames; lock.unlock()
                return
            }
        }
    }
}
