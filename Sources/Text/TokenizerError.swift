import Files
import Glibc

/// Errors of the BPE tokenizer's loader. Every case names the file (or the label given for
/// in-memory contents) and, where there is one, the 1-based line.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// `open`, `fstat` or `read` failed; `call` is the C function, `errno` its error number.
    case cannotRead(file: String, call: String, errno: Int32)
    /// `vocab.json` is not JSON, or not one object of token strings to integer ids.
    case invalidVocabulary(file: String, line: Int, column: Int, reason: String)
    /// Two tokens of `vocab.json` share an id.
    case duplicateId(file: String, id: Int, tokens: [String])
    /// The vocabulary lacks the symbol of one of the 256 bytes, so some text could not be encoded.
    case missingByteSymbol(file: String, byte: UInt8, symbol: String)
    /// A line of `merges.txt` is not two tokens separated by one space.
    case invalidMerge(file: String, line: Int, text: String)
    /// A merge names a token (either part, or the two joined) that the vocabulary does not hold.
    case mergeTokenNotInVocabulary(file: String, line: Int, token: String)
    /// `merges.txt` holds no merge (empty, or only its `#version` line): every word would be
    /// split into single bytes, silently far from the model's tokens.
    case noMerges(file: String)
    /// A maximum length below 2 leaves no room for `<s>` and `</s>`.
    case invalidMaximumLength(Int)

    /// One line; quoted file content with its control characters escaped.
    public var description: String { message.printable }

    private var message: String {
        switch self {
        case .cannotRead(let file, let call, let errno):
            let text = strerror(errno).map { String(cString: $0) } ?? "error"
            return "\(file): \(call) failed: \(text) (errno \(errno))"
        case .invalidVocabulary(let file, let line, let column, let reason):
            return "\(file):\(line):\(column): invalid vocabulary: \(reason)"
        case .duplicateId(let file, let id, let tokens):
            return "\(file): id \(id) is given to more than one token: \(tokens.map { "'\($0)'" }.joined(separator: ", "))"
        case .missingByteSymbol(let file, let byte, let symbol):
            return "\(file): the vocabulary has no symbol '\(symbol)' for byte 0x\(String(byte, radix: 16)); a byte-level vocabulary needs all 256"
        case .invalidMerge(let file, let line, let text):
            return "\(file):\(line): a merge is two tokens separated by one space, got '\(text)'"
        case .mergeTokenNotInVocabulary(let file, let line, let token):
            return "\(file):\(line): merge token '\(token)' is not in the vocabulary"
        case .noMerges(let file):
            return "\(file): no merges (the file is empty or holds only its #version line); give roberta-base's merges.txt"
        case .invalidMaximumLength(let length):
            return "maximum length \(length) leaves no room for <s> and </s> (it must be at least 2)"
        }
    }
}
