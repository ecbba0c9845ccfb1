/// A source separator: given a window of channels at its own sample rate, returns for each query
/// it was built for (its stems, in order) the part of every channel that matches that query,
/// same length, sample-aligned.
///
/// One job: separate windows. How long a window should be is its `WindowPolicy` part (the
/// requirements below with defaults), what the engine can tell about its stages is `profiling`.
/// Engines are used from one thread at a time.
public protocol Separator: AnyObject, WindowPolicy {
    /// Short name, as given to `--engine`.
    var name: String { get }
    /// The rate the engine works at, in hz; the pipeline resamples to it and back.
    var sampleRate: Int { get }
    /// The queries this engine separates, one stem each, in the order `separate` returns them.
    var stemCount: Int { get }
    /// For each stem, true when its query asked for everything but what the engine separates
    /// ("no drums" to the built-in engine): the run writes the rest of the input for that stem,
    /// and `--remove` the separated part.
    var stemsAskForRest: [Bool] { get }
    /// Separates one window: `[stem][channel][sample]`, every channel exactly as long as the
    /// window's. An engine that uses cues across channels (stereo panning) sees them together.
    func separate(channels: [[Float]]) throws -> [[[Float]]]
    /// The engine's stage timing for `--profile`; nil when it has no stages to report.
    var profiling: StageProfiling? { get }
}

extension Separator {
    public var stemCount: Int { 1 }
    public var stemsAskForRest: [Bool] { Array(repeating: false, count: stemCount) }
    public var profiling: StageProfiling? { nil }

    /// One mono window through the first stem (tests and tools that look at one channel).
    public func separate(_ samples: [Float]) throws -> [Float] {
        try separate(channels: [samples])[0][0]
    }
}

/// How long an engine's windows should be, and what a window costs it. Every requirement has a
/// default: an engine that cares about none of it states nothing.
public protocol WindowPolicy {
    /// Frame counts this engine processes without waste (for AudioSep, multiples of 32 STFT
    /// frames); `nil` when any length is as good as another.
    func preferredChunkFrames(near frames: Int) -> Int?
    /// Overlaps (for a chunk of `chunkFrames`) that keep chunked output closest to one pass over
    /// the whole input; `nil` when the engine has no preference.
    func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int?
    /// The window length, in seconds, used when none is asked for.
    var defaultChunkSeconds: Double { get }
    /// The shortest window, in seconds, worth separating with: below it the engine lacks the
    /// context it needs and separates worse (not only differently at the seams). `tune` never
    /// recommends a shorter chunk. 0 when any length serves.
    var shortestUsefulChunkSeconds: Double { get }
    /// The shortest window, in seconds, the engine separates with at all when a latency budget
    /// asks for short windows (`--latency`): separation is worse below `shortestUsefulChunkSeconds`,
    /// but works. Default: `shortestUsefulChunkSeconds`.
    var shortestLiveChunkSeconds: Double { get }
    /// Throws when a window of `frames` frames needs more memory than the machine has (checked
    /// before a run, so a long `--chunk` is a message, not an allocation that fails mid-run).
    func checkWindow(frames: Int) throws
}

extension WindowPolicy {
    public func preferredChunkFrames(near frames: Int) -> Int? { nil }
    public func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? { nil }
    public var defaultChunkSeconds: Double { 10 }
    public var shortestUsefulChunkSeconds: Double { 0 }
    public var shortestLiveChunkSeconds: Double { shortestUsefulChunkSeconds }
    public func checkWindow(frames: Int) throws {}
}

/// Per-stage timing an engine keeps when asked (`--profile`).
public protocol StageProfiling: AnyObject {
    /// Starts keeping the time each stage takes.
    func enable()
    /// The kept profile as a table for stderr, with the model's load time and the audio's length
    /// for the totals; nil when none was kept.
    func report(loadSeconds: Double, audioSeconds: Double) -> String?
}
