import Glibc

/// A token string compared byte for byte.
///
/// Swift's `String` equality and hashing follow canonical equivalence (U+1FBB equals U+0386,
/// `Å` equals `A` + U+030A); Python's and Rust's compare code points, and so must a tokenizer
/// that maps bytes to ids. Short strings (up to 15 UTF-8 bytes) live inline, so keys cost no
/// allocation, unlike `[UInt8]`.
struct TokenKey: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    /// The key of `bytes`, or `nil` if they are not valid UTF-8. (A hand-written check:
    /// `String(validating:as:)` is generic and costs a third of a 50k-entry load.)
    init?(validating bytes: UnsafeBufferPointer<UInt8>) {
        guard Self.isValidUTF8(bytes) else { return nil }
        text = String(decoding: bytes, as: UTF8.self)
    }

    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        @inline(__always) func continuation(_ offset: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            index + offset < count && range.contains(bytes[index + offset])
        }
        while index < count {
            let lead = bytes[index]
            switch lead {
            case 0x00...0x7F:
                index += 1
            case 0xC2...0xDF:
                guard continuation(1) else { return false }
                index += 2
            case 0xE0...0xEF:
                let second: ClosedRange<UInt8> = lead == 0xE0 ? 0xA0...0xBF : lead == 0xED ? 0x80...0x9F : 0x80...0xBF
                guard continuation(1, second), continuation(2) else { return false }
                index += 3
            case 0xF0...0xF4:
                let second: ClosedRange<UInt8> = lead == 0xF0 ? 0x90...0xBF : lead == 0xF4 ? 0x80...0x8F : 0x80...0xBF
                guard continuation(1, second), continuation(2), continuation(3) else { return false }
                index += 4
            default:
                return false
            }
        }
        return true
    }

    static func == (left: TokenKey, right: TokenKey) -> Bool {
        let count = left.text.utf8.count
        guard count == right.text.utf8.count else { return false }
        let same = left.text.utf8.withContiguousStorageIfAvailable { leftBytes in
            right.text.utf8.withContiguousStorageIfAvailable { rightBytes in
                count == 0 || memcmp(leftBytes.baseAddress!, rightBytes.baseAddress!, count) == 0
            }
        }
        return (same ?? nil) ?? left.text.utf8.elementsEqual(right.text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        if let hashed: Void = text.utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) {
            return hashed
        }
        for byte in text.utf8 { hasher.combine(byte) }
    }
}
