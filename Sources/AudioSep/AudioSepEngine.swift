import Foundation
import Separation
import Spectrum

/// AudioSep as a `Separator`: the shared network, each query's conditioning, and the STFT plans.
/// Several queries share each window's reading, resampling and STFT; the network runs once per
/// query and channel.
public final class AudioSepEngine: Separator {
    public let name = "audiosep"
    public let sampleRate = ResUNet30.sampleRate
    public let network: ResUNet30
    let conditionings: [ResUNet30.Conditioning]
    let stft = STFT(fftSize: 2048, hopSize: 320)
    let workspace: Workspace
    public var stemCount: Int { conditionings.count }

    /// - Parameter threads: threads for the network (default: every core).
    public convenience init(network: ResUNet30, embedding: [Float], threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.init(network: network, embeddings: [embedding], workspace: Workspace(threads: threads))
    }

    public convenience init(network: ResUNet30, embedding: [Float], workspace: Workspace) {
        self.init(network: network, embeddings: [embedding], workspace: workspace)
    }

    /// One stem per embedding, in order. Computes in `workspace`, whose planned buffers outlive
    /// this engine: a long-lived process (the worker) hands the same one to every query's engine,
    /// so a second run of the same window length allocates nothing. Engines sharing a workspace
    /// must not run concurrently.
    public init(network: ResUNet30, embeddings: [[Float]], workspace: Workspace) {
        precondition(!embeddings.isEmpty, "an engine separates at least one query")
        self.network = network
        self.conditionings = embeddings.map(network.condition(on:))
        self.workspace = workspace
    }

    /// The bytes one window of `samples` samples holds at its peak: the three map slots, each
    /// level's skip, and the spectra (the scratch of the products is small beside them).
    public func windowBytes(samples: Int) -> Int {
        let frames = stft.frameCount(samples: max(samples, stft.minimumSamples))
        return network.windowFloats(frames: frames) * MemoryLayout<Float>.stride
    }

    /// The memory this process can have (`UsableMemory`).
    static var usableBytes: Int { UsableMemory.bytes }

    public func checkWindow(frames: Int) throws {
        let physical = Self.usableBytes
        let needed = windowBytes(samples: frames)
        guard physical > 0, needed > physical * 3 / 4 else { return }
        // The longest window (in whole seconds) that fits in three quarters of the memory.
        var seconds = max(1, frames / sampleRate)
        while seconds > 1, windowBytes(samples: seconds * sampleRate) > physical * 3 / 4 { seconds = seconds * 3 / 4 }
        throw EngineError.windowTooLarge(engine: name, seconds: Double(frames) / Double(sampleRate), neededBytes: needed,
                                         physicalBytes: physical, largestSeconds: Double(seconds))
    }

    /// The U-Net's time granularity is a block of 32 STFT frames (0.32 s: five poolings by 2);
    /// its convolutions see about 3 s either side of a frame, ten blocks. A window shorter than
    /// twenty blocks (6.4 s) leaves no frame with its whole context on both sides, and the seams
    /// cost more: against one pass over the whole input, chunked output measured 29 dB at 4.15 s
    /// and 38 dB at 7.99 s (full-size network, random weights, an earlier `tune` run).
    /// The window used when none is asked for (snapped to 9.91 s).
    public static let defaultChunkSeconds = 10.0
    public var defaultChunkSeconds: Double { Self.defaultChunkSeconds }
    public static let shortestUsefulChunkSeconds = Double(20 * ResUNet30.timeMultiple * 320) / Double(ResUNet30.sampleRate)
    public var shortestUsefulChunkSeconds: Double { Self.shortestUsefulChunkSeconds }
    /// Live: two blocks of STFT frames (0.63 s), the shortest window whose hop between windows can
    /// be a whole block, so that every window stays on the pooling grid.
    public var shortestLiveChunkSeconds: Double { Double((2 * ResUNet30.timeMultiple - 1) * 320) / Double(ResUNet30.sampleRate) }

    /// Windows of (32k − 1)·320 samples give 32k STFT frames exactly: no padded frames.
    public func preferredChunkFrames(near frames: Int) -> Int? {
        let blocks = max(1, Int((Double(frames) / 320 + 1) / 32 + 0.5))
        return (blocks * 32 - 1) * 320
    }

    /// Overlaps that start every window on the network's pooling grid: the hop between windows
    /// a whole number of 32-frame blocks (10 240 samples), as the frames of one pass over the
    /// whole input fall. The U-Net pools time by 2 five times, so a window starting anywhere
    /// else sees its input on a shifted grid and computes a different (for a trained model,
    /// slightly; for random weights, entirely) result; on the grid, chunked output equals one
    /// pass everywhere but near the seams. An overlap of 0 is kept as asked: no hop fits it.
    public func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? {
        guard frames > 0 else { return nil }
        let block = ResUNet30.timeMultiple * 320
        let longest = (chunkFrames - 1) / block            // overlap at least one sample
        let shortest = (chunkFrames / 2 + block - 1) / block  // overlap at most half the chunk
        guard shortest <= longest else { return nil }
        let hop = min(longest, max(shortest, Int((Double(chunkFrames - frames) / Double(block)).rounded())))
        return chunkFrames - hop * block
    }

