/// Shell completion scripts (bash, zsh, fish) from the declarations: subcommands, option names, the
/// values of options with a fixed set, files for options and arguments that take a path.
struct CompletionScript {
    static let shells = ["bash", "zsh", "fish"]
    let path: CommandPath
    let shell: String
    init(_ path: CommandPath, shell: String) { self.path = path; self.shell = shell }

    var name: String { path.root.configuration.commandName }
    var subcommands: [CommandPath] { path.root.configuration.subcommands.map { path.appending($0) } }

    func render() -> String {
        switch shell {
        case "bash": return bash()
        case "zsh": return zsh()
        default: return fish()
        }
    }

    static func names(_ d: ArgumentDefinition) -> [String] {
        [d.short.map { "-" + String($0) }, d.long.map { "--" + $0 }].compactMap { $0 }
    }

    func bash() -> String {
        let fn = "_" + name
        var s = "# bash completion for \(name)\n\(fn)() {\n"
        s += "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\" sub=\"\" w\n"
        s += "    for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n        case $w in\n"
        s += "            " + (subcommands.map { $0.leaf.configuration.commandName } + ["help"]).joined(separator: "|") + ") sub=$w; break ;;\n"
        s += "        esac\n    done\n    case $sub in\n"
        s += "        '')\n            COMPREPLY=( $(compgen -W '\(words(subcommands.map { $0.leaf.configuration.commandName } + ["help", "--version", "--help"]))' -- \"$cur\") ) ;;\n"
        s += "        help)\n            COMPREPLY=( $(compgen -W '\(words(subcommands.map { $0.leaf.configuration.commandName }))' -- \"$cur\") ) ;;\n"
        for sub in subcommands {
            let defs = HelpText(sub).definitions
            s += "        \(sub.leaf.configuration.commandName))\n            case $prev in\n"
            for d in defs where d.kind == .option {
                s += "                " + Self.names(d).map { "'\($0)'" }.joined(separator: "|") + ")\n"
                switch d.completion {
                case .list(let values): s += "                    COMPREPLY=( $(compgen -W \"\(values.map { "'\($0)'" }.joined(separator: " "))\" -- \"$cur\") ); return ;;\n"
                case .files: s += "                    COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n"
                case .none: s += "                    return ;;\n"
                }
            }
            s += "            esac\n"
            let optionWords = defs.filter { $0.kind != .positional }.flatMap(Self.names) + ["--help"]
            let takesFiles = defs.contains { $0.kind == .positional && $0.completion == .files }
            s += "            if [[ $cur == -* ]]; then\n"
            s += "                COMPREPLY=( $(compgen -W '\(words(optionWords))' -- \"$cur\") )\n"
            s += takesFiles ? "            else\n                COMPREPLY=( $(compgen -f -- \"$cur\") )\n" : ""
            s += "            fi ;;\n"
        }
        s += "    esac\n}\ncomplete -o filenames -F \(fn) \(name)\n"
        return s
    }

    func words(_ w: [String]) -> String { w.joined(separator: " ") }

