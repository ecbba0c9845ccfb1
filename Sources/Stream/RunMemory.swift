import Foundation
import Separation

/// The memory a run's windows need, estimated before anything is allocated, and the refusal
/// when it exceeds what the process can have (`UsableMemory.budget`): an input of very many
/// channels is then one line naming the channels and the window that fit, not an abort when an
/// allocation fails under `ulimit -v`.
public struct RunMemory: Sendable {
    /// Channels the engine's windows have (one when downmixing).
    public var channels: Int
    /// Channels the input has (read blocks and, for the rest, the input kept for subtraction).
    public var inputChannels: Int
    /// Frames of the longest window the run can form: the chunk, or the input when it is
    /// known to be shorter.
    public var windowFrames: Int
    public var engineRate: Int
    public var queueCapacity: Int
    public var blockFrames: Int
    /// True when the run writes the rest, keeping the input until its separation is back.
    public var keepsInput: Bool
    public var resampleQuality: ResampleQuality
    /// Stems each window gives (one per query): everything after the engine is held once per stem.
    public var stems: Int

    public init(channels: Int, inputChannels: Int, windowFrames: Int, engineRate: Int, queueCapacity: Int,
                blockFrames: Int, keepsInput: Bool, resampleQuality: ResampleQuality, stems: Int = 1) {
        self.stems = max(1, stems)
        self.channels = channels
        self.inputChannels = inputChannels
        self.windowFrames = windowFrames
        self.engineRate = engineRate
        self.queueCapacity = queueCapacity
        self.blockFrames = blockFrames
        self.keepsInput = keepsInput
        self.resampleQuality = resampleQuality
    }

    /// Windows held at once at the peak: before the engine, the chunker's pending frames (up to a
    /// window), the queue of windows and the engine's window in; after it, for each stem, the
    /// engine's window out, the queue of separated windows, the cross-fader's window and output.
    public var windowsHeld: Int { (queueCapacity + 2) + stems * (queueCapacity + 3) }

    /// Bytes of one frame of every window held (and of the kept input), per window frame.
    private var bytesPerWindowFrame: Double {
        4 * (Double(channels) * Double(windowsHeld) + (keepsInput ? 2 * Double(inputChannels) : 0))
    }

    /// Bytes that do not grow with the window: read blocks (interleaved, planar, resampled) and
    /// each channel's resampler state (libsamplerate's best converter: about 0.45 MB a direction).
    private var fixedBytes: Double {
        let blocks = 4 * Double(blockFrames) * Double(inputChannels) * 3
        let resampler = resampleQuality == .best ? 900_000 * Double(inputChannels) : 0
        return blocks + resampler
    }

    /// The estimate, in bytes (a Double: the inputs to it are bounded, their product need not be).
    public var neededBytes: Double { Double(windowFrames) * bytesPerWindowFrame + fixedBytes }

    /// Throws `StreamError.runTooLarge` when the estimate is over three quarters of `usableBytes`
    /// (by default what the process can have), naming the channels and the window that fit.
    public func check(usableBytes: Int = UsableMemory.bytes) throws {
        let budget = usableBytes / 4 * 3
        guard budget > 0, neededBytes > Double(budget) else { return }
        let perChannel = RunMemory(channels: 1, inputChannels: 1, windowFrames: windowFrames, engineRate: engineRate,
                                   queueCapacity: queueCapacity, blockFrames: blockFrames, keepsInput: keepsInput,
                                   resampleQuality: resampleQuality, stems: stems).neededBytes
        let fittingChannels = Int(min(Double(channels), (Double(budget) / perChannel).rounded(.down)))
        let fittingFrames = max(0, (Double(budget) - fixedBytes) / bytesPerWindowFrame)
        throw StreamError.runTooLarge(channels: channels, chunkSeconds: Double(windowFrames) / Double(engineRate),
                                      neededBytes: Int(min(neededBytes, 9e18)), usableBytes: usableBytes,
                                      addressSpaceLimit: UsableMemory.limitedByAddressSpace,
                                      fittingChannels: fittingChannels,
                                      fittingChunkSeconds: Self.roundedDown(fittingFrames / Double(engineRate)))
    }

    /// A length a person would type, not above `seconds`: tenths from 0.1 s, thousandths below.
    static func roundedDown(_ seconds: Double) -> Double {
        seconds >= 0.1 ? (seconds * 10).rounded(.down) / 10 : (seconds * 1000).rounded(.down) / 1000
    }
}
