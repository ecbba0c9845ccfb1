import Foundation

/// The bounds every number that shapes a run must meet, whichever front end it came from: the
/// filter's flags, a worker request, a batch manifest row, `tune`. Written once here, so a
/// value the filter refuses is refused everywhere, before anything is read or allocated.
public enum RunLimits {
    /// One bounded quantity: a name for messages, its bounds, and whether it is a whole number.
    public struct Rule: Sendable {
        /// What the value is, as a message names it ("the window length").
        public let quantity: String
        public let lowest: Double
        /// False when the value must be above `lowest` (a window of 0 s is no window).
        public let lowestIncluded: Bool
        public let highest: Double
        public let wholeNumber: Bool
        /// The bounds in words ("above 0 s and at most 3600 s").
        public let bounds: String

        /// The value when it is finite and within the bounds (rounded, for a whole number that is
        /// one within 1e-6); else `RunLimitError` carrying `text`, or the value as printed.
        public func check(_ value: Double, as text: String? = nil) throws -> Double {
            let given = text ?? String(format: "%g", value)
            guard value.isFinite else { throw RunLimitError(quantity: quantity, value: given, bounds: bounds) }
            let aboveLowest = lowestIncluded ? value >= lowest : value > lowest
            guard aboveLowest, value <= highest else { throw RunLimitError(quantity: quantity, value: given, bounds: bounds) }
            guard wholeNumber else { return value }
            let whole = value.rounded()
            guard abs(whole - value) < 1e-6 else { throw RunLimitError(quantity: quantity, value: given, bounds: bounds) }
            return whole
        }

        /// A whole number within the bounds (for the integer rules).
        public func checkWhole(_ value: Double, as text: String? = nil) throws -> Int {
            Int(try check(value, as: text))
        }

        /// `text` read as a decimal number (spaces around it allowed), then checked. Hexadecimal
        /// floats, `nan` and `inf` are not numbers here.
        public func check(parsing text: String) throws -> Double {
            guard let value = RunLimits.decimal(text) else {
                throw RunLimitError(quantity: quantity, value: text, bounds: bounds, notANumber: true)
            }
            return try check(value, as: text.trimmingCharacters(in: .whitespaces))
        }
    }

    /// Window lengths, in seconds: an hour holds any use; longer windows only cost memory.
    public static let chunkSeconds = Rule(quantity: "the window length", lowest: 0, lowestIncluded: false, highest: 3600,
                                          wholeNumber: false, bounds: "above 0 s and at most 3600 s")
    /// Overlaps, in seconds: at most half the longest window (half the window itself is checked
    /// with the window, by `ChunkPlan`).
    public static let overlapSeconds = Rule(quantity: "the overlap", lowest: 0, lowestIncluded: true, highest: 1800,
                                            wholeNumber: false, bounds: "0 s or more, and at most half the window")
    /// Lengths of audio a setting compares inputs with (the worker's `"use_chunk": "auto"`
    /// threshold): at most the longest window, as a one-pass run below it is one window.
    public static let thresholdSeconds = Rule(quantity: "a length of audio", lowest: 0, lowestIncluded: true, highest: 3600,
                                              wholeNumber: false, bounds: "0 s or more and at most 3600 s")
    /// The sample `tune` measures: its one-pass reference is one window of the sample plus 5% and
    /// 1 s, which must itself be a window the filter takes.
    public static let tuneSampleSeconds = Rule(quantity: "the sample length", lowest: 0, lowestIncluded: false, highest: 3000,
                                               wholeNumber: false, bounds: "above 0 s and at most 3000 s")
    /// Sample rates: above what any audio uses (768 kHz), far below where a WAV header's 32-bit
    /// fields (rate × bytes per frame) overflow.
    public static let sampleRate = Rule(quantity: "a sample rate", lowest: 1, lowestIncluded: true, highest: 4_000_000,
                                        wholeNumber: true, bounds: "a whole number of hz from 1 to 4000000")
    /// Frames read from the input at a time.
    public static let bufferFrames = Rule(quantity: "the buffer in frames", lowest: 1, lowestIncluded: true, highest: 1_048_576,
                                          wholeNumber: true, bounds: "from 1 to 1048576")
    public static let threads = Rule(quantity: "the thread count", lowest: 1, lowestIncluded: true, highest: 1024,
                                     wholeNumber: true, bounds: "from 1 to 1024")
    /// libsndfile's limit.
    public static let channels = Rule(quantity: "the channel count", lowest: 1, lowestIncluded: true, highest: 1024,
                                      wholeNumber: true, bounds: "from 1 to 1024")

    /// A decimal number, as people and JSON write them: digits, one point, an exponent. nil for
    /// anything else, `nan`, `inf` and hexadecimal floats included (which `Double(_:)` takes).
    public static func decimal(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ byte in
            (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x2B || byte == 0x2D || byte == 0x65 || byte == 0x45
        }) else { return nil }
        return Double(trimmed)
    }
}
