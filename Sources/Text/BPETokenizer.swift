import Foundation
import Glibc

/// RoBERTa's byte-level BPE tokenizer: text in, token ids out, identical to Hugging Face's
/// `RobertaTokenizer` / `RobertaTokenizerFast` called with `truncation=True,
/// max_length=maximumLength` (the way AudioSep's CLAP text branch calls it), without padding.
///
/// Ported from transformers' `tokenization_roberta.py` (4.x) and the `tokenizers` pipeline it
/// builds (`BPE` model, `ByteLevel` pre-tokenizer with `add_prefix_space=False`,
/// `RobertaProcessing`). Steps:
/// 1. **Special tokens** written in the text (`<s>`, `</s>`, `<unk>`, `<pad>`, `<mask>`) are
///    split out first and map to their own ids; `<mask>` also swallows the whitespace before
///    it (`lstrip`, as roberta-base's tokenizer files say). No normalisation: no lowercasing,
///    no Unicode normalisation, no stripping.
/// 2. **Pre-tokenization** of the text between them with GPT-2's pattern (`PreTokenizer`).
///    No prefix space is added, so a text's first word has no `Ġ` (`add_prefix_space`
///    defaults to False for RoBERTa, and AudioSep keeps the default).
/// 3. **BPE** of each piece's UTF-8 bytes, written in byte symbols (`Ġ` for space, …), by
///    merge rank (`BytePairMerger`).
/// 4. **Truncation** of the content to `maximumLength − 2` ids, then `<s>` … `</s>`.
///
/// Where HF's two implementations differ, this follows the Rust one (`RobertaTokenizerFast`,
/// and `RobertaTokenizer` itself from transformers 5 on): Unicode 16.0 letter and number
/// classes (see `ScalarClass`); `<mask>` strips only White_Space before it, not U+001C…U+001F;
/// `maximumLength` 2 gives just `<s></s>`.
///
/// AudioSep also pads to 512 ids with `<pad>` (`padding="max_length"`) and passes an
/// attention mask; `encode` returns the unpadded ids, and `padId` is there for the caller.
///
/// Loading checks what `tokenizers` checks (every merge's tokens in the vocabulary) plus that
/// all 256 byte symbols are present, so that every text can be encoded without `<unk>`.
/// A special token missing from the vocabulary gets the next free id, as in HF.
/// Encoding is thread-safe; the per-piece cache is shared between copies.
public struct BPETokenizer: Sendable {
    /// The default `maximumLength`, RoBERTa's 512 positions.
    public static let defaultMaximumLength = 512
    /// The file names in a tokenizer folder such as `roberta-base/`.
    public static let vocabularyFileName = "vocab.json", mergesFileName = "merges.txt"
    /// The special tokens in the order HF registers them (and appends any that are missing).
    public static let specialTokens = ["<s>", "</s>", "<unk>", "<pad>", "<mask>"]

    /// The length `encode` truncates to, counting `<s>` and `</s>`.
    public let maximumLength: Int
    /// The number of ids: the vocabulary's entries plus any special tokens it lacked
    /// (HF's `len(tokenizer)`).
    public let count: Int
    /// The ids of `<s>` (first of every sequence), `</s>` (last), `<unk>`, `<pad>`, `<mask>`.
    public let beginId: Int, endId: Int, unknownId: Int, padId: Int, maskId: Int
    /// The number of merges.
    public let mergeCount: Int

    /// Compared byte for byte, as in HF (see `TokenKey`).
    private let idsByToken: [TokenKey: Int]
    private let tokensById: [Int: String]
    /// Special tokens as UTF-8, longest first, with their ids and whether they strip the
    /// whitespace to their left.
    private let specials: [(bytes: [UInt8], id: Int, stripsLeft: Bool)]
    private let merger: BytePairMerger

    /// Loads `vocab.json` and `merges.txt` from their paths. Throws `TokenizerError`.
    public init(vocabularyFile: String, mergesFile: String, maximumLength: Int = BPETokenizer.defaultMaximumLength) throws {
        let vocabulary = try Self.readFile(vocabularyFile)
        let merges = try Self.readFile(mergesFile)
        try self.init(vocabulary: vocabulary, merges: merges, maximumLength: maximumLength,
                      vocabularyName: vocabularyFile, mergesName: mergesFile)
    }

