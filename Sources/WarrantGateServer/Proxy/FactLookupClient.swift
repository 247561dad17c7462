import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import WarrantGateCore

/// Looks up facts about an inmate in the records system, as the policy's `fact-lookup` configures, and caches the
/// answers for their TTL in a bounded cache. A failed lookup is an error, so rules that need the facts deny.
///
/// A lookup is a GET on the request's own event loop, over the upstream pools the data plane uses, so it is held to
/// the same TLS checks (``UpstreamIdentityCheck``), status rules and connection reuse, and to one deadline for the
/// whole exchange. Requests that miss the cache for the same URL together share one lookup: a burst of requests
/// about one inmate sends the records system one GET, not one each. A lookup runs to its end (and fills the cache)
/// even if every request waiting for it has left.
final class FactLookupClient: Sendable {
    typealias Completion = (Result<LookedUpFacts, FactLookupError>) -> Void

    private struct Entry {
        let facts: LookedUpFacts
        let expires: ContinuousClock.Instant
    }

    /// A request waiting for a lookup in progress, answered on its own loop.
    private struct Waiter: Sendable {
        let loop: any EventLoop
        let completion: NIOLoopBound<Completion>

        func deliver(_ result: Result<LookedUpFacts, FactLookupError>) {
            if loop.inEventLoop { return completion.value(result) }
            loop.execute { completion.value(result) }
        }
    }

    /// The largest answer read; a longer one fails the lookup.
    static let maxBodyBytes = 64 * 1024

    private let upstreams: Upstreams
    private let timeout: Duration
    private let cache = Mutex<[String: Entry]>([:])
    /// The lookups in progress, by URL, with the requests waiting for each; bounded by the requests in flight.
    private let inFlight = Mutex<[String: [Waiter]]>([:])

    init(upstreams: Upstreams, timeout: Duration) {
        self.upstreams = upstreams
        self.timeout = timeout
    }

    /// The facts cached for `url` while they are fresh; nil when they must be looked up.
    private func cachedFacts(url: String) -> LookedUpFacts? {
        let now = ContinuousClock.now
        return cache.withLock { $0[url] }.flatMap { $0.expires > now ? $0.facts : nil }
    }

    /// The lookup's upstream, the target after its path prefix, and the whole URL the cache keys on: a reloaded
    /// policy that asks another records system is not answered from the one it asked before.
    private func target(subject: String, lookup: FactLookup) -> (endpoint: UpstreamEndpoint, uri: String, url: String)? {
        guard let endpoint = upstreams.endpoints[lookup.upstream] else { return nil }
        let path = lookup.path.replacingOccurrences(of: "{subject}", with: CanonicalTarget.encode(subject))
        return (endpoint, endpoint.pathPrefix + path, endpoint.url + path)
    }

