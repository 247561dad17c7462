import NIOCore
import Synchronization
import WarrantGateCore

/// Admits connections in two budgets: those still setting up (TLS handshake, and for HTTP/2 the preface and the
/// SETTINGS acknowledgement) and those set up, with a verified client certificate.
///
/// A setting-up connection that would exceed its budget evicts the oldest one still setting up, so bare sockets
/// cannot lock agencies out: an attacker must outpace the handshakes of every agency, not merely hold sockets open.
/// Set-up connections have a budget of their own (`max-connections`), which bare sockets never touch, and each client
/// certificate a share of it (`max-connections-per-certificate`), so that one certificate the CA issued (an agency's,
/// one that names no agency, one revoked in the registry after its connections were placed) cannot hold every place
/// and shut the other agencies out. Certificates that name no agency share one certificate's share between them, so
/// that several such certificates cannot either; each agency's certificates together may have a share of their own
/// (`max-connections-per-agency`), for an agency whose own authority issues as many certificates as it likes.
final class ConnectionAdmission: Sendable {
    /// Why a connection that set up was closed at once: the limit it met (the `limit` label of the refusals' metric).
    enum Refusal: String, Sendable, CaseIterable {
        case connectionsFull = "max-connections"
        case certificateFull = "max-connections-per-certificate"
        case agencyFull = "max-connections-per-agency"
        /// `max-connections-per-certificate`, met by the certificates that name no agency together.
        case unidentifiedFull = "max-connections-per-certificate-naming-no-agency"
        /// The certificate has spent its HTTP/2 stream resets.
        case resetsSpent = "max-stream-resets-per-certificate"

        /// The limit as the operator's log names it.
        var setting: String {
            switch self {
            case .unidentifiedFull: "limits.max-connections-per-certificate, which the certificates that name no agency share"
            default: "limits." + rawValue
            }
        }
    }

    /// Whose share a set-up connection counts against besides its certificate's.
    enum Holder: Hashable, Sendable {
        /// An agency's certificate: its agency's id.
        case agency(String)
        /// A certificate that names no agency (or two).
        case unidentified
        /// Counted against no share but its certificate's (the framework floor identifies no one).
        case uncounted
    }

    private struct State {
        var nextTicket: UInt64 = 0
        /// Connections setting up, by ticket: the lowest ticket is the oldest.
        var settingUp: [UInt64: any Channel] = [:]
        /// Set-up connections, by ticket, with the client certificate and the holder each holds a place for.
        var established: [UInt64: (channel: any Channel, certificate: [UInt8], holder: Holder)] = [:]
        /// How many set-up connections each client certificate (its DER) holds.
        var perCertificate: [[UInt8]: Int] = [:]
        /// How many set-up connections each holder holds.
        var perHolder: [Holder: Int] = [:]
    }

    private let maxSettingUp: Int
    private let maxEstablished: Int
    private let maxPerCertificate: Int
    private let maxPerAgency: Int
    private let refused: @Sendable (Refusal, _ certificate: [UInt8]) -> Void
    private let state = Mutex(State())

    /// - Parameter maxPerAgency: nil for half of `maxEstablished`, so that no agency holds every place.
    /// - Parameter refused: told of each set-up connection closed for want of a place, with its client certificate
    ///   (DER), for logs and metrics.
    init(
        maxSettingUp: Int, maxEstablished: Int, maxPerCertificate: Int, maxPerAgency: Int? = nil,
        refused: @escaping @Sendable (Refusal, _ certificate: [UInt8]) -> Void = { _, _ in }
    ) {
        self.maxSettingUp = max(1, maxSettingUp)
        self.maxEstablished = max(1, maxEstablished)
        self.maxPerCertificate = max(1, maxPerCertificate)
        self.maxPerAgency = max(1, maxPerAgency ?? maxEstablished / 2)
        self.refused = refused
    }

