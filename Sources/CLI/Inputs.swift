import AudioFile
import Runtime
import Support

/// Expands the AUDIO... arguments: files, folders (every non-hidden file below that libsndfile opens,
/// sorted; the others are returned as skipped), SSAST datafile JSON lists ({"data": [{"wav": path,
/// "labels": ...}]}) and "-" (standard input).
enum AudioInputs {
    struct Item { var path: String; var labels: String? }

    static func expand(_ args: [String]) -> (items: [Item], errors: [(String, String)], skipped: [String]) {
        var items: [Item] = [], errors: [(String, String)] = [], skipped: [String] = []
        for a in args {
            if a == "-" { items.append(Item(path: a, labels: nil)); continue }
            guard FileSystem.exists(a) else { errors.append((a, "no such file or folder")); continue }
            if FileSystem.isDirectory(a) {
                guard let found = try? FileSystem.filesBelow(a) else { errors.append((a, "cannot list folder")); continue }
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
        guard let data = try? FileSystem.readBytes(path) else { throw SSASTError("\(path): cannot read") }
        guard let obj = try? MiniJSONParser.parse(data, what: path), let list = obj["data"]?.array, list.allSatisfy(\.isObject) else {
            throw SSASTError("\(path): not an SSAST datafile (expected {\"data\": [{\"wav\": ..., \"labels\": ...}, ...]})")
        }
        let base = path.deletingLastPathComponent
        return try list.enumerated().map { i, entry in
            guard let wav = entry["wav"]?.string else { throw SSASTError("\(path): entry \(i) has no \"wav\" path") }
            var p = wav
            if !wav.hasPrefix("/"), !FileSystem.exists(wav) { p = base.appendingPathComponent(wav) }
            return Item(path: p, labels: entry["labels"]?.string)
        }
    }
}
