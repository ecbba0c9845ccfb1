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
}
