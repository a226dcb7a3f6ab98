/// `ssast [SUB] --help`: overview, discussion, usage line, arguments, options (each with its help wrapped
/// beside it, its default and, for a fixed set of values, each value with its meaning) and subcommands.
struct HelpText {
    let path: CommandPath
    let width = 79
    init(_ path: CommandPath) { self.path = path }

    var config: CommandConfiguration { path.leaf.configuration }
    var definitions: [ArgumentDefinition] { argumentDefinitions(of: path.leaf.init()).filter { !$0.help.isHidden } }

    /// `ssast embed <audio> ... [--model <model>] [--jsonl] ...`; past a dozen arguments, the options
    /// not required are shown as `[<options>]`: `ssast classify [<options>] <audio> ...`.
    func usage() -> String {
        if !config.subcommands.isEmpty { return path.name + " <subcommand>" }
        var parts = [path.name]
        let named = definitions.filter { $0.kind != .positional }
        let collapse = definitions.count > 12
        if collapse { parts.append("[<options>]") }
        for d in definitions where d.kind == .positional { parts.append(d.required ? d.synopsis : "[\(d.synopsis)]") }
        for d in named where !collapse || d.required {
            let name = d.long.map { "--" + $0 } ?? "-" + String(d.short!)
            let s = d.kind == .flag ? name : name + " <\(d.valueName)>"
            parts.append(d.required ? s : d.repeatable ? "[\(s) ...]" : "[\(s)]")
        }
        return parts.joined(separator: " ")
    }

    func render() -> String {
        var out = ""
        if !config.abstract.isEmpty { out += wrap("OVERVIEW: " + config.abstract, indent: 0) + "\n\n" }
        if !config.discussion.isEmpty { out += config.discussion.split(separator: "\n", omittingEmptySubsequences: false).map { wrapPreservingIndent(String($0)) }.joined(separator: "\n") + "\n\n" }
        out += "USAGE: " + usage() + "\n\n"   // one line, for copying
        let positionals = definitions.filter { $0.kind == .positional }
        if !positionals.isEmpty {
            out += "ARGUMENTS:\n" + positionals.map { entry("<\($0.valueName)>", $0) }.joined() + "\n"
        }
        out += "OPTIONS:\n"
        for d in definitions where d.kind != .positional {
            let label = [d.short.map { "-" + String($0) }, d.long.map { "--" + $0 }].compactMap { $0 }.joined(separator: ", ")
            out += entry(d.kind == .flag ? label : label + " <\(d.valueName)>", d)
        }
        if !path.root.configuration.version.isEmpty { out += entry("--version", help: "Show the version.") }
        out += entry("-h, --help", help: "Show help information.")
        if !config.subcommands.isEmpty {
            out += "\nSUBCOMMANDS:\n"
            for s in config.subcommands {
                let isDefault = config.defaultSubcommand.map { $0 == s } ?? false
                out += entry(s.configuration.commandName + (isDefault ? " (default)" : ""), help: s.configuration.abstract)
            }
            out += "\n  See '\(path.root.configuration.commandName) help <subcommand>' for detailed help.\n"
        } else {
            out += "\n"
        }
        return out
    }

    /// One option: label in a 24-column field (on its own line when longer), help wrapped beside it.
    func entry(_ label: String, _ d: ArgumentDefinition) -> String {
        var help = d.help.abstract
        if let def = d.defaultText, !def.isEmpty { help += (help.isEmpty ? "" : " ") + "(default: \(def))" }
        var out = entry(label, help: help)
        if !d.values.isEmpty {
            if d.values.allSatisfy({ d.valueDescriptions[$0] != nil }) {
                for v in d.values { out += wrap(String(repeating: " ", count: 8) + v.padded(to: 18) + "- " + d.valueDescriptions[v]!, indent: 28) + "\n" }
            } else {
                out += wrap(String(repeating: " ", count: 26) + "(values: " + d.values.joined(separator: ", ") + ")", indent: 26) + "\n"
            }
        }
        return out
    }

    func entry(_ label: String, help: String) -> String {
        let column = 26
        let head = "  " + label
        if help.isEmpty { return head + "\n" }
        if head.count + 1 <= column {
            return wrap(head.padded(to: column) + help, indent: column) + "\n"
        }
        return head + "\n" + wrap(String(repeating: " ", count: column) + help, indent: column) + "\n"
    }

    /// A discussion line keeps its own indentation (example blocks) when wrapped.
    func wrapPreservingIndent(_ line: String) -> String {
        let indent = line.prefix(while: { $0 == " " }).count
        return wrap(line, indent: indent)
    }

    /// Wraps `text` at word boundaries to the width; continuation lines start with `indent` spaces.
    func wrap(_ text: String, indent: Int) -> String { wrapText(text, width: width, indent: indent) }
}

func wrapText(_ text: String, width: Int, indent: Int) -> String {
    // Words with the spaces before them: spacing inside a line (aligned comments) is kept.
    var tokens: [(spaces: Int, word: String)] = []
    var spaces = 0, word = ""
    for c in text {
        if c == " " {
            if !word.isEmpty { tokens.append((spaces, word)); word = ""; spaces = 0 }
            spaces += 1
        } else {
            word.append(c)
        }
    }
    if !word.isEmpty { tokens.append((spaces, word)) }
    guard let first = tokens.first else { return "" }
    var lines: [String] = []
    var line = String(repeating: " ", count: first.spaces) + first.word
    for t in tokens.dropFirst() {
        if line.count + t.spaces + t.word.count > width {
            lines.append(line)
            line = String(repeating: " ", count: indent) + t.word
        } else {
            line += String(repeating: " ", count: t.spaces) + t.word
        }
    }
    lines.append(line)
    return lines.joined(separator: "\n")
}

extension String {
    func padded(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
