import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a response says before its body arrives.
struct ResponseHead {
    var status: Int
    /// Where the body starts in the file: 0 for 200, the Content-Range start for 206.
    var start: Int64
    /// The whole file's length, when the server says (Content-Length of a 200, the Content-Range total of a 206).
    var total: Int64?
}

/// One GET through URLSession (FoundationNetworking, on libcurl), the body handed over as it
/// arrives. Synchronous: the caller's thread waits; the delegate runs on a private serial queue.
final class HTTPFetcher: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// Seconds without a byte before the transfer counts as broken.
    static let idleTimeout: TimeInterval = 60

    private let queue: OperationQueue = {
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        return queue
    }()
    private let finished = DispatchSemaphore(value: 0)
    private var onHead: ((ResponseHead) throws -> Void)?
    private var onBody: ((Data) throws -> Void)?
    private var failure: Error?
    private var transportError: Error?
    private var head: ResponseHead?

    private func makeSession() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Self.idleTimeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        return URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
    }

    /// The Range header of the request in flight, put back on a redirected request (Hugging Face
    /// answers `resolve/` URLs with a redirect to its CDN).
    private var range: String?

    /// GETs bytes `offset` to `last` (inclusive; nil: to the end) of `url` with a Range request; the
    /// server may answer 200 with the whole file instead, which `onHead` sees as `start` 0.
    /// `onHead` and `onBody` may throw to stop the transfer; that error is rethrown. A status other
    /// than 200/206 throws `HTTPFailure.status`; a transport failure `HTTPFailure.transport`.
    /// `watchdog` runs every `watchInterval` seconds while the transfer lasts, on the queue the
    /// body arrives on (so it may read what `onBody` counts); throwing ends the transfer with that error.
    func get(_ url: URL, offset: Int64, last: Int64?, userAgent: String,
             watchInterval: TimeInterval = 1, watchdog: (() throws -> Void)? = nil,
             onHead: @escaping (ResponseHead) throws -> Void, onBody: @escaping (Data) throws -> Void) throws {
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        request.timeoutInterval = Self.idleTimeout
        request.setValue(userAgent, forHTTPHeaderField: "User-Agent")
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        range = "bytes=\(offset)-" + (last.map(String.init) ?? "")
        request.setValue(range, forHTTPHeaderField: "Range")
        self.onHead = onHead
        self.onBody = onBody
        failure = nil
        transportError = nil
        head = nil
        // One session per transfer, invalidated after it: a session holds its delegate until then.
        let session = makeSession()
        let task = session.dataTask(with: request)
        task.resume()
        while finished.wait(timeout: .now() + max(0.01, watchInterval)) == .timedOut {
            guard let watchdog else { continue }
            queue.addOperation { [self] in
                guard failure == nil else { return }
                do { try watchdog() } catch {
                    failure = error
                    task.cancel()
                }
            }
        }
        queue.waitUntilAllOperationsAreFinished()  // no watchdog left to run into the next transfer
        session.invalidateAndCancel()
        self.onHead = nil
        self.onBody = nil
        if let failure { throw failure }
        if let transportError { throw HTTPFailure.transport(Self.describe(transportError)) }
        if head == nil { throw HTTPFailure.transport("no response") }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        var redirected = request
        if let range { redirected.setValue(range, forHTTPHeaderField: "Range") }
        completionHandler(redirected)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            failure = HTTPFailure.transport("not an HTTP response")
            completionHandler(.cancel)
            return
        }
        guard http.statusCode == 200 || http.statusCode == 206 else {
            failure = HTTPFailure.status(http.statusCode)
            completionHandler(.cancel)
            return
        }
        var parsed = ResponseHead(status: http.statusCode, start: 0, total: nil)
        let length = (http.value(forHTTPHeaderField: "Content-Length")).flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        if http.statusCode == 206 {
            guard let range = http.value(forHTTPHeaderField: "Content-Range"), let (start, total) = Self.contentRange(range) else {
                failure = HTTPFailure.transport("a 206 answer without a usable Content-Range")
                completionHandler(.cancel)
                return
            }
            parsed.start = start
            parsed.total = total ?? length.map { start + $0 }
        } else {
            parsed.total = length
        }
        head = parsed
        do {
            try onHead?(parsed)
            completionHandler(.allow)
        } catch {
            failure = error
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        do {
            try onBody?(data)
        } catch {
            failure = error
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, failure == nil { transportError = error }
        finished.signal()
    }

    /// "bytes START-END/TOTAL" (TOTAL may be "*").
    static func contentRange(_ value: String) -> (Int64, Int64?)? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = text.dropFirst(6)
        let halves = spec.split(separator: "/", maxSplits: 1)
        guard halves.count == 2 else { return nil }
        let bounds = halves[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0]), Int64(bounds[1]) != nil else { return nil }
        return (start, Int64(halves[1]))
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let url = error as? URLError {
            switch url.code {
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost: return "host not found"
            case .timedOut: return "timed out (no data for \(Int(idleTimeout)) s)"
            case .networkConnectionLost: return "the connection was lost"
            case .notConnectedToInternet: return "no network"
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                 .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
                return "TLS failed: \(ns.localizedDescription)"
            default: break
            }
        }
        let text = ns.localizedDescription
        return text.isEmpty ? "\(error)" : text
    }
}

enum HTTPFailure: Error {
    case status(Int)
    case transport(String)
}