    func zsh() -> String {
        let fn = "_" + name
        var s = "#compdef \(name)\n\n\(fn)() {\n    local curcontext=\"$curcontext\" state line\n    local -a commands\n"
        s += "    commands=(\n"
        for sub in subcommands { s += "        " + zshQuote(sub.leaf.configuration.commandName + ":" + firstSentence(sub.leaf.configuration.abstract)) + "\n" }
        s += "        'help:Show help for a subcommand'\n    )\n"
        s += "    _arguments -C '(- *)--version[Show the version]' '(- *)'{-h,--help}'[Show help information]' '1: :->command' '*:: :->arguments'\n"
        s += "    case $state in\n        command) _describe -t commands 'command' commands ;;\n        arguments)\n            case $words[1] in\n"
        s += "                help) _describe -t commands 'command' commands ;;\n"
        for sub in subcommands {
            s += "                \(sub.leaf.configuration.commandName))\n                    _arguments -s \\\n"
            for d in HelpText(sub).definitions {
                let help = zshBracket(firstSentence(d.help.abstract))
                let action: String
                switch d.completion {
                case .list(let values): action = "(" + values.joined(separator: " ") + ")"
                case .files: action = "_files"
                case .none: action = " "
                }
                switch d.kind {
                case .positional:
                    s += "                        " + zshQuote((d.repeatable ? "*" : "") + ":" + d.valueName + ":" + action) + " \\\n"
                case .flag, .option:
                    let names = Self.names(d)
                    let tail = "[" + help + "]" + (d.kind == .option ? ":" + zshBracket(d.valueName) + ":" + action : "")
                    let spec = names.count > 1
                        ? zshQuote(d.repeatable ? "*" : "(" + names.joined(separator: " ") + ")") + "{" + names.joined(separator: ",") + "}" + zshQuote(tail)
                        : zshQuote((d.repeatable ? "*" : "") + names[0] + tail)
                    s += "                        " + spec + " \\\n"
                }
            }
            s += "                        '(- *)'{-h,--help}'[Show help information]' ;;\n"
        }
        s += "            esac ;;\n    esac\n}\n\n\(fn) \"$@\"\n"
        return s
    }

    func fish() -> String {
        var s = "# fish completion for \(name)\n"
        let subNames = subcommands.map { $0.leaf.configuration.commandName }
        s += "complete -c \(name) -f\n"
        s += "complete -c \(name) -n '__fish_use_subcommand' -l version -d 'Show the version'\n"
        s += "complete -c \(name) -n '__fish_use_subcommand' -s h -l help -d 'Show help information'\n"
        for sub in subcommands {
            s += "complete -c \(name) -n '__fish_use_subcommand' -a \(sub.leaf.configuration.commandName) -d \(fishQuote(firstSentence(sub.leaf.configuration.abstract)))\n"
        }
        s += "complete -c \(name) -n '__fish_use_subcommand' -a help -d 'Show help for a subcommand'\n"
        s += "complete -c \(name) -n '__fish_seen_subcommand_from help' -a '\(subNames.joined(separator: " "))'\n"
        for sub in subcommands {
            let cond = "-n '__fish_seen_subcommand_from \(sub.leaf.configuration.commandName)'"
            for d in HelpText(sub).definitions {
                var line = "complete -c \(name) \(cond)"
                if d.kind == .positional {
                    if d.completion == .files { s += line + " -F\n" }
                    continue
                }
                if let c = d.short { line += " -s \(c)" }
                if let l = d.long { line += " -l \(l)" }
                if d.kind == .option {
                    switch d.completion {
                    case .list(let values): line += " -x -a " + fishQuote(values.joined(separator: " "))
                    case .files: line += " -r -F"
                    case .none: line += " -x"
                    }
                }
                s += line + " -d " + fishQuote(firstSentence(d.help.abstract)) + "\n"
            }
            s += "complete -c \(name) \(cond) -s h -l help -d 'Show help information'\n"
        }
        return s
    }
}

/// The help up to its first full stop, for the one-line descriptions completion menus show.
func firstSentence(_ s: String) -> String {
    var out = ""
    var it = s.makeIterator()
    while let c = it.next() {
        if c == "." {
            guard let next = it.next() else { break }
            if next == " " { break }
            out.append(c); out.append(next)
        } else {
            out.append(c)
        }
    }
    return out
}

/// 'text' for zsh.
func zshQuote(_ s: String) -> String { "'" + escaping(s, ["'": "'\\''"]) + "'" }
/// 'text' for fish.
func fishQuote(_ s: String) -> String { "'" + escaping(s, ["\\": "\\\\", "'": "\\'"]) + "'" }
/// Text inside a zsh _arguments description: brackets and colons escaped.
func zshBracket(_ s: String) -> String { escaping(s, ["[": "\\[", "]": "\\]", ":": "\\:", "\\": "\\\\"]) }

/// `s` with each character in `map` replaced by its text.
func escaping(_ s: String, _ map: [Character: String]) -> String {
    var out = ""
    for c in s { if let r = map[c] { out += r } else { out.append(c) } }
    return out
}
