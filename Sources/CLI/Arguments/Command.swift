#if canImport(Glibc)
import Glibc
#endif

/// A type made of argument declarations (`@Option`, `@Flag`, `@Argument`, `@OptionGroup`).
public protocol ParsableArguments {
    init()
    /// Checks that need several values together; a thrown ValidationError is a usage error (exit 64).
    func validate() throws
}
extension ParsableArguments { public func validate() throws {} }

/// A command: its arguments, its description and what it does.
public protocol ParsableCommand: ParsableArguments {
    static var configuration: CommandConfiguration { get }
    func run() throws
}
extension ParsableCommand {
    public func run() throws {}
}

public struct CommandConfiguration {
    public var commandName: String
    public var abstract: String
    public var discussion: String
    public var version: String
    public var subcommands: [ParsableCommand.Type]
    /// The subcommand that runs when the first word names none (nil: such a word is an error).
    public var defaultSubcommand: ParsableCommand.Type?

    public init(commandName: String, abstract: String = "", discussion: String = "", version: String = "",
                subcommands: [ParsableCommand.Type] = [], defaultSubcommand: ParsableCommand.Type? = nil) {
        self.commandName = commandName; self.abstract = abstract; self.discussion = discussion
        self.version = version; self.subcommands = subcommands; self.defaultSubcommand = defaultSubcommand
    }
}

/// A usage error with its message, thrown from validate() or while parsing a value.
public struct ValidationError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Ends the command with this status, printing nothing.
public struct ExitCode: Error {
    public var rawValue: Int32
    public init(_ code: Int32) { rawValue = code }
    public static let success = ExitCode(0)
    public static let failure = ExitCode(1)
    /// Usage errors (BSD sysexits EX_USAGE).
    public static let validationFailure = ExitCode(64)
}

/// What the command line asked for, before anything runs.
enum Request {
    case run(ParsableCommand)
    case help(CommandPath)
    case version(String)
    case manual(CommandPath)
    case completion(CommandPath, shell: String)
}

/// A command and the commands above it (`ssast`, `ssast classify`).
struct CommandPath {
    var types: [ParsableCommand.Type]
    var leaf: ParsableCommand.Type { types.last! }
    var root: ParsableCommand.Type { types[0] }
    var name: String { types.map { $0.configuration.commandName }.joined(separator: " ") }
    func appending(_ t: ParsableCommand.Type) -> CommandPath { CommandPath(types: types + [t]) }
}

/// What a command line comes to before anything runs.
public enum CommandLineOutcome {
    /// A parsed, validated command.
    case run(ParsableCommand)
    /// Text for standard output, then exit status 0: help, the version, a man page, a completion script.
    case output(String)
    /// A usage error for standard error, then exit status 64.
    case usageError(String)
}

extension ParsableCommand {
    /// The entry point of the program (`@main`): parses the command line, validates, runs, and exits
    /// with 0, the status of a thrown ExitCode, 64 after a usage error or 1 after another error.
    public static func main() {
        let command: ParsableCommand
        switch outcome(Array(CommandLine.arguments.dropFirst())) {
        case .output(let text): writeOutput(text); exit(0)
        case .usageError(let text): writeError(text); exit(ExitCode.validationFailure.rawValue)
        case .run(let c): command = c
        }
        do {
            try command.run()
        } catch let e as ExitCode {
            exit(e.rawValue)
        } catch let e as ValidationError {
            writeError("Error: \(e.message)\n")
            exit(ExitCode.validationFailure.rawValue)
        } catch {
            writeError("Error: \(error)\n")
            exit(ExitCode.failure.rawValue)
        }
        exit(0)
    }

    /// Parses `arguments` (without the program name) with this type as the top command.
    public static func outcome(_ arguments: [String]) -> CommandLineOutcome {
        do {
            switch try CommandLineParser(root: Self.self).parse(arguments) {
            case .run(let command): return .run(command)
            case .help(let path): return .output(HelpText(path).render())
            case .version(let v): return .output(v + "\n")
            case .manual(let path): return .output(ManualPage(path).render())
            case .completion(let path, let shell): return .output(CompletionScript(path, shell: shell).render())
            }
        } catch let e as UsageError {
            return .usageError(e.render())
        } catch {
            return .usageError("Error: \(error)\n")
        }
    }
}

func writeOutput(_ s: String) { write(fd: 1, s) }
func writeError(_ s: String) { write(fd: 2, s) }
private func write(fd: Int32, _ s: String) {
    var s = s
    s.withUTF8 { b in
        var done = 0
        while done < b.count {
            let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
    }
}
