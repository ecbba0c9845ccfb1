import Files
import Glibc

/// Errors of the weight-file readers (memory map, zip, pickle, PyTorch checkpoint, safetensors).
/// Every case names the file and the tensor, entry or byte offset involved.
public enum WeightsError: Error, Equatable, CustomStringConvertible {
    // The file itself.
    /// `open`, `fstat` or `mmap` failed; `call` is the C function, `errno` its error number.
    case cannotOpen(file: String, call: String, errno: Int32)
    /// The path is a directory, a device or something else that cannot be mapped.
    case notARegularFile(file: String)
    /// A read of `byteCount` bytes at `offset` would pass the end of the file (`fileBytes` long).
    case readOutOfRange(file: String, offset: Int, byteCount: Int, fileBytes: Int)
    /// Writing failed; `call` is the C function, `errno` its error number.
    case cannotWrite(file: String, call: String, errno: Int32)
    /// The output exists and is not a regular file (a device, a FIFO, a folder): a rename would
    /// replace it with one.
    case outputNotRegularFile(file: String)
    /// The output's folder does not exist.
    case outputFolderMissing(file: String, folder: String)
    /// The output is one of the files being read (`input`, by device and inode).
    case outputIsInput(file: String, input: String)

    // Zip archives.
    /// No end-of-central-directory record and no local file header at the start: not a zip.
    case notAZip(file: String)
    /// The file starts like a zip but its end-of-central-directory record is missing (cut short).
    case truncatedZip(file: String, fileBytes: Int)
    /// A zip structure at `offset` is inconsistent (`reason` says which).
    case corruptZip(file: String, offset: Int, reason: String)
    /// The entry is compressed (method ≠ 0); only stored entries can be mapped in place.
    case compressedEntry(file: String, entry: String, method: Int)
    /// The entry's data, `byteCount` bytes at `offset`, does not lie inside the file.
    case entryOutOfRange(file: String, entry: String, offset: Int, byteCount: Int, fileBytes: Int)
    /// The archive has no entry of that name.
    case missingEntry(file: String, entry: String)

    // Pickles.
    /// The pickle ended at `offset` in the middle of an opcode, or without a STOP.
    case pickleTruncated(file: String, offset: Int)
    /// An opcode this reader does not know (or that needs out-of-band data) at `offset`.
    case pickleUnknownOpcode(file: String, opcode: UInt8, offset: Int)
    /// A structurally invalid pickle: stack underflow, missing mark, bad memo index, … at `offset`.
    case pickleMalformed(file: String, offset: Int, reason: String)
    /// The pickle names `module.name` at `offset` (GLOBAL, STACK_GLOBAL or INST), a global no
    /// PyTorch checkpoint uses (`Pickle.allowedGlobals`): Python would import and may call it.
    case pickleForbiddenGlobal(file: String, offset: Int, module: String, name: String)

    // PyTorch checkpoints.
    /// The archive holds no `data.pkl` (at its root or in one folder).
    case noDataPickle(file: String)
    /// The archive's `byteorder` entry says something other than `little`.
    case unsupportedByteOrder(file: String, byteOrder: String)
    /// Neither the top-level object, nor its `state_dict` or `model` entry, is a dict of tensors.
    case noStateDict(file: String)
    /// The tensor's storage type (e.g. `torch.ComplexFloatStorage`) has no `DType`.
    case unknownStorageType(file: String, tensor: String, storageType: String)
    /// The tensor's storage entry cannot be mapped: missing, compressed, or outside the file.
    case storageUnavailable(file: String, tensor: String, entry: String, reason: String)
    /// The tensor's shape, strides and storage offset reach `neededBytes` bytes into a
    /// storage that holds only `storageBytes`.
    case storageOutOfRange(file: String, tensor: String, neededBytes: Int, storageBytes: Int)
    /// The tensor's storage offset (`offset` elements of `dtype`) is negative or lies past the
    /// end of its storage of `storageBytes` bytes.
    case badStorageOffset(file: String, tensor: String, offset: Int, dtype: String, storageBytes: Int)
    /// The tensor has an invalid shape or strides (negative, rank mismatch, overflow).
    case invalidLayout(file: String, tensor: String, shape: [Int], strides: [Int])
    /// The tensor's shape holds `elementCount` values, more than the whole file has bytes (only
    /// a broadcast view, with zero strides, can; one that large would exhaust memory when read).
    case tensorLargerThanFile(file: String, tensor: String, shape: [Int], elementCount: Int, fileBytes: Int)
    /// No tensor of that name.
    case missingTensor(file: String, tensor: String)
    /// The tensor holds a NaN or an infinity (`value`, as text) at row-major `index`.
    case nonFiniteValue(file: String, tensor: String, index: Int, value: String)

