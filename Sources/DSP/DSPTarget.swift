import Separation

/// What the built-in engine can separate, and the words that ask for it.
public enum DSPTarget: String, CaseIterable, Sendable {
    case voice, accompaniment, percussion, bass, harmonic

    /// Terms and synonyms, singular; matching is case- and plural-insensitive on whole words.
    static let terms: [(DSPTarget, [String])] = [
        (.voice, ["vocal", "vocals", "voice", "singing", "singer", "sing", "speech", "speaking", "talking", "talk", "dialogue",
                  "dialog", "narration", "narrator", "spoken", "speaker", "man", "woman", "person", "people"]),
        (.accompaniment, ["music", "instrumental", "backing", "karaoke", "background", "accompaniment", "band"]),
        (.percussion, ["drum", "drums", "percussion", "beat", "hihat", "hi-hat", "hat", "kick", "snare", "cymbal", "clap"]),
        (.bass, ["bass", "bassline", "sub", "subbass", "sub-bass"]),
        (.harmonic, ["pad", "string", "piano", "chord", "keyboard", "synth", "organ", "guitar", "tonal", "harmonic"]),
    ]

    /// The target a query asks for: the first class (in table order) with a term among its words.
    /// "a man talking" → voice; "drums and bass" → percussion (the first named class wins).
    public static func parse(_ query: String) throws -> DSPTarget {
        let words = query.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "-") }.map(String.init)
        for word in words {
            let forms = [word, word.hasSuffix("s") ? String(word.dropLast()) : word, word.hasSuffix("es") ? String(word.dropLast(2)) : word]
            for (target, synonyms) in terms where forms.contains(where: synonyms.contains) { return target }
        }
        throw EngineError.unsupportedQuery(query: query, known: known)
    }

    /// Every class with all its words, for help text.
    public static var vocabulary: String {
        terms.map { "\($0.0.rawValue) (\($0.1.joined(separator: ", ")))" }.joined(separator: "; ")
    }

    /// One line listing what the engine knows, for error messages.
    static var known: String {
        terms.map { "\($0.0.rawValue) (\($0.1.prefix(4).joined(separator: ", ")))" }.joined(separator: "; ")
    }
}
