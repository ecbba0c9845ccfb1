/// How one sample is stored: encoding, width and byte order (sox's -e, -b and --endian).
public struct SampleFormat: Sendable, Equatable, CustomStringConvertible {
    public enum Encoding: String, Sendable, CaseIterable {
        case signedInteger = "signed-integer"
        case unsignedInteger = "unsigned-integer"
        case floatingPoint = "floating-point"
    }
    public enum Endian: String, Sendable, CaseIterable { case little, big }

    public var encoding: Encoding
    public var bits: Int
    public var endian: Endian

    public init(encoding: Encoding, bits: Int, endian: Endian = .little) throws {
        switch encoding {
        case .signedInteger, .unsignedInteger:
            guard [8, 16, 24, 32].contains(bits) else {
                throw StreamError.unsupportedSampleFormat(encoding: encoding.rawValue, bits: bits)
            }
        case .floatingPoint:
            guard [32, 64].contains(bits) else {
                throw StreamError.unsupportedSampleFormat(encoding: encoding.rawValue, bits: bits)
            }
        }
        self.encoding = encoding
        self.bits = bits
        self.endian = endian
    }

    public var bytesPerSample: Int { bits / 8 }
    public var isInteger: Bool { encoding != .floatingPoint }
    public var description: String { "\(bits)-bit \(encoding.rawValue) \(endian)-endian" }

    /// Parses sox's names and abbreviations for an encoding (`signed`, `s`, `float`, …).
    public static func parseEncoding(_ text: String) throws -> Encoding {
        switch text.lowercased() {
        case "signed-integer", "signed", "s", "int": return .signedInteger
        case "unsigned-integer", "unsigned", "u", "uint": return .unsignedInteger
        case "floating-point", "float", "f": return .floatingPoint
        default:
            throw StreamError.invalidChoice(name: "sample encoding", value: text,
                                            valid: ["signed-integer (signed)", "unsigned-integer (unsigned)", "floating-point (float)"])
        }
    }
}

/// Converts between interleaved bytes and planar floats in [-1, 1).
///
/// Integers of b bits map to v / 2^(b−1) (libsndfile's and sox's convention), so a 16-bit
/// round trip is exact. Encoding to integers rounds, clamps and counts the clamped samples.
public struct SampleCodec: Sendable {
    public let format: SampleFormat
    public let channelCount: Int

    public init(format: SampleFormat, channelCount: Int) {
        self.format = format
        self.channelCount = channelCount
    }

    public var bytesPerFrame: Int { format.bytesPerSample * channelCount }

    /// Decodes `frames` whole frames from `bytes`; returns planar channels.
    public func decode(_ bytes: UnsafeRawBufferPointer, frames: Int) -> [[Float]] {
        var planar = [[Float]](repeating: [Float](repeating: 0, count: frames), count: channelCount)
        let width = format.bytesPerSample
        let big = format.endian == .big
        let scale = 1.0 / Double(1 << (format.bits - 1))
        for channel in 0..<channelCount {
            planar[channel].withUnsafeMutableBufferPointer { out in
                for frame in 0..<frames {
                    let offset = (frame * channelCount + channel) * width
                    let raw = Self.loadUnsigned(bytes, at: offset, width: width, bigEndian: big)
                    switch format.encoding {
                    case .signedInteger:
                        let shift = 64 - format.bits
                        let value = Int64(bitPattern: raw << UInt64(shift)) >> Int64(shift)
                        out[frame] = Float(Double(value) * scale)
                    case .unsignedInteger:
                        out[frame] = Float((Double(raw) - Double(1 << (format.bits - 1))) * scale)
                    case .floatingPoint:
                        out[frame] = width == 4 ? Float(bitPattern: UInt32(truncatingIfNeeded: raw))
                                                : Float(Double(bitPattern: raw))
                    }
                }
            }
        }
        return planar
    }

    /// Encodes planar channels to interleaved bytes, appending to `bytes`.
    /// - Returns: the number of samples clamped to the integer range (0 for float output).
    @discardableResult
    public func encode(_ planar: [[Float]], into bytes: inout [UInt8]) -> Int {
        let frames = planar.first?.count ?? 0
        let width = format.bytesPerSample
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: frames * channelCount * width))
        var clamped = 0
        let big = format.endian == .big
        // Float32 cannot tell 2³¹−1 from 2³¹, so 32-bit full scale decodes to exactly 1.0; a
        // sample counts as clamped only when it lies beyond full scale by more than a float32
        // step there (for 8 to 24 bits, by any whole step).
        let (fullScale, low, high, slack) = Self.integerRange(bits: format.bits)
        bytes.withUnsafeMutableBytes { out in
            for channel in 0..<channelCount {
                let samples = planar[channel]
                for frame in 0..<frames {
                    let offset = start + (frame * channelCount + channel) * width
                    let sample = samples[frame]
                    let raw: UInt64
                    switch format.encoding {
                    case .signedInteger, .unsignedInteger:
                        let (value, wasClamped) = Self.quantize(sample, fullScale: fullScale, low: low, high: high, slack: slack)
                        if wasClamped { clamped += 1 }
                        let integer = value + (format.encoding == .unsignedInteger ? Int64(fullScale) : 0)
                        raw = UInt64(bitPattern: integer)
                    case .floatingPoint:
                        raw = width == 4 ? UInt64(sample.bitPattern) : Double(sample).bitPattern
                    }
                    Self.storeUnsigned(raw, into: out, at: offset, width: width, bigEndian: big)
                }
            }
        }
        return clamped
    }

    /// The signed integer a sample becomes at full scale `fullScale` (2^(bits−1)): rounded to
    /// the nearest, NaN as 0, held to [`low`, `high`]; `clamped` when it lay beyond them by more
    /// than `slack` (see `encode`). The one rule every integer writer follows.
    @inline(__always)
    static func quantize(_ sample: Float, fullScale: Double, low: Double, high: Double, slack: Double)
        -> (value: Int64, clamped: Bool) {
        var value = sample.isNaN ? 0 : (Double(sample) * fullScale).rounded()
        var clamped = false
        if value < low {
            clamped = value < low - slack
            value = low
        } else if value > high {
            clamped = value > high + slack
            value = high
        }
        return (Int64(value), clamped)
    }

    /// `quantize`'s bounds for `bits`-bit integers: full scale, lowest, highest and the slack.
    static func integerRange(bits: Int) -> (fullScale: Double, low: Double, high: Double, slack: Double) {
        let fullScale = Double(1 << (bits - 1))
        return (fullScale, -fullScale, fullScale - 1, fullScale * Double(Float.ulpOfOne) / 2)
    }

    @inline(__always)
    static func loadUnsigned(_ bytes: UnsafeRawBufferPointer, at offset: Int, width: Int, bigEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        for byte in 0..<width {
            let shift = bigEndian ? (width - 1 - byte) * 8 : byte * 8
            value |= UInt64(bytes[offset + byte]) << UInt64(shift)
        }
        return value
    }

    @inline(__always)
    static func storeUnsigned(_ value: UInt64, into bytes: UnsafeMutableRawBufferPointer, at offset: Int, width: Int, bigEndian: Bool) {
        for byte in 0..<width {
            let shift = bigEndian ? (width - 1 - byte) * 8 : byte * 8
            bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
        }
    }
}
