// The declarations a command is made of: options, flags, positional arguments and shared groups of them,
// each declared once as a property wrapper. The wrapper carries the option's description (names, help,
// value name, default, allowed values) and a box the parser fills; the command reads the typed value.

/// Help text of one option, with the name shown for its value (`--threads <n>`).
public struct ArgumentHelp: ExpressibleByStringInterpolation {
    public var abstract: String
    public var valueName: String?
    public var isHidden = false

    public init(_ abstract: String = "", valueName: String? = nil) {
        self.abstract = abstract; self.valueName = valueName
    }
    public init(stringLiteral value: String) { self.init(value) }
    /// An option that works but is listed nowhere (an old spelling).
    public static var hidden: ArgumentHelp { var h = ArgumentHelp(); h.isHidden = true; return h }
}

/// The names of an option: `--long` from the property name, a custom long name, and/or a short name.
public struct NameSpecification {
    enum Element { case long, short, customLong(String), customShort(Character) }
    var elements: [Element]

    public static var long: NameSpecification { .init(elements: [.long]) }
    public static var short: NameSpecification { .init(elements: [.short]) }
    public static var shortAndLong: NameSpecification { .init(elements: [.short, .long]) }
    public static func customLong(_ name: String) -> NameSpecification { .init(elements: [.customLong(name)]) }
    public static func customShort(_ c: Character) -> NameSpecification { .init(elements: [.customShort(c)]) }

    /// (long, short) for a property called `key` (`windowHop` -> `window-hop`, short `w`).
    func resolve(key: String) -> (long: String?, short: Character?) {
        var long: String?, short: Character?
        for e in elements {
            switch e {
            case .long: long = kebabCase(key)
            case .short: short = key.first
            case .customLong(let n): long = n
            case .customShort(let c): short = c
            }
        }
        return (long, short)
    }
}

/// `windowHop` -> `window-hop`, `int8Activations` -> `int8-activations`, `headLr` -> `head-lr`.
func kebabCase(_ key: String) -> String {
    var out = ""
    for c in key {
        if c.isUppercase {
            if !out.isEmpty { out += "-" }
            out += c.lowercased()
        } else {
            out.append(c)
        }
    }
    return out
}

/// How an option finds its value. `.next` takes the next argument unless it looks like an option
/// (a negative number is a value); `.unconditional` takes it whatever it is (`--shard -1/2` reaches
/// the option's own range check instead of "Missing value").
public enum ParsingStrategy { case next, unconditional }

/// What a shell offers for an option's value.
public enum CompletionKind: Equatable { case none, files, list([String]) }

/// A type an option's value is parsed into. Types with a fixed set of values list them
/// (`allValueStrings`, each described in `allValueDescriptions`): help, the man page and completions show
/// them, and an unknown value is refused with the valid ones named.
public protocol ExpressibleByArgument {
    init?(argument: String)
    static var allValueStrings: [String] { get }
    static var allValueDescriptions: [String: String] { get }
    static var defaultCompletionKind: CompletionKind { get }
    var defaultValueDescription: String { get }
}

extension ExpressibleByArgument {
    public static var allValueStrings: [String] { [] }
    public static var allValueDescriptions: [String: String] { [:] }
    public static var defaultCompletionKind: CompletionKind { allValueStrings.isEmpty ? .none : .list(allValueStrings) }
    public var defaultValueDescription: String { "\(self)" }
}

