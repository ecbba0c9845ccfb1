import Foundation

/// Why a download failed; each names the file and, where there is one, the URL. The executable
/// prints `description` as its one error line.
public enum DownloadError: Error, Equatable, CustomStringConvertible {
    /// The server answered with a status other than 200/206.
    case httpStatus(file: String, url: String, status: Int)
    /// No connection, or the connection broke (`reason`: the system's words).
    case connectionFailed(file: String, url: String, reason: String)
    /// The transfer ended before the length the server announced (the `.part` file keeps what came).
    case incomplete(file: String, url: String, got: Int64, expected: Int64)
    /// The server's length is not the manifest's.
    case sizeMismatch(file: String, url: String, expected: Int64, got: Int64)
    /// The server sends more than the file's length (the table's, or the one it announced): the
    /// transfer is stopped before the excess reaches the disk.
    case tooLong(file: String, url: String, expected: Int64)
    /// A file whose size is not published: the server announces (`announced`), or sends, more
    /// than `cap` bytes, the most such a file may have; stopped before the excess reaches the disk.
    case overCap(file: String, url: String, cap: Int64, announced: Int64?)
    /// Fewer than `minimum` bytes per second arrived over the last `seconds` (`bytesPerSecond`, rounded).
    case tooSlow(file: String, url: String, bytesPerSecond: Int64, seconds: Int, minimum: Int64)
    /// A 206 answer starts at byte `got` of the file where byte `asked` was requested.
    case wrongRange(file: String, url: String, asked: Int64, got: Int64)
    /// An environment setting of the download is not a positive number.
    case badSetting(name: String, value: String)
    /// The bytes are not the published ones (the `.part` file is removed: resuming it cannot help).
    case checksumMismatch(file: String, url: String, expected: String, got: String)
    /// A system call on the file failed (a full disk: ENOSPC).
    case writeFailed(file: String, url: String, call: String, errno: Int32)
    /// The model folder cannot be made.
    case cannotCreateFolder(folder: String, reason: String)
    /// `AUDIOSEP_MODEL` (or `--dest`) names a file, not a folder.
    case destinationIsFile(path: String, origin: String)
    case badManifest(file: String, reason: String)
    case badBaseURL(String)

    public var description: String {
        switch self {
        case .httpStatus(let file, let url, let status):
            return "\(file): \(url) answered HTTP \(status)\(Self.statusText(status))"
        case .connectionFailed(let file, let url, let reason):
            return "\(file): cannot download \(url): \(reason)"
        case .incomplete(let file, let url, let got, let expected):
            return "\(file): the download from \(url) stopped at \(got) of \(expected) bytes; run the command again to resume"
        case .sizeMismatch(let file, let url, let expected, let got):
            return "\(file): \(url) sends \(got) bytes, expected \(expected): wrong file or a broken mirror"
        case .tooLong(let file, let url, let expected):
            return "\(file): \(url) sends more than the \(expected) bytes expected: wrong file or a broken mirror"
        case .overCap(let file, let url, let cap, let announced):
            let what = announced.map { "announces \($0) bytes" } ?? "sends more"
            return "\(file): \(url) \(what), over the \(cap)-byte cap for a file whose size is not published: wrong file or a broken mirror"
        case .tooSlow(let file, let url, let rate, let seconds, let minimum):
            return "\(file): \(url) sends \(rate) bytes/s over the last \(seconds) s, under the minimum of \(minimum) bytes/s: "
                + "stalled or throttled; run the command again to resume"
        case .wrongRange(let file, let url, let asked, let got):
            return "\(file): \(url) answered a request for the bytes from \(asked) with the bytes from \(got): a broken server or mirror"
        case .badSetting(let name, let value):
            return "\(name)='\(value)' is not a positive number"
        case .checksumMismatch(let file, let url, let expected, let got):
            return "\(file): the bytes from \(url) have SHA-256 \(got), expected \(expected): not kept (corrupted download or a wrong mirror)"
        case .writeFailed(let file, let url, let call, let code):
            return "\(file): writing the download from \(url) failed (\(call)): \(String(cString: strerror(code)))"
        case .cannotCreateFolder(let folder, let reason):
            return "cannot create the model folder \(folder): \(reason)"
        case .destinationIsFile(let path, let origin):
            return "\(origin) names a file (\(path)), and the model is downloaded into a folder: give --dest DIR or point \(origin) at a folder"
        case .badManifest(let file, let reason):
            return "manifest \(file): \(reason)"
        case .badBaseURL(let base):
            return "base URL '\(base)' is not an http:// or https:// URL with a host (e.g. https://huggingface.co)"
        }
    }

    private static func statusText(_ status: Int) -> String {
        let text = HTTPStatusText.name(status)
        return text.isEmpty ? "" : " (\(text))"
    }
}

enum HTTPStatusText {
    static func name(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 410: return "Gone"
        case 416: return "Range Not Satisfiable"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return ""
        }
    }
}
