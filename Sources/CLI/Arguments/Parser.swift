/// A mistake on the command line: the message, then the command's usage line (exit status 64).
struct UsageError: Error {
    var message: String
    var path: CommandPath
    /// The argument the message is about: its help is repeated.
    var about: ArgumentDefinition? = nil

    func render() -> String {
        var out = "Error: \(message)\n"
        if let d = about, !d.help.abstract.isEmpty {
            out += "Help:  " + (d.kind == .positional ? "<\(d.valueName)>" : d.synopsis) + "  " + d.help.abstract + "\n"
        }
        return out + "Usage: " + HelpText(path).usage() + "\n" + "  See '\(path.name) --help' for more information.\n"
    }
}

/// Turns the words of a command line into a request: help, the version, a generated man page or
/// completion script, or a parsed and validated command to run.
struct CommandLineParser {
    let root: ParsableCommand.Type

    func parse(_ args: [String]) throws -> Request {
        let rootPath = CommandPath(types: [root])
        var path = rootPath
        var rest = args[...]
        // Subcommands come first: `ssast classify ...`, `ssast help classify`.
        while let first = rest.first {
            if let sub = path.leaf.configuration.subcommands.first(where: { $0.configuration.commandName == first }) {
                path = path.appending(sub)
                rest = rest.dropFirst()
            } else if first == "help" && !path.leaf.configuration.subcommands.isEmpty {
                var target = path
                for word in rest.dropFirst() {
                    guard let sub = target.leaf.configuration.subcommands.first(where: { $0.configuration.commandName == word }) else {
                        throw UsageError(message: "Unknown subcommand '\(word)'" + suggestion(word, among: subcommandNames(target)), path: target)
                    }
                    target = target.appending(sub)
                }
                return .help(target)
            } else {
                break
            }
        }
        if path.types.count == 1 {
            // Words only the top command understands.
            switch rest.first {
            case "--generate-manual"? where rest.count == 1: return .manual(rootPath)
            case "--generate-completion-script"?:
                guard rest.count == 2, let shell = rest.last, CompletionScript.shells.contains(shell) else {
                    throw UsageError(message: "--generate-completion-script needs one of " + quotedList(CompletionScript.shells), path: rootPath)
                }
                return .completion(rootPath, shell: shell)
            default: break
            }
        }
        let optionWords = rest.prefix(while: { $0 != "--" })
        if optionWords.contains(where: { $0 == "-h" || $0 == "--help" }) { return .help(path) }
        if optionWords.contains("--version") && !root.configuration.version.isEmpty { return .version(root.configuration.version) }
        if let d = path.leaf.configuration.defaultSubcommand { path = path.appending(d) }
        if !path.leaf.configuration.subcommands.isEmpty {
            // A command that only groups others: a word here is a mistyped subcommand.
            guard let word = rest.first else { return .help(path) }
            if word.hasPrefix("-") {
                throw UsageError(message: "Unknown option '\(word)'" + suggestion(word, among: ["--help", "--version"]), path: path)
            }
            throw UsageError(message: "Unknown subcommand '\(word)'" + suggestion(word, among: subcommandNames(path)), path: path)
        }
        let command = path.leaf.init()
        try fill(argumentDefinitions(of: command), from: Array(rest), path: path)
        do { try command.validate() } catch let e as ValidationError { throw UsageError(message: e.message, path: path) }
        return .run(command)
    }

    func subcommandNames(_ path: CommandPath) -> [String] { path.leaf.configuration.subcommands.map { $0.configuration.commandName } }

