import Foundation

/// JSON string literals, as the JSON we write holds them (safetensors headers, JSON lines).
public enum JSONString {
    /// `text` between double quotes, with quotes, backslashes and control characters escaped,
    /// and the line and paragraph separators (U+2028, U+2029), which some readers take for line
    /// ends, as `\u` escapes.
    public static func quoted(_ text: String) -> String {
        var result = ""
        append(text, to: &result)
        return result
    }

    /// Appends `quoted(text)` to `output`.
    public static func append(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{2028}", "\u{2029}": output += String(format: "\\u%04x", scalar.value)
            case _ where scalar.value < 0x20: output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
