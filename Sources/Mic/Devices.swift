import CALSA
#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// One entry of `ssast devices`.
public struct CaptureDevice: Equatable, Sendable {
    public var name: String          // what --device takes, e.g. "default" or "plughw:CARD=PCH,DEV=0"
    public var description: String   // ALSA's description, lines joined with " / "
}

/// One sound card.
public struct SoundCard: Equatable, Sendable {
    public var index: Int
    public var id: String
    public var name: String
    public var longName: String
}

/// Capture-capable PCM names from ALSA's hints (`snd_device_name_hint(-1, "pcm")`): entries whose
/// IOID is "Input" or absent (both directions). Names are what `snd_pcm_open` accepts.
public func listCaptureDevices() -> [CaptureDevice] {
    routeALSAMessages(quiet: true)
    defer { routeALSAMessages() }
    var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
    guard snd_device_name_hint(-1, "pcm", &hints) >= 0, let hints else { return [] }
    defer { snd_device_name_free_hint(hints) }
    func hint(_ h: UnsafeMutableRawPointer, _ key: String) -> String? {
        guard let c = snd_device_name_get_hint(h, key) else { return nil }
        defer { free(c) }
        return String(cString: c)
    }
    var out: [CaptureDevice] = []
    var i = 0
    while let h = hints[i] {
        i += 1
        guard let name = hint(h, "NAME"), name != "null" else { continue }
        if let io = hint(h, "IOID"), io != "Input" { continue }
        let desc = (hint(h, "DESC") ?? "").split(separator: "\n").joined(separator: " / ")
        out.append(CaptureDevice(name: name, description: desc))
    }
    return out
}

/// Sound cards ALSA knows (`snd_card_next`).
public func listSoundCards() -> [SoundCard] {
    routeALSAMessages(quiet: true)
    defer { routeALSAMessages() }
    var cards: [SoundCard] = []
    var card: Int32 = -1
    while snd_card_next(&card) >= 0 && card >= 0 {
        var name: UnsafeMutablePointer<CChar>? = nil
        var long: UnsafeMutablePointer<CChar>? = nil
        _ = snd_card_get_name(card, &name)
        _ = snd_card_get_longname(card, &long)
        let n = name.map { String(cString: $0) } ?? "?"
        let l = long.map { String(cString: $0) } ?? n
        free(name); free(long)
        var id = "\(card)"
        var ctl: OpaquePointer? = nil
        if snd_ctl_open(&ctl, "hw:\(card)", 0) >= 0, let ctl {
            var info: OpaquePointer? = nil
            if snd_ctl_card_info_malloc(&info) >= 0, let info {
                if snd_ctl_card_info(ctl, info) >= 0, let s = snd_ctl_card_info_get_id(info) { id = String(cString: s) }
                snd_ctl_card_info_free(info)
            }
            snd_ctl_close(ctl)
        }
        cards.append(SoundCard(index: Int(card), id: id, name: n, longName: l))
    }
    return cards
}

/// Sends ALSA's own diagnostics to stderr as "ssast: ALSA: ..." lines instead of its raw "ALSA lib
/// file:line:(function) ..." ones, or drops them (`quiet`: while listing devices ALSA evaluates every
/// configured PCM and complains about each one this machine lacks; `ssast devices` explains an empty
/// list itself). Called before each ALSA use.
public func routeALSAMessages(quiet: Bool = false) {
    alsaMessagesQuiet = quiet
    ssast_alsa_route_messages()
}

nonisolated(unsafe) private var alsaMessagesQuiet = false

/// Where CALSA's error handler sends each formatted ALSA message.
@_cdecl("ssast_alsa_message")
func printALSAMessage(_ message: UnsafePointer<CChar>) {
    if alsaMessagesQuiet { return }
    fputs("ssast: ALSA: " + String(cString: message) + "\n", stderr)
}
