import Run
import Stream

/// What a `separate` writes (`"output_format"` on `separate` or `load_model`, `--output-format`).
public enum OutputFormat: String, Sendable, CaseIterable, Equatable {
    /// The packaged AudioSep worker's format (its pipeline.py): WAV, 44.1 kHz, 16-bit signed
    /// PCM; a mono input separated once and written to two channels, any other input with its own
    /// channel count, each channel separated. Hosts written for that worker read this.
    case packaged
    /// The input's rate, channel count and sample format, as the filter writes.
    case input

    /// The format a worker writes when nothing asks otherwise.
    public static let `default` = OutputFormat.packaged
    /// The packaged worker's output rate (`OUT_SR` in its pipeline.py).
    public static let packagedRate = 44_100

    /// The names the field and flag take, for messages.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// Rate, channels and sample format of a WAV output.
    public struct Layout: Equatable, Sendable {
        public var sampleRate: Int
        public var channelCount: Int
        public var sampleFormat: SampleFormat
    }

    /// What is written for `input`; `outputSampleRate` (our `output_sample_rate`) replaces the rate
    /// in either format.
    /// - Throws: `StreamError` only for a sample format that cannot be made (not for real inputs).
    public func layout(for input: InputDescription, outputSampleRate: Int?) throws -> Layout {
        switch self {
        case .packaged:
            return Layout(sampleRate: outputSampleRate ?? Self.packagedRate, channelCount: max(2, input.channelCount),
                          sampleFormat: try SampleFormat(encoding: .signedInteger, bits: 16))
        case .input:
            return Layout(sampleRate: outputSampleRate ?? input.sampleRate, channelCount: input.channelCount,
                          sampleFormat: try Self.wavFormat(for: input.sampleFormat))
        }
    }

    /// The run's output shape: the packaged worker's fixed one, or the input's (the WAV rule of
    /// `OutputContainer.format(for:…)`, as the filter writes); `outputSampleRate` replaces the rate.
    public func shape(outputSampleRate: Int?) -> OutputShape {
        switch self {
        case .packaged:
            // Mono is repeated on two channels; any other input keeps its channels.
            return OutputShape(sampleRate: outputSampleRate ?? Self.packagedRate, minimumChannelCount: 2, bits: 16,
                               encoding: .signedInteger)
        case .input:
            return OutputShape(sampleRate: outputSampleRate)
        }
    }

    /// The input's sample format as WAV can hold it: 8-bit unsigned, wider integers signed, floats as they are.
    static func wavFormat(for input: SampleFormat) throws -> SampleFormat {
        switch input.encoding {
        case .floatingPoint:
            return try SampleFormat(encoding: .floatingPoint, bits: input.bits == 64 ? 64 : 32)
        case .signedInteger, .unsignedInteger:
            let bits = [8, 16, 24, 32].contains(input.bits) ? input.bits : 16
            return try SampleFormat(encoding: bits == 8 ? .unsignedInteger : .signedInteger, bits: bits)
        }
    }
}
