import ArgumentParser
import Mic
import Support

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List ALSA capture devices (names for `ssast listen --device`) and sound cards.",
        discussion: "plughw: and default devices convert rate, channels and format; hw: devices offer only what the hardware does (listen accepts that too and resamples).")

    func run() throws {
        let devices = listCaptureDevices()
        print("Capture devices:")
        if devices.isEmpty { print("  (none)") }
        let w = min(40, devices.map(\.name.count).max() ?? 0)
        for d in devices {
            print("  " + d.name.padded(to: w) + "  " + d.description)
        }
        let cards = listSoundCards()
        print("Sound cards:")
        if cards.isEmpty { print("  (none)") }
        for c in cards { print("  \(c.index) [\(c.id)]: \(c.name) - \(c.longName)") }
    }
}