extension ExpressibleByArgument where Self: CaseIterable, Self: RawRepresentable, RawValue == String {
    public init?(argument: String) { self.init(rawValue: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
    public var defaultValueDescription: String { rawValue }
}

extension String: ExpressibleByArgument {
    public init?(argument: String) { self = argument }
    public static var defaultCompletionKind: CompletionKind { .files }
    public var defaultValueDescription: String { self }
}
extension Int: ExpressibleByArgument { public init?(argument: String) { self.init(argument) } }
extension UInt64: ExpressibleByArgument { public init?(argument: String) { self.init(argument) } }
extension Double: ExpressibleByArgument { public init?(argument: String) { self.init(argument) } }
extension Float: ExpressibleByArgument { public init?(argument: String) { self.init(argument) } }

/// A value its type does not accept (the parser names the option and, if any, the valid values).
struct ValueError: Error {}

/// One declared argument, as the parser, help, man page and completions see it.
final class ArgumentDefinition {
    enum Kind { case option, flag, positional }
    let kind: Kind
    let key: String
    let long: String?
    let short: Character?
    let help: ArgumentHelp
    let valueName: String
    let defaultText: String?
    let values: [String]
    let valueDescriptions: [String: String]
    let completion: CompletionKind
    let repeatable: Bool
    let required: Bool
    let unconditional: Bool
    /// Takes one value (options and positionals; appends for repeatable ones) or sets a flag (nil).
    let assign: (String?) throws -> Void
    /// On the last argument of an option group: the group's validate(), run once the arguments up to
    /// here are checked, so usage errors come in declaration order.
    var validateAfter: (() throws -> Void)?

    init(kind: Kind, key: String, names: NameSpecification, help: ArgumentHelp?, defaultText: String?,
         values: [String], valueDescriptions: [String: String], completion: CompletionKind,
         repeatable: Bool, required: Bool, unconditional: Bool, assign: @escaping (String?) throws -> Void) {
        self.kind = kind
        self.key = key
        if kind == .positional { (long, short) = (nil, nil) } else { (long, short) = names.resolve(key: key) }
        self.help = help ?? ArgumentHelp()
        self.valueName = help?.valueName ?? long ?? kebabCase(key)
        self.defaultText = defaultText
        self.values = values
        self.valueDescriptions = valueDescriptions
        self.completion = completion
        self.repeatable = repeatable
        self.required = required
        self.unconditional = unconditional
        self.assign = assign
    }

    /// `--aggregate <aggregate>`, `--jsonl`, `<audio> ...`: the spelling in messages and the usage line.
    var synopsis: String {
        switch kind {
        case .flag: return "--" + (long ?? String(short!))
        case .option: return (long.map { "--" + $0 } ?? "-" + String(short!)) + " <\(valueName)>"
        case .positional: return "<\(valueName)>" + (repeatable ? " ..." : "")
        }
    }
}

/// Something a command is made of: a wrapper that declares arguments, found by reflection.
protocol ArgumentDeclaring {
    func definitions(key: String) -> [ArgumentDefinition]
}

/// Where the parser puts a value; shared by every copy of the command value.
final class Box<Value> {
    var value: Value?
    init(_ value: Value?) { self.value = value }
}

@propertyWrapper
public struct Option<Value>: ArgumentDeclaring {
    let box: Box<Value>
    let make: (String) -> ArgumentDefinition

    public var wrappedValue: Value {
        guard let v = box.value else { fatalError("option read before parsing") }
        return v
    }

    func definitions(key: String) -> [ArgumentDefinition] { [make(key)] }
}

/// Parses one value of type T for an option or positional, or explains why not.
func parseValue<T: ExpressibleByArgument>(_ text: String, as: T.Type) throws -> T {
    guard let v = T(argument: text) else { throw ValueError() }
    return v
}

extension Option where Value: ExpressibleByArgument {
    /// An option with a default, shown in help.
    public init(wrappedValue: Value, name: NameSpecification = .long, parsing: ParsingStrategy = .next, help: ArgumentHelp? = nil) {
        let box = Box<Value>(wrappedValue)
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .option, key: key, names: name, help: help, defaultText: wrappedValue.defaultValueDescription,
                               values: Value.allValueStrings, valueDescriptions: Value.allValueDescriptions,
                               completion: Value.defaultCompletionKind, repeatable: false, required: false,
                               unconditional: parsing == .unconditional) { box.value = try parseValue($0!, as: Value.self) }
        }
    }
    /// A required option.
    public init(name: NameSpecification = .long, parsing: ParsingStrategy = .next, help: ArgumentHelp? = nil) {
        let box = Box<Value>(nil)
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .option, key: key, names: name, help: help, defaultText: nil,
                               values: Value.allValueStrings, valueDescriptions: Value.allValueDescriptions,
                               completion: Value.defaultCompletionKind, repeatable: false, required: true,
                               unconditional: parsing == .unconditional) { box.value = try parseValue($0!, as: Value.self) }
        }
    }
}

