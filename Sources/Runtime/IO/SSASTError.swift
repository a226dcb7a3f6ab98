/// The one error type of the project: a message a user can act on, naming the file and the problem.
public struct SSASTError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