    /// Looks the facts up (or takes them from the cache, or joins a lookup of the same URL in progress) and calls
    /// `completion` on `loop`, a loop of the shared group; call on that loop.
    func facts(subject: String, lookup: FactLookup, on loop: any EventLoop, completion: @escaping Completion) {
        guard let target = target(subject: subject, lookup: lookup) else {
            return completion(.failure(FactLookupError("no upstream named \(lookup.upstream)")))
        }
        if let hit = cachedFacts(url: target.url) { return completion(.success(hit)) }
        let waiter = Waiter(loop: loop, completion: NIOLoopBound(completion, eventLoop: loop))
        let leads = inFlight.withLock { lookups in
            let joined = lookups[target.url] != nil
            lookups[target.url, default: []].append(waiter)
            return !joined
        }
        guard leads else { return }
        let started = ContinuousClock.now
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.endpoint.authority)
        headers.add(name: "Accept", value: "application/json")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.uri, headers: headers)
        FactFetch.run(head, endpoint: target.endpoint, pool: upstreams.pool(on: loop), within: timeout.timeAmount) { [self] answer in
            let result: Result<LookedUpFacts, FactLookupError>
            do {
                let (status, body) = try answer.get()
                let facts = try Self.facts(status: status, body: body)
                remember(facts, url: target.url, lookup: lookup, now: started)
                result = .success(facts)
            } catch {
                result = .failure(error as? FactLookupError ?? FactLookupError("\(error)"))
            }
            for waiter in inFlight.withLock({ $0.removeValue(forKey: target.url) ?? [] }) { waiter.deliver(result) }
        }
    }

    /// The members of an answer: a 200's flat JSON object, each name once (a parser that kept the other value would
    /// read another fact), none for a 404, and an error otherwise. Their values are judged against the policy's
    /// declarations where they are used (``FactOverlayRegistry``), so that a cached answer meets the policy in force.
    static func facts(status: UInt, body: [UInt8]) throws -> LookedUpFacts {
        switch status {
        case 200:
            var facts = LookedUpFacts(), seen = Set<String>(), repeated: String?
            func see(_ name: String) { if !seen.insert(name).inserted { repeated = repeated ?? name } }
            try FlatJSON.forEachMember(body, nested: { name in
                see(name)
                facts.unusable.insert(name)
            }) { name, value in
                see(name)
                if case .string(let text) = value { facts.values[name] = text } else { facts.unusable.insert(name) }
            }
            if let repeated { throw FactLookupError("the records system's answer names '\(repeated.prefix(64))' twice") }
            return facts
        case 404:
            return LookedUpFacts()
        default:
            throw FactLookupError("the records system answered \(status)")
        }
    }

    private func remember(_ facts: LookedUpFacts, url: String, lookup: FactLookup, now: ContinuousClock.Instant) {
        cache.withLock { cache in
            if cache.count >= lookup.maxEntries {
                cache = cache.filter { $0.value.expires > now }
                while cache.count >= lookup.maxEntries, let key = cache.keys.first { cache.removeValue(forKey: key) }
            }
            cache[url] = Entry(facts: facts, expires: now + .seconds(lookup.ttl))
        }
    }
}

/// One fact lookup's exchange on a pooled upstream connection: the status and the body (up to
/// ``FactLookupClient/maxBodyBytes``), within one deadline for connecting, the head and the body. The connection goes
/// back to the pool only after a whole answer; on any failure it is closed.
private final class FactFetch: UpstreamResponseReceiver {
    private let pool: UpstreamPool
    private var lease: UpstreamLease?
    private var connection: UpstreamConnection?
    private var deadline: Scheduled<Void>?
    private var status: UInt = 0
    private var body: [UInt8] = []
    private var completion: ((Result<(UInt, [UInt8]), any Error>) -> Void)?

    private init(pool: UpstreamPool, completion: @escaping (Result<(UInt, [UInt8]), any Error>) -> Void) {
        self.pool = pool
        self.completion = completion
    }

    static func run(
        _ head: HTTPRequestHead, endpoint: UpstreamEndpoint, pool: UpstreamPool, within timeout: TimeAmount,
        completion: @escaping (Result<(UInt, [UInt8]), any Error>) -> Void
    ) {
        let fetch = FactFetch(pool: pool, completion: completion)
        fetch.deadline = pool.loop.assumeIsolated().scheduleTask(in: timeout) {
            fetch.finish(.failure(FactLookupError("the records system did not answer within \(timeout)")))
        }
        // A lookup decides a policy: its connection serves it alone.
        fetch.lease = pool.lease(endpoint, for: UpstreamPool.factLookups, plan: nil) { result in
            fetch.lease = nil
            switch result {
            case .success(let connection) where fetch.completion != nil:
                fetch.connection = connection
                connection.send(head, body: nil, to: fetch)
            case .success(let connection):
                pool.release(connection)
            case .failure(let error):
                fetch.finish(.failure(error))
            }
        }
    }

    func upstreamHead(_ head: HTTPResponseHead) {
        status = head.status.code
        // As on the data plane: a 101 or a code outside HTTP's range is no answer, and its connection is not reused.
        if !(200...599).contains(status) { finish(.failure(FactLookupError("the records system answered with status \(status)"))) }
    }

    func upstreamBody(_ chunk: ByteBuffer) {
        guard body.count + chunk.readableBytes <= FactLookupClient.maxBodyBytes else {
            return finish(.failure(FactLookupError("the records system's answer is longer than \(FactLookupClient.maxBodyBytes) bytes")))
        }
        body.append(contentsOf: chunk.readableBytesView)
    }

