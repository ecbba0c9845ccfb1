import CSamplerate

/// libsamplerate's converter quality, as `--resample-quality` names it.
public enum ResampleQuality: String, Sendable, CaseIterable {
    case best, medium, fast

    var converter: Int32 {
        switch self {
        case .best: return Int32(SRC_SINC_BEST_QUALITY)
        case .medium: return Int32(SRC_SINC_MEDIUM_QUALITY)
        case .fast: return Int32(SRC_SINC_FASTEST)
        }
    }
}

/// Streaming sample-rate conversion of planar audio, one libsamplerate state per channel
/// (src_new / src_process). Fed blocks as they arrive and told once that input has ended
/// (`end_of_input`), it returns what is final each time. When the rates are equal it passes
/// blocks through untouched.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    public let channelCount: Int
    private var states: [OpaquePointer] = []
    private let ratio: Double

    public init(from inputRate: Int, to outputRate: Int, channelCount: Int, quality: ResampleQuality) throws {
        guard inputRate > 0 else { throw StreamError.invalidRate(hz: inputRate) }
        guard outputRate > 0 else { throw StreamError.invalidRate(hz: outputRate) }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.channelCount = channelCount
        self.ratio = Double(outputRate) / Double(inputRate)
        guard inputRate != outputRate else { return }
        // libsamplerate accepts ratios in [1/256, 256].
        guard ratio >= 1.0 / 256, ratio <= 256 else {
            throw StreamError.resamplerFailed(
                reason: "cannot convert \(inputRate) hz to \(outputRate) hz; libsamplerate converts between rates at most 256 times apart")
        }
        for _ in 0..<channelCount {
            var code: Int32 = 0
            guard let state = src_new(quality.converter, 1, &code) else {
                throw StreamError.resamplerFailed(reason: String(cString: src_strerror(code)))
            }
            states.append(state)
        }
    }

    deinit { states.forEach { src_delete($0) } }

    public var isPassthrough: Bool { inputRate == outputRate }

    /// Converts a planar block; with `endOfInput`, also drains what the filters still hold.
    public func process(_ planar: [[Float]], endOfInput: Bool = false) throws -> [[Float]] {
        if isPassthrough { return planar }
        let inputFrames = planar.first?.count ?? 0
        var result: [[Float]] = []
        result.reserveCapacity(channelCount)
        for channel in 0..<channelCount {
            result.append(try convert(planar.isEmpty ? [] : planar[channel], state: states[channel], endOfInput: endOfInput))
        }
        // Channels are converted independently but identically, so their lengths agree.
        assert(result.allSatisfy { $0.count == result[0].count }, "channels diverged for \(inputFrames) frames")
        return result
    }

    private func convert(_ input: [Float], state: OpaquePointer, endOfInput: Bool) throws -> [Float] {
        var output: [Float] = []
        let capacity = Int(Double(input.count) * ratio) + 256
        var scratch = [Float](repeating: 0, count: capacity)
        var consumed = 0
        while true {
            var data = SRC_DATA()
            let generated: Int
            let used: Int
            let code: Int32 = input.withUnsafeBufferPointer { source in
                scratch.withUnsafeMutableBufferPointer { target in
                    data.data_in = source.baseAddress.map { $0 + consumed }
                    data.input_frames = Int(input.count - consumed)
                    data.data_out = target.baseAddress
                    data.output_frames = Int(capacity)
                    data.end_of_input = endOfInput ? 1 : 0
                    data.src_ratio = ratio
                    return src_process(state, &data)
                }
            }
            guard code == 0 else { throw StreamError.resamplerFailed(reason: String(cString: src_strerror(code))) }
            generated = Int(data.output_frames_gen)
            used = Int(data.input_frames_used)
            consumed += used
            output.append(contentsOf: scratch[0..<generated])
            let inputLeft = consumed < input.count
            if !inputLeft && (!endOfInput || generated == 0) { break }
            if inputLeft && used == 0 && generated == 0 { break }
        }
        return output
    }
}
