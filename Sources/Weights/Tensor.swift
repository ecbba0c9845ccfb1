/// Element types of stored tensors.
public enum DType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// The dtype's name in a safetensors header (`F32`, `BF16`, …).
    public var safetensorsName: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i64: return "I64"
        case .i32: return "I32"
        case .i16: return "I16"
        case .i8: return "I8"
        case .u8: return "U8"
        case .bool: return "BOOL"
        }
    }

    /// The dtype a safetensors header names, or `nil` for one this reader does not know.
    public init?(safetensorsName: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    /// The dtype of a PyTorch storage class (`FloatStorage`, `BFloat16Storage`, …, with or
    /// without the `torch.` module), or `nil` for complex, quantised and float8 storages.
    public init?(torchStorageType: String) {
        let name = torchStorageType.hasPrefix("torch.") ? String(torchStorageType.dropFirst(6)) : torchStorageType
        switch name {
        case "FloatStorage": self = .f32
        case "HalfStorage": self = .f16
        case "BFloat16Storage": self = .bf16
        case "DoubleStorage": self = .f64
        case "LongStorage": self = .i64
        case "IntStorage": self = .i32
        case "ShortStorage": self = .i16
        case "CharStorage": self = .i8
        case "ByteStorage": self = .u8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    public var description: String { rawValue }
}

/// A tensor stored in a memory-mapped weight file: its checkpoint name, dtype and layout, and
/// where its storage lies in the file. Nothing is copied until `floats()` is called.
///
/// Layout follows PyTorch: element `[i₀, i₁, …]` is storage element
/// `storageOffset + Σ iₖ·strides[k]`; strides and offset count elements, not bytes. Storage
/// bytes are little-endian. A view keeps its file mapped for as long as it exists.
public struct TensorView: @unchecked Sendable {
    /// The checkpoint key (without a `module.` prefix).
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Element strides, one per dimension.
    public let strides: [Int]
    /// Offset of element `[0, 0, …]` from the storage start, in elements.
    public let storageOffset: Int
    /// The mapped file holding the storage.
    public let file: MappedFile
    /// Where the storage begins in the file, in bytes.
    public let storageByteOffset: Int
    /// The storage's length in bytes (several views may share one storage).
    public let storageByteCount: Int
    /// The storage's first byte in the mapping (`file.base + storageByteOffset`).
    public let storageBase: UnsafeRawPointer
    /// The number of elements (the product of `shape`; 1 for a scalar).
    public let elementCount: Int

    /// More dimensions than any network uses; a longer shape is a corrupt record (and would make
    /// every view of it cost time in proportion).
    public static let maximumRank = 64

    /// Checks the layout against the storage and file. Throws `badStorageOffset` for an offset
    /// that is negative or past the storage's end, `invalidLayout` for negative or
    /// mismatched shape and strides or more than `maximumRank` dimensions, `storageOutOfRange`
    /// when an element lies past the storage's end, `tensorLargerThanFile` for a broadcast view
    /// with more values than the file has bytes, and `readOutOfRange` when the storage is not
    /// inside the file.
    public init(name: String, dtype: DType, shape: [Int], strides: [Int], storageOffset: Int,
                file: MappedFile, storageByteOffset: Int, storageByteCount: Int) throws {
        try file.checkRange(offset: storageByteOffset, byteCount: storageByteCount)
        guard let base = file.base else {
            throw WeightsError.readOutOfRange(file: file.path, offset: storageByteOffset,
                                              byteCount: max(1, storageByteCount), fileBytes: 0)
        }
        let invalid = WeightsError.invalidLayout(file: file.path, tensor: name, shape: shape, strides: strides)
        let badOffset = WeightsError.badStorageOffset(file: file.path, tensor: name, offset: storageOffset,
                                                      dtype: dtype.rawValue, storageBytes: storageByteCount)
        guard storageOffset >= 0 else { throw badOffset }
        guard shape.count == strides.count, shape.count <= Self.maximumRank,
              shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else { throw invalid }
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw WeightsError.shapeOverflow(file: file.path, tensor: name, shape: shape, dtype: dtype.rawValue)
            }
            count = product
        }
        if count > 0 {
            // The first element must lie inside the storage, then the furthest one.
            let (firstByte, overflow) = storageOffset.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, firstByte < storageByteCount else { throw badOffset }
            var last = storageOffset
            for (extent, stride) in zip(shape, strides) {
                let (step, overflow1) = (extent - 1).multipliedReportingOverflow(by: stride)
                let (sum, overflow2) = last.addingReportingOverflow(step)
                guard !overflow1, !overflow2 else { throw invalid }
                last = sum
            }
            let (elements, overflow1) = last.addingReportingOverflow(1)
            let (needed, overflow2) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow1, !overflow2 else { throw invalid }
            guard needed <= storageByteCount else {
                throw WeightsError.storageOutOfRange(file: file.path, tensor: name,
                                                     neededBytes: needed, storageBytes: storageByteCount)
            }
            // Zero strides let a few stored bytes stand for any number of values; `floats()`
            // would allocate them all. Bounded by the file, a view costs at most a few times it.
            guard count <= file.byteCount else {
                throw WeightsError.tensorLargerThanFile(file: file.path, tensor: name, shape: shape,
                                                        elementCount: count, fileBytes: file.byteCount)
            }
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.storageOffset = storageOffset
        self.file = file
        self.storageByteOffset = storageByteOffset
        self.storageByteCount = storageByteCount
        self.storageBase = base + storageByteOffset
        self.elementCount = count
    }

    /// The row-major strides of `shape` (what a contiguous tensor has).
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var stride = 1
        for axis in shape.indices.reversed() {
            strides[axis] = stride
            stride *= max(shape[axis], 1)
        }
        return strides
    }

    /// True when the elements are stored row-major without gaps (dimensions of extent 1 may
    /// have any stride), so the data is one byte range.
    public var isContiguous: Bool {
        if elementCount == 0 { return true }
        var expected = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// The tensor's bytes in the mapping, without copying, when it is contiguous; else `nil`.
    /// Valid while this view (or another reference to `file`) lives.
    public var contiguousBytes: UnsafeRawBufferPointer? {
        guard isContiguous else { return nil }
        return UnsafeRawBufferPointer(start: storageBase + storageOffset * dtype.byteWidth,
                                      count: elementCount * dtype.byteWidth)
    }

    /// The values in the mapping, without copying, when the tensor is contiguous float32 and
    /// 4-byte aligned in the file (as PyTorch and safetensors files are); else `nil`.
    /// Valid while this view (or another reference to `file`) lives.
    public var contiguousFloat32: UnsafeBufferPointer<Float>? {
        guard dtype == .f32, let bytes = contiguousBytes, let start = bytes.baseAddress,
              Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: start.bindMemory(to: Float.self, capacity: elementCount), count: elementCount)
    }

    /// The values as float32, contiguous in row-major order: float16, bfloat16 and float64 are
    /// converted (float64 rounds to nearest), integers are converted, bools become 0 or 1.
    /// Strides and the storage offset are honoured. Throws only if the view is inconsistent.
    public func floats() throws -> [Float] {
        let count = elementCount
        if count == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = buffer.baseAddress!
            if dtype == .f32, let bytes = contiguousBytes {
                UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            } else {
                switch dtype {
                case .f32: gather(Float32Element.self, into: out)
                case .f16: gather(Float16Element.self, into: out)
                case .bf16: gather(BFloat16Element.self, into: out)
                case .f64: gather(Float64Element.self, into: out)
                case .i64: gather(IntegerElement<Int64>.self, into: out)
                case .i32: gather(IntegerElement<Int32>.self, into: out)
                case .i16: gather(IntegerElement<Int16>.self, into: out)
                case .i8: gather(IntegerElement<Int8>.self, into: out)
                case .u8: gather(IntegerElement<UInt8>.self, into: out)
                case .bool: gather(BoolElement.self, into: out)
                }
            }
            initialized = count
        }
    }

    /// Calls `body` with the values as contiguous float32: the mapping itself when
    /// `contiguousFloat32` is available (zero-copy), else a temporary from `floats()`.
    public func withFloats<Result>(_ body: (UnsafeBufferPointer<Float>) throws -> Result) throws -> Result {
        if let mapped = contiguousFloat32 { return try body(mapped) }
        return try floats().withUnsafeBufferPointer(body)
    }

    /// Walks the elements in row-major order (an odometer over all but the last axis).
    @inline(__always)
    private func gather<Element: StoredElement>(_: Element.Type, into out: UnsafeMutablePointer<Float>) {
        let base = storageBase
        let rank = shape.count
        if rank == 0 {
            out[0] = Element.float(base, storageOffset)
            return
        }
        let innerCount = shape[rank - 1]
        let innerStride = strides[rank - 1]
        let rows = elementCount / innerCount
        var index = [Int](repeating: 0, count: rank)
        var rowStart = storageOffset
        var written = 0
        for _ in 0..<rows {
            var element = rowStart
            for column in 0..<innerCount {
                out[written + column] = Element.float(base, element)
                element += innerStride
            }
            written += innerCount
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                rowStart += strides[axis]
                if index[axis] < shape[axis] { break }
                rowStart -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

/// Converts one stored element, at element index `index` from `base`, to float32.
private protocol StoredElement {
    static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float
}

private enum Float32Element: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self)))
    }
}

private enum Float64Element: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))))
    }
}

private enum BFloat16Element: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        // bfloat16 is the top half of a float32.
        Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))) << 16)
    }
}

private enum Float16Element: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self)))
    }
}

private enum BoolElement: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        base.load(fromByteOffset: index, as: UInt8.self) == 0 ? 0 : 1
    }
}

private enum IntegerElement<Integer: FixedWidthInteger>: StoredElement {
    @inline(__always) static func float(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(Integer(littleEndian: base.loadUnaligned(fromByteOffset: index &* MemoryLayout<Integer>.size, as: Integer.self)))
    }
}

/// IEEE binary16 to binary32, exactly (bit manipulation, so it needs no `Float16` support).
@inline(__always)
func halfToFloat(_ half: UInt16) -> Float {
    let sign = UInt32(half & 0x8000) << 16
    let exponent = UInt32(half >> 10) & 0x1F
    let mantissa = UInt32(half & 0x3FF)
    switch exponent {
    case 0:  // zero or subnormal: mantissa · 2⁻²⁴
        let magnitude = Float(mantissa) * 0x1p-24
        return sign != 0 ? -magnitude : magnitude
    case 31:  // infinity or NaN
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
