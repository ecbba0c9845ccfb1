import Files
import Foundation
import Glibc

/// A safetensors file, with its tensors as memory-mapped views.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}`, then the data section; offsets count bytes from the
/// data section's start. As in the reference implementation, the tensors must tile the data
/// section exactly: sorted by offset, each begins where the previous ended, the last ends at
/// the end of the file, and each range holds exactly its shape's elements.
public struct SafeTensorsFile: Sendable {
    /// The reference implementation's cap on the header length (100 MB).
    public static let maximumHeaderBytes = 100_000_000

    public let path: String
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Tensors by name.
    public let tensors: [String: TensorView]
    /// Tensor names in data-section order.
    public let names: [String]

    /// Opens and validates the file at `path`. Throws `WeightsError`: `headerTooLarge`,
    /// `invalidHeader`, `unsupportedDType`, `tensorOutOfRange`, `shapeOverflow`,
    /// `byteCountMismatch`, `tensorsNotContiguous`.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.path = path
        guard file.byteCount >= 8 else {
            throw WeightsError.headerTooLarge(file: path, headerBytes: 8, fileBytes: file.byteCount)
        }
        let headerBytes = try file.load(UInt64.self, offset: 0)
        guard headerBytes <= UInt64(file.byteCount - 8), headerBytes <= UInt64(Self.maximumHeaderBytes) else {
            throw WeightsError.headerTooLarge(file: path, headerBytes: headerBytes, fileBytes: file.byteCount)
        }
        let dataStart = 8 + Int(headerBytes)
        let dataBytes = file.byteCount - dataStart
        let json = try file.bytes(offset: 8, byteCount: Int(headerBytes))

        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json))
        } catch {
            throw WeightsError.invalidHeader(file: path, reason: "not JSON")
        }
        guard let header = object as? [String: Any] else {
            throw WeightsError.invalidHeader(file: path, reason: "not a JSON object")
        }

        var metadata: [String: String] = [:]
        struct Entry { let name: String, dtype: DType, shape: [Int], begin: Int, end: Int }
        var entries: [Entry] = []
        entries.reserveCapacity(header.count)
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw WeightsError.invalidHeader(file: path, reason: "__metadata__ is not an object")
                }
                for (key, text) in map {
                    guard let text = text as? String else {
                        throw WeightsError.invalidHeader(file: path, reason: "__metadata__ value '\(key)' is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsetValues = info["data_offsets"] as? [Any],
                  offsetValues.count == 2 else {
                throw WeightsError.invalidHeader(file: path, reason: "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw WeightsError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
            }
            guard let shape = Self.naturals(shapeValues), let offsets = Self.naturals(offsetValues) else {
                throw WeightsError.invalidHeader(file: path, reason: "tensor '\(name)' has a non-integer shape or offset")
            }
            let begin = offsets[0], end = offsets[1]
            // The byte count the shape implies, without overflow.
            var expected: Int? = dtype.byteWidth
            for extent in shape {
                if let value = expected {
                    let (product, overflow) = value.multipliedReportingOverflow(by: extent)
                    expected = overflow ? nil : product
                }
            }
            guard begin <= end, end <= dataBytes else {
                throw WeightsError.tensorOutOfRange(file: path, tensor: name, begin: begin, end: end, dataBytes: dataBytes)
            }
            guard let expectedBytes = expected else {
                throw WeightsError.shapeOverflow(file: path, tensor: name, shape: shape, dtype: dtypeName)
            }
            guard end - begin == expectedBytes else {
                throw WeightsError.byteCountMismatch(file: path, tensor: name, shape: shape, dtype: dtypeName,
                                                     byteCount: end - begin, expectedBytes: expectedBytes)
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var tensors: [String: TensorView] = [:]
        tensors.reserveCapacity(entries.count)
        var expectedBegin = 0
        for entry in entries {
            guard entry.begin == expectedBegin else {
                throw WeightsError.tensorsNotContiguous(file: path, tensor: entry.name, begin: entry.begin, expected: expectedBegin)
            }
            expectedBegin = entry.end
            tensors[entry.name] = try TensorView(
                name: entry.name, dtype: entry.dtype, shape: entry.shape,
                strides: TensorView.contiguousStrides(entry.shape), storageOffset: 0, file: file,
                storageByteOffset: dataStart + entry.begin, storageByteCount: entry.end - entry.begin)
        }
        guard expectedBegin == dataBytes else {
            throw WeightsError.tensorOutOfRange(file: path, tensor: entries.last?.name ?? "(none)",
                                                begin: entries.last?.begin ?? 0, end: expectedBegin, dataBytes: dataBytes)
        }
        self.metadata = metadata
        self.tensors = tensors
        self.names = entries.map(\.name)
    }

    /// Just the `__metadata__` map of the file at `path`, without checking its tensors; nil when
    /// the file is not safetensors (used to tell a converted model among other files).
    public static func headerMetadata(path: String) -> [String: String]? {
        guard let file = try? MappedFile(path: path), file.byteCount >= 8, let length = try? file.load(UInt64.self, offset: 0),
              length <= UInt64(file.byteCount - 8), length <= UInt64(maximumHeaderBytes),
              let json = try? file.bytes(offset: 8, byteCount: Int(length)),
              let header = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else { return nil }
        return (header["__metadata__"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
    }

    /// The tensor called `name`. Throws `missingTensor`.
    public func tensor(_ name: String) throws -> TensorView {
        guard let tensor = tensors[name] else { throw WeightsError.missingTensor(file: path, tensor: name) }
        return tensor
    }

    /// Non-negative integers from JSON numbers, or `nil` if any is not one.
    private static func naturals(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        result.reserveCapacity(values.count)
        for value in values {
            // Bridging to Int succeeds only for numbers that are exactly integers.
            guard let integer = value as? Int, integer >= 0 else { return nil }
            result.append(integer)
        }
        return result
    }
}

/// Builds a safetensors file from named float32 or bfloat16 tensors and a metadata map.
///
/// Tensors are laid out as the reference writer does (wider dtypes first, then by name), so
/// every tensor is aligned to its element size, and the header is padded with spaces so the
/// data section begins at a multiple of 8 bytes.
public struct SafeTensorsWriter {
    private struct Pending {
        let name: String
        let dtype: DType
        let shape: [Int]
        let bytes: [UInt8]
    }

    /// Written as `__metadata__`; omitted when empty.
    public var metadata: [String: String]
    private var pending: [Pending] = []
    private var names: Set<String> = []

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds a float32 tensor. Throws `shapeMismatch` or `duplicateTensor`.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        try check(name, shape: shape, count: floats.count)
        var bytes = [UInt8](repeating: 0, count: floats.count * 4)
        for (index, value) in floats.enumerated() {
            let bits = value.bitPattern
            for byte in 0..<4 { bytes[index * 4 + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
        }
        pending.append(Pending(name: name, dtype: .f32, shape: shape, bytes: bytes))
    }

    /// Adds a bfloat16 tensor from float32 values, rounded to nearest even (NaN stays NaN).
    public mutating func add(_ name: String, shape: [Int], bfloat16 floats: [Float]) throws {
        try add(name, shape: shape, bfloat16Bits: floats.map(Self.bfloat16Bits))
    }

    /// Adds a bfloat16 tensor from its raw bit patterns.
    public mutating func add(_ name: String, shape: [Int], bfloat16Bits bits: [UInt16]) throws {
        try check(name, shape: shape, count: bits.count)
        var bytes = [UInt8](repeating: 0, count: bits.count * 2)
        for (index, value) in bits.enumerated() {
            bytes[index * 2] = UInt8(truncatingIfNeeded: value)
            bytes[index * 2 + 1] = UInt8(truncatingIfNeeded: value >> 8)
        }
        pending.append(Pending(name: name, dtype: .bf16, shape: shape, bytes: bytes))
    }

    /// Writes the file to `path`: see `ReplacedFile` for what is refused and how it is replaced.
    /// Throws `cannotWrite` with the failing call and errno, or `ReplacedFile`'s refusals.
    public func write(to path: String) throws {
        try write(to: ReplacedFile(path: path))
    }

    /// Writes the file to an output already checked (before the work of making its tensors).
    public func write(to output: ReplacedFile) throws {
        let ordered = pending.sorted { ($0.dtype.byteWidth, $1.name) > ($1.dtype.byteWidth, $0.name) }
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(JSONString.quoted($0)):\(JSONString.quoted(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in ordered {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(JSONString.quoted(tensor.name)):{\"dtype\":\"\(tensor.dtype.safetensorsName)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}")
            offset += tensor.bytes.count
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var prefix = [UInt8](repeating: 0, count: 8)
        for byte in 0..<8 { prefix[byte] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(byte))) }

        try output.write { descriptor in
            try prefix.withUnsafeBytes { try output.writeAll(descriptor, $0) }
            try header.withUnsafeBytes { try output.writeAll(descriptor, $0) }
            for tensor in ordered { try tensor.bytes.withUnsafeBytes { try output.writeAll(descriptor, $0) } }
        }
    }

    /// float32 → bfloat16 bits, rounding to nearest even; NaNs stay quiet NaNs.
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    private mutating func check(_ name: String, shape: [Int], count: Int) throws {
        var product = 1
        for extent in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard extent >= 0, !overflow else {
                throw WeightsError.shapeMismatch(file: "(safetensors writer)", tensor: name, shape: shape, elementCount: count)
            }
            product = next
        }
        guard product == count else {
            throw WeightsError.shapeMismatch(file: "(safetensors writer)", tensor: name, shape: shape, elementCount: count)
        }
        guard name != "__metadata__", names.insert(name).inserted else {
            throw WeightsError.duplicateTensor(file: "(safetensors writer)", tensor: name)
        }
    }
}
