/// Reads `merges.txt`: one merge a line, the two tokens (in byte symbols, see `ByteEncoder`)
/// separated by one space, highest priority first, after an optional `#version: …` line.
///
/// As Rust `tokenizers` reads it: lines starting with `#version` are skipped, a line must
/// split on single spaces into exactly two non-empty parts (so blank lines are errors, except
/// the end of the file), and `\r\n` endings are accepted.
enum MergesFile {
    struct Merge {
        let left: TokenKey
        let right: TokenKey
        /// The 1-based line in the file, for error messages.
        let line: Int
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> [Merge] {
        var merges: [Merge] = []
        merges.reserveCapacity(bytes.count / 8)
        var lineStart = 0, lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let next = lineEnd + 1
            if lineEnd > lineStart, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            lineStart = next
            if line.starts(with: "#version".utf8) { continue }
            guard let space = line.firstIndex(of: 0x20), space > 0, space < line.count - 1,
                  line[(space + 1)...].firstIndex(of: 0x20) == nil,
                  let left = TokenKey(validating: UnsafeBufferPointer(rebasing: line[..<space])),
                  let right = TokenKey(validating: UnsafeBufferPointer(rebasing: line[(space + 1)...])) else {
                throw TokenizerError.invalidMerge(file: file, line: lineNumber, text: String(decoding: line, as: UTF8.self))
            }
            merges.append(Merge(left: left, right: right, line: lineNumber))
        }
        return merges
    }
}
