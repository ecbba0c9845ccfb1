import ArgumentParser
import Foundation

/// Values of the command line, checked where they are parsed: a value out of range is refused
/// with the bounds in the user's units before anything is read, created or allocated.
enum ArgumentValues {
    /// Sample rates the tool takes: above what any audio uses (768 kHz), far below where a WAV
    /// header's 32-bit fields (rate × bytes per frame) overflow.
    static let rates = 1...4_000_000
    /// Window lengths, in seconds: an hour holds any use; longer windows only cost memory.
    static let chunkSeconds = 0.0...3600.0
    static let bufferFrames = 1...1_048_576
    static let threads = 1...1024

    struct OutOfRange: Error, CustomStringConvertible {
        var description: String
    }

    /// A sample rate in hz as sox writes it: `48000`, `48k`, `44.1k`.
    static func rate(_ text: String) throws -> Int {
        var number = text.lowercased()
        var scale = 1.0
        if number.hasSuffix("hz") { number.removeLast(2) }
        if number.hasSuffix("k") { number.removeLast(); scale = 1000 }
        guard let value = Double(number), value.isFinite else {
            throw OutOfRange(description: "a sample rate is a number of hz such as 48000 or 48k")
        }
        let hz = (value * scale).rounded()
        guard hz >= Double(rates.lowerBound), hz <= Double(rates.upperBound), abs(hz - value * scale) < 1e-6 else {
            throw OutOfRange(description: "a sample rate is a whole number of hz from \(rates.lowerBound) to \(rates.upperBound)")
        }
        return Int(hz)
    }

    /// The window length: seconds above 0, at most an hour.
    static func chunk(_ text: String) throws -> Double {
        guard let value = Double(text), value.isFinite else { throw OutOfRange(description: "a length in seconds such as 10 or 2.5") }
        guard value > chunkSeconds.lowerBound, value <= chunkSeconds.upperBound else {
            throw OutOfRange(description: "the window length must be above 0 s and at most \(Int(chunkSeconds.upperBound)) s")
        }
        return value
    }

    /// The overlap: seconds, 0 or more (its bound, half the window, is checked with the window).
    static func overlap(_ text: String) throws -> Double {
        guard let value = Double(text), value.isFinite else { throw OutOfRange(description: "a length in seconds such as 1 or 0.5") }
        guard value >= 0, value <= chunkSeconds.upperBound / 2 else {
            throw OutOfRange(description: "the overlap must be 0 s or more, and at most half the window")
        }
        return value
    }

    static func integer(_ text: String, in range: ClosedRange<Int>, what: String) throws -> Int {
        guard let value = Int(text) else { throw OutOfRange(description: "\(what) is a whole number") }
        guard range.contains(value) else {
            throw OutOfRange(description: "\(what) must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    static func bufferFrames(_ text: String) throws -> Int { try integer(text, in: bufferFrames, what: "the buffer in frames") }
    static func threadCount(_ text: String) throws -> Int { try integer(text, in: threads, what: "the thread count") }
    static func channelCount(_ text: String) throws -> Int { try integer(text, in: 1...1024, what: "the channel count") }
    static func bits(_ text: String) throws -> Int {
        let value = try integer(text, in: 1...64, what: "bits per sample")
        guard [8, 16, 24, 32, 64].contains(value) else { throw OutOfRange(description: "bits per sample are 8, 16, 24, 32 or 64") }
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
