import Arguments
import Glibc
import Runtime
import Support

/// --model and --threads, shared by every command that runs a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "SSAST weight file (from `ssast convert` or `ssast train`). Default: $SSAST_MODEL, else the default model beside the executable (PREFIX/share/ssast/default.ssast, or models/default.ssast in the build tree).")
    var model: String?

    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int { threadOptions.threads }

    @Option(name: .long, help: ArgumentHelp("Activation width in int8 linears: 8 (bytes; fastest where the CPU multiplies bytes: AVX-512 VNNI, AVX-VNNI, Arm dot product) or 12 (int16 lanes; closer to fp32). Default: the weight file's choice, else 8 on such CPUs and 12 elsewhere.", valueName: "bits"))
    var int8Activations: Int8Width?

    /// An engine on --threads for `model`, with its int8 activation width chosen.
    func engine(for model: SSASTModel, threads n: Int? = nil) throws(SSASTError) -> Engine {
        let e = try Engine(threads: n ?? threads)
        try e.chooseInt8Activations(requested: int8Activations?.bits, model: model)
        return e
    }

    /// The model path: --model, else $SSAST_MODEL, else the default model found from the real executable
    /// (/proc/self/exe, so it works through PATH and symlinks from any folder): the build tree's
    /// models/default.ssast or an installed PREFIX/share/ssast/default.ssast beside PREFIX/bin/ssast.
    func resolvedModelPath() throws -> String {
        if let m = model { return m }
        if let env = FileSystem.environment("SSAST_MODEL"), !env.isEmpty { return env }
        let exe = (FileSystem.executablePath ?? CommandLine.arguments[0]).deletingLastPathComponent
        let candidates = [
            exe.appendingPathComponent("../share/ssast/default.ssast").standardizedPath,    // PREFIX/bin/ssast
            exe.appendingPathComponent("../../../models/default.ssast").standardizedPath,   // .build/<triple>/release/ssast
            exe.appendingPathComponent("../../models/default.ssast").standardizedPath,      // .build/release/ssast
        ]
        for c in candidates where FileSystem.exists(c) { return c }
        throw SSASTError("no --model given, SSAST_MODEL is not set, and no default model was found "
                         + "(looked in: \(candidates.joined(separator: ", ")))")
    }

    func load() throws -> (SSASTModel, Engine) {
        let path = try resolvedModelPath()
        let model = try SSASTModel(path: path)
        return (model, try engine(for: model))
    }
}

/// --threads, the same for every command that computes: default the CPUs online, at most 8.
struct ThreadOptions: ParsableArguments {
    // Unconditional: "--threads -1" reaches validate() and its range error instead of "Missing value".
    @Option(name: .customLong("threads"), parsing: .unconditional, help: ArgumentHelp("Worker threads, 1...256 (default: the CPUs online, at most 8).", valueName: "n"))
    var requested: Int?

    var threads: Int { requested ?? min(8, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    func validate() throws {
        if let n = requested, !(1...256).contains(n) { throw ValidationError("--threads must be between 1 and 256 (got \(n))") }
    }
}

/// Prints an error the way every command does: one line on stderr, prefixed with the tool name.
func printError(_ message: String) {
    writeStandardError("ssast: error: " + message + "\n")
}

func printWarning(_ message: String) {
    writeStandardError("ssast: warning: " + message + "\n")
}

/// Runs a command body, turning SSASTError into a clear message and a non-zero exit.
func runReportingErrors(_ body: () throws -> Void) throws {
    // Past a file-size limit (RLIMIT_FSIZE) the kernel would kill us with SIGXFSZ mid-write, leaving a
    // temporary file behind; ignored, write() fails with EFBIG and the atomic writer cleans up and reports.
    signal(SIGXFSZ, SIG_IGN)
    do { try body() } catch let e as SSASTError {
        printError(e.message)
        throw ExitCode.failure
    }
}

/// Minimal JSON writing for --jsonl output (stable key order, finite floats; NaN/Inf become null).
enum JSONOut {
    static func string(_ s: String) -> String { JSONValue.quoted(s) }
    static func number(_ x: Float) -> String { x.isFinite ? "\(x)" : "null" }
    static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
    static func array(_ xs: [Float]) -> String { "[" + xs.map(number).joined(separator: ",") + "]" }
    static func strings(_ xs: [String]) -> String { "[" + xs.map(string).joined(separator: ",") + "]" }
    /// An object from (key, already-encoded value) pairs.
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
