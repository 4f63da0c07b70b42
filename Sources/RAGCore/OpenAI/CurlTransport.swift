import CCurl
import Dispatch
import Foundation
import Synchronization

/// An HTTP request for `CurlTransport`.
struct HTTPRequest: Sendable {
    var url: String
    var method: String = "POST"
    var headers: [(String, String)] = []
    var body: Data? = nil
    var timeouts: HTTPTimeouts = HTTPTimeouts()
    /// Largest response body accepted; more fails the request with `responseTooLarge`.
    var maxResponseBytes: Int = 16 << 20
}

/// What a transfer reports, in order: the head once, body pieces as they arrive, then the end (or an error).
enum HTTPEvent: Sendable {
    case head(status: Int, headers: [String: String])
    case body(Data)
}

/// HTTP over libcurl's multi interface: one background thread drives every transfer of the process, so that
/// blocking network I/O never runs on Swift's cooperative pool, and connections are kept alive and reused
/// between requests (libcurl's connection cache belongs to the multi handle).
///
/// Timeouts: connect and total are libcurl's own (`CURLOPT_CONNECTTIMEOUT_MS`, `CURLOPT_TIMEOUT_MS`); the idle
/// timeout between response pieces is checked by the loop itself. Cancelling the consuming task removes the
/// transfer from the loop at once. TLS peers are verified; proxies come from the usual `http_proxy`,
/// `https_proxy` and `no_proxy` environment variables (libcurl reads them), and loopback hosts never use one. `CURLOPT_NOSIGNAL` is set, since
/// signals and threads do not mix.
final class CurlTransport: Sendable {
    static let shared = CurlTransport()

    private let loop: CurlLoop

    private init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        loop = CurlLoop()
        let thread = Thread { [loop] in loop.run() }
        thread.name = "rag.curl"
        thread.start()
    }

    /// Starts a request; events arrive on the returned stream. Ending the stream's consumption cancels it.
    func send(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPEvent, any Error> {
        AsyncThrowingStream { continuation in
            let transfer = CurlTransfer(request: request, continuation: continuation)
            continuation.onTermination = { [loop] termination in
                if case .cancelled = termination { loop.cancel(transfer) }
            }
            loop.add(transfer)
        }
    }

    /// Performs a request and collects the whole response.
    func data(_ request: HTTPRequest) async throws -> (status: Int, headers: [String: String], body: Data) {
        var status = 0
        var headers: [String: String] = [:]
        var body = Data()
        for try await event in send(request) {
            switch event {
            case .head(let code, let fields): (status, headers) = (code, fields)
            case .body(let piece): body.append(piece)
            }
        }
        return (status, headers, body)
    }
}

/// One transfer's state. Created on the caller's thread, then touched only by the loop thread (and its curl
/// callbacks, which run on that thread), except `cancelled`, which is atomic.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPRequest
    let continuation: AsyncThrowingStream<HTTPEvent, any Error>.Continuation
    let cancelled = Atomic<Bool>(false)
    var easy: UnsafeMutableRawPointer? = nil
    var headerList: UnsafeMutablePointer<curl_slist>? = nil
    var responseHeaders: [String: String] = [:]
    var statusLine = 0
    var sentHead = false
    var received = 0
    var tooLarge = false
    var lastActivity = ContinuousClock.now
    var connected = false

    init(request: HTTPRequest, continuation: AsyncThrowingStream<HTTPEvent, any Error>.Continuation) {
        self.request = request
        self.continuation = continuation
    }

    /// Sends the head the first time body bytes (or the end) arrive.
    func sendHeadIfNeeded() {
        guard !sentHead, let easy else { return }
        sentHead = true
        var code = 0
        _ = ragcurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        continuation.yield(.head(status: code, headers: responseHeaders))
    }
}

/// The loop thread: owns the multi handle and every easy handle.
final class CurlLoop: @unchecked Sendable {
    // `multi` and `active` are used only on the loop thread; other threads reach the loop through `inbox`
    // (a mutex) and `curl_multi_wakeup`, which libcurl documents as callable from any thread.
    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private let inbox = Mutex<(added: [CurlTransfer], cancelled: [CurlTransfer])>(([], []))

