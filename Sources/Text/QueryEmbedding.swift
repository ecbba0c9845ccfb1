import Foundation
import Weights

/// A query embedding given directly (`--embedding FILE`): 512 little-endian float32 values,
/// raw or as a NumPy `.npy` array of shape (512,) or (1, 512).
public enum QueryEmbedding {
    /// CLAP's embedding width: the size of the network's FiLM condition.
    public static let size = 512
    /// The largest magnitude an embedding may hold. CLAP's are L2-normalised (every value within
    /// ±1); a user's own may be scaled, but beyond this the FiLM layers' products are noise or
    /// overflow, and a value like 1e38 is a damaged or misread file.
    public static let maximumMagnitude = ModelError.embeddingMagnitudeLimit

    /// Refuses NaN, infinity and magnitudes above `maximumMagnitude`:
    /// `ModelError.implausibleEmbedding` naming `origin`, the index and the value.
    public static func validate(_ values: [Float], origin: String) throws {
        guard let index = values.firstIndex(where: { !(abs($0) <= maximumMagnitude) }) else { return }
        throw ModelError.implausibleEmbedding(origin: origin, index: index, value: "\(values[index])")
    }

    public static func load(path: String) throws -> [Float] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ModelError.badEmbedding(file: path, reason: "no such file")
        }
        guard !isFolder.boolValue else { throw ModelError.badEmbedding(file: path, reason: "it is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.badEmbedding(file: path, reason: "cannot read the file (\(String(cString: strerror(errno))))")
        }
        return try parse(Array(data), origin: path)
    }

    public static func parse(_ bytes: [UInt8], origin: String) throws -> [Float] {
        var payload = ArraySlice(bytes)
        if bytes.starts(with: [0x93] + Array("NUMPY".utf8)) {
            guard bytes.count >= 10 else { throw ModelError.badEmbedding(file: origin, reason: "truncated .npy header") }
            let major = bytes[6]
            let headerLength: Int, headerStart: Int
            if major == 1 {
                headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
                headerStart = 10
            } else {
                guard bytes.count >= 12 else { throw ModelError.badEmbedding(file: origin, reason: "truncated .npy header") }
                headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
                headerStart = 12
            }
            guard headerStart + headerLength <= bytes.count else {
                throw ModelError.badEmbedding(file: origin, reason: ".npy header runs past the end of the file")
            }
            let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
            let compact = header.replacingOccurrences(of: " ", with: "")
            guard compact.contains("'descr':'<f4'") else {
                throw ModelError.badEmbedding(file: origin, reason: "dtype must be little-endian float32 ('<f4'), header says \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            guard compact.contains("'fortran_order':False") else {
                throw ModelError.badEmbedding(file: origin, reason: "Fortran-ordered arrays are not supported")
            }
            guard compact.contains("'shape':(512,)") || compact.contains("'shape':(1,512)") else {
                throw ModelError.badEmbedding(file: origin, reason: "shape must be (512,) or (1, 512)")
            }
            payload = bytes[(headerStart + headerLength)...]
        }
        guard payload.count == size * 4 else {
            throw ModelError.badEmbedding(file: origin, reason: "\(payload.count) bytes of values, expected \(size * 4) (512 float32)")
        }
        var values = [Float](repeating: 0, count: size)
        payload.withUnsafeBytes { raw in
            for index in 0..<size {
                values[index] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            }
        }
        try validate(values, origin: origin)
        return values
    }
}
