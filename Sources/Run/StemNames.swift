import Foundation

/// Output names for several stems: `{query}` in a pattern becomes each query's file-name-safe form.
public enum StemNames {
    /// The placeholder a pattern holds.
    public static let placeholder = "{query}"

    /// A query as part of a file name: each run of characters other than letters, digits, `.`,
    /// `_`, `+` and `-` (spaces, slashes, quotes, …) becomes one `-`; `-` and `.` are trimmed from
    /// both ends; at most 100 characters are kept; case is kept. "a dog barking" → `a-dog-barking`,
    /// "drums/percussion" → `drums-percussion`; a query with nothing left is `query`.
    public static func safe(_ query: String) -> String {
        var result = ""
        var pendingDash = false
        for character in query {
            let kept = character.isLetter || character.isNumber || "._+-".contains(character)
            if kept, !(character.unicodeScalars.first.map { $0.properties.isWhitespace } ?? false) {
                if pendingDash, !result.isEmpty { result.append("-") }
                pendingDash = false
                result.append(character)
            } else {
                pendingDash = true
            }
        }
        let trimmed = result.trimmingCharacters(in: CharacterSet(charactersIn: "-."))
        let limited = String(trimmed.prefix(100)).trimmingCharacters(in: CharacterSet(charactersIn: "-."))
        return limited.isEmpty ? "query" : limited
    }

    /// Whether `pattern` names one file per query.
    public static func isPattern(_ pattern: String) -> Bool { pattern.contains(placeholder) }

    /// `pattern` with `{query}` replaced by `query`'s safe form.
    public static func expand(_ pattern: String, query: String) -> String {
        pattern.replacingOccurrences(of: placeholder, with: safe(query))
    }
}
