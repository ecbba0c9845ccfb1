import Foundation

/// Byte-pair encoding of one pre-tokenizer piece: its UTF-8 bytes become byte symbols, then
/// adjacent symbols are merged, lowest merge rank first, until no adjacent pair has a merge.
///
/// The loop is the one of Hugging Face's Python `RobertaTokenizer.bpe`: find the adjacent pair
/// with the lowest rank, merge every occurrence of it left to right without overlap, repeat.
/// (Rust `tokenizers` merges one occurrence at a time from a queue ordered by rank then
/// position, which gives the same result for any merges list whose parts are made by earlier
/// merges, as a trained one's are.) Symbols are vocabulary ids throughout: the loader has
/// checked that every byte symbol and every merge's parts and result are in the vocabulary.
/// Results are cached per piece, as both Hugging Face implementations do, keyed by the
/// piece's exact bytes (`TokenKey`: a plain `String` key would mix up canonically equivalent
/// pieces such as U+1FBB and U+0386).
final class BytePairMerger: @unchecked Sendable {
    /// The id of each byte's symbol.
    private let byteIds: [Int]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]

    /// The cache holds at most this many pieces, then stops taking new ones (as `tokenizers`).
    static let cacheCapacity = 10_000
    /// Longer pieces are not cached (as `tokenizers`).
    static let longestCachedPieceBytes = 256
    private var cache: [TokenKey: [Int]] = [:]
    private let cacheLock = NSLock()

    init(byteIds: [Int], merges: [UInt64: UInt64]) {
        self.byteIds = byteIds
        self.merges = merges
    }

    /// Appends the ids of `piece`'s BPE tokens to `ids`.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        if piece.count == 1 {
            ids.append(byteIds[Int(piece[0])])
            return
        }
        let cacheable = piece.count <= Self.longestCachedPieceBytes
        let key = TokenKey(cacheable ? String(decoding: piece, as: UTF8.self) : "")
        if cacheable {
            cacheLock.lock()
            let hit = cache[key]
            cacheLock.unlock()
            if let hit {
                ids.append(contentsOf: hit)
                return
            }
        }
        let symbols = merge(piece)
        ids.append(contentsOf: symbols)
        if cacheable {
            cacheLock.lock()
            if cache.count < Self.cacheCapacity { cache[key] = symbols }
            cacheLock.unlock()
        }
    }

    private func merge(_ piece: UnsafeBufferPointer<UInt8>) -> [Int] {
        var symbols = piece.map { byteIds[Int($0)] }
        var merged: [Int] = []
        merged.reserveCapacity(symbols.count)
        while symbols.count > 1 {
            var best = UInt64.max, bestLeft = 0, bestRight = 0
            for index in 0..<(symbols.count - 1) {
                if let found = merges[UInt64(symbols[index]) << 32 | UInt64(symbols[index + 1])], found < best {
                    best = found
                    bestLeft = symbols[index]
                    bestRight = symbols[index + 1]
                }
            }
            guard best != .max else { break }
            let result = Int(best & 0xFFFF_FFFF)
            merged.removeAll(keepingCapacity: true)
            var index = 0
            while index < symbols.count {
                if index + 1 < symbols.count, symbols[index] == bestLeft, symbols[index + 1] == bestRight {
                    merged.append(result)
                    index += 2
                } else {
                    merged.append(symbols[index])
                    index += 1
                }
            }
            swap(&symbols, &merged)
        }
        return symbols
    }
}
