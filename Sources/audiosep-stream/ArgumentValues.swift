import ArgumentParser
import Foundation
import Stream

/// Values of the command line, checked where they are parsed: a value out of range is refused
/// with the bounds in the user's units before anything is read, created or allocated.
enum ArgumentValues {
    struct OutOfRange: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a `RunLimits` check (the bounds every front end shares), saying the broken rule
    /// alone: ArgumentParser names the flag and the value.
    private static func checked<T>(_ check: () throws -> T) throws -> T {
        do {
            return try check()
        } catch let error as RunLimitError {
            throw OutOfRange(description: error.rule)
        }
    }

    /// A sample rate in hz as sox writes it: `48000`, `48k`, `44.1k`.
    static func rate(_ text: String) throws -> Int {
        var number = text.lowercased()
        var scale = 1.0
        if number.hasSuffix("hz") { number.removeLast(2) }
        if number.hasSuffix("k") { number.removeLast(); scale = 1000 }
        guard let value = RunLimits.decimal(number) else {
            throw OutOfRange(description: "a sample rate is a number of hz such as 48000 or 48k")
        }
        return try checked { try RunLimits.sampleRate.checkWhole(value * scale, as: text) }
    }

    /// The window length: seconds above 0, at most an hour.
    static func chunk(_ text: String) throws -> Double {
        guard RunLimits.decimal(text) != nil else { throw OutOfRange(description: "a length in seconds such as 10 or 2.5") }
        return try checked { try RunLimits.chunkSeconds.check(parsing: text) }
    }

    /// The overlap: seconds, 0 or more (its bound, half the window, is checked with the window).
    static func overlap(_ text: String) throws -> Double {
        guard RunLimits.decimal(text) != nil else { throw OutOfRange(description: "a length in seconds such as 1 or 0.5") }
        return try checked { try RunLimits.overlapSeconds.check(parsing: text) }
    }

    /// A whole number within `rule`'s bounds.
    static func integer(_ text: String, _ rule: RunLimits.Rule) throws -> Int {
        guard let value = Int(text) else { throw OutOfRange(description: "\(rule.quantity) is a whole number") }
        return try checked { try rule.checkWhole(Double(value), as: text) }
    }

    static func bufferFrames(_ text: String) throws -> Int { try integer(text, RunLimits.bufferFrames) }
    static func threadCount(_ text: String) throws -> Int { try integer(text, RunLimits.threads) }
    static func channelCount(_ text: String) throws -> Int { try integer(text, RunLimits.channels) }
    static func bits(_ text: String) throws -> Int {
        guard let value = Int(text), [8, 16, 24, 32, 64].contains(value) else {
            throw OutOfRange(description: "bits per sample are 8, 16, 24, 32 or 64")
        }
        return value
    }

    /// Puts a negative number after an option into the option (`--chunk -5` → `--chunk=-5`), so that
    /// it reaches the option's own check ("must be above 0") instead of reading as an unknown flag.
    static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { result += arguments[index...]; break }
            if argument.hasPrefix("--"), !argument.contains("="), index + 1 < arguments.count,
               isNegativeNumber(arguments[index + 1]) {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
                continue
            }
            if let long = shortToLong[argument], index + 1 < arguments.count, isNegativeNumber(arguments[index + 1]) {
                result.append(long + "=" + arguments[index + 1])
                index += 2
                continue
            }
            result.append(argument)
            index += 1
        }
        return result
    }

    /// The short options that take a number.
    private static let shortToLong = ["-r": "--rate", "-c": "--channels", "-b": "--bits"]

    private static func isNegativeNumber(_ text: String) -> Bool {
        guard text.hasPrefix("-"), text.count > 1 else { return false }
        return Double(text) != nil || text.lowercased() == "-inf"
    }
}