    init() {
        multi = curl_multi_init()
        _ = ragcurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 32)
    }

    func add(_ transfer: CurlTransfer) {
        inbox.withLock { $0.added.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func cancel(_ transfer: CurlTransfer) {
        transfer.cancelled.store(true, ordering: .relaxed)
        inbox.withLock { $0.cancelled.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func run() {
        while true {
            let (added, cancelled) = inbox.withLock { state in
                defer { state = ([], []) }
                return state
            }
            for transfer in added { start(transfer) }
            for transfer in cancelled { finish(transfer, error: LLMError(.cancelled, "the request was cancelled")) }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                    let transfer = active[easy]
                else { continue }
                completed(transfer, result: message.pointee.data.result)
            }
            checkIdle()
            var events: Int32 = 0
            curl_multi_poll(multi, nil, 0, active.isEmpty ? 1000 : 50, &events)
        }
    }

    private func start(_ transfer: CurlTransfer) {
        guard !transfer.cancelled.load(ordering: .relaxed) else {
            transfer.continuation.finish(throwing: LLMError(.cancelled, "the request was cancelled"))
            return
        }
        guard let easy = curl_easy_init() else {
            transfer.continuation.finish(throwing: LLMError(.connection, "libcurl could not create a handle"))
            return
        }
        transfer.easy = easy
        let request = transfer.request
        _ = ragcurl_setopt_string(easy, CURLOPT_URL, request.url)
        _ = ragcurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ragcurl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        _ = ragcurl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        _ = ragcurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.timeouts.connect.seconds * 1000))
        _ = ragcurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeouts.total.seconds * 1000))
        _ = ragcurl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ragcurl_setopt_string(easy, CURLOPT_NOPROXY, CurlLoop.noProxy)
        if request.method == "POST" {
            _ = ragcurl_setopt_long(easy, CURLOPT_POST, 1)
            let body = request.body ?? Data()
            _ = ragcurl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { raw in
                _ = ragcurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        } else if request.method != "GET" {
            _ = ragcurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        // "Expect:" stops libcurl from waiting for a 100-continue that many servers never send.
        for header in request.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] {
            transfer.headerList = curl_slist_append(transfer.headerList, header)
        }
        _ = ragcurl_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(transfer.headerList))
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        _ = ragcurl_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        _ = ragcurl_setopt_pointer(easy, CURLOPT_HEADERDATA, context)
        _ = ragcurl_setopt_write_function(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            transfer.lastActivity = .now
            transfer.received += length
            if transfer.received > transfer.request.maxResponseBytes {
                transfer.tooLarge = true
                return 0  // aborts the transfer with CURLE_WRITE_ERROR
            }
            transfer.sendHeadIfNeeded()
            transfer.continuation.yield(.body(Data(bytes: data, count: length)))
            return length
        }
        _ = ragcurl_setopt_write_function(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            transfer.lastActivity = .now
            transfer.connected = true
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
            if line.hasPrefix("HTTP/") {
                transfer.responseHeaders = [:]  // a new response (after 100 Continue or a redirect)
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                transfer.responseHeaders[name] = value
            }
            return length
        }
        transfer.lastActivity = .now
        active[easy] = transfer
        curl_multi_add_handle(multi, easy)
    }

    private func completed(_ transfer: CurlTransfer, result: CURLcode) {
        if result == CURLE_OK {
            transfer.sendHeadIfNeeded()
            finish(transfer, error: nil)
            return
        }
        let error: LLMError
        if transfer.tooLarge {
            error = LLMError(.responseTooLarge, "the response exceeded \(transfer.request.maxResponseBytes) bytes (maxResponseBytes)")
        } else if result == CURLE_OPERATION_TIMEDOUT {
            var connectTime = 0.0
            if let easy = transfer.easy { _ = ragcurl_getinfo_double(easy, CURLINFO_CONNECT_TIME, &connectTime) }
            error = connectTime == 0 && !transfer.connected
                ? LLMError(.timeout, "could not connect to \(CurlLoop.origin(transfer.request.url)) within \(transfer.request.timeouts.connect) (connect timeout)", timeout: .connect)
                : LLMError(.timeout, "no complete answer from \(CurlLoop.origin(transfer.request.url)) within \(transfer.request.timeouts.total) (total timeout)", timeout: .total)
        } else {
            let reason = String(cString: curl_easy_strerror(result))
            error = LLMError(.connection, "cannot reach \(CurlLoop.origin(transfer.request.url)): \(reason) (curl error \(result.rawValue))")
        }
        finish(transfer, error: error)
    }

    private func checkIdle() {
        let now = ContinuousClock.now
        for transfer in active.values where now - transfer.lastActivity > transfer.request.timeouts.idle {
            finish(transfer, error: LLMError(
                .timeout, "\(CurlLoop.origin(transfer.request.url)) sent nothing for \(transfer.request.timeouts.idle) (idle timeout)",
                timeout: .idle))
        }
    }

    /// Removes the transfer from the loop, frees its handles, and ends its stream.
    private func finish(_ transfer: CurlTransfer, error: LLMError?) {
        guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { return }
        curl_multi_remove_handle(multi, easy)
        curl_easy_cleanup(easy)
        curl_slist_free_all(transfer.headerList)
        transfer.easy = nil
        transfer.headerList = nil
        if let error { transfer.continuation.finish(throwing: error) } else { transfer.continuation.finish() }
    }

    /// Hosts reached without a proxy: `no_proxy`/`NO_PROXY` from the environment plus the loopback names, so
    /// that a local model server is never sent through a corporate proxy.
    static let noProxy: String = {
        let environment = ProcessInfo.processInfo.environment
        let configured = environment["no_proxy"] ?? environment["NO_PROXY"] ?? ""
        return (configured.split(separator: ",").map(String.init) + ["localhost", "127.0.0.1", "::1"]).joined(separator: ",")
    }()

    /// `scheme://host:port` of a URL, for messages (never the path or query, which could hold secrets).
    static func origin(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "the server" }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
