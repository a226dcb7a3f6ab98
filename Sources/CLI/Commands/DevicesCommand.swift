import Arguments
import Glibc
import Mic
import Support

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List ALSA capture devices (names for `ssast listen --device`) and sound cards.",
        discussion: "plughw: and default devices convert rate, channels and format; hw: devices offer only what the hardware does (listen accepts that too and resamples).")

    func run() throws {
        let devices = listCaptureDevices()
        let cards = listSoundCards()
        print("Capture devices:")
        if devices.isEmpty { print("  (none)") }
        let w = min(40, devices.map(\.name.count).max() ?? 0)
        for d in devices {
            print("  " + d.name.padded(to: w) + "  " + d.description)
        }
        print("Sound cards:")
        if cards.isEmpty { print("  (none)") }
        for c in cards { print("  \(c.index) [\(c.id)]: \(c.name) - \(c.longName)") }
        if devices.isEmpty || cards.isEmpty { print("\n" + Self.noCardsHint()) }
    }

    /// Why no card is visible, as far as we can tell from /dev/snd, and what to check next.
    static func noCardsHint(devSnd: String = "/dev/snd") -> String {
        var lines: [String] = []
        let entries = FileSystem.names(in: devSnd) ?? []
        let controls = entries.filter { $0.hasPrefix("controlC") }.sorted()
        if !FileSystem.exists(devSnd) {
            lines.append("There is no \(devSnd): the kernel sees no sound hardware here (in a container, pass the host's, e.g. docker run --device /dev/snd).")
        } else if controls.isEmpty {
            lines.append("\(devSnd) lists no sound card: is the microphone plugged in? `arecord -l` (package alsa-utils) shows what the kernel sees.")
        } else if let denied = controls.first(where: { access(devSnd + "/" + $0, R_OK | W_OK) != 0 }) {
            lines.append("\(devSnd)/\(denied) exists but this user may not open it: add yourself to the audio group "
                         + "(sudo usermod -aG audio $USER) and log in again.")
        } else {
            lines.append("\(devSnd) has cards (\(controls.joined(separator: ", "))) but ALSA lists none: compare with `arecord -l` (package alsa-utils).")
        }
        lines.append("Once `arecord -l` shows your microphone as card N, device M: ssast listen --device plughw:N,M")
        return lines.joined(separator: "\n")
    }
}
