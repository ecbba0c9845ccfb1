/// Returns every window unchanged. It is how the pipeline is tested: with it, the output of
/// the whole stream equals the input to within the resampler's error.
public final class IdentityEngine: Separator {
    public let name = "identity"
    public let sampleRate: Int

    /// - Parameter sampleRate: the rate to pretend to work at, in hz (default 32 kHz, AudioSep's,
    ///   so that the resampling path is exercised exactly as with the real model).
    public init(sampleRate: Int = 32_000) { self.sampleRate = sampleRate }

    public func separate(_ samples: [Float]) throws -> [Float] { samples }
}
