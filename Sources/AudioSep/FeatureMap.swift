import Foundation
import Separation

/// Float storage for feature maps and scratch. Blocks of 2 MB and more are 2 MB-aligned, so that
/// a system whose transparent huge pages are on for everything backs them with huge pages; they
/// are not marked MADV_HUGEPAGE: where huge pages are only for regions that ask (the usual
/// `madvise` setting), faulting them in compacts memory on the spot, which measured 1.4 s more
/// system time on a 40 s stereo run, 35 MB more peak RSS, and cold starts 0.1–0.9 s slower.
/// Freed as soon as the last map using it goes.
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int
    /// Set for a view into another block (a workspace slot): the view keeps it alive and frees nothing.
    private let owner: FloatStorage?

    static let hugePage = 2 << 20
    static let physicalBytes: Int = {
        let bytes = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        return bytes > 0 ? bytes : Int.max
    }()

    init(viewing owner: FloatStorage, capacity: Int) {
        precondition(capacity <= owner.capacity)
        self.pointer = owner.pointer
        self.capacity = capacity
        self.owner = owner
    }

    /// Storage of `capacity` floats; nil when the memory cannot be had. What grows with the
    /// window (the map slots and skips) is allocated this way, up front (`Workspace.reserveSlots`).
    init?(allocating capacity: Int) {
        let (bytes, overflow) = max(1, capacity).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        // More than the machine has is refused without asking malloc (which may overcommit it).
        guard !overflow, bytes <= Self.physicalBytes else { return nil }
        self.capacity = capacity
        self.owner = nil
        var raw: UnsafeMutableRawPointer?
        if bytes >= Self.hugePage {
            let rounded = (bytes + Self.hugePage - 1) / Self.hugePage * Self.hugePage
            if posix_memalign(&raw, Self.hugePage, rounded) != 0 { raw = nil }
                    }
        if raw == nil { raw = malloc(bytes) }
        guard let raw else { return nil }
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, capacity))
    }

    /// Storage for the kernels' own scratch and for maps the network has reserved room for:
    /// sizes bounded by a tile, not by the window. Failing that, nothing can go on.
    convenience init(capacity: Int) {
        guard let made = FloatStorage(allocating: capacity) else {
            preconditionFailure("out of memory allocating \(capacity) floats of kernel scratch")
        }
        self.init(taking: made)
    }

    /// Storage of `capacity` floats made at load (packed weights), or `EngineError.outOfMemory`.
    static func weights(_ capacity: Int) throws -> FloatStorage {
        guard let made = FloatStorage(allocating: capacity) else {
            throw EngineError.outOfMemory(bytes: Workspace.bytes(floats: capacity, times: 1))
        }
        return made
    }

    /// Takes over `other`'s block (which then frees nothing).
    private init(taking other: FloatStorage) {
        self.pointer = other.pointer
        self.capacity = other.capacity
        self.owner = other
    }

    deinit { if owner == nil { free(pointer) } }
}

/// A stack of 2-D feature maps, channel-major: `[channels][frames][bins]`, bins contiguous.
/// (PyTorch's `[C, T, F]` for one item of the batch.)
///
/// Copies of a map share its storage: a kernel writes only to maps it has just made.
public struct FeatureMap {
    public let channels: Int
    public let frames: Int
    public let bins: Int
    let storage: FloatStorage

    /// Values per channel plane.
    public var planeSize: Int { frames * bins }
    public var count: Int { channels * frames * bins }

    /// The channel planes of `maps` one after the other: their channel concatenation, as the
    /// convolutions read it (the maps must share frames and bins).
    static func planes(of maps: [FeatureMap]) -> [UnsafePointer<Float>] {
        maps.flatMap { map in (0..<map.channels).map { UnsafePointer(map.storage.pointer + $0 * map.planeSize) } }
    }

    /// A copy of the values, row-major (for tests and traces).
    public var values: [Float] { withUnsafeBufferPointer { Array($0) } }

    public init(channels: Int, frames: Int, bins: Int, values: [Float]) {
        precondition(values.count == channels * frames * bins, "\(values.count) values for \(channels)×\(frames)×\(bins)")
        self.channels = channels
        self.frames = frames
        self.bins = bins
        storage = FloatStorage(capacity: values.count)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// A zero-filled map.
    public init(channels: Int, frames: Int, bins: Int) {
        self.channels = channels
        self.frames = frames
        self.bins = bins
        storage = FloatStorage(capacity: channels * frames * bins)
        storage.pointer.update(repeating: 0, count: channels * frames * bins)
    }

    /// A map whose values the caller overwrites entirely (no zero fill).
    init(uninitializedChannels channels: Int, frames: Int, bins: Int, workspace: Workspace) {
        self.channels = channels
        self.frames = frames
        self.bins = bins
        storage = FloatStorage(capacity: channels * frames * bins)
    }

    /// A map laid over existing storage (a workspace slot); it must fit.
    init(view storage: FloatStorage, channels: Int, frames: Int, bins: Int) {
        self.channels = channels
        self.frames = frames
        self.bins = bins
        self.storage = FloatStorage(viewing: storage, capacity: channels * frames * bins)
    }

    /// A copy with storage of its own (for traces of maps that live in reused slots).
    public func copy() -> FeatureMap { FeatureMap(channels: channels, frames: frames, bins: bins, values: values) }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }
}
