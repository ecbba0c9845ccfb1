/// A stack of 2-D feature maps, channel-major: `[channels][frames][bins]`, bins contiguous.
/// (PyTorch's `[C, T, F]` for one item of the batch.)
public struct FeatureMap {
    public var channels: Int
    public var frames: Int
    public var bins: Int
    public var values: [Float]

    public init(channels: Int, frames: Int, bins: Int, values: [Float]) {
        precondition(values.count == channels * frames * bins, "\(values.count) values for \(channels)×\(frames)×\(bins)")
        self.channels = channels
        self.frames = frames
        self.bins = bins
        self.values = values
    }

    public init(channels: Int, frames: Int, bins: Int) {
        self.init(channels: channels, frames: frames, bins: bins,
                  values: [Float](repeating: 0, count: channels * frames * bins))
    }

    /// A map whose values the caller overwrites entirely (no zero fill).
    init(uninitializedChannels channels: Int, frames: Int, bins: Int) {
        let count = channels * frames * bins
        self.init(channels: channels, frames: frames, bins: bins,
                  values: [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count })
    }

    /// Values per channel plane.
    public var planeSize: Int { frames * bins }
}
