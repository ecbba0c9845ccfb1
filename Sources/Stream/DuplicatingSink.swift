/// Writes a one-channel stream to every channel of another sink: a mono result written as
/// stereo (or wider), each output channel the same samples. Wider blocks pass through unchanged,
/// so it can wrap a sink whatever the pipeline in front of it produces.
public final class DuplicatingSink: AudioSink {
    private let sink: AudioSink
    /// The channels every one-channel block is written to.
    public let channelCount: Int

    /// - Parameters:
    ///   - sink: the sink that receives `channelCount` channels.
    ///   - channelCount: how many copies of a one-channel block `sink` gets (at least 1).
    /// - Throws: `StreamError.invalidChannels` for a count below 1.
    public init(_ sink: AudioSink, channelCount: Int) throws {
        guard channelCount >= 1 else { throw StreamError.invalidChannels(count: channelCount) }
        self.sink = sink
        self.channelCount = channelCount
    }

    public func write(_ planar: [[Float]]) throws {
        guard planar.count == 1 else { return try sink.write(planar) }
        try sink.write(Array(repeating: planar[0], count: channelCount))
    }

    public func finish() throws { try sink.finish() }

    public var clampedSamples: Int { sink.clampedSamples }
}
