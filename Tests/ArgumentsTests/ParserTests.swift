import Arguments
import XCTest

/// The command-line parser on its own, through a small command tree shaped like ssast's: a top command
/// with a version and subcommands, a shared option group, enumerated, repeatable, hidden, negative-number
/// and positional arguments.
enum Shape: String, CaseIterable, ExpressibleByArgument {
    case round, square
    static var allValueDescriptions: [String: String] { ["round": "a circle", "square": "four corners"] }
}

struct Common: ParsableArguments {
    @Option(name: .shortAndLong, help: "Weight file.") var model: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Worker threads.", valueName: "n")) var threads: Int?
    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1 (got \(t))") }
    }
}

struct Draw: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "draw", abstract: "Draw shapes.",
                                                    discussion: "Examples:\n  top draw a.txt   # one file")
    @Argument(help: "Input files.") var files: [String]
    @OptionGroup var common: Common
    @Option(help: "The shape to draw.") var shape: Shape = .round
    @Option(help: "Offset in pixels.") var offset: Double = 0
    @Option(help: "A tag (repeatable).") var tag: [String] = []
    @Option(help: "Line width.") var width: Int?
    @Flag(help: "Say more.") var verbose = false
    @Option(name: .customLong("old-name"), help: .hidden) var oldName: Int?
}

struct Count: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "count", abstract: "Count to N.")
    @Argument(help: "How far.") var n: Int
    @Option(help: "Step between the numbers counted, a sentence long enough to wrap onto a second line under its column.")
    var step: Int = 1
    @Option(help: ArgumentHelp("A label so long it gets a line of its own.", valueName: "a-very-long-value-name")) var label: String?
}

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "A test tool.", version: "top 1.2.3",
                                                    subcommands: [Draw.self, Count.self])
}

struct TopWithDefault: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top2", abstract: "Counts by default.",
                                                    subcommands: [Draw.self, Count.self], defaultSubcommand: Count.self)
}

