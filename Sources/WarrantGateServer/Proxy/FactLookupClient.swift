import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import WarrantGateCore

/// Looks up facts about an inmate in the records system, as the policy's `fact-lookup` configures, and caches the
/// answers for their TTL in a bounded cache. A failed lookup is an error, so rules that need the facts deny.
final class FactLookupClient: Sendable {
    private struct Entry {
        let facts: [String: String]
        let expires: ContinuousClock.Instant
    }

    private let client: HTTPClient
    private let upstreams: [String: UpstreamEndpoint]
    private let timeout: Duration
    private let cache = Mutex<[String: Entry]>([:])

    init(client: HTTPClient, upstreams: [String: UpstreamEndpoint], timeout: Duration) {
        self.client = client
        self.upstreams = upstreams
        self.timeout = timeout
    }

    /// The facts about `subject` while the cache holds them; nil when they must be looked up.
    func cachedFacts(subject: String, lookup: FactLookup) -> [String: String]? {
        guard let url = url(subject: subject, lookup: lookup) else { return nil }
        let now = ContinuousClock.now
        return cache.withLock { $0[url] }.flatMap { $0.expires > now ? $0.facts : nil }
    }

    /// Cached by the whole URL: a reloaded policy that asks another records system is not answered from the one it
    /// asked before.
    private func url(subject: String, lookup: FactLookup) -> String? {
        upstreams[lookup.upstream].map { $0.url + lookup.path.replacingOccurrences(of: "{subject}", with: CanonicalTarget.encode(subject)) }
    }

    func facts(subject: String, lookup: FactLookup) async throws -> [String: String] {
        guard let url = url(subject: subject, lookup: lookup) else { throw FactLookupError("no upstream named \(lookup.upstream)") }
        if let hit = cachedFacts(subject: subject, lookup: lookup) { return hit }
        let now = ContinuousClock.now
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.tlsConfiguration = upstreams[lookup.upstream]?.tlsConfiguration
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: timeout.timeAmount)
        let body = try await response.body.collect(upTo: 64 * 1024)
        let facts: [String: String]
        switch response.status.code {
        case 200:
            facts = try FlatJSON.parse(Array(body.readableBytesView)).compactMapValues { value in
                if case .string(let text) = value { text } else { nil }
            }
        case 404:
            facts = [:]
        default:
            throw FactLookupError("the records system answered \(response.status.code)")
        }
        cache.withLock { cache in
            if cache.count >= lookup.maxEntries {
                cache = cache.filter { $0.value.expires > now }
                while cache.count >= lookup.maxEntries, let key = cache.keys.first { cache.removeValue(forKey: key) }
            }
            cache[url] = Entry(facts: facts, expires: now + .seconds(lookup.ttl))
        }
        return facts
    }
}

struct FactLookupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The registry as one request sees it: the facts looked up in the records system for its subject, with the
/// registry's own facts (set by staff) taking precedence. A failed lookup makes every fact question an error.
struct FactOverlayRegistry: DocumentRegistry {
    let base: any DocumentRegistry
    let subject: String
    let lookedUp: Result<[String: String], FactLookupError>

    func document(reference: String) throws -> RegisteredDocument? { try base.document(reference: reference) }
    func documents(subject: String) throws -> [RegisteredDocument] { try base.documents(subject: subject) }
    func records(subject: String) throws -> [SubjectRecord] { try base.records(subject: subject) }
    func facts(subject: String) throws -> [String: String] {
        let registered = try base.facts(subject: subject)
        guard subject == self.subject else { return registered }
        return try lookedUp.get().merging(registered) { _, staff in staff }
    }
}
