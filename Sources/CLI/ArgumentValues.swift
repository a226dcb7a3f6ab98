import Arguments
import Runtime
import Screening
import Train

// Enumerated option values: parsed by name (ignoring case), listed in --help and the man page, offered
// by shell completions, and an unknown value is refused with the valid ones listed. Older spellings
// stay accepted where a command used to take them. Each type describes its values: --help and the man
// page show every value with its meaning.
extension Aggregate: ExpressibleByArgument {
    public static var allValueDescriptions: [String: String] {
        ["mean": "the mean over the windows", "max": "the highest of any window"]
    }
}
extension SampleEncoding: ExpressibleByArgument {
    public static var allValueDescriptions: [String: String] {
        ["s16le": "16-bit signed integers", "s32le": "32-bit signed integers", "s24le": "24-bit signed integers in 4 bytes",
         "f32le": "32-bit floats", "u8": "8-bit unsigned integers"]
    }
}
extension LossKind: ExpressibleByArgument {
    public static var allValueDescriptions: [String: String] {
        ["ce": "cross-entropy: one label per clip (softmax)", "bce": "binary cross-entropy: any number of labels per clip (sigmoid)"]
    }
}
extension ModelConfig.Pooling: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
    public static var allValueDescriptions: [String: String] {
        ["avgtok": "mean of the patch tokens (SSAST's ft_avgtok)", "cls": "mean of the class tokens (ft_cls)"]
    }
}

extension ModelConfig.Activation: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
    public static var allValueDescriptions: [String: String] {
        ["softmax": "the model was trained with cross-entropy", "sigmoid": "the model was trained with binary cross-entropy"]
    }
}

extension Recipe.Metric: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased() == "map" ? "mAP" : argument.lowercased()) }
    public static var allValueDescriptions: [String: String] { ["acc": "accuracy", "mAP": "mean average precision"] }
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
    static var allValueDescriptions: [String: String] {
        ["fp32": "32-bit floats", "fp16": "16-bit floats: half the bytes",
         "int8": "8-bit integers with a scale per output channel: a quarter of the bytes"]
    }
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
    static var allValueDescriptions: [String: String] {
        ["ciab": "CIAB coughs", "esc50": "ESC-50 environmental sounds", "speechcommands": "Speech Commands",
         "audioset": "AudioSet (multi-label)"].filter { Recipe.names.contains($0.key) }
    }
}

/// --int8-activations: the activation width of int8 linears, one of Engine.int8ActivationWidths.
struct Int8Width: ExpressibleByArgument {
    let bits: Int
    init?(argument: String) {
        guard let b = Int(argument), Engine.int8ActivationWidths.contains(b) else { return nil }
        bits = b
    }
    static var allValueStrings: [String] { Engine.int8ActivationWidths.map { "\($0)" } }
    static var allValueDescriptions: [String: String] {
        ["8": "bytes with a zero point per token", "12": "int16 lanes, symmetric"].filter { allValueStrings.contains($0.key) }
    }
}

/// A true/false option (a plain Bool lists no values in --help or the man page).
struct Switch: ExpressibleByArgument {
    let value: Bool
    init?(argument: String) {
        guard let v = Bool(argument.lowercased()) else { return nil }
        value = v
    }
    static var allValueStrings: [String] { ["true", "false"] }
    static var allValueDescriptions: [String: String] { ["true": "on", "false": "off"] }
}
