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

    /// The class a single word names (case and plural aside), if any.
    static func named(by word: String) -> DSPTarget? {
        let forms = [word, word.hasSuffix("s") ? String(word.dropLast()) : word, word.hasSuffix("es") ? String(word.dropLast(2)) : word]
        return terms.first { _, synonyms in forms.contains(where: synonyms.contains) }?.0
    }

    /// The class that is everything but this one, where the engine has one (the accompaniment is
    /// what is not voice, and the other way round).
    var complement: DSPTarget? {
        switch self {
        case .voice: return .accompaniment
        case .accompaniment: return .voice
        case .percussion, .bass, .harmonic: return nil
        }
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