    /// Loads `vocab.json` and `merges.txt` from a folder such as `roberta-base/`.
    public init(directory: String, maximumLength: Int = BPETokenizer.defaultMaximumLength) throws {
        let folder = URL(fileURLWithPath: directory)
        try self.init(vocabularyFile: folder.appendingPathComponent(Self.vocabularyFileName).path,
                      mergesFile: folder.appendingPathComponent(Self.mergesFileName).path, maximumLength: maximumLength)
    }

    /// Loads the tokenizer from the contents of `vocab.json` and `merges.txt` (for example
    /// metadata strings of a converted model). `vocabularyName` and `mergesName` label errors.
    public init(vocabulary: String, merges: String, maximumLength: Int = BPETokenizer.defaultMaximumLength,
                vocabularyName: String = BPETokenizer.vocabularyFileName, mergesName: String = BPETokenizer.mergesFileName) throws {
        try self.init(vocabulary: Array(vocabulary.utf8), merges: Array(merges.utf8), maximumLength: maximumLength,
                      vocabularyName: vocabularyName, mergesName: mergesName)
    }

    /// Loads the tokenizer from the bytes of `vocab.json` and `merges.txt` (UTF-8).
    public init(vocabulary: Data, merges: Data, maximumLength: Int = BPETokenizer.defaultMaximumLength,
                vocabularyName: String = BPETokenizer.vocabularyFileName, mergesName: String = BPETokenizer.mergesFileName) throws {
        try self.init(vocabulary: [UInt8](vocabulary), merges: [UInt8](merges), maximumLength: maximumLength,
                      vocabularyName: vocabularyName, mergesName: mergesName)
    }

    private init(vocabulary vocabularyBytes: [UInt8], merges mergesBytes: [UInt8], maximumLength: Int,
                 vocabularyName: String, mergesName: String) throws {
        guard maximumLength >= 2 else { throw TokenizerError.invalidMaximumLength(maximumLength) }
        self.maximumLength = maximumLength
        var vocabulary = try vocabularyBytes.withUnsafeBufferPointer { try VocabularyFile.parse($0, file: vocabularyName) }

        var tokensById: [Int: String] = [:]
        tokensById.reserveCapacity(vocabulary.count + Self.specialTokens.count)
        for (token, id) in vocabulary {
            if let other = tokensById.updateValue(token.text, forKey: id) {
                throw TokenizerError.duplicateId(file: vocabularyName, id: id, tokens: [other, token.text].sorted())
            }
        }
        let byteIds = try ByteEncoder.symbols.enumerated().map { byte, symbol in
            guard let id = vocabulary[TokenKey(symbol)] else {
                throw TokenizerError.missingByteSymbol(file: vocabularyName, byte: UInt8(byte), symbol: symbol)
            }
            return id
        }

        // As HF: special tokens the vocabulary lacks are added after it, in registration order.
        var count = vocabulary.count
        for token in Self.specialTokens where vocabulary[TokenKey(token)] == nil {
            vocabulary[TokenKey(token)] = count
            tokensById[count] = token
            count += 1
        }
        self.count = count
        beginId = vocabulary[TokenKey("<s>")]!
        endId = vocabulary[TokenKey("</s>")]!
        unknownId = vocabulary[TokenKey("<unk>")]!
        padId = vocabulary[TokenKey("<pad>")]!
        maskId = vocabulary[TokenKey("<mask>")]!
        specials = Self.specialTokens.sorted { $0.utf8.count > $1.utf8.count }
            .map { (Array($0.utf8), vocabulary[TokenKey($0)]!, $0 == "<mask>") }

        let mergeList = try mergesBytes.withUnsafeBufferPointer { try MergesFile.parse($0, file: mergesName) }
        guard !mergeList.isEmpty else { throw TokenizerError.noMerges(file: mergesName) }
        var ranks: [UInt64: UInt64] = [:]
        ranks.reserveCapacity(mergeList.count)
        for (rank, merge) in mergeList.enumerated() {
            func missing(_ token: String) -> TokenizerError {
                .mergeTokenNotInVocabulary(file: mergesName, line: merge.line, token: token)
            }
            guard let left = vocabulary[merge.left] else { throw missing(merge.left.text) }
            guard let right = vocabulary[merge.right] else { throw missing(merge.right.text) }
            let joined = merge.left.text + merge.right.text
            guard let result = vocabulary[TokenKey(joined)] else { throw missing(joined) }
            // A repeated merge keeps its last rank, as in both HF implementations.
            ranks[UInt64(left) << 32 | UInt64(right)] = UInt64(rank) << 32 | UInt64(result)
        }
        mergeCount = mergeList.count
        idsByToken = vocabulary
        self.tokensById = tokensById
        merger = BytePairMerger(byteIds: byteIds, merges: ranks)
    }

