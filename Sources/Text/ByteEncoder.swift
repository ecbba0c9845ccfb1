/// GPT-2's reversible map from bytes to printable Unicode scalars (`bytes_to_unicode` in
/// Hugging Face's RoBERTa and GPT-2 tokenizers).
///
/// The 188 bytes that are printable Latin-1 (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves;
/// the other 68 (controls, space, DEL, NBSP, soft hyphen) are moved, in byte order, to
/// U+0100…U+0143. So space is `Ġ` (U+0120) and newline `Ċ` (U+010A). Vocabulary and merges
/// are written in these symbols.
enum ByteEncoder {
    /// The scalar standing for each byte.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The one-scalar string standing for each byte.
    static let symbols: [String] = scalars.map { String($0) }
}
