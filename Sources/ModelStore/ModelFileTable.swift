import Foundation

/// One file of the model: where it goes under the model folder, where it is under the base URL, and
/// what it must be. A nil size or sum is one nobody has published where we could read it: the
/// download is then checked against what the server says it sends, and its SHA-256 is printed.
///
/// A file of a Hugging Face repository also names that repository, the revision (a commit, so the
/// bytes never change under the published size and sum) and its path there; its `url` is then
/// `REPOSITORY/resolve/REVISION/FILE`, the path Hugging Face (and a mirror of it) serves it under.
public struct ManifestEntry: Codable, Equatable, Sendable {
    /// Path under the model folder (`roberta-base/vocab.json`).
    public var path: String
    /// Path under the base URL (`FacebookAI/roberta-base/resolve/e2da8e2f…/vocab.json`).
    public var url: String
    /// Bytes, when known.
    public var size: Int64?
    /// SHA-256 as 64 lower-case hex digits, when known.
    public var sha256: String?
    /// The Hugging Face repository the file comes from (`FacebookAI/roberta-base`,
    /// `spaces/Audio-AGI/AudioSep`), when it comes from one.
    public var repository: String?
    /// The repository's commit the size and sum belong to (40 hex digits).
    public var revision: String?
    /// The file's path inside the repository (`checkpoint/audiosep_base_4M_steps.ckpt`).
    public var file: String?

    public init(path: String, url: String, size: Int64? = nil, sha256: String? = nil) {
        self.path = path
        self.url = url
        self.size = size
        self.sha256 = sha256
    }

    /// A file of a Hugging Face repository at one revision: `url` is `REPOSITORY/resolve/REVISION/FILE`.
    public init(path: String, repository: String, revision: String, file: String, size: Int64?, sha256: String?) {
        self.init(path: path, url: Self.resolvePath(repository: repository, revision: revision, file: file), size: size, sha256: sha256)
        self.repository = repository
        self.revision = revision
        self.file = file
    }

    /// `REPOSITORY/resolve/REVISION/FILE`: where Hugging Face serves a file at a revision.
    public static func resolvePath(repository: String, revision: String, file: String) -> String {
        "\(repository)/resolve/\(revision)/\(file)"
    }
}

/// The files `audiosep-stream model download` fetches: exactly what AudioSep's users download.
public enum ModelFileTable {
    /// Hugging Face: both repositories live under it, so one base URL (or one mirror) serves all.
    public static let defaultBaseURL = "https://huggingface.co"

    /// AudioSep's Hugging Face Space, where its users download both checkpoints.
    public static let audioSepSpace = "spaces/Audio-AGI/AudioSep"
    /// The Space's commit whose checkpoints have the sizes and sums below.
    public static let audioSepRevision = "5638854dccfaea5c5fa4f634c00fe74fbb119244"
    /// The text encoder's tokenizer and configuration, as upstream loads them (`roberta-base`).
    public static let robertaBase = "FacebookAI/roberta-base"
    /// roberta-base's commit whose files have the sizes and sums below.
    public static let robertaRevision = "e2da8e2f811d1448a5b465c236feacd80ffbac7b"