    /// The ids of `text`: `<s>`, the tokens (at most `maximumLength − 2`), `</s>`.
    public func encode(_ text: String) -> [Int] {
        encode(text, maximumLength: maximumLength)
    }

    /// The ids of `text`, truncated to `maximumLength` (at least 2) ids in all.
    public func encode(_ text: String, maximumLength: Int) -> [Int] {
        precondition(maximumLength >= 2, "maximum length \(maximumLength) leaves no room for <s> and </s>")
        var ids = [beginId]
        var text = text
        text.withUTF8 { bytes in
            forEachSegment(bytes) { segment, specialId in
                if let specialId {
                    ids.append(specialId)
                    return
                }
                PreTokenizer.split(segment) { piece in
                    merger.encode(UnsafeBufferPointer(rebasing: segment[piece]), into: &ids)
                }
            }
        }
        if ids.count > maximumLength - 1 { ids.removeSubrange((maximumLength - 1)...) }
        ids.append(endId)
        return ids
    }

    /// The token strings of `encode(text)`, in byte symbols (`Ġdog`), `<s>` and `</s>` included.
    public func tokens(_ text: String) -> [String] {
        encode(text).map { tokensById[$0]! }
    }

    /// The token strings of `encode(text, maximumLength:)`.
    public func tokens(_ text: String, maximumLength: Int) -> [String] {
        encode(text, maximumLength: maximumLength).map { tokensById[$0]! }
    }

    /// The id of a vocabulary token (in byte symbols) or special token.
    public func id(of token: String) -> Int? { idsByToken[TokenKey(token)] }

    /// The token (in byte symbols) of an id.
    public func token(of id: Int) -> String? { tokensById[id] }

    /// Calls `body` for each stretch of text between special tokens (with `nil`) and for each
    /// special token (with an empty buffer and its id), in order. Leftmost match first, the
    /// longest at one position, as `tokenizers`' added-vocabulary split.
    private func forEachSegment(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Int?) -> Void) {
        var textStart = 0, index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "<"),
                  let special = specials.first(where: { index + $0.bytes.count <= bytes.count
                        && $0.bytes.elementsEqual(UnsafeBufferPointer(rebasing: bytes[index..<(index + $0.bytes.count)])) }) else {
                index += 1
                continue
            }
            var textEnd = index
            if special.stripsLeft {
                while textEnd > textStart {
                    var scalarStart = textEnd - 1
                    while scalarStart > textStart, bytes[scalarStart] & 0xC0 == 0x80 { scalarStart -= 1 }
                    let (scalar, _) = PreTokenizer.decode(bytes, at: scalarStart)
                    guard ScalarClass(Unicode.Scalar(scalar)!) == .whitespace else { break }
                    textEnd = scalarStart
                }
            }
            if textEnd > textStart { body(UnsafeBufferPointer(rebasing: bytes[textStart..<textEnd]), nil) }
            body(UnsafeBufferPointer(start: nil, count: 0), special.id)
            index += special.bytes.count
            textStart = index
        }
        if bytes.count > textStart { body(UnsafeBufferPointer(rebasing: bytes[textStart...]), nil) }
    }

    /// The whole file at `path` (`open`, `fstat`, `read`).
    private static func readFile(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw TokenizerError.cannotRead(file: path, call: "open", errno: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw TokenizerError.cannotRead(file: path, call: "fstat", errno: errno) }
        var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: max(4096, bytes.count))) }
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if got < 0 {
                if errno == EINTR { continue }
                throw TokenizerError.cannotRead(file: path, call: "read", errno: errno)
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeSubrange(filled...)
        return bytes
    }
}