    func upstreamEnd() {
        if let connection {
            self.connection = nil
            pool.release(connection)
        }
        finish(.success((status, body)))
    }

    func upstreamReadComplete() {
        connection?.read()
    }

    func upstreamFailed(_ error: any Error) {
        finish(.failure(error))
    }

    /// Answers once: the deadline is cancelled, a lease still waiting is withdrawn, and a connection still in use is
    /// closed.
    private func finish(_ result: Result<(UInt, [UInt8]), any Error>) {
        guard let completion else { return }
        self.completion = nil
        deadline?.cancel()
        lease?.withdraw()
        connection?.close()
        connection = nil
        completion(result)
    }
}

/// A fact lookup's answer: the members given as strings, and the names of those given as anything else (a number, a
/// list, null, an object), which no declared fact may be.
struct LookedUpFacts: Sendable, Equatable {
    var values: [String: String] = [:]
    var unusable: Set<String> = []
}

struct FactLookupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The registry as one request sees it: the facts looked up in the records system for its subject, with the
/// registry's own facts (set by staff) taking precedence. A failed lookup makes every fact question an error, and so
/// does a looked-up fact the policy declares (`declared`, ``Policy/settableFacts``) given as anything but one of its
/// values, or under another spelling of its name, and a fact the lookup `states` (``FactLookup/states``) that neither
/// the answer nor the registry gives: dropped, or read as "no such value", it would make a `not:` condition true.
/// Names it does not declare are left out, as no rule reads them.
struct FactOverlayRegistry: DocumentRegistry {
    let base: any DocumentRegistry
    let subject: String
    /// The looked-up facts the policy declares, judged once for the request however many rules ask.
    private let lookedUp: Result<[String: String], FactLookupError>
    private let stated: Set<String>

    init(
        base: any DocumentRegistry, subject: String, lookedUp: Result<LookedUpFacts, FactLookupError>, declared: DeclaredFacts,
        stated: Set<String>
    ) {
        self.base = base
        self.subject = subject
        self.lookedUp = lookedUp.flatMap { answer in Result { () throws(FactLookupError) in try Self.declaredFacts(of: answer, declared) } }
        self.stated = stated
    }

    func document(reference: String) throws -> RegisteredDocument? { try base.document(reference: reference) }
    func documents(subject: String) throws -> [RegisteredDocument] { try base.documents(subject: subject) }
    func records(subject: String) throws -> [SubjectRecord] { try base.records(subject: subject) }
    func isMisfiled(_ document: RegisteredDocument) -> Bool { base.isMisfiled(document) }
    func facts(subject: String) throws -> [String: String] {
        let registered = try base.facts(subject: subject)
        guard subject == self.subject else { return registered }
        let facts = try lookedUp.get().merging(registered) { _, staff in staff }
        if let missing = stated.sorted().first(where: { facts[$0] == nil }) {
            throw FactLookupError("the records system's answer does not state fact '\(missing)', which the policy's fact-lookup says every answer states")
        }
        return facts
    }

    /// The facts of `answer` that `declared` declares, each one of its values; throws for a declared name given as no
    /// string, or spelt otherwise, and for a value it does not take.
    private static func declaredFacts(of answer: LookedUpFacts, _ declared: DeclaredFacts) throws(FactLookupError) -> [String: String] {
        for name in answer.unusable.union(answer.values.keys) {
            if let declared = declared.declaredName(spelledAs: name) {
                throw FactLookupError("the records system's answer names '\(name.prefix(64))', which reads as fact '\(declared)' spelt otherwise")
            }
        }
        if let name = answer.unusable.first(where: { declared.declarations[$0] != nil }) {
            throw FactLookupError("the records system gives fact '\(name)' as no string")
        }
        var facts: [String: String] = [:]
        for (name, text) in answer.values {
            guard let declaration = declared.declarations[name] else { continue }
            if let problem = declaration.problem(with: text, of: name) { throw FactLookupError("the records system's answer: \(problem)") }
            facts[name] = text
        }
        return facts
    }
}