final class ParserTests: XCTestCase {
    func draw(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Draw {
        guard case .run(let c) = Top.outcome(["draw"] + args) else { XCTFail("not a run: \(args)", file: file, line: line); throw ExitCode.failure }
        return try XCTUnwrap(c as? Draw)
    }
    func usageError(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        guard case .usageError(let text) = Top.outcome(args) else { XCTFail("no usage error: \(args)", file: file, line: line); return "" }
        return text
    }
    func output(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        guard case .output(let text) = Top.outcome(args) else { XCTFail("no output: \(args)", file: file, line: line); return "" }
        return text
    }

    func testValuesSpelledEitherWay() throws {
        let d = try draw(["a", "--offset=2.5", "-m", "w.ssast", "--shape", "square", "b", "--width=3"])
        XCTAssertEqual(d.files, ["a", "b"])
        XCTAssertEqual(d.offset, 2.5)
        XCTAssertEqual(d.common.model, "w.ssast")
        XCTAssertEqual(d.shape, .square)
        XCTAssertEqual(d.width, 3)
        XCTAssertFalse(d.verbose)
        XCTAssertEqual(try draw(["a", "--model=x=y"]).common.model, "x=y")   // only the first = splits
        let defaults = try draw(["a"])
        XCTAssertEqual(defaults.shape, .round); XCTAssertEqual(defaults.offset, 0); XCTAssertNil(defaults.width)
        XCTAssertNil(defaults.common.model); XCTAssertEqual(defaults.tag, [])
    }

    func testNegativeNumbersAreValues() throws {
        XCTAssertEqual(try draw(["a", "--offset", "-8.25"]).offset, -8.25)
        XCTAssertEqual(try draw(["a", "--offset", "-1e3"]).offset, -1000)
        guard case .run(let c) = Top.outcome(["count", "-5"]) else { return XCTFail("count -5 did not parse") }
        XCTAssertEqual((c as? Count)?.n, -5)
        // Unconditional: the next word is the value whatever it is, so the range check speaks.
        XCTAssertTrue(usageError(["draw", "a", "--threads", "-1"]).hasPrefix("Error: --threads must be at least 1 (got -1)\n"))
    }

    func testDoubleDashEndsOptions() throws {
        let d = try draw(["--verbose", "--", "--shape", "-x", "-"])
        XCTAssertEqual(d.files, ["--shape", "-x", "-"])
        XCTAssertTrue(d.verbose)
        XCTAssertEqual(d.shape, .round)
        XCTAssertEqual(try draw(["-"]).files, ["-"])   // "-" (standard input) is an argument
    }

    func testRepeatedOptions() throws {
        XCTAssertEqual(try draw(["a", "--tag", "x", "--tag=y", "--tag", "x"]).tag, ["x", "y", "x"])
        XCTAssertEqual(try draw(["a", "--width", "1", "--width", "2"]).width, 2)   // a single-valued option: the last wins
    }

    func testUsageErrorsSayWhatAndShowUsage() {
        XCTAssertEqual(usageError(["draw", "a", "--shape"]), """
            Error: Missing value for '--shape <shape>'
            Help:  --shape <shape>  The shape to draw.
            Usage: top draw <files> ... [--model <model>] [--threads <n>] [--shape <shape>] [--offset <offset>] [--tag <tag> ...] [--width <width>] [--verbose]
              See 'top draw --help' for more information.

            """)
        XCTAssertTrue(usageError(["draw", "a", "--model", "--verbose"]).hasPrefix("Error: Missing value for '--model <model>'\n"))
        XCTAssertTrue(usageError(["draw"]).hasPrefix("Error: Missing expected argument '<files> ...'\nHelp:  <files>  Input files.\n"))
        // Checked in declaration order: <files> comes before the group holding --threads.
        XCTAssertTrue(usageError(["draw", "--threads", "0"]).hasPrefix("Error: Missing expected argument '<files> ...'\n"))
        XCTAssertTrue(usageError(["draw", "a", "--threads", "0"]).hasPrefix("Error: --threads must be at least 1 (got 0)\n"))
        XCTAssertTrue(usageError(["count", "1", "2"]).hasPrefix("Error: Unexpected argument '2'\n"))
        XCTAssertTrue(usageError(["count", "x"]).hasPrefix("Error: The value 'x' is invalid for '<n>'\n"))
    }

    func testUnknownOptionSuggestsTheNearestName() {
        XCTAssertTrue(usageError(["draw", "a", "--verbsoe"]).hasPrefix("Error: Unknown option '--verbsoe'. Did you mean '--verbose'?\n"))
        XCTAssertTrue(usageError(["draw", "a", "--shap=round"]).hasPrefix("Error: Unknown option '--shap'. Did you mean '--shape'?\n"))
        XCTAssertTrue(usageError(["draw", "a", "--colour"]).hasPrefix("Error: Unknown option '--colour'\n"))   // nothing near
        XCTAssertTrue(usageError(["drwa"]).hasPrefix("Error: Unknown subcommand 'drwa'. Did you mean 'draw'?\n"))
        XCTAssertTrue(usageError(["draw", "a", "-q"]).hasPrefix("Error: Unknown option '-q'"))
    }

    func testEnumeratedValueOutOfRangeNamesTheChoices() {
        XCTAssertTrue(usageError(["draw", "a", "--shape", "hexagon"]).hasPrefix(
            "Error: The value 'hexagon' is invalid for '--shape <shape>'. Please provide one of 'round' and 'square'.\n"))
        XCTAssertTrue(usageError(["draw", "a", "--width", "1.5"]).hasPrefix("Error: The value '1.5' is invalid for '--width <width>'\n"))
    }

    func testFlagGivenAValue() {
        XCTAssertTrue(usageError(["draw", "a", "--verbose=yes"]).hasPrefix("Error: The option '--verbose' does not take any value, but 'yes' was specified.\nUsage: "))
    }

    func testHelpEveryWayIsTheSame() {
        let help = output(["draw", "--help"])
        XCTAssertEqual(output(["help", "draw"]), help)
        XCTAssertEqual(output(["draw", "a", "-h"]), help)
        XCTAssertEqual(help, """
            OVERVIEW: Draw shapes.

            Examples:
              top draw a.txt   # one file

            USAGE: top draw <files> ... [--model <model>] [--threads <n>] [--shape <shape>] [--offset <offset>] [--tag <tag> ...] [--width <width>] [--verbose]

            ARGUMENTS:
              <files>                 Input files.

            OPTIONS:
              -m, --model <model>     Weight file.
              --threads <n>           Worker threads.
              --shape <shape>         The shape to draw. (default: round)
                    round             - a circle
                    square            - four corners
              --offset <offset>       Offset in pixels. (default: 0.0)
              --tag <tag>             A tag (repeatable).
              --width <width>         Line width.
              --verbose               Say more.
              --version               Show the version.
              -h, --help              Show help information.


            """)
        XCTAssertFalse(help.contains("old-name"))   // hidden
        XCTAssertTrue(try draw(["a", "--old-name", "4"]).oldName == 4)   // but accepted
        let top = output([])
        XCTAssertEqual(output(["--help"]), top)
        XCTAssertEqual(output(["help"]), top)
        XCTAssertTrue(top.contains("USAGE: top <subcommand>"), top)
        XCTAssertTrue(top.contains("  draw                    Draw shapes.\n  count                   Count to N.\n"), top)
        XCTAssertTrue(top.contains("  --version               Show the version.\n"), top)
    }

    func testDefaultSubcommand() throws {
        guard case .run(let c) = TopWithDefault.outcome(["7", "--step", "-2"]) else { return XCTFail("no default subcommand") }
        XCTAssertEqual((c as? Count)?.n, 7)
        XCTAssertEqual((c as? Count)?.step, -2)
        guard case .run(let d) = TopWithDefault.outcome(["draw", "a"]) else { return XCTFail("draw a") }
        XCTAssertEqual((d as? Draw)?.files, ["a"])
        guard case .output(let help) = TopWithDefault.outcome(["--help"]) else { return XCTFail("--help") }
        XCTAssertTrue(help.contains("  count (default)         Count to N.\n"), help)
        guard case .usageError(let e) = TopWithDefault.outcome([]) else { return XCTFail("no arguments") }
        XCTAssertTrue(e.hasPrefix("Error: Missing expected argument '<n>'\nHelp:  <n>  How far.\nUsage: top2 count <n> [--step <step>] [--label <a-very-long-value-name>]\n"), e)
    }

    func testVersion() {
        XCTAssertEqual(output(["--version"]), "top 1.2.3\n")
        XCTAssertEqual(output(["draw", "a", "--version"]), "top 1.2.3\n")
    }

    func testLongHelpWrapsUnderItsColumn() {
        XCTAssertTrue(output(["count", "--help"]).contains("""
            OPTIONS:
              --step <step>           Step between the numbers counted, a sentence long
                                      enough to wrap onto a second line under its column.
                                      (default: 1)
              --label <a-very-long-value-name>
                                      A label so long it gets a line of its own.

            """), output(["count", "--help"]))
    }

    func testManualPageAndCompletionsFromTheSameDeclarations() {
        let man = output(["--generate-manual"])
        XCTAssertTrue(man.hasPrefix(".TH TOP 1 \"\" \"top 1.2.3\" \"User Commands\"\n.nh\n.SH NAME\ntop \\- A test tool.\n"), man)
        XCTAssertTrue(man.contains(".SS top draw\n"), man)
        XCTAssertTrue(man.contains(".TP\n\\fB\\-\\-shape\\fR \\fIshape\\fR\nThe shape to draw. (default: round)\n.RS\n.TP\n.B round\na circle\n.TP\n.B square\nfour corners\n.RE\n"), man)
        XCTAssertFalse(man.contains("old"))
        XCTAssertTrue(man.hasSuffix(".SH EXIT STATUS\n0 on success, 64 for a usage error (an unknown option, a missing or invalid value), 1 when the command fails.\n"), man)
        let bash = output(["--generate-completion-script", "bash"])
        let lines = bash.split(separator: "\n").map(String.init)
        let i = lines.firstIndex { $0.contains("'--shape')") }
        XCTAssertNotNil(i)
        if let i { XCTAssertTrue(lines[i + 1].contains("compgen -W \"'round' 'square'\""), lines[i + 1]) }
        XCTAssertTrue(bash.contains("'-m'|'--model')\n                    COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;"), bash)
        XCTAssertTrue(bash.contains("complete -o filenames -F _top top\n"), bash)
        let zsh = output(["--generate-completion-script", "zsh"])
        XCTAssertTrue(zsh.hasPrefix("#compdef top\n"), zsh)
        XCTAssertTrue(zsh.contains("'--shape[The shape to draw]:shape:(round square)'"), zsh)
        XCTAssertTrue(zsh.contains("'(-m --model)'{-m,--model}'[Weight file]:model:_files'"), zsh)
        let fish = output(["--generate-completion-script", "fish"])
        XCTAssertTrue(fish.contains("complete -c top -n '__fish_seen_subcommand_from draw' -l shape -x -a 'round square' -d 'The shape to draw'\n"), fish)
        XCTAssertTrue(usageError(["--generate-completion-script", "tcsh"]).hasPrefix(
            "Error: --generate-completion-script needs one of 'bash', 'zsh' or 'fish'\n"))
    }
}
