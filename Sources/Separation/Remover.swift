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
    public var shortestUsefulChunkSeconds: Double { base.shortestUsefulChunkSeconds }
    public func checkWindow(frames: Int) throws { try base.checkWindow(frames: frames) }
    @discardableResult public func enableProfiling() -> Bool { base.enableProfiling() }
    public func profileReport(loadSeconds: Double, audioSeconds: Double) -> String? {
        base.profileReport(loadSeconds: loadSeconds, audioSeconds: audioSeconds)
    }
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
