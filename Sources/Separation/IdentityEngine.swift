/// Returns every window unchanged: the pipeline alone. By default it works at whatever rate the
/// input has, so nothing is resampled and the output is the input itself; given a rate, it works
/// at that one, so that tests exercise the resampling path exactly as with a model.
public final class IdentityEngine: RateAdaptable {
    public let name = "identity"
    public let sampleRate: Int
    /// True when built without a rate: the pipeline runs it at the input's.
    public let followsInput: Bool
    /// Every stem is the window itself (one per query, so several queries make several copies).
    public let stemCount: Int

    /// - Parameters:
    ///   - sampleRate: the rate to work at, in hz; nil (the default) for the input's rate.
    ///     Until a pipeline adapts it, an engine without a rate reports 32 kHz, AudioSep's.
    ///   - stemCount: how many stems each window gives (one per query).
    public init(sampleRate: Int? = nil, stemCount: Int = 1) {
        self.sampleRate = sampleRate ?? 32_000
        self.followsInput = sampleRate == nil
        self.stemCount = max(1, stemCount)
    }

    public func adapted(toRate hz: Int) -> Separator? {
        followsInput ? IdentityEngine(sampleRate: hz, stemCount: stemCount) : nil
    }

    public func separate(channels: [[Float]]) throws -> [[[Float]]] {
        Array(repeating: channels, count: stemCount)
    }
}

/// An engine that can work at any rate. The pipeline runs it at the input's own rate, so the
/// input is never resampled for it.
public protocol RateAdaptable: Separator {
    /// The same engine working at `hz`; nil when this instance keeps its own rate.
    func adapted(toRate hz: Int) -> Separator?
}