    /// The table (also in README.md, "Getting the model"). Every file is fetched at a fixed
    /// revision (`…/resolve/COMMIT/…`, never the moving `main`), so the published sizes and sums
    /// stay true. Order matters: the AudioSep checkpoint comes last, because a folder counts as a
    /// model once it holds that file, so an interrupted first download never leaves a folder that
    /// looks like a model but lacks the CLAP weights.
    ///
    /// Where the values come from (nothing here was computed from the files by us; there was no
    /// network to fetch them). The public-code search of our sessions names no repository for most
    /// hits, so those are cited by its file ids:
    /// - Revisions: roberta-base `e2da8e2f…` is the commit that public projects pin together with
    ///   these very four sums (e.g. a Julia artifact builder fetching
    ///   `FacebookAI/roberta-base/resolve/e2da8e2f…/vocab.json` and `merges.txt` with our sums, file
    ///   id 3664729761); the Space's `5638854d…` is the commit of the public GitHub mirror
    ///   (camenduru/AudioSep-hf) whose LFS pointers give the checkpoints' sizes and sums.
    /// - roberta-base `config.json`, `vocab.json`, `merges.txt`, `pytorch_model.bin` SHA-256: the
    ///   same four sums pinned in two unrelated public repositories, a download script that checks
    ///   `sha256sum` after `wget https://huggingface.co/roberta-base/resolve/main/FILE` and a test
    ///   recording the file digests of a roberta-base snapshot; the `vocab.json` and `merges.txt`
    ///   sums also equal the SRI hashes of a Nix `fetchurl` of those URLs (laion_clap packaging),
    ///   and the `pytorch_model.bin` sum is the LFS object id in its `cdn-lfs.huggingface.co` URL
    ///   quoted in a third repository's README. (File ids: 16168342136 the script, 67395569350
    ///   the test, 33678771302 the Nix file, 898430216 the README.)
    /// - roberta-base sizes: `config.json` 481, `vocab.json` 898,823, `merges.txt` 456,318 bytes,
    ///   each beside our SHA-256 for it in two unrelated public projects that pin revision
    ///   `e2da8e2f…`: a Python table of model artifacts (`download_size_bytes` and `sha256` of
    ///   `FacebookAI/roberta-base/resolve/e2da8e2f…/FILE`, file id 65981171203; the same table in
    ///   file id 58706357981 for config and vocab) and a Python acceptance contract listing the
    ///   tokenizer files as (size, sha256) pairs (file id 66251416964). `config.json`'s 481 bytes
    ///   with its sum also appear as `"contentSize": "481 B"` in a model card's metadata (file id
    ///   35439186600); 456,318 bytes is also the length of GPT-2's merges.txt in public download
    ///   logs (RoBERTa reuses GPT-2's BPE merges; a corroboration, not a proof, e.g. file id
    ///   25182466714, a `wget` of huggingface.co's merges.txt saving `[456318/456318]`).
    /// - `pytorch_model.bin` size: not found anywhere we could read (listings round it to 501 MB;
    ///   roberta-base's `model.safetensors` is 498,818,054 bytes in a quoted traceback and a
    ///   pinned-artifacts table, file ids 6844902335 and 63522383946, but we fetch
    ///   `pytorch_model.bin`, whose sum is known). Left nil: checked against the length the server
    ///   announces, and then its SHA-256.
    /// - The AudioSep checkpoint and the CLAP checkpoint, size and SHA-256: the Git LFS pointers of
    ///   a public GitHub mirror of AudioSep's Hugging Face Space (camenduru/AudioSep-hf, commit
    ///   5638854, `checkpoint/audiosep_base_4M_steps.ckpt` and
    ///   `checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt`): an LFS pointer's `oid sha256`
    ///   is the SHA-256 of the whole file and its `size` the exact byte count, and Hugging Face
    ///   serves a Space's LFS files by the same object. Their sizes agree with the "1.26 GB" and
    ///   "2.35 GB" that listings of the Space show.
    public static let audioSep: [ManifestEntry] = [
        ManifestEntry(path: "roberta-base/config.json", repository: robertaBase, revision: robertaRevision, file: "config.json",
                      size: 481, sha256: "ef0185e2aae6e06c5f105a285006952c340e20c7dbf43c86ec82601b13fc45e9"),
        ManifestEntry(path: "roberta-base/vocab.json", repository: robertaBase, revision: robertaRevision, file: "vocab.json",
                      size: 898_823, sha256: "9e7f63c2d15d666b52e21d250d2e513b87c9b713cfa6987a82ed89e5e6e50655"),
        ManifestEntry(path: "roberta-base/merges.txt", repository: robertaBase, revision: robertaRevision, file: "merges.txt",
                      size: 456_318, sha256: "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
        ManifestEntry(path: "roberta-base/pytorch_model.bin", repository: robertaBase, revision: robertaRevision, file: "pytorch_model.bin",
                      size: nil, sha256: "278b7a95739c4392fae9b818bb5343dde20be1b89318f37a6d939e1e1b9e461b"),
        ManifestEntry(path: "music_speech_audioset_epoch_15_esc_89.98.pt", repository: audioSepSpace, revision: audioSepRevision,
                      file: "checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt",
                      size: 2_352_471_003, sha256: "51c68f12f9d7ea25fdaaccf741ec7f81e93ee594455410f3bca4f47f88d8e006"),
        ManifestEntry(path: "audiosep_base_4M_steps.ckpt", repository: audioSepSpace, revision: audioSepRevision,
                      file: "checkpoint/audiosep_base_4M_steps.ckpt",
                      size: 1_264_844_076, sha256: "f8cda01bfd0ebd141eef45d41db7a3ada23a56568465840d3cff04b8010ce82c"),
    ]

    private struct File: Codable {
        var files: [ManifestEntry]
    }

    /// Reads a manifest file (for a mirror that serves other files, and for tests):
    /// `{"files": [{"path": "...", "url": "...", "size": 123, "sha256": "..."}]}`, size and sha256
    /// optional. Throws `DownloadError.badManifest`.
    public static func load(path: String) throws -> [ManifestEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DownloadError.badManifest(file: path, reason: "cannot read it")
        }
        let entries: [ManifestEntry]
        do {
            entries = try JSONDecoder().decode(File.self, from: data).files
        } catch {
            throw DownloadError.badManifest(file: path, reason: "not a manifest ({\"files\": [{\"path\", \"url\", \"size\", \"sha256\"}]})")
        }
        try validate(entries, origin: path)
        return entries
    }

