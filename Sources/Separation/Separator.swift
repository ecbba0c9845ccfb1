/// A source separator: given a mono window at its own sample rate, returns the part of it
/// that matches the query it was built for, same length, sample-aligned.
///
/// Engines are used from one thread at a time; one instance serves one query.
public protocol Separator: AnyObject {
    /// Short name, as given to `--engine`.
    var name: String { get }
    /// The rate the engine works at, in hz; the pipeline resamples to it and back.
    var sampleRate: Int { get }
    /// Frame counts this engine processes without waste (for AudioSep, multiples of 32 STFT
    /// frames); `nil` when any length is as good as another.
    func preferredChunkFrames(near frames: Int) -> Int?
    /// Overlaps (for a chunk of `chunkFrames`) that keep chunked output closest to one pass over
    /// the whole input; `nil` when the engine has no preference.
    func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int?
    /// The window length, in seconds, used when none is asked for.
    var defaultChunkSeconds: Double { get }
    /// True when the query asked for everything but what the engine separates ("no drums" to the
    /// built-in engine): the run then writes the rest of the input, and `--remove` the separated part.
    var asksForRest: Bool { get }
    /// The shortest window, in seconds, worth separating with: below it the engine lacks the
    /// context it needs and separates worse (not only differently at the seams). `tune` never
    /// recommends a shorter chunk. 0 when any length serves.
    var shortestUsefulChunkSeconds: Double { get }
    /// Separates one mono window. The result has exactly `samples.count` samples.
    func separate(_ samples: [Float]) throws -> [Float]
    /// Throws when a window of `frames` frames needs more memory than the machine has (checked
    /// before a run, so a long `--chunk` is a message, not an allocation that fails mid-run).
    func checkWindow(frames: Int) throws
    /// Starts keeping the time each stage of `separate` takes (`--profile`). Returns false when
    /// the engine has no stages to report.
    @discardableResult func enableProfiling() -> Bool
    /// The kept profile as a table for stderr, with the model's load time and the audio's length
    /// for the totals; nil when none was kept.
    func profileReport(loadSeconds: Double, audioSeconds: Double) -> String?
}

extension Separator {
    public func preferredChunkFrames(near frames: Int) -> Int? { nil }
    public var defaultChunkSeconds: Double { 10 }
    public var asksForRest: Bool { false }
    public var shortestUsefulChunkSeconds: Double { 0 }
    public func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? { nil }
    public func checkWindow(frames: Int) throws {}
    @discardableResult public func enableProfiling() -> Bool { false }
    public func profileReport(loadSeconds: Double, audioSeconds: Double) -> String? { nil }

    /// Separates every channel of a window. The default separates each channel on its own;
    /// an engine that uses cues across channels (stereo panning) overrides it.
    public func separate(channels: [[Float]]) throws -> [[Float]] {
        try channels.map { try separate($0) }
    }
}

/// An engine that looks at all channels of a window together.
public protocol MultichannelSeparator: Separator {
    func separate(channels: [[Float]]) throws -> [[Float]]
}
