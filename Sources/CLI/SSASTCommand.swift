import Arguments
import CBuildInfo
import Runtime

/// The release version of the `ssast` command (one definition; `ssast --version` and the man page show it).
let ssastVersion = "0.1.0"

/// `ssast`: one command with a subcommand per job. Each subcommand lives in Commands/<Name>Command.swift.
@main
struct SSASTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssast",
        abstract: "Run, convert and fine-tune Self-Supervised Audio Spectrogram Transformer (SSAST) models, no Python needed.",
        discussion: """
            Typical use:
              ssast classify cough.wav recordings/           # bundled default model (a demonstration)
              ssast classify --jsonl recordings/ > scores.jsonl
              ssast listen                                   # live screening from the default microphone
              ssast convert ciab.pth -o ciab.ssast --fstride 10 --tstride 10 --target-length 512 \\
                    --mean -8.2096 --std 6.1568 --labels Negative,Positive
              ssast listen --model ciab.ssast --device plughw:1,0
            """,
        version: "ssast \(ssastVersion) (weight format \(WeightFileFormat.version), commit \(String(cString: ssast_build_commit())))",
        subcommands: [
            // Subcommands register here (one line each).
            ClassifyCommand.self,
            EmbedCommand.self,
            ConvertCommand.self,
            InspectCommand.self,
            BenchCommand.self,
            ListenCommand.self,
            DevicesCommand.self,
            TrainCommand.self,
            EvalCommand.self,
        ]
    )
}
