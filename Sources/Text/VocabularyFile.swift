/// Reads `vocab.json`: one JSON object mapping token strings (in byte symbols, see
/// `ByteEncoder`) to integer ids, as Hugging Face writes it for GPT-2 and RoBERTa.
///
/// A small strict JSON reader for exactly that shape, so that a malformed file is reported
/// with its line and column, and a 50k-entry vocabulary loads in milliseconds. Tokens are
/// compared byte for byte (`TokenKey`), as in Python and Rust. As in Python's `json` and Rust's
/// `serde_json`, a repeated key keeps its last value. Ids must be integers in 0..<2³¹; lone
/// surrogate escapes, raw control characters and invalid UTF-8 in strings are rejected.
enum VocabularyFile {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> [TokenKey: Int] {
        var reader = Reader(bytes: bytes, file: file)
        var vocabulary: [TokenKey: Int] = [:]
        reader.skipWhitespace()
        try reader.expect(UInt8(ascii: "{"), "expected '{' to open the vocabulary object")
        reader.skipWhitespace()
        if reader.peek() == UInt8(ascii: "}") {
            reader.index += 1
        } else {
            vocabulary.reserveCapacity(bytes.count / 12)
            while true {
                reader.skipWhitespace()
                let token = try reader.string()
                reader.skipWhitespace()
                try reader.expect(UInt8(ascii: ":"), "expected ':' after the token '\(token.text)'")
                reader.skipWhitespace()
                vocabulary[token] = try reader.id(of: token.text)
                reader.skipWhitespace()
                if reader.peek() == UInt8(ascii: ",") {
                    reader.index += 1
                    continue
                }
                try reader.expect(UInt8(ascii: "}"), "expected ',' or '}' after the id of '\(token.text)'")
                break
            }
        }
        reader.skipWhitespace()
        if reader.index < bytes.count { throw reader.error("unexpected text after the vocabulary object") }
        return vocabulary
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let file: String
        var index = 0
        var scratch: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
            self.bytes = bytes
            self.file = file
        }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8, _ reason: @autoclosure () -> String) throws {
            guard peek() == byte else { throw error(peek() == nil ? "unexpected end of file: " + reason() : reason()) }
            index += 1
        }

        /// The JSON string at `index`.
        mutating func string() throws -> TokenKey {
            try expect(UInt8(ascii: "\""), "expected a token string in double quotes")
            let start = index
            // Fast path: no escapes.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                index += 1
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                return try text(UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)]), at: start)
            }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: bytes[start..<index])
            while true {
                guard index < bytes.count else { throw error("unexpected end of file inside a string") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { index += 1; break }
                if byte < 0x20 { throw error("raw control character 0x\(String(byte, radix: 16)) in a string (write it as \\u escape)") }
                guard byte == UInt8(ascii: "\\") else {
                    scratch.append(byte)
                    index += 1
                    continue
                }
                guard index + 1 < bytes.count else { throw error("unexpected end of file inside a string") }
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escape)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var value = try hex4()
                    if (0xD800..<0xDC00).contains(value) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("lone surrogate \\u\(String(value, radix: 16)) in a string")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate \\u\(String(value, radix: 16)) in a string") }
                        value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(value) {
                        throw error("lone surrogate \\u\(String(value, radix: 16)) in a string")
                    }
                    scratch.append(contentsOf: String(Unicode.Scalar(value)!).utf8)
                default:
                    index -= 2
                    throw error("invalid escape '\\\(String(Unicode.Scalar(escape)))' in a string")
                }
            }
            return try scratch.withUnsafeBufferPointer { try text($0, at: start) }
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("unexpected end of file inside a \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = UInt32(String(Unicode.Scalar(bytes[index])), radix: 16) else {
                    throw error("invalid hex digit in a \\u escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        func text(_ utf8: UnsafeBufferPointer<UInt8>, at offset: Int) throws -> TokenKey {
            guard let text = TokenKey(validating: utf8) else {
                throw Reader(bytes: bytes, file: file, index: offset).error("a string is not valid UTF-8")
            }
            return text
        }

        private init(bytes: UnsafeBufferPointer<UInt8>, file: String, index: Int) {
            self.bytes = bytes
            self.file = file
            self.index = index
        }

        /// A non-negative integer id, the value of `token`.
        mutating func id(of token: String) throws -> Int {
            let start = index
            var value = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
                if value > Int(Int32.max) {
                    index = start
                    throw error("the id of '\(token)' is too large")
                }
            }
            let digits = index - start
            let followedByNumber = index < bytes.count && [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index])
            guard digits > 0, !followedByNumber, !(digits > 1 && bytes[start] == UInt8(ascii: "0")) else {
                index = start
                throw error("the id of '\(token)' is not a non-negative integer")
            }
            return value
        }

        /// An error at `index`, with its 1-based line and column (in bytes).
        func error(_ reason: String) -> TokenizerError {
            var line = 1, lineStart = 0
            for offset in 0..<min(index, bytes.count) where bytes[offset] == 0x0A {
                line += 1
                lineStart = offset + 1
            }
            return .invalidVocabulary(file: file, line: line, column: index - lineStart + 1, reason: reason)
        }
    }
}
