/// A number outside the bounds `RunLimits` sets for it, or not a number at all; carries the
/// value as it was given.
public struct RunLimitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What the value is ("the window length").
    public let quantity: String
    /// The value as given (text), or as printed.
    public let value: String
    /// The bounds in words ("above 0 s and at most 3600 s").
    public let bounds: String
    /// True when the text was no decimal number.
    public let notANumber: Bool

    public init(quantity: String, value: String, bounds: String, notANumber: Bool = false) {
        self.quantity = quantity
        self.value = value
        self.bounds = bounds
        self.notANumber = notANumber
    }

    /// The rule alone: "the window length must be above 0 s and at most 3600 s".
    public var rule: String { notANumber ? "\(quantity) must be a number, \(bounds)" : "\(quantity) must be \(bounds)" }

    public var description: String { "\(rule), not '\(value)'" }
}
