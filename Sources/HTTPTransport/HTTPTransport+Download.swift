import Foundation
import LaminaCore

import struct Crypto.SHA256

/// What a download must turn out to be; checked before the file is put in place.
public struct ExpectedContent: Sendable, Hashable {
    public var size: Int64?
    public var sha256: Digest?

    public init(size: Int64? = nil, sha256: Digest? = nil) {
        self.size = size
        self.sha256 = sha256
    }
}

/// A file that was downloaded, verified and renamed into place.
public struct DownloadResult: Sendable {
    public var path: String
    public var size: Int64
    public var sha256: Digest
    /// The final response (its `ETag` can be stored for the next conditional GET).
    public var response: HTTPResponse
}

/// The answer to a conditional GET (`If-None-Match`).
public enum Conditional<Value: Sendable>: Sendable {
    /// 304: the stored copy is current; nothing was written.
    case notModified(HTTPResponse)
    /// The resource changed (or there was no stored ETag): the new content.
    case modified(Value)
}

/// One entry for ``HTTPTransport/downloadAll(_:maxConcurrent:options:progress:)``.
public struct DownloadRequest: Sendable {
    public var url: String
    public var path: String
    public var expected: ExpectedContent?
    public var headers: HTTPHeaderFields

    public init(url: String, path: String, expected: ExpectedContent? = nil, headers: HTTPHeaderFields = [:]) {
        self.url = url
        self.path = path
        self.expected = expected
        self.headers = headers
    }
}

extension HTTPTransport {
    /// GETs `url`, streaming the body into `sink`.
    /// - Throws: as ``HTTPResponse/requireSuccess()`` for a non-2xx status, else as
    ///   ``HTTPTransport/execute(_:options:sink:)``.
    @discardableResult
    public func get(
        _ url: String, headers: HTTPHeaderFields = [:], options: HTTPRequestOptions = HTTPRequestOptions(),
        into sink: HTTPBodySink
    ) async throws -> HTTPResponse {
        try await execute(HTTPRequest(method: .get, url: url, headers: headers), options: options, sink: sink)
            .requireSuccess()
    }

    /// GETs `url` into memory (at most ``HTTPRequestOptions/maxBodyBytes``, else 64 MiB).
    /// - Throws: as ``get(_:headers:options:into:)``; `LaminaError(.limitExceeded)` for a larger body.
    public func get(
        _ url: String, headers: HTTPHeaderFields = [:], options: HTTPRequestOptions = HTTPRequestOptions()
    ) async throws -> HTTPResponse {
        try await execute(HTTPRequest(method: .get, url: url, headers: headers), options: options, sink: nil)
            .requireSuccess()
    }

    /// HEADs `url`.
    /// - Throws: as ``HTTPResponse/requireSuccess()`` for a non-2xx status (use `execute` to test for existence).
    public func head(
        _ url: String, headers: HTTPHeaderFields = [:], options: HTTPRequestOptions = HTTPRequestOptions()
    ) async throws -> HTTPResponse {
        try await execute(HTTPRequest(method: .head, url: url, headers: headers), options: options, sink: nil)
            .requireSuccess()
    }

    /// Sends `method` (PUT, POST, PATCH, DELETE…) with `body`; the response body is collected.
    /// - Throws: as ``HTTPResponse/requireSuccess()`` for a non-2xx status.
    public func send(
        _ method: HTTPRequest.Method, _ url: String, headers: HTTPHeaderFields = [:], body: HTTPRequestBody = .none,
        options: HTTPRequestOptions = HTTPRequestOptions()
    ) async throws -> HTTPResponse {
        try await execute(HTTPRequest(method: method, url: url, headers: headers, body: body), options: options)
            .requireSuccess()
    }

