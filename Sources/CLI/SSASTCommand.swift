import ArgumentParser

/// `ssast`: one command with a subcommand per job. Each subcommand lives in Commands/<Name>Command.swift.
@main
struct SSASTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssast",
        abstract: "Run, convert and fine-tune Self-Supervised Audio Spectrogram Transformer (SSAST) models, no Python needed.",
        discussion: """
            Typical use:
              ssast classify cough.wav                       # bundled default model
              ssast convert SSAST-Tiny-Patch-400.pth -o tiny.ssast --fstride 10 --tstride 10 --target-length 512
              ssast listen --model tiny.ssast                # live microphone screening
            """,
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
