/// Returns every window unchanged: the pipeline alone. By default it works at whatever rate the
/// input has, so nothing is resampled and the output is the input itself; given a rate, it works
/// at that one, so that tests exercise the resampling path exactly as with a model.
public final class IdentityEngine: RateAdaptable {
    public let name = "identity"
    public let sampleRate: Int
    /// True when built without a rate: the pipeline runs it at the input's.
    public let followsInput: Bool

    /// - Parameter sampleRate: the rate to work at, in hz; nil (the default) for the input's rate.
    ///   Until a pipeline adapts it, an engine without a rate reports 32 kHz, AudioSep's.
    public init(sampleRate: Int? = nil) {
        self.sampleRate = sampleRate ?? 32_000
        self.followsInput = sampleRate == nil
    }

    public func adapted(toRate hz: Int) -> Separator? { followsInput ? IdentityEngine(sampleRate: hz) : nil }

    public func separate(_ samples: [Float]) throws -> [Float] { samples }
}

/// An engine that can work at any rate. The pipeline runs it at the input's own rate, so the
/// input is never resampled for it.
public protocol RateAdaptable: Separator {
    /// The same engine working at `hz`; nil when this instance keeps its own rate.
    func adapted(toRate hz: Int) -> Separator?
}
