/// The four classes GPT-2's pre-tokenizer pattern tells apart: `\p{L}`, `\p{N}`, `\s` and the
/// rest.
///
/// As Hugging Face's Rust `tokenizers` sees them: its regex engine, Oniguruma, carries the
/// Unicode 16.0 tables, so a scalar counts as a letter or number only if it was assigned by
/// Unicode 16.0 (Swift's own tables are newer: Unicode 17 letters such as U+088F are "other"
/// to `tokenizers`). Whitespace is the White_Space property, which is what Oniguruma's `\s`
/// matches (U+001C…U+001F are not whitespace, unlike Python's `str.isspace`). The test suite
/// checks every scalar against the tables `tools/reference/make_tokenizer_fixtures.py` reads
/// out of `tokenizers`.
public enum ScalarClass: UInt8, Sendable {
    case letter, number, whitespace, other

    /// The Unicode version of Oniguruma's tables in `tokenizers` 0.22–0.23.
    static let unicodeVersion = (major: 16, minor: 0)

    /// The class of `scalar`.
    @inline(__always)
    public init(_ scalar: Unicode.Scalar) {
        if scalar.value < 0x80 {
            self = Self.ascii[Int(scalar.value)]
        } else {
            self = Self.classify(scalar)
        }
    }

    private static let ascii: [ScalarClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        guard let age = properties.age,
              (age.major, age.minor) <= (unicodeVersion.major, unicodeVersion.minor) else { return .other }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
