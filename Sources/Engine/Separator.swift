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
    /// Separates one mono window. The result has exactly `samples.count` samples.
    func separate(_ samples: [Float]) throws -> [Float]
    /// Throws when a window of `frames` frames needs more memory than the machine has (checked
    /// before a run, so a long `--chunk` is a message, not an allocation that fails mid-run).
    func checkWindow(frames: Int) throws
}

extension Separator {
    public func preferredChunkFrames(near frames: Int) -> Int? { nil }
    public var defaultChunkSeconds: Double { 10 }
    public func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? { nil }
    public func checkWindow(frames: Int) throws {}

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

/// Wraps a separator so that it returns the mixture minus the separated source (`--remove`).
/// Because the cross-fade is linear and sums to one, cross-fading these residuals gives the
/// input minus the cross-faded separation, aligned sample for sample.
public final class Remover: MultichannelSeparator {
    public let base: Separator
    public init(_ base: Separator) { self.base = base }
    public var name: String { base.name }
    public var sampleRate: Int { base.sampleRate }
    public func preferredChunkFrames(near frames: Int) -> Int? { base.preferredChunkFrames(near: frames) }
    public var defaultChunkSeconds: Double { base.defaultChunkSeconds }
    public func checkWindow(frames: Int) throws { try base.checkWindow(frames: frames) }
    public func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? {
        base.preferredOverlapFrames(near: frames, chunkFrames: chunkFrames)
    }
    public func separate(channels: [[Float]]) throws -> [[Float]] {
        let parts = try (base as? MultichannelSeparator)?.separate(channels: channels) ?? channels.map(base.separate)
        return try zip(channels, parts).map { mixture, part in
            guard part.count == mixture.count else {
                throw EngineError.wrongOutputLength(engine: base.name, got: part.count, expected: mixture.count)
            }
            return zip(mixture, part).map { $0 - $1 }
        }
    }

    public func separate(_ samples: [Float]) throws -> [Float] {
        let separated = try base.separate(samples)
        guard separated.count == samples.count else {
            throw EngineError.wrongOutputLength(engine: base.name, got: separated.count, expected: samples.count)
        }
        var residual = samples
        for index in residual.indices { residual[index] -= separated[index] }
        return residual
    }
}