extension Option {
    /// An optional option (nil when not given). `completion` overrides what shells offer for T
    /// (a String is completed as a file name unless it says otherwise).
    public init<T: ExpressibleByArgument>(name: NameSpecification = .long, parsing: ParsingStrategy = .next, help: ArgumentHelp? = nil,
                                          completion: CompletionKind? = nil) where Value == T? {
        let box = Box<Value>(.some(nil))
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .option, key: key, names: name, help: help, defaultText: nil,
                               values: T.allValueStrings, valueDescriptions: T.allValueDescriptions,
                               completion: completion ?? T.defaultCompletionKind, repeatable: false, required: false,
                               unconditional: parsing == .unconditional) { box.value = .some(try parseValue($0!, as: T.self)) }
        }
    }
    /// An optional option whose text is turned into a value by `transform` (its error is the message).
    public init<T>(name: NameSpecification = .long, parsing: ParsingStrategy = .next, help: ArgumentHelp? = nil,
                   transform: @escaping (String) throws -> T) where Value == T? {
        let box = Box<Value>(.some(nil))
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .option, key: key, names: name, help: help, defaultText: nil, values: [], valueDescriptions: [:],
                               completion: .none, repeatable: false, required: false,
                               unconditional: parsing == .unconditional) { box.value = .some(try transform($0!)) }
        }
    }
    /// A repeatable option: every occurrence adds a value.
    public init<T: ExpressibleByArgument>(wrappedValue: [T], name: NameSpecification = .long, parsing: ParsingStrategy = .next,
                                          help: ArgumentHelp? = nil, completion: CompletionKind? = nil) where Value == [T] {
        let box = Box<Value>(wrappedValue)
        self.box = box
        var given = false   // the first occurrence replaces the default
        make = { key in
            ArgumentDefinition(kind: .option, key: key, names: name, help: help, defaultText: nil,
                               values: T.allValueStrings, valueDescriptions: T.allValueDescriptions,
                               completion: completion ?? T.defaultCompletionKind, repeatable: true, required: false,
                               unconditional: parsing == .unconditional) {
                let v = try parseValue($0!, as: T.self)
                box.value = (given ? box.value! : []) + [v]
                given = true
            }
        }
    }
}

/// An on/off switch: `--jsonl`.
@propertyWrapper
public struct Flag: ArgumentDeclaring {
    let box: Box<Bool>
    let name: NameSpecification
    let help: ArgumentHelp?

    public init(wrappedValue: Bool, name: NameSpecification = .long, help: ArgumentHelp? = nil) {
        box = Box(wrappedValue); self.name = name; self.help = help
    }
    public var wrappedValue: Bool { box.value! }

    func definitions(key: String) -> [ArgumentDefinition] {
        let box = self.box
        return [ArgumentDefinition(kind: .flag, key: key, names: name, help: help, defaultText: nil, values: [], valueDescriptions: [:],
                                   completion: .none, repeatable: false, required: false, unconditional: false) { _ in box.value = true }]
    }
}

/// A positional argument: one value, or with an array type every remaining one (at least one).
@propertyWrapper
public struct Argument<Value>: ArgumentDeclaring {
    let box: Box<Value>
    let make: (String) -> ArgumentDefinition

    public var wrappedValue: Value {
        guard let v = box.value else { fatalError("argument read before parsing") }
        return v
    }
    func definitions(key: String) -> [ArgumentDefinition] { [make(key)] }
}

extension Argument where Value: ExpressibleByArgument {
    public init(help: ArgumentHelp? = nil) {
        let box = Box<Value>(nil)
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .positional, key: key, names: .long, help: help, defaultText: nil,
                               values: Value.allValueStrings, valueDescriptions: Value.allValueDescriptions,
                               completion: Value.defaultCompletionKind, repeatable: false, required: true,
                               unconditional: false) { box.value = try parseValue($0!, as: Value.self) }
        }
    }
}

extension Argument {
    public init<T: ExpressibleByArgument>(help: ArgumentHelp? = nil) where Value == [T] {
        let box = Box<Value>([])
        self.box = box
        make = { key in
            ArgumentDefinition(kind: .positional, key: key, names: .long, help: help, defaultText: nil,
                               values: T.allValueStrings, valueDescriptions: T.allValueDescriptions,
                               completion: T.defaultCompletionKind, repeatable: true, required: true,
                               unconditional: false) { box.value!.append(try parseValue($0!, as: T.self)) }
        }
    }
}

/// Options shared between commands (`ModelOptions`, `ScreeningOptions`), declared once in their own type.
@propertyWrapper
public struct OptionGroup<Value: ParsableArguments>: ArgumentDeclaring {
    public var wrappedValue: Value
    public init() { wrappedValue = Value() }

    func definitions(key: String) -> [ArgumentDefinition] {
        let defs = argumentDefinitions(of: wrappedValue)
        let group = wrappedValue
        defs.last?.validateAfter = { try group.validate() }
        return defs
    }
}

/// Every argument `value` declares, in declaration order, groups expanded in place.
func argumentDefinitions(of value: Any) -> [ArgumentDefinition] {
    Mirror(reflecting: value).children.flatMap { child -> [ArgumentDefinition] in
        guard let d = child.value as? ArgumentDeclaring, let label = child.label else { return [] }
        return d.definitions(key: label.hasPrefix("_") ? String(label.dropFirst()) : label)
    }
}

