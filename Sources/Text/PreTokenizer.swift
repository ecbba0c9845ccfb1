/// GPT-2's pre-tokenizer: splits text into the pieces that BPE then encodes one by one.
///
/// The pattern, from GPT-2 and used unchanged by RoBERTa (Hugging Face's `RobertaTokenizer`
/// and the `ByteLevel` pre-tokenizer of `tokenizers`), is
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// applied as `findall`: from each position, the first alternative that matches. This is a
/// hand-rolled scanner over the UTF-8 of the text that gives the same matches:
/// - contractions are lowercase ASCII only (`'S` and the curly `’` are punctuation);
/// - the optional leading space is U+0020 alone, never a tab or another space character;
/// - `\s+(?!\S)` takes a whitespace run except its last scalar when a non-space follows, so
///   that scalar (when it is a space) can start the next word: `"a  b"` → `a`, ` `, ` b`;
///   a single whitespace scalar before a non-space is taken alone by `\s+`;
/// - combining marks are neither letters nor numbers, so `e` + U+0301 splits after the `e`.
/// Scalar classes are `ScalarClass`'s. Every scalar falls in some piece, so the pieces
/// concatenate to the text.
public enum PreTokenizer {
    /// The pieces of `text`, in order.
    public static func pieces(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { bytes in
            var pieces: [String] = []
            split(bytes) { range in pieces.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)) }
            return pieces
        }
    }

    /// Calls `piece` with the byte range of each piece of the valid UTF-8 in `bytes`, in order.
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ piece: (Range<Int>) -> Void) {
        let count = bytes.count
        var start = 0
        while start < count {
            let (first, firstWidth) = decode(bytes, at: start)
            // 's|'t|'re|'ve|'m|'ll|'d — ASCII bytes, which never occur inside a multi-byte scalar.
            if first == 0x27, start + 1 < count {
                let next = bytes[start + 1]
                if next == UInt8(ascii: "s") || next == UInt8(ascii: "t") || next == UInt8(ascii: "m") || next == UInt8(ascii: "d") {
                    piece(start..<(start + 2))
                    start += 2
                    continue
                }
                if start + 2 < count {
                    let pair = (next, bytes[start + 2])
                    if pair == (UInt8(ascii: "r"), UInt8(ascii: "e")) || pair == (UInt8(ascii: "v"), UInt8(ascii: "e"))
                        || pair == (UInt8(ascii: "l"), UInt8(ascii: "l")) {
                        piece(start..<(start + 3))
                        start += 3
                        continue
                    }
                }
            }
            let firstClass = ScalarClass(Unicode.Scalar(first)!)
            //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : a run of one class, perhaps after one space.
            var runStart = start, runClass = firstClass
            if first == 0x20, start + firstWidth < count {
                let (second, _) = decode(bytes, at: start + firstWidth)
                let secondClass = ScalarClass(Unicode.Scalar(second)!)
                if secondClass != .whitespace {
                    runStart = start + firstWidth
                    runClass = secondClass
                }
            }
            if runClass != .whitespace {
                var end = runStart
                while end < count {
                    let (scalar, width) = decode(bytes, at: end)
                    guard ScalarClass(Unicode.Scalar(scalar)!) == runClass else { break }
                    end += width
                }
                piece(start..<end)
                start = end
                continue
            }
            // \s+(?!\S) | \s+ : a whitespace run; before a non-space, all but its last scalar.
            var end = start + firstWidth, lastStart = start
            while end < count {
                let (scalar, width) = decode(bytes, at: end)
                guard ScalarClass(Unicode.Scalar(scalar)!) == .whitespace else { break }
                lastStart = end
                end += width
            }
            if end < count, lastStart > start { end = lastStart }
            piece(start..<end)
            start = end
        }
    }

    /// The scalar value starting at `index` of valid UTF-8, and its width in bytes.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (UInt32, Int) {
        let lead = UInt32(bytes[index])
        if lead < 0x80 { return (lead, 1) }
        if lead < 0xE0 { return ((lead & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F), 2) }
        if lead < 0xF0 {
            return ((lead & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F), 3)
        }
        return ((lead & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
                    | UInt32(bytes[index + 3] & 0x3F), 4)
    }
}
