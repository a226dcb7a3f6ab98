import ArgumentParser
import Runtime
import Screening
import Train

// Enumerated option values: parsed by name, listed in --help and offered by shell completions.
extension Aggregate: ExpressibleByArgument {}
extension SampleEncoding: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension ModelConfig.Pooling: ExpressibleByArgument, CaseIterable {
    public static var allCases: [ModelConfig.Pooling] { [.avgtok, .cls] }
}