    // Safetensors.
    /// The 8-byte header length is larger than the file allows (or absurdly large).
    case headerTooLarge(file: String, headerBytes: UInt64, fileBytes: Int)
    /// The JSON header cannot be parsed or has the wrong structure (`reason` says where).
    case invalidHeader(file: String, reason: String)
    /// The tensor's dtype string is not one this reader knows, or cannot be written.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The tensor's byte range `begin..<end` is inverted, outside the data section
    /// (`dataBytes` long) or disagrees with its shape and dtype.
    case tensorOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataBytes: Int)
    /// The tensor's shape holds more elements than an Int can count.
    case shapeOverflow(file: String, tensor: String, shape: [Int], dtype: String)
    /// The tensor's byte range holds `byteCount` bytes where its shape and dtype need `expectedBytes`.
    case byteCountMismatch(file: String, tensor: String, shape: [Int], dtype: String, byteCount: Int, expectedBytes: Int)
    /// A checkpoint storage saved as `elementCount` values of `dtype` whose zip entry holds
    /// `storageBytes`, not `elementCount` × the dtype's width: a wrong storage type or a cut entry.
    case storageSizeMismatch(file: String, tensor: String, entry: String, dtype: String, elementCount: Int, storageBytes: Int)
    /// Tensors must tile the data section in order without gaps or overlaps; this one
    /// begins at `begin` where `expected` was due.
    case tensorsNotContiguous(file: String, tensor: String, begin: Int, expected: Int)
    /// The shape's element count disagrees with the number of values given (writer).
    case shapeMismatch(file: String, tensor: String, shape: [Int], elementCount: Int)
    /// Two tensors share a name (writer).
    case duplicateTensor(file: String, tensor: String)

    /// One line; quoted file content with its control characters escaped.
    public var description: String { message.printable }

    private var message: String {
        switch self {
        case .cannotOpen(let file, let call, let errno):
            return "\(file): \(call) failed: \(Self.errnoText(errno))"
        case .notARegularFile(let file):
            return "\(file): not a regular file"
        case .readOutOfRange(let file, let offset, let byteCount, let fileBytes):
            return "\(file): read of \(byteCount) bytes at offset \(offset) passes the end of the file (\(fileBytes) bytes)"
        case .cannotWrite(let file, let call, let errno):
            return "\(file): \(call) failed: \(Self.errnoText(errno))"
        case .outputNotRegularFile(let file):
            return "cannot write '\(file)': not a regular file (a device, FIFO or folder is not replaced); name a file"
        case .outputFolderMissing(let file, let folder):
            return "cannot write '\(file)': folder '\(folder)' does not exist"
        case .outputIsInput(let file, let input):
            return "cannot write '\(file)': it is the input file '\(input)'; name another output"
        case .notAZip(let file):
            return "\(file): not a zip archive (no end-of-central-directory record)"
        case .truncatedZip(let file, let fileBytes):
            return "\(file): zip archive cut short at \(fileBytes) bytes (no end-of-central-directory record)"
        case .corruptZip(let file, let offset, let reason):
            return "\(file): corrupt zip at offset \(offset): \(reason)"
        case .compressedEntry(let file, let entry, let method):
            return "\(file): zip entry '\(entry)' is compressed (method \(method)); only stored entries can be mapped"
        case .entryOutOfRange(let file, let entry, let offset, let byteCount, let fileBytes):
            return "\(file): zip entry '\(entry)' (\(byteCount) bytes at offset \(offset)) lies outside the file (\(fileBytes) bytes)"
        case .missingEntry(let file, let entry):
            return "\(file): zip archive has no entry '\(entry)'"
        case .pickleTruncated(let file, let offset):
            return "\(file): pickle ends early at byte \(offset)"
        case .pickleUnknownOpcode(let file, let opcode, let offset):
            return "\(file): unsupported pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset)"
        case .pickleMalformed(let file, let offset, let reason):
            return "\(file): malformed pickle at byte \(offset): \(reason)"
        case .pickleForbiddenGlobal(let file, let offset, let module, let name):
            return "\(file): refused: its pickle names \(module).\(name) (byte \(offset)), which no PyTorch checkpoint uses "
                + "and torch.load(weights_only=True) refuses too; loading this file with Python's pickle could run it"
        case .noDataPickle(let file):
            return "\(file): not a PyTorch checkpoint (no data.pkl in the archive)"
        case .unsupportedByteOrder(let file, let byteOrder):
            return "\(file): storages are '\(byteOrder)' endian; only little-endian is supported"
        case .noStateDict(let file):
            return "\(file): no state dict (neither the checkpoint nor its 'state_dict' or 'model' entry maps names to tensors)"
        case .unknownStorageType(let file, let tensor, let storageType):
            return "\(file): tensor '\(tensor)' has an unsupported storage type \(storageType)"
        case .storageUnavailable(let file, let tensor, let entry, let reason):
            return "\(file): storage '\(entry)' of tensor '\(tensor)' cannot be mapped: \(reason)"
        case .storageOutOfRange(let file, let tensor, let neededBytes, let storageBytes):
            return "\(file): tensor '\(tensor)' needs \(neededBytes) bytes of a storage of \(storageBytes)"
        case .badStorageOffset(let file, let tensor, let offset, let dtype, let storageBytes):
            return "\(file): tensor '\(tensor)' starts at storage offset \(offset) (\(dtype) elements), "
                + "outside its storage of \(storageBytes) bytes"
        case .invalidLayout(let file, let tensor, let shape, let strides):
            return "\(file): tensor '\(tensor)' has an invalid layout: shape \(shape), strides \(strides)"
        case .tensorLargerThanFile(let file, let tensor, let shape, let elementCount, let fileBytes):
            return "\(file): tensor '\(tensor)' of shape \(shape) holds \(elementCount) values, more than the file's \(fileBytes) bytes"
        case .missingTensor(let file, let tensor):
            return "\(file): no tensor '\(tensor)'"
        case .nonFiniteValue(let file, let tensor, let index, let value):
            return "\(file): tensor '\(tensor)' holds \(value) at index \(index): the weights are damaged or diverged"
        case .headerTooLarge(let file, let headerBytes, let fileBytes):
            return "\(file): safetensors header of \(headerBytes) bytes does not fit a file of \(fileBytes) bytes"
        case .invalidHeader(let file, let reason):
            return "\(file): invalid safetensors header: \(reason)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has an unsupported dtype \(dtype)"
        case .tensorOutOfRange(let file, let tensor, let begin, let end, let dataBytes):
            return "\(file): tensor '\(tensor)' byte range \(begin)..<\(end) is invalid for a data section of \(dataBytes) bytes"
        case .shapeOverflow(let file, let tensor, let shape, let dtype):
            return "\(file): tensor '\(tensor)' of dtype \(dtype) has shape \(shape), more elements than can be counted"
        case .byteCountMismatch(let file, let tensor, let shape, let dtype, let byteCount, let expectedBytes):
            return "\(file): tensor '\(tensor)' of shape \(shape) and dtype \(dtype) needs \(expectedBytes) bytes, its data holds \(byteCount)"
        case .storageSizeMismatch(let file, let tensor, let entry, let dtype, let elementCount, let storageBytes):
            let width = DType(rawValue: dtype)?.byteWidth ?? 0
            return "\(file): storage '\(entry)' of tensor '\(tensor)' is saved as \(elementCount) \(dtype) values "
                + "(\(elementCount.multipliedReportingOverflow(by: width).partialValue) bytes) but its entry holds \(storageBytes) bytes"
        case .tensorsNotContiguous(let file, let tensor, let begin, let expected):
            return "\(file): tensor '\(tensor)' begins at byte \(begin) of the data section, expected \(expected) (gap or overlap)"
        case .shapeMismatch(let file, let tensor, let shape, let elementCount):
            return "\(file): tensor '\(tensor)' has shape \(shape) but \(elementCount) values"
        case .duplicateTensor(let file, let tensor):
            return "\(file): tensor '\(tensor)' is given twice"
        }
    }

    private static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: text)) (errno \(code))"
    }
}