    /// Conditional GET into `sink`: sends `If-None-Match: etag` when `etag` is given.
    /// - Throws: as ``get(_:headers:options:into:)``.
    public func get(
        _ url: String, ifNoneMatch etag: String?, headers: HTTPHeaderFields = [:],
        options: HTTPRequestOptions = HTTPRequestOptions(), into sink: HTTPBodySink
    ) async throws -> Conditional<HTTPResponse> {
        var headers = headers
        if let etag { headers["If-None-Match"] = etag }
        let response = try await execute(
            HTTPRequest(method: .get, url: url, headers: headers), options: options, sink: sink)
        if response.status == 304 { return .notModified(response) }
        return .modified(try response.requireSuccess())
    }

    /// Downloads `url` to `path`: streams into a temporary file in the same folder while hashing, checks `expected`,
    /// then renames it over `path`. On any failure nothing is left behind and an existing `path` is untouched.
    ///
    /// - Parameter onBytes: called with each chunk's size as it is written (for progress).
    /// - Throws: `LaminaError(.checksumMismatch)` when the size or SHA-256 differ from `expected`; `.io` when the
    ///   file cannot be written; otherwise as ``get(_:headers:options:into:)``.
    @discardableResult
    public func download(
        _ url: String, to path: String, expected: ExpectedContent? = nil, headers: HTTPHeaderFields = [:],
        options: HTTPRequestOptions = HTTPRequestOptions(), onBytes: (@Sendable (Int64) async -> Void)? = nil
    ) async throws -> DownloadResult {
        switch try await download(
            url, to: path, ifNoneMatch: nil, expected: expected, headers: headers, options: options, onBytes: onBytes)
        {
        case .modified(let result): return result
        case .notModified(let response): throw response.statusError()  // unreachable without If-None-Match
        }
    }

    /// ``download(_:to:expected:headers:options:onBytes:)`` with `If-None-Match: etag`: on 304 nothing is written.
    public func download(
        _ url: String, to path: String, ifNoneMatch etag: String?, expected: ExpectedContent? = nil,
        headers: HTTPHeaderFields = [:], options: HTTPRequestOptions = HTTPRequestOptions(),
        onBytes: (@Sendable (Int64) async -> Void)? = nil
    ) async throws -> Conditional<DownloadResult> {
        let subject = HTTPRequest(method: .get, url: url).redactedDescription
        let file = try PartialFile(destination: path, expectedSize: expected?.size, subject: subject)
        do {
            let sink = HTTPBodySink(restart: { try await file.restart() }) { chunk in
                try await file.write(chunk)
                await onBytes?(Int64(chunk.count))
            }
            var headers = headers
            if let etag { headers["If-None-Match"] = etag }
            let response = try await execute(
                HTTPRequest(method: .get, url: url, headers: headers), options: options, sink: sink)
            if response.status == 304, etag != nil {
                await file.discard()
                return .notModified(response)
            }
            try response.requireSuccess()
            let (size, digest) = try await file.finish()
            if let expectedSize = expected?.size, expectedSize != size {
                throw LaminaError(
                    .checksumMismatch, "expected \(expectedSize) bytes, received \(size)", subject: subject)
            }
            if let expectedDigest = expected?.sha256, expectedDigest != digest {
                throw LaminaError(
                    .checksumMismatch, "sha256 mismatch: expected \(expectedDigest.hex), got \(digest.hex)",
                    subject: subject)
            }
            try await file.commit()
            return .modified(DownloadResult(path: path, size: size, sha256: digest, response: response))
        } catch {
            await file.discard()
            throw error
        }
    }

