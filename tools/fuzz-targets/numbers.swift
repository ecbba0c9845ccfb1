// libFuzzer target: the number bounds every front end shares (RunLimits: the filter's flags,
// the worker's fields, a manifest's chunk and overlap, tune's flags). The input is text, read
// as each parser reads it; whatever is accepted must be finite and within the rule's bounds,
// and a window built from it must be refused or planned, never trapped on.
import Foundation
import Separation
import Stream

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNumbers(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let text = String(decoding: fuzzBytes(data, count), as: UTF8.self)
    let rules = [RunLimits.chunkSeconds, RunLimits.overlapSeconds, RunLimits.thresholdSeconds, RunLimits.tuneSampleSeconds,
                 RunLimits.sampleRate, RunLimits.bufferFrames, RunLimits.threads, RunLimits.channels]
    for rule in rules {
        guard let value = try? rule.check(parsing: text) else { continue }
        precondition(value.isFinite && value <= rule.highest && (rule.lowestIncluded ? value >= rule.lowest : value > rule.lowest),
                     "\(rule.quantity): '\(text)' accepted as \(value)")
        if rule.wholeNumber { precondition(value == value.rounded(), "\(rule.quantity): \(value) is not whole") }
    }
    // Any double at all (the bytes' first eight, too, as a JSON number would arrive) as a window.
    var candidates = [RunLimits.decimal(text) ?? 1]
    if count >= 8, let data { candidates.append(UnsafeRawPointer(data).loadUnaligned(as: Double.self)) }
    for seconds in candidates {
        var configuration = PipelineConfiguration()
        configuration.chunkSeconds = seconds
        configuration.overlapSeconds = seconds.isFinite ? abs(seconds) / 4 : 0
        _ = try? ChunkPlan(configuration: configuration, engine: IdentityEngine(sampleRate: 48_000))
        _ = try? RunMemory(channels: 1024, inputChannels: 1024, windowFrames: Int(Int32.max), engineRate: 1,
                           queueCapacity: 2, blockFrames: 1_048_576, keepsInput: true, resampleQuality: .best).check()
    }
    return 0
}