    /// The manifest as `load` reads it.
    public static func json(_ entries: [ManifestEntry]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(File(files: entries))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Paths stay inside the model folder and under the base URL; sums are 64 hex digits.
    public static func validate(_ entries: [ManifestEntry], origin: String) throws {
        guard !entries.isEmpty else { throw DownloadError.badManifest(file: origin, reason: "it lists no files") }
        var seen = Set<String>()
        for entry in entries {
            for (what, value) in [("path", entry.path), ("url", entry.url)] {
                let parts = value.split(separator: "/", omittingEmptySubsequences: false)
                if value.isEmpty || value.hasPrefix("/") || parts.contains("..") || parts.contains("") || parts.contains(".")
                    || value.contains("\\") || value.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                    throw DownloadError.badManifest(file: origin, reason: "\(what) '\(value)' is not a plain relative path")
                }
            }
            if entry.path.hasSuffix(".part") {
                throw DownloadError.badManifest(file: origin, reason: "path '\(entry.path)' ends in .part, the name of unfinished downloads")
            }
            if let sum = entry.sha256 {
                guard sum.count == 64, sum.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                    throw DownloadError.badManifest(file: origin, reason: "sha256 of \(entry.path) is not 64 lower-case hex digits")
                }
            }
            let named = [entry.repository, entry.revision, entry.file].compactMap { $0 }
            if !named.isEmpty {
                guard let repository = entry.repository, let revision = entry.revision, let file = entry.file,
                      entry.url == ManifestEntry.resolvePath(repository: repository, revision: revision, file: file) else {
                    throw DownloadError.badManifest(file: origin, reason: "url of \(entry.path) is not repository/resolve/revision/file")
                }
            }
            if let size = entry.size, size < 0 {
                throw DownloadError.badManifest(file: origin, reason: "size of \(entry.path) is negative")
            }
            guard seen.insert(entry.path).inserted else {
                throw DownloadError.badManifest(file: origin, reason: "\(entry.path) is listed twice")
            }
        }
    }

    /// `base` + "/" + `relative`; `base` must be an http(s) URL with a host.
    public static func url(base: String, relative: String) throws -> URL {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let parsed = URL(string: trimmed), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty, parsed.query == nil, parsed.fragment == nil else {
            throw DownloadError.badBaseURL(base)
        }
        let encoded = relative.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? relative
        guard let joined = URL(string: trimmed + "/" + encoded) else { throw DownloadError.badBaseURL(base) }
        return joined
    }
}