    /// Downloads several files with at most `maxConcurrent` in flight, reporting progress as bytes.
    ///
    /// Reports `.phase("fetching", total:)` (the sum of expected sizes, when every item has one), then
    /// `.advance(completed:)` with the bytes received so far across all files. Results come back in `items` order.
    /// The first failure cancels the downloads still running and is thrown; files already completed stay.
    /// - Throws: the first error of ``download(_:to:expected:headers:options:onBytes:)``.
    public func downloadAll(
        _ items: [DownloadRequest], maxConcurrent: Int, options: HTTPRequestOptions = HTTPRequestOptions(),
        progress: ProgressHandler? = nil
    ) async throws -> [DownloadResult] {
        let sizes = items.compactMap { $0.expected?.size }
        progress?(.phase("fetching", total: sizes.count == items.count ? sizes.reduce(0, +) : nil))
        let counter = ByteCounter(handler: progress)
        let limit = max(1, maxConcurrent)
        return try await withThrowingTaskGroup(of: (Int, DownloadResult).self) { group in
            var results = [DownloadResult?](repeating: nil, count: items.count)
            var next = 0
            func startNext() {
                guard next < items.count else { return }
                let index = next
                let item = items[index]
                next += 1
                group.addTask {
                    let result = try await self.download(
                        item.url, to: item.path, expected: item.expected, headers: item.headers, options: options,
                        onBytes: { await counter.add($0) })
                    return (index, result)
                }
            }
            for _ in 0..<min(limit, items.count) { startNext() }
            while let (index, result) = try await group.next() {
                results[index] = result
                startNext()
            }
            return results.compactMap { $0 }
        }
    }
}

/// Sums bytes from concurrent downloads and reports the running total.
private actor ByteCounter {
    let handler: ProgressHandler?
    var total: Int64 = 0

    init(handler: ProgressHandler?) { self.handler = handler }

    func add(_ count: Int64) {
        total += count
        handler?(.advance(completed: total))
    }
}

/// A download in progress: a temporary file next to its destination, hashed as it is written.
private actor PartialFile {
    let destination: String
    let temporary: String
    let expectedSize: Int64?
    let subject: String
    var handle: FileHandle?
    var hasher = SHA256()
    var size: Int64 = 0

    init(destination: String, expectedSize: Int64?, subject: String) throws {
        let url = URL(fileURLWithPath: destination)
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).part")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw LaminaError(.io, "cannot create folder: \(error.localizedDescription)", subject: folder.path)
        }
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary.path)
        else { throw LaminaError(.io, "cannot create a temporary file", subject: temporary.path) }
        self.destination = destination
        self.temporary = temporary.path
        self.expectedSize = expectedSize
        self.subject = subject
        self.handle = handle
    }

    func write(_ chunk: [UInt8]) throws {
        guard let handle else { throw LaminaError(.internal, "write after close", subject: temporary) }
        if let expectedSize, size + Int64(chunk.count) > expectedSize {
            throw LaminaError(
                .checksumMismatch, "received more than the expected \(expectedSize) bytes", subject: subject)
        }
        do { try handle.write(contentsOf: chunk) } catch {
            throw LaminaError(.io, "cannot write: \(error.localizedDescription)", subject: temporary)
        }
        hasher.update(data: chunk)
        size += Int64(chunk.count)
    }

    func restart() throws {
        guard let handle else { throw LaminaError(.internal, "restart after close", subject: temporary) }
        do {
            try handle.truncate(atOffset: 0)
            try handle.seek(toOffset: 0)
        } catch {
            throw LaminaError(.io, "cannot truncate: \(error.localizedDescription)", subject: temporary)
        }
        hasher = SHA256()
        size = 0
    }

    /// Flushes and closes the file; returns its size and SHA-256.
    func finish() throws -> (Int64, Digest) {
        guard let handle else { throw LaminaError(.internal, "finish after close", subject: temporary) }
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw LaminaError(.io, "cannot flush: \(error.localizedDescription)", subject: temporary)
        }
        self.handle = nil
        return (size, Digest(.sha256, bytes: Array(hasher.finalize())))
    }

    /// Renames the finished file over the destination (atomically replacing any old copy).
    func commit() throws {
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            throw LaminaError(.io, "cannot rename \(temporary) into place: \(reason)", subject: destination)
        }
    }

    /// Closes and deletes the temporary file.
    func discard() {
        try? handle?.close()
        handle = nil
        try? FileManager.default.removeItem(atPath: temporary)
    }
}
