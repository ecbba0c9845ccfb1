/// What a WAV header's `fmt ` chunk (and the `data` chunk's length) say, read without libsndfile.
///
/// Consulted after libsndfile has refused a header, to name the value at fault (its own messages
/// say "SF_INFO struct incomplete" for a sample rate of 0 and "Too many channels specified"
/// without the count); after it accepted one, to refuse what it lets through (a block align that
/// does not match the samples) and to learn a pipe's length from the header.
struct WAVFormatChunk: Equatable {
    var formatTag: Int
    var channelCount: Int
    var sampleRate: Int
    var bitsPerSample: Int
    var blockAlign: Int
    /// The `data` chunk's stated length, when its header is among the bytes (RIFF and RIFX only:
    /// RF64 keeps the length elsewhere).
    var dataBytes: Int?
    /// Where the audio begins: the offset of the `data` chunk's payload, when its header is among the bytes.
    var dataStart: Int?
    var isRF64: Bool

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
        var format: (tag: Int, channels: Int, rate: Int, align: Int, bits: Int)?
        var data: Int?
        var offset = 12
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = integer(offset + 4, 4)
            let body = offset + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= bytes.count else { return nil }
                format = (integer(body, 2), integer(body + 2, 2), integer(body + 4, 4), integer(body + 12, 2), integer(body + 14, 2))
            } else if id == "data" {
                data = size
                dataStart = body
                break
            }
            offset = body + size + size % 2
        }
        guard let format else { return nil }
        formatTag = format.tag
        channelCount = format.channels
        sampleRate = format.rate
        blockAlign = format.align
        bitsPerSample = format.bits
        isRF64 = magic == "RF64"
        dataBytes = isRF64 ? nil : data
    }

    /// The data's length in frames when the header states a real one: not the placeholders
    /// streaming writers put there (0, sox's 0x7ffff000 rounded to whole frames, 0xffffffff).
    var statedFrames: Int? {
        guard let dataBytes, blockAlign > 0, dataBytes > 0, dataBytes < 0x7F00_0000 else { return nil }
        return dataBytes / blockAlign
    }

    /// For the PCM and float formats, a block align other than channels × the whole bytes that
    /// hold one sample (libsndfile reads 7 bits with block align 0 as 8-bit; sox refuses it).
    var blockAlignError: StreamError? {
        guard [1, 3, 0xFFFE].contains(formatTag), channelCount > 0 else { return nil }
        let expected = channelCount * ((bitsPerSample + 7) / 8)
        guard blockAlign != expected else { return nil }
        return .blockAlignMismatch(blockAlign: blockAlign, channels: channelCount, bitsPerSample: bitsPerSample)
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