    /// Assigns the words to `defs`: options by name (`--opt value`, `--opt=value`, `-o value`), the rest
    /// (and everything after `--`) to the positional arguments in order.
    func fill(_ defs: [ArgumentDefinition], from words: [String], path: CommandPath) throws {
        func fail(_ message: String, _ about: ArgumentDefinition? = nil) -> UsageError { UsageError(message: message, path: path, about: about) }
        var positionals: [String] = []
        var given = Set<ObjectIdentifier>()
        var i = 0
        func take(_ def: ArgumentDefinition, _ text: String) throws {
            do {
                try def.assign(text)
            } catch let e as ValidationError {
                throw fail("The value '\(text)' is invalid for '\(def.synopsis)': \(e.message)", def)
            } catch {
                var m = "The value '\(text)' is invalid for '\(def.synopsis)'"
                if !def.values.isEmpty { m += ". Please provide one of " + quotedList(def.values) + "." }
                throw fail(m, def)
            }
            given.insert(ObjectIdentifier(def))
        }
        while i < words.count {
            let word = words[i]
            i += 1
            if word == "--" { positionals += words[i...]; break }
            guard word.hasPrefix("-"), word.count > 1, !isNumber(word) else { positionals.append(word); continue }
            let (name, inline) = splitInline(word)
            let def: ArgumentDefinition? = name.hasPrefix("--")
                ? defs.first { $0.kind != .positional && $0.long == String(name.dropFirst(2)) }
                : (name.count == 2 ? defs.first { $0.kind != .positional && $0.short == name.last } : nil)
            guard let def else {
                let names = defs.filter { !$0.help.isHidden }.flatMap { d in [d.long.map { "--" + $0 }, d.short.map { "-" + String($0) }].compactMap { $0 } }
                throw fail("Unknown option '\(name)'" + suggestion(name, among: names + ["--help"]))
            }
            if def.kind == .flag {
                if let inline { throw fail("The option '\(def.synopsis)' does not take any value, but '\(inline)' was specified.") }
                try def.assign(nil)
                given.insert(ObjectIdentifier(def))
                continue
            }
            if let inline { try take(def, inline); continue }
            guard i < words.count, def.unconditional || !looksLikeOption(words[i]) else { throw fail("Missing value for '\(def.synopsis)'", def) }
            try take(def, words[i])
            i += 1
        }
        var queue = positionals[...]
        for def in defs where def.kind == .positional {
            if def.repeatable {
                while let w = queue.popFirst() { try take(def, w) }
            } else if let w = queue.popFirst() {
                try take(def, w)
            }
        }
        if let extra = queue.first { throw fail("Unexpected argument '\(extra)'") }
        // In declaration order: a missing argument, or a group's own check (`--threads 0`), whichever comes first.
        for def in defs {
            if def.required && !given.contains(ObjectIdentifier(def)) { throw fail("Missing expected argument '\(def.synopsis)'", def) }
            do { try def.validateAfter?() } catch let e as ValidationError { throw fail(e.message) }
        }
    }
}

/// "--opt=value" -> ("--opt", "value"); "-o=value" likewise; otherwise (word, nil).
func splitInline(_ word: String) -> (String, String?) {
    guard let eq = word.firstIndex(of: "=") else { return (word, nil) }
    return (String(word[..<eq]), String(word[word.index(after: eq)...]))
}

/// "-8.2", "-1e3", "-inf": a value, not an option.
func isNumber(_ word: String) -> Bool { Double(word) != nil }

/// A word an option would not take as its value: an option name, but not "-" or a negative number.
func looksLikeOption(_ word: String) -> Bool { word.hasPrefix("-") && word.count > 1 && !isNumber(word) }

/// "'a' and 'b'", "'a', 'b' or 'c'".
func quotedList(_ values: [String]) -> String {
    let q = values.map { "'\($0)'" }
    return q.count <= 1 ? q.joined() : q.dropLast().joined(separator: ", ") + (q.count == 2 ? " and " : " or ") + q.last!
}

/// ". Did you mean '--window-hop'?" for the nearest name within a few edits, else "".
func suggestion(_ word: String, among names: [String]) -> String {
    let scored = names.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (name, d) = scored, d <= max(2, word.count / 3) else { return "" }
    return ". Did you mean '\(name)'?"
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
    var row = Array(0...y.count)
    for i in 1...x.count {
        var prev = row[0]
        row[0] = i
        for j in 1...y.count {
            let cur = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[y.count]
}
