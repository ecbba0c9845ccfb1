import COpenBLAS
import Foundation
import Separation

/// The engine's threads and their scratch buffers, reused across calls so that the hot loops
/// never allocate. Parallelism is ours: work is split into tiles that each thread multiplies
/// with a single-threaded sgemm, which keeps both cores busy through im2col and the products
/// alike (OpenBLAS's own threads would leave the im2col copies on one core).
public final class Workspace: @unchecked Sendable {
    public let threads: Int
    /// One object per worker, so that threads growing their own buffers at the same time never
    /// write to a shared variable (an array of arrays here was a data race ThreadSanitizer found).
    private let workerBuffers: [WorkerBuffers]

    private final class WorkerBuffers {
        var slots: [FloatStorage?] = [nil, nil, nil, nil]
        var bfloat16: BFloat16GEMM.Scratch?
    }

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.threads = max(1, threads)
        workerBuffers = (0..<self.threads).map { _ in WorkerBuffers() }
        openblas_set_num_threads(1)
    }

    /// Thread `worker`'s buffer number `slot` (0 to 3; 3 holds a row band's map) of at least `floats`
    /// floats (contents undefined).
    func buffer(_ worker: Int, floats: Int, slot: Int = 0) -> UnsafeMutablePointer<Float> {
        let own = workerBuffers[worker]
        if (own.slots[slot]?.capacity ?? 0) < floats { own.slots[slot] = FloatStorage(capacity: floats) }
        return own.slots[slot]!.pointer
    }

    /// Depth the bf16 gemm scratch is made for: any depth (the scratch stops growing past 256).
    static let bfloat16ScratchDepth = 1 << 16

    /// Makes every thread's bf16 gemm scratch, or throws `EngineError.outOfMemory` (a bf16
    /// network's `reserve` calls it before a window runs).
    public func reserveBFloat16Scratch() throws {
        for buffers in workerBuffers where buffers.bfloat16 == nil {
            buffers.bfloat16 = try BFloat16GEMM.Scratch(depth: Self.bfloat16ScratchDepth)
        }
    }

    /// Thread `worker`'s scratch for the bf16 gemm, made by `reserveBFloat16Scratch` (the engine
    /// reserves before every window; a kernel called directly, as the tests do, makes it here).
    func bfloat16Scratch(_ worker: Int) -> BFloat16GEMM.Scratch {
        let buffers = workerBuffers[worker]
        if let scratch = buffers.bfloat16 { return scratch }
        guard let made = try? BFloat16GEMM.Scratch(depth: Self.bfloat16ScratchDepth) else {
            preconditionFailure("bf16 gemm scratch could not be had outside reserveBFloat16Scratch()")
        }
        buffers.bfloat16 = made
        return made
    }

    /// Feature-map slots planned for the longest window so far and reused: the network lays its
    /// short-lived maps over three slots and each level's skip over a buffer of its own, so after
    /// the first window nothing is allocated and no page has to be zeroed by the kernel again.
    private var slots: [FloatStorage] = []
    private var skipBuffers: [FloatStorage] = []

    /// Makes sure there are `sizes.count` slots, slot i of at least `sizes[i]` floats. They only
    /// grow: a shorter window (the last of a stream) reuses them rather than faulting in fresh pages.
    func prepareSlots(_ sizes: [Int]) {
        if slots.count != sizes.count { slots = sizes.map { _ in FloatStorage(capacity: 0) } }
        for (index, floats) in sizes.enumerated() where slots[index].capacity < floats {
            slots[index] = FloatStorage(capacity: 0)   // the old one goes first: the new one is larger
            slots[index] = FloatStorage(capacity: floats)
        }
    }

    /// `prepareSlots`, with memory that cannot be had thrown as `EngineError.outOfMemory`.
    func reserveSlots(_ sizes: [Int]) throws {
        if slots.count != sizes.count { slots = sizes.map { _ in FloatStorage(capacity: 0) } }
        for (index, floats) in sizes.enumerated() where slots[index].capacity < floats {
            slots[index] = FloatStorage(capacity: 0)
            guard let storage = FloatStorage(allocating: floats) else {
                throw EngineError.outOfMemory(bytes: Self.bytes(floats: floats, times: 1))
            }
            slots[index] = storage
        }
    }

    /// `count` slots of `floats` floats each.
    func reserveSlots(_ count: Int, floats: Int) throws { try reserveSlots(Array(repeating: floats, count: count)) }

    /// Bytes of `times` blocks of `floats` floats, saturating (the count that could not be had may be absurd).
    static func bytes(floats: Int, times: Int) -> Int {
        let (perBlock, overflow) = floats.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        let (total, overflowAgain) = perBlock.multipliedReportingOverflow(by: times)
        return overflow || overflowAgain ? Int.max : total
    }

    /// Grows skip buffer `level` to `floats`, throwing `EngineError.outOfMemory` when it cannot.
    func reserveSkip(_ level: Int, floats: Int) throws {
        while skipBuffers.count <= level { skipBuffers.append(FloatStorage(capacity: 0)) }
        guard skipBuffers[level].capacity < floats else { return }
        skipBuffers[level] = FloatStorage(capacity: 0)
        guard let storage = FloatStorage(allocating: floats) else {
            throw EngineError.outOfMemory(bytes: Self.bytes(floats: floats, times: 1))
        }
        skipBuffers[level] = storage
    }

    /// A map over slot `index`.
    func slot(_ index: Int, channels: Int, frames: Int, bins: Int) -> FeatureMap {
        FeatureMap(view: slots[index], channels: channels, frames: frames, bins: bins)
    }

    /// A map over skip buffer `level`, kept across windows (grown, never shrunk).
    func skip(_ level: Int, channels: Int, frames: Int, bins: Int) -> FeatureMap {
        let floats = channels * frames * bins
        while skipBuffers.count <= level { skipBuffers.append(FloatStorage(capacity: 0)) }
        if skipBuffers[level].capacity < floats { skipBuffers[level] = FloatStorage(capacity: floats) }
        return FeatureMap(view: skipBuffers[level], channels: channels, frames: frames, bins: bins)
    }

    /// Runs `body(worker, index)` for every index in `0..<count`, spread over the threads.
    func parallel(_ count: Int, _ body: (Int, Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 {
            for index in 0..<count { body(0, index) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: count, by: workers) { body(worker, index) }
        }
    }

    /// Splits `0..<total` into `threads` contiguous ranges and runs `body` on each in parallel.
    func parallelRanges(_ total: Int, minimum: Int = 4096, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(threads, total / max(1, minimum)))
        let size = (total + parts - 1) / max(1, parts)
        parallel(parts) { _, part in
            let start = part * size
            if start < total { body(start..<min(total, start + size)) }
        }
    }
}
