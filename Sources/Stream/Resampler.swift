import Foundation
import CSamplerate

/// The converter quality, as `--resample-quality` names it: `best` is libsamplerate's best sinc
/// (145 dB, 97 % bandwidth); `medium` (the default: 125 dB, 90 %, below 16-bit output's noise
/// floor) and `fast` (100 dB, 80 %) are `PolyphaseFilter` designs, which fall back to
/// libsamplerate's converter of the same grade for ratios with more than 4096 phases.
public enum ResampleQuality: String, Sendable, CaseIterable {
    case best, medium, fast

    /// The default: its error is below 16-bit output's quantisation noise.
    public static let standard = ResampleQuality.medium

    var converter: Int32 {
        switch self {
        case .best: return Int32(SRC_SINC_BEST_QUALITY)
        case .medium: return Int32(SRC_SINC_MEDIUM_QUALITY)
        case .fast: return Int32(SRC_SINC_FASTEST)
        }
    }

    var design: PolyphaseFilter.Design? {
        switch self {
        case .best: return nil
        case .medium: return .medium
        case .fast: return .fast
        }
    }
}

/// Streaming sample-rate conversion of planar audio, one converter per channel: a
/// `PolyphaseChannel` where the quality has a design and the ratio a table, else a libsamplerate
/// state (src_new / src_process). Fed blocks as they arrive and told once that input has ended
/// (`end_of_input`), it returns what is final each time. When the rates are equal it passes
/// blocks through untouched.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    public let channelCount: Int
    private var states: [OpaquePointer] = []
    private var channels: [PolyphaseChannel] = []
    private let ratio: Double

    /// CPU seconds spent converting so far: the calling thread's CPU time around each call
    /// (CLOCK_THREAD_CPUTIME_ID), so that time the thread spends waiting for a core is not counted.
    public private(set) var seconds = 0.0

    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Which converter runs: "polyphase", "libsamplerate" or "none" (equal rates).
    public var converterName: String { isPassthrough ? "none" : channels.isEmpty ? "libsamplerate" : "polyphase" }

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
        if let design = quality.design, let filter = PolyphaseFilter(inputRate: inputRate, outputRate: outputRate, design: design) {
            channels = Array(repeating: PolyphaseChannel(filter: filter), count: channelCount)
            return
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
        let started = Self.threadCPUSeconds()
        defer { seconds += Self.threadCPUSeconds() - started }
        let inputFrames = planar.first?.count ?? 0
        var result: [[Float]] = []
        result.reserveCapacity(channelCount)
        for channel in 0..<channelCount where !channels.isEmpty {
            result.append(channels[channel].process(planar.isEmpty ? [] : planar[channel], endOfInput: endOfInput))
        }
        for channel in 0..<channelCount where channels.isEmpty {
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
