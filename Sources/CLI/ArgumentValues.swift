import ArgumentParser
import Runtime
import Screening
import Train

// Enumerated option values: parsed by name (ignoring case), listed in --help and the man page, offered
// by shell completions, and an unknown value is refused with the valid ones listed. Older spellings
// stay accepted where a command used to take them.
extension Aggregate: ExpressibleByArgument {}
extension SampleEncoding: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension ModelConfig.Pooling: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension ModelConfig.Activation: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension Recipe.Metric: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased() == "map" ? "mAP" : argument.lowercased()) }
}

/// --dtype: the matmul weight type (fp32, fp16, int8; also f32/float32, f16/float16/half, i8).
struct DType: ExpressibleByArgument {
    let type: WeightType
    init(_ type: WeightType) { self.type = type }
    init?(argument: String) {
        guard let t = WeightType(name: argument) else { return nil }
        type = t
    }
    static var allValueStrings: [String] { [WeightType.f32, .f16, .i8].map(\.description) }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
    var defaultValueDescription: String { type.description }
}

/// --recipe: one of SSAST's published fine-tuning presets (Recipe.names).
struct RecipeName: ExpressibleByArgument {
    let name: String
    init?(argument: String) {
        guard Recipe.names.contains(argument.lowercased()) else { return nil }
        name = argument.lowercased()
    }
    static var allValueStrings: [String] { Recipe.names }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

/// --int8-activations: the activation width of int8 linears, one of Engine.int8ActivationWidths.
struct Int8Width: ExpressibleByArgument {
    let bits: Int
    init?(argument: String) {
        guard let b = Int(argument), Engine.int8ActivationWidths.contains(b) else { return nil }
        bits = b
    }
    static var allValueStrings: [String] { Engine.int8ActivationWidths.map { "\($0)" } }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

/// A true/false option (a plain Bool lists no values in --help or the man page).
struct Switch: ExpressibleByArgument {
    let value: Bool
    init?(argument: String) {
        guard let v = Bool(argument.lowercased()) else { return nil }
        value = v
    }
    static var allValueStrings: [String] { ["true", "false"] }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}
