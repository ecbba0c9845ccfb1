/// What an AU (Sun/NeXT `.snd`) header says about where its audio is, read without libsndfile.
///
/// libsndfile reads the data offset and size as signed 32-bit numbers and adds them: a header
/// whose sum passes 2³¹ − 1, or whose audio starts past the end of the input, opens as 0 frames
/// and reads nothing, without an error. Checked after libsndfile accepted the header, so that such
/// a file is refused with the sizes named instead of giving an empty output and exit 0.
struct AUHeader: Equatable {
    /// Where the audio starts (bytes from the start of the header).
    var dataOffset: Int
    /// The audio's stated length; nil for 0xFFFFFFFF, "unknown" (to the end of the input).
    var dataBytes: Int?

    /// The largest offset + size libsndfile adds without wrapping (it reads both as `int`).
    static let largestEnd = Int(Int32.max)

    /// Reads `.snd` (big-endian) and `dns.` (little-endian, which libsndfile also reads) headers;
    /// nil when the bytes are not one.
    init?(prefix bytes: [UInt8]) {
        guard bytes.count >= 12 else { return nil }
        let magic = Array(bytes[0..<4])
        let bigEndian: Bool
        if magic == Array(".snd".utf8) {
            bigEndian = true
        } else if magic == Array("dns.".utf8) {
            bigEndian = false
        } else {
            return nil
        }
        func word(_ offset: Int) -> Int {
            (0..<4).reduce(0) { value, index in
                value << 8 | Int(bytes[offset + (bigEndian ? index : 3 - index)])
            }
        }
        dataOffset = word(4)
        let size = word(8)
        dataBytes = size == 0xFFFF_FFFF ? nil : size
    }

    /// The error for sizes libsndfile reads no audio from; `inputBytes` is the input's length
    /// when known (a regular file; on a pipe, the bytes that arrived once it ended).
    func error(inputBytes: Int?) -> StreamError? {
        if let inputBytes, dataOffset > inputBytes {
            return .auSizes(dataOffset: dataOffset, dataBytes: dataBytes, inputBytes: inputBytes)
        }
        if dataOffset > Self.largestEnd || dataOffset + (dataBytes ?? 0) > Self.largestEnd {
            return .auSizes(dataOffset: dataOffset, dataBytes: dataBytes, inputBytes: inputBytes)
        }
        return nil
    }
}