    /// Admits a new connection to the setting-up budget, evicting the oldest if the budget is full.
    func admit(_ channel: any Channel) -> UInt64 {
        let (ticket, evicted) = state.withLock { state -> (UInt64, (any Channel)?) in
            var evicted: (any Channel)?
            if state.settingUp.count >= maxSettingUp, let oldest = state.settingUp.keys.min() {
                evicted = state.settingUp.removeValue(forKey: oldest)
            }
            state.nextTicket += 1
            state.settingUp[state.nextTicket] = channel
            return (state.nextTicket, evicted)
        }
        evicted?.close(promise: nil)
        return ticket
    }

    /// Moves a connection that has set up, with the client `certificate` it verified (its DER) and that certificate's
    /// `holder`, into the established budget; false when that budget, the certificate's share of it or its holder's
    /// is full (or the connection was evicted meanwhile), and the connection must close.
    func establish(_ ticket: UInt64, certificate: [UInt8], holder: Holder) -> Bool {
        let (admitted, refusal) = state.withLock { state -> (Bool, Refusal?) in
            guard let channel = state.settingUp.removeValue(forKey: ticket) else { return (false, nil) }
            guard state.established.count < maxEstablished else { return (false, .connectionsFull) }
            let held = state.perCertificate[certificate, default: 0]
            guard held < maxPerCertificate else { return (false, .certificateFull) }
            let heldByHolder = state.perHolder[holder, default: 0]
            switch holder {
            case .agency: guard heldByHolder < maxPerAgency else { return (false, .agencyFull) }
            case .unidentified: guard heldByHolder < maxPerCertificate else { return (false, .unidentifiedFull) }
            case .uncounted: break
            }
            state.perCertificate[certificate] = held + 1
            state.perHolder[holder] = heldByHolder + 1
            state.established[ticket] = (channel, certificate, holder)
            return (true, nil)
        }
        if let refusal { refused(refusal, certificate) }
        return admitted
    }

    /// Reports a set-up connection closed for `refusal` before it asked for a place.
    func refuse(_ refusal: Refusal, certificate: [UInt8]) {
        refused(refusal, certificate)
    }

    /// A connection closed.
    func release(_ ticket: UInt64, established: Bool) {
        state.withLock { state in
            guard established else {
                _ = state.settingUp.removeValue(forKey: ticket)
                return
            }
            guard let (_, certificate, holder) = state.established.removeValue(forKey: ticket) else { return }
            let held = state.perCertificate[certificate, default: 1] - 1
            state.perCertificate[certificate] = held > 0 ? held : nil
            let heldByHolder = state.perHolder[holder, default: 1] - 1
            state.perHolder[holder] = heldByHolder > 0 ? heldByHolder : nil
        }
    }

    /// Ends, as ``ConnectionEnding/end(_:for:)`` does, every set-up connection whose client certificate (its DER)
    /// `isRevoked` says is revoked; returns how many. Each certificate is asked once.
    func endConnections(revokedBy isRevoked: ([UInt8]) -> Bool) -> Int {
        let established = state.withLock { Array($0.established.values) }
        var verdicts: [[UInt8]: Bool] = [:]
        var ended = 0
        for (channel, certificate, _) in established {
            let revoked = verdicts[certificate] ?? isRevoked(certificate)
            verdicts[certificate] = revoked
            guard revoked else { continue }
            channel.eventLoop.execute { ConnectionEnding.end(channel, for: .certificateRevoked) }
            ended += 1
        }
        return ended
    }

    /// Closes every connection still open (the end of a drain).
    func closeAll() {
        let open = state.withLock { Array($0.settingUp.values) + $0.established.values.map(\.channel) }
        for channel in open { channel.close(promise: nil) }
    }
}

