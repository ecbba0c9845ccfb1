/// Finds NaN and infinity in stored values in one pass: with the sign cleared, a value's bit
/// pattern is at least the all-ones exponent's exactly when it is not finite, so the largest
/// such pattern tells whether there is one; only then is the index searched. A plain max
/// reduction over the bit patterns, which the compiler vectorises, so the scan runs at memory
/// speed (generic SIMD types do not vectorise it).
enum FiniteScan {
    /// The index of the first NaN or infinity among `count` float32 values at `base`, or nil.
    static func firstNonFinite(float32 base: UnsafeRawPointer, count: Int) -> Int? {
        guard count > 0 else { return nil }
        if Int(bitPattern: base) % 4 == 0 {
            let bits = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt32.self), count: count)
            var top: UInt32 = 0
            for value in bits { top = max(top, value & 0x7FFF_FFFF) }
            guard top >= 0x7F80_0000 else { return nil }
        }
        // Found one, or storage that is not aligned (no checkpoint writer makes it): element by element.
        return (0..<count).first { base.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) & 0x7FFF_FFFF >= 0x7F80_0000 }
    }

    /// The same for 16-bit floats: bfloat16 (`infinity` 0x7F80) or IEEE float16 (0x7C00).
    static func firstNonFinite(half base: UnsafeRawPointer, count: Int, infinity: UInt16) -> Int? {
        guard count > 0 else { return nil }
        if Int(bitPattern: base) % 2 == 0 {
            let bits = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt16.self), count: count)
            var top: UInt16 = 0
            for value in bits { top = max(top, value & 0x7FFF) }
            guard top >= infinity else { return nil }
        }
        return (0..<count).first { base.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self) & 0x7FFF >= infinity }
    }

    static func firstNonFinite(_ values: [Float]) -> Int? {
        values.withUnsafeBytes { bytes in bytes.baseAddress.flatMap { firstNonFinite(float32: $0, count: values.count) } }
    }
}

extension TensorView {
    /// Throws `WeightsError.nonFiniteValue` naming the first NaN or infinity: a damaged or
    /// diverged checkpoint, which would otherwise turn every output sample into NaN.
    /// One pass over the stored bytes (also zero-copy for a memory-mapped tensor).
    public func requireFinite() throws {
        let found: Int?
        if let base = contiguousBytes?.baseAddress {
            switch dtype {
            case .f32: found = FiniteScan.firstNonFinite(float32: base, count: elementCount)
            case .bf16: found = FiniteScan.firstNonFinite(half: base, count: elementCount, infinity: 0x7F80)
            case .f16: found = FiniteScan.firstNonFinite(half: base, count: elementCount, infinity: 0x7C00)
            case .f64: found = FiniteScan.firstNonFinite(try floats())
            case .i64, .i32, .i16, .i8, .u8, .bool: found = nil
            }
        } else {
            found = FiniteScan.firstNonFinite(try floats())
        }
        guard let index = found else { return }
        throw nonFinite(at: index, value: try floats()[index])
    }

    /// `requireFinite()`, for a tensor read from its mapping once and not kept: scans it a slice
    /// of `sliceBytes` at a time and releases each slice's pages (`MappedPages`) once scanned, so
    /// checking a large tensor (an embedding table) does not make the whole of it resident.
    public func requireFiniteReleasing(sliceBytes: Int = 8 << 20) throws {
        guard let bytes = contiguousBytes, let base = bytes.baseAddress, [.f32, .bf16, .f16].contains(dtype) else {
            return try requireFinite()
        }
        let width = dtype.byteWidth
        let sliceElements = max(1, sliceBytes / width)
        var start = 0
        while start < elementCount {
            let count = min(sliceElements, elementCount - start)
            let slice = base + start * width
            let found: Int? = switch dtype {
            case .f32: FiniteScan.firstNonFinite(float32: slice, count: count)
            case .bf16: FiniteScan.firstNonFinite(half: slice, count: count, infinity: 0x7F80)
            default: FiniteScan.firstNonFinite(half: slice, count: count, infinity: 0x7C00)
            }
            if let index = found { throw nonFinite(at: start + index, value: try floats()[start + index]) }
            let offset = slice - file.base!
            MappedPages.release(file, offset..<(offset + count * width))
            start += count
        }
    }

    /// The values as float32 (`floats()`), refused with `nonFiniteValue` if one is NaN or infinite.
    public func finiteFloats() throws -> [Float] {
        let values = try floats()
        if let index = FiniteScan.firstNonFinite(values) { throw nonFinite(at: index, value: values[index]) }
        return values
    }

    private func nonFinite(at index: Int, value: Float) -> WeightsError {
        .nonFiniteValue(file: file.path, tensor: name, index: index, value: "\(value)")
    }
}
