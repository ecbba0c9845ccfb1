import Overlap
import Stream

/// Everything one separation needs but the engine: where the audio comes from, where each output
/// goes and in what form, and how the input is cut into windows. The filter, the worker and batch
/// each fill one in from their flags, JSON or manifest row, and hand it to `SeparationRun`.
public struct SeparationRequest: Sendable {
    /// Where the audio comes from.
    public enum Input: Sendable {
        /// Descriptor 0.
        case standardInput
        /// A file, FIFO or device, opened once by the run.
        case path(String)
        /// A file the caller opened already (its identity is that of the open descriptor).
        case opened(InputFile)
    }

    /// Headerless PCM: the format sox's -r/-c/-b/-e flags give.
    public struct RawFormat: Sendable, Equatable {
        public var sampleRate: Int
        public var channelCount: Int
        public var sampleFormat: SampleFormat
        public init(sampleRate: Int, channelCount: Int, sampleFormat: SampleFormat) {
            self.sampleRate = sampleRate
            self.channelCount = channelCount
            self.sampleFormat = sampleFormat
        }
    }

    public var input: Input
    /// nil: the input has a header (WAV, FLAC, …) that says its format.
    public var rawFormat: RawFormat?
    /// At least one; several share the read, the windows and the engine's passes.
    public var outputs: [OutputRequest]
    /// How each output's samples are shaped (one shape for every output of a run).
    public var shape = OutputShape()
    public var windows = WindowRequest()
    /// Every stem's output is the input minus the stem (`--remove`).
    public var remove = false
    /// Separate the mono mix once and write it to every channel.
    public var downmix = false
    public var fade: FadeShape = .raisedCosine
    public var resampleQuality: ResampleQuality = .standard
    /// Frames read from the input at a time.
    public var blockFrames = 4096
    /// What becomes of outputs that are not whole when the run fails (a read error, a full disk).
    /// An interrupted run always keeps them by `StagedOutput.commitPartial()`'s rule.
    public var onFailure: PartialOutputs = .keep

    public init(input: Input, outputs: [OutputRequest]) {
        self.input = input
        self.outputs = outputs
    }
}

/// What happens to outputs that are not whole.
public enum PartialOutputs: Sendable {
    /// Kept by the one rule (`StagedOutput.commitPartial()`): under the output's name when no file
    /// had it, else beside the file, which is left unchanged. An output with no audio is removed.
    case keep
    /// Removed: the output is whole or absent (batch, whose journal reruns the job).
    case remove
}

/// One output of a run.
public struct OutputRequest: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        /// Descriptor 1, written straight through (never staged).
        case standardOutput
        /// A file written under a temporary name and renamed onto this one when whole.
        case path(String)
    }

    public var content: PipelineSink.Content
    public var destination: Destination
    /// nil: the one the path's extension names, else WAV.
    public var container: OutputContainer?

    public init(_ content: PipelineSink.Content, to destination: Destination, container: OutputContainer? = nil) {
        self.content = content
        self.destination = destination
        self.container = container
    }

    /// The container written: the one asked for, else the extension's, else WAV.
    public var resolvedContainer: OutputContainer {
        if let container { return container }
        if case .path(let path) = destination, let named = OutputContainer.forPath(path) { return named }
        return .wav
    }
}

/// Rate, channels and sample format of the outputs.
public struct OutputShape: Sendable, Equatable {
    /// nil: the input's rate.
    public var sampleRate: Int?
    /// A mono input is written on this many channels, its one channel repeated (the packaged
    /// worker's stereo output); an input of more channels keeps its own.
    public var minimumChannelCount = 1
    /// nil: the container's rule from the input's format (`OutputContainer.format(for:…)`).
    public var bits: Int?
    public var encoding: SampleFormat.Encoding?
    public var endian: SampleFormat.Endian?

    public init(sampleRate: Int? = nil, minimumChannelCount: Int = 1, bits: Int? = nil, encoding: SampleFormat.Encoding? = nil,
                endian: SampleFormat.Endian? = nil) {
        self.sampleRate = sampleRate
        self.minimumChannelCount = max(1, minimumChannelCount)
        self.bits = bits
        self.encoding = encoding
        self.endian = endian
    }
}

/// How the input is cut into windows. The one default rule: the engine's window, and an overlap
/// of 1 s (a quarter of the window under 4 s).
public struct WindowRequest: Sendable, Equatable {
    /// nil: the engine's `defaultChunkSeconds`.
    public var chunkSeconds: Double?
    /// nil: `WindowRequest.defaultOverlap(chunk:)`.
    public var overlapSeconds: Double?
    /// An input known to be shorter than this many seconds goes through the engine in one window
    /// (the worker's `use_chunk`): nil never, `.infinity` always.
    public var onePassUnderSeconds: Double?
    /// One pass is never made over more than this (a single window holds the whole input and the
    /// network's maps for it); a longer input is chunked, and the report says so.
    public var onePassLimitSeconds = Double.infinity
    /// A latency budget (`--latency`): chunk, overlap and reads are chosen for it (`LivePlan`),
    /// and the run is live (a warm-up window, the engine watched against real time).
    public var latencySeconds: Double?

    public init(chunkSeconds: Double? = nil, overlapSeconds: Double? = nil) {
        self.chunkSeconds = chunkSeconds
        self.overlapSeconds = overlapSeconds
    }

    /// 1 s, scaled down for windows under 4 s so that a short chunk alone is never refused for it.
    public static func defaultOverlap(chunk: Double) -> Double { min(1, chunk / 4) }
}