/// The first handler of every gateway connection: admits it (``ConnectionAdmission``), and closes it unless it sets
/// up within the deadline: the TLS handshake, and for HTTP/2 the client's preface and its acknowledgement of the
/// gateway's SETTINGS. The handshake's verified certificate takes its place among set-up connections at once, before
/// any request is read (HTTP/2 requests may come in the preface's flight), so that a certificate over its share is
/// served nothing. A certificate revoked in the registry, which the handshake still admits so that its requests are
/// refused with a reason, takes no such place (``ConnectionPeer/placeless``): its connection never sets up, stays
/// among those setting up and closes at their deadline, or, after its refusal or at a drain, as a set-up one ends. Any
/// other connection still setting up when the gateway drains is closed at once.
final class ConnectionSetupGuard: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let admission: ConnectionAdmission
    private let timeout: TimeAmount
    private var ticket: UInt64?
    /// Whether the connection holds a place among set-up connections.
    private var placed = false
    /// Whether the handshake's certificate was revoked in the registry: the connection never sets up.
    private var placeless = false
    private var setUp = false
    private var deadline: Scheduled<Void>?

    init(admission: ConnectionAdmission, timeout: TimeAmount) {
        self.admission = admission
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        ticket = admission.admit(context.channel)
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    /// The handshake verified `peer`'s certificate: the connection leaves the setting-up budget for a place among
    /// set-up connections, or, if there is none for it, closes and false is returned. The deadline runs on until
    /// ``completed()``. A certificate whose `standing` is revoked in the registry takes no place
    /// (``ConnectionPeer/placeless``), and its deadline runs on regardless; any other takes a place of its holder's
    /// share (``ConnectionAdmission/Holder``) too. Called once.
    func verified(_ channel: any Channel, peer: ConnectionPeer?, standing: (ConnectionPeer) -> ConnectionStanding) -> Bool {
        guard let ticket else { return false }
        let holder: ConnectionAdmission.Holder
        switch peer.map(standing) {
        case .revoked?:
            peer?.placeless = true
            placeless = true
            return true
        case .resetsSpent?:
            admission.refuse(.resetsSpent, certificate: peer?.certificate.der ?? [])
            channel.close(promise: nil)
            return false
        case .held(let by)?: holder = by
        case nil: holder = .unidentified
        }
        guard admission.establish(ticket, certificate: peer?.certificate.der ?? [], holder: holder) else {
            channel.close(promise: nil)
            return false
        }
        placed = true
        return true
    }

    /// The connection has set up (HTTP/1.1: its handshake; HTTP/2: its SETTINGS acknowledged): the deadline ends,
    /// unless its certificate is revoked.
    func completed() {
        guard !placeless else { return }
        deadline?.cancel()
        deadline = nil
        setUp = true
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if let ticket { admission.release(ticket, established: placed) }
        ticket = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A revoked certificate's connection ends as a set-up one does, after the refusal it is answering: its
        // deadline still runs. Closed through the whole pipeline, so that an HTTP/2 connection's streams know the
        // gateway ended it (``HTTP2GatewayCloseMarker``).
        if event is ChannelShouldQuiesceEvent, !setUp, !placeless { return context.channel.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}

/// How a connection whose handshake has just completed stands: its certificate revoked in the registry, or held by
/// whose share it counts against.
enum ConnectionStanding {
    case revoked
    /// Its certificate has spent its HTTP/2 stream resets (``StreamResetBudget/isSpent(_:now:)``): no new connection.
    case resetsSpent
    case held(by: ConnectionAdmission.Holder)
}

/// Ends a set-up connection as a drain does, the requests it then does not take recorded for a reason of its own (a
/// certificate revoked in the registry): HTTP/1.1 answers the request in progress with `Connection: close` and closes
/// (at once when idle); HTTP/2 sends GOAWAY and lets its open streams finish.
enum ConnectionEnding {
    /// On the connection's event loop.
    static func end(_ connection: any Channel, for reason: GatewayReason) {
        HTTP2RefusalRecorder.endingFor(connection.pipeline, reason: reason)
        connection.pipeline.fireUserInboundEventTriggered(HTTP1RequestSequencer.ConnectionEnds(reason: reason))
        connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}
