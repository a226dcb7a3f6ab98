import AudioFile
import Foundation
import Runtime

/// Expands the AUDIO... arguments: files, folders (every non-hidden file below that libsndfile opens,
/// sorted; the others are returned as skipped), SSAST datafile JSON lists ({"data": [{"wav": path,
/// "labels": ...}]}) and "-" (standard input).
enum AudioInputs {
    struct Item { var path: String; var labels: String? }

    static func expand(_ args: [String]) -> (items: [Item], errors: [(String, String)], skipped: [String]) {
        var items: [Item] = [], errors: [(String, String)] = [], skipped: [String] = []
        let fm = FileManager.default
        for a in args {
            if a == "-" { items.append(Item(path: a, labels: nil)); continue }
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: a, isDirectory: &isDir) else { errors.append((a, "no such file or folder")); continue }
            if isDir.boolValue {
                guard let e = fm.enumerator(atPath: a) else { errors.append((a, "cannot list folder")); continue }
                var found: [String] = []
                while let rel = e.nextObject() as? String {
                    if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                    let full = (a as NSString).appendingPathComponent(rel)
                    var d: ObjCBool = false
                    if fm.fileExists(atPath: full, isDirectory: &d), !d.boolValue { found.append(full) }
                }
                found.sort()
                let audio = found.filter(isAudioFile)
                skipped += found.filter { !isAudioFile($0) }
                if audio.isEmpty { errors.append((a, found.isEmpty ? "folder holds no files" : "folder holds no audio files libsndfile can read")) }
                items += audio.map { Item(path: $0, labels: nil) }
            } else if a.lowercased().hasSuffix(".json") {
                do { items += try datafile(a) } catch let e as SSASTError { errors.append((a, e.message)) } catch { errors.append((a, "\(error)")) }
            } else {
                items.append(Item(path: a, labels: nil))
            }
        }
        return (items, errors, skipped)
    }

    /// Reads an SSAST datafile. Relative wav paths are taken as given (SSAST's convention: relative to
    /// the working directory) and, failing that, relative to the JSON file's folder.
    static func datafile(_ path: String) throws -> [Item] {
        guard let data = FileManager.default.contents(atPath: path) else { throw SSASTError("\(path): cannot read") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let list = obj["data"] as? [[String: Any]] else {
            throw SSASTError("\(path): not an SSAST datafile (expected {\"data\": [{\"wav\": ..., \"labels\": ...}, ...]})")
        }
        let base = (path as NSString).deletingLastPathComponent
        return try list.enumerated().map { i, entry in
            guard let wav = entry["wav"] as? String else { throw SSASTError("\(path): entry \(i) has no \"wav\" path") }
            var p = wav
            if !wav.hasPrefix("/"), !FileManager.default.fileExists(atPath: wav) { p = (base as NSString).appendingPathComponent(wav) }
            return Item(path: p, labels: entry["labels"] as? String)
        }
    }
}
