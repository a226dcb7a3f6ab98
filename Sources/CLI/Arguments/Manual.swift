/// The man page (man(7) macros, section 1) from the same declarations as --help: every subcommand with
/// its description and options, each option's default and, for a fixed set of values, each value's meaning.
struct ManualPage {
    let path: CommandPath
    init(_ path: CommandPath) { self.path = path }

    func render() -> String {
        let root = path.root.configuration
        let name = root.commandName
        var out = ".TH \(roff(name.uppercased())) 1 \"\" \"\(roff(root.version))\" \"User Commands\"\n.nh\n"   // .nh: option names are not hyphenated
        out += ".SH NAME\n\(roff(name)) \\- \(roff(root.abstract))\n"
        out += ".SH SYNOPSIS\n" + synopsis(path) + "\n"
        if !root.discussion.isEmpty { out += ".SH DESCRIPTION\n" + text(root.discussion) }
        out += ".SH OPTIONS\n" + options(path)
        let subs = root.subcommands
        if !subs.isEmpty {
            out += ".SH COMMANDS\n"
            for s in subs {
                let p = path.appending(s)
                let c = s.configuration
                out += ".SS \(roff(p.name))\n" + synopsis(p) + "\n.PP\n" + roff(c.abstract) + "\n"
                if !c.discussion.isEmpty { out += text(c.discussion) }
                out += options(p)
            }
        }
        out += ".SH EXIT STATUS\n0 on success, 64 for a usage error (an unknown option, a missing or invalid value), "
            + "1 when the command fails.\n"
        return out
    }

    func synopsis(_ p: CommandPath) -> String { ".B " + roff(p.name) + "\n" + roff(String(HelpText(p).usage().dropFirst(p.name.count + 1))) }

    func options(_ p: CommandPath) -> String {
        var out = ""
        for d in HelpText(p).definitions {
            let names = [d.short.map { "\\fB\\-" + roff(String($0)) + "\\fR" },
                         d.long.map { "\\fB\\-\\-" + roff($0) + "\\fR" }].compactMap { $0 }.joined(separator: ", ")
            switch d.kind {
            case .positional: out += ".TP\n\\fI" + roff(d.valueName) + "\\fR" + (d.repeatable ? " ..." : "") + "\n"
            case .flag: out += ".TP\n" + names + "\n"
            case .option: out += ".TP\n" + names + " \\fI" + roff(d.valueName) + "\\fR\n"
            }
            var help = d.help.abstract
            if let def = d.defaultText, !def.isEmpty { help += " (default: \(def))" }
            out += roff(help) + "\n"
            if !d.values.isEmpty {
                out += ".RS\n"
                for v in d.values {
                    out += ".TP\n.B " + roff(v) + "\n" + roff(d.valueDescriptions[v] ?? "") + "\n"
                }
                out += ".RE\n"
            }
        }
        if !p.root.configuration.version.isEmpty { out += ".TP\n\\fB\\-\\-version\\fR\nShow the version.\n" }
        out += ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nShow help information.\n"
        return out
    }

    /// A discussion: plain lines as filled paragraphs, indented lines (examples) as they are.
    func text(_ s: String) -> String {
        var out = ".PP\n", literal = false
        for line in s.split(separator: "\n", omittingEmptySubsequences: false) {
            let indented = line.hasPrefix(" ")
            if indented != literal { out += indented ? ".nf\n" : ".fi\n"; literal = indented }
            out += line.isEmpty ? ".PP\n" : roff(String(line)) + "\n"
        }
        return out + (literal ? ".fi\n" : "")
    }
}

/// Text safe in a roff line: backslashes and hyphens escaped (so `--dtype` stays ASCII), and a line
/// that would start with a control character made literal.
func roff(_ s: String) -> String {
    let out = escaping(s, ["\\": "\\e", "-": "\\-"])
    return out.hasPrefix(".") || out.hasPrefix("'") ? "\\&" + out : out
}
