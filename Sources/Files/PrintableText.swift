extension String {
    /// The text with what a terminal would act on instead of showing escaped: control characters
    /// (C0, DEL, C1: `\n`, `\t`, `\r`, else `\u{1b}`), line and paragraph separators and the
    /// bidirectional overrides. Error messages quote file content (a merges.txt line, a tensor
    /// name from a header), which must not move the cursor or recolour the terminal.
    public var printable: String {
        guard unicodeScalars.contains(where: Self.needsEscape) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where Self.needsEscape(scalar): result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
