/// What a WAV header's `fmt ` chunk says, read without libsndfile.
///
/// Only consulted after libsndfile has refused a header, to name the value at fault: its own
/// messages say "SF_INFO struct incomplete" for a sample rate of 0 and "Too many channels
/// specified" without the count.
struct WAVFormatChunk: Equatable {
    var formatTag: Int
    var channelCount: Int
    var sampleRate: Int
    var bitsPerSample: Int

    /// libsndfile's limit on channels (SF_MAX_CHANNELS), which RawPCMSource shares.
    static let maximumChannels = 1024

    /// Finds the `fmt ` chunk in the first bytes of a RIFF, RIFX (big-endian) or RF64 WAVE
    /// stream; nil when the bytes are not one or the chunk is not among them.
    init?(prefix bytes: [UInt8]) {
        guard bytes.count >= 12, Array(bytes[8..<12]) == Array("WAVE".utf8) else { return nil }
        let magic = String(decoding: bytes[0..<4], as: UTF8.self)
        guard ["RIFF", "RIFX", "RF64"].contains(magic) else { return nil }
        let bigEndian = magic == "RIFX"
        func integer(_ offset: Int, _ width: Int) -> Int {
            var value = 0
            for index in 0..<width {
                let byte = Int(bytes[offset + (bigEndian ? index : width - 1 - index)])
                value = value << 8 | byte
            }
            return value
        }
        var offset = 12
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = integer(offset + 4, 4)
            let body = offset + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= bytes.count else { return nil }
                formatTag = integer(body, 2)
                channelCount = integer(body + 2, 2)
                sampleRate = integer(body + 4, 4)
                bitsPerSample = integer(body + 14, 2)
                return
            }
            offset = body + size + size % 2
        }
        return nil
    }

    /// The error naming the value libsndfile could not take, or nil when the fields look sound
    /// (and libsndfile's own reason is the best there is).
    var error: StreamError? {
        if channelCount < 1 || channelCount > Self.maximumChannels { return .invalidChannels(count: channelCount) }
        if sampleRate < 1 { return .invalidRate(hz: sampleRate) }
        let isPCM = formatTag == 1 || formatTag == 0xFFFE  // extensible is usually PCM
        // libsndfile rounds odd integer widths up to whole bytes, up to 32 bits.
        if isPCM, bitsPerSample < 1 || bitsPerSample > 32 {
            return .unsupportedSampleFormat(encoding: SampleFormat.Encoding.signedInteger.rawValue, bits: bitsPerSample)
        }
        if formatTag == 3, bitsPerSample != 32, bitsPerSample != 64 {
            return .unsupportedSampleFormat(encoding: SampleFormat.Encoding.floatingPoint.rawValue, bits: bitsPerSample)
        }
        return nil
    }
}
