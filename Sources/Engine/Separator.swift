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
    /// Separates one mono window. The result has exactly `samples.count` samples.
    func separate(_ samples: [Float]) throws -> [Float]
}

extension Separator {
    public func preferredChunkFrames(near frames: Int) -> Int? { nil }
}

/// Wraps a separator so that it returns the mixture minus the separated source (`--remove`).
/// Because the cross-fade is linear and sums to one, cross-fading these residuals gives the
/// input minus the cross-faded separation, aligned sample for sample.
public final class Remover: Separator {
    public let base: Separator
    public init(_ base: Separator) { self.base = base }
    public var name: String { base.name }
    public var sampleRate: Int { base.sampleRate }
    public func preferredChunkFrames(near frames: Int) -> Int? { base.preferredChunkFrames(near: frames) }
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
