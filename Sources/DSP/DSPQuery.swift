import Separation

/// What a query asks of the built-in engine: one class, or everything but one class.
///
/// Read on whole words, case and plural aside. A negation ("no", "without", "minus", "remove",
/// "except", "not", "everything but", or a word ending in "-less": "drumless", "vocal-less")
/// applies to the next class named. A negated voice is the accompaniment and a negated
/// accompaniment the voice (the engine has both); any other negated class is the rest of the
/// input once that class is separated. A query that names two different things is refused:
/// the engine separates one at a time.
public struct DSPQuery: Equatable, Sendable, CustomStringConvertible {
    /// The class the engine separates.
    public let target: DSPTarget
    /// True when the query asks for everything but `target`: the run writes the rest.
    public let rest: Bool

    public init(target: DSPTarget, rest: Bool = false) {
        self.target = target
        self.rest = rest
    }

    /// "accompaniment", or "everything but percussion".
    public var description: String { rest ? "everything but \(target.rawValue)" : target.rawValue }

    static let negations: Set<String> = ["no", "without", "minus", "remove", "removed", "removing", "except", "excluding",
                                         "exclude", "not", "non", "sans", "less", "w/o"]
    static let everything: Set<String> = ["everything", "all", "anything"]
    /// Two words that name one thing whose classes, word by word, differ.
    static let compounds: [String: DSPTarget] = [
        "bass guitar": .bass, "bass guitars": .bass, "synth bass": .bass, "bass synth": .bass, "bass synths": .bass,
        "bass drum": .percussion, "bass drums": .percussion, "kick drum": .percussion, "drum machine": .percussion,
        "string bass": .bass, "upright bass": .bass, "keyboard bass": .bass, "piano bass": .bass,
    ]

    /// The class a "-less" word lacks: "drumless", "vocal-less".
    static func lacking(_ word: String) -> DSPTarget? {
        guard word.hasSuffix("less"), word.count > 4 else { return nil }
        var stem = word.dropLast(4)
        if stem.hasSuffix("-") { stem = stem.dropLast() }
        return DSPTarget.named(by: String(stem))
    }

    /// - Throws: `EngineError.unsupportedQuery` when no class is named,
    ///   `EngineError.severalTargets` when two different ones are.
    public init(parsing query: String) throws {
        let words = query.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "/") }.map(String.init)
        var asked: [DSPQuery] = []
        var negated = false
        var previous = ""
        var index = 0
        while index < words.count {
            var word = words[index]
            index += 1
            defer { previous = word }
            if index < words.count, let compound = Self.compounds["\(word) \(words[index])"] {
                word = compound.rawValue
                index += 1
            }
            if Self.negations.contains(word) || (word == "but" && Self.everything.contains(previous)) {
                negated = true
                continue
            }
            let target: DSPTarget
            var negative = negated
            if let named = DSPTarget.named(by: word) {
                target = named
            } else if let named = Self.lacking(word) {
                target = named
                negative = true
            } else {
                continue
            }
            negated = false
            let reading = negative ? target.complement.map { DSPQuery(target: $0) } ?? DSPQuery(target: target, rest: true)
                                   : DSPQuery(target: target)
            if !asked.contains(reading) { asked.append(reading) }
        }
        guard let first = asked.first else { throw EngineError.unsupportedQuery(query: query, known: DSPTarget.known) }
        guard asked.count == 1 else {
            throw EngineError.severalTargets(query: query, targets: asked.map(\.description))
        }
        self = first
    }
}