    /// The engine's stage timing (`--profile`): off until enabled.
    public let profile = AudioSepProfile()
    public var profiling: StageProfiling? { profile }

    public func separate(channels: [[Float]]) throws -> [[[Float]]] {
        let frames = stft.frameCount(samples: max(channels.first?.count ?? 0, stft.minimumSamples))
        try network.reserve(frames: frames, workspace: workspace)
        guard profile.isEnabled else {
            let spectra = channels.map { network.analyse($0, stft: stft) }
            return conditionings.map { conditioning in
                spectra.map { network.separate(spectrum: $0, conditioning: conditioning, stft: stft, workspace: workspace) }
            }
        }
        return conditionings.map { conditioning in
            channels.map { samples in
                profile.timing(network: network, frames: frames) { trace in
                    network.separate(samples, conditioning: conditioning, stft: stft, workspace: workspace, trace: trace)
                }
            }
        }
    }
}

/// AudioSep's per-stage times and operations, summed over every window it separated (profiled
/// windows compute their own STFT for each query, so that each row counts what one pass costs).
public final class AudioSepProfile: StageProfiling {
    /// One row of the profile: a stage's seconds and floating-point operations, summed over
    /// every window (operations are nil for the spectral stages).
    public struct Stage {
        public let name: String
        public var seconds: Double
        public var operations: Double?
    }

    /// Per-stage totals when profiling is on, in the order the stages run.
    public private(set) var stages: [Stage]?
    var isEnabled: Bool { stages != nil }

    public func enable() { if stages == nil { stages = [] } }

    public func report(loadSeconds: Double, audioSeconds: Double) -> String? {
        stages.map { AudioSepEngine.profileTable($0, loadSeconds: loadSeconds, audioSeconds: audioSeconds) }
    }

    /// Runs one pass with a trace that closes a stage at each traced map, and adds its times.
    func timing(network: ResUNet30, frames: Int, _ pass: (@escaping ResUNet30.Trace) -> [Float]) -> [Float] {
        let operations = Dictionary(network.operations(frames: frames).map { ($0.stage, $0.operations) }, uniquingKeysWith: +)
        var last = DispatchTime.now().uptimeNanoseconds
        var kept: [(String, Double)] = []
        // Each trace closes the stage that ran since the one before. The spectral traces are
        // named after what they end (the STFT's three, the masked spectrum's two, each group
        // one row); what follows the last trace is the iSTFT.
        let names = ["stft_real": "stft", "stft_imag": "stft", "mag": "stft", "sep_real": "mask", "sep_imag": "mask"]
        let output = pass { name, _ in
            let now = DispatchTime.now().uptimeNanoseconds
            kept.append((names[name] ?? name, Double(now - last) / 1e9))
            last = now
        }
        kept.append(("istft", Double(DispatchTime.now().uptimeNanoseconds - last) / 1e9))
        var stages = self.stages ?? []
        for (name, seconds) in kept {
            if let index = stages.firstIndex(where: { $0.name == name }) {
                stages[index].seconds += seconds
                if let count = operations[name] { stages[index].operations = (stages[index].operations ?? 0) + count }
            } else {
                stages.append(Stage(name: name, seconds: seconds, operations: operations[name]))
            }
        }
        self.stages = stages
        return output
    }
}

extension AudioSepEngine {
    /// The `--profile` table: every stage's time, GFLOP, GFLOP/s and share of the engine's time,
    /// then the totals. Stages that do no arithmetic of their own (the skips, the ends of
    /// blocks) are left out when they took under half a millisecond.
    public static func profileTable(_ stages: [AudioSepProfile.Stage], loadSeconds: Double, audioSeconds: Double) -> String {
        let total = stages.reduce(0) { $0 + $1.seconds }
        let operations = stages.reduce(0) { $0 + ($1.operations ?? 0) }
        // The stage column fits the longest name (a banded block's names its fused layers).
        let width = max(36, (stages.map(\.name.count).max() ?? 0) + 2)
        func row(_ cells: [String]) -> String {
            cells[0].padding(toLength: width, withPad: " ", startingAt: 0)
                + zip(cells.dropFirst(), [9, 9, 9, 8]).map { String(repeating: " ", count: max(1, $1 - $0.count)) + $0 }.joined() + "\n"
        }
        func rate(_ operations: Double?, _ seconds: Double) -> String {
            guard let operations, seconds > 0 else { return "-" }
            return String(format: "%.1f", operations / seconds / 1e9)
        }
        var table = row(["stage", "seconds", "GFLOP", "GFLOP/s", "share"])
        for stage in stages where stage.operations != nil || stage.seconds >= 0.0005 {
            table += row([stage.name, String(format: "%.3f", stage.seconds),
                          stage.operations.map { String(format: "%.3g", $0 / 1e9) } ?? "-", rate(stage.operations, stage.seconds),
                          String(format: "%.1f%%", 100 * stage.seconds / max(total, 1e-9))])
        }
        table += row(["engine total", String(format: "%.3f", total), String(format: "%.3g", operations / 1e9),
                      rate(operations, total), ""])
        table += row(["model load", String(format: "%.3f", loadSeconds), "", "", ""])
        table += row(["audio", String(format: "%.3f", audioSeconds), "", "", ""])
        table += row(["real time", String(format: "%.2fx", audioSeconds / max(total, 1e-9)), "", "", ""])
        return table
    }
}
