import ArgumentParser
import Foundation
import WarrantGateCore
import WarrantGateServer
import WarrantGateStore

/// An error the CLI reports in one line, with its documented exit code.
struct CLIError: Error {
    enum Code: Int32 {
        case failure = 1
        case usage = 2
        case refused = 3
        case notFound = 4
    }

    let code: Code
    let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Refuses (exit 2) an argument that holds more than `FreeText.maxCombiningRun` combining marks in a row, before
/// the argument parser compares it with command names: comparing such text as a Swift string normalises it, which
/// takes time quadratic in the run. Names the option it is the value of, if the argument before it is one.
func checkArguments() throws {
    let arguments = CommandLine.arguments
    for (index, argument) in arguments.enumerated().dropFirst() {
        guard let problem = FreeText.lengthProblem(argument, limit: .max) else { continue }
        let option = arguments[index - 1]
        throw CLIError(.usage, "\(index > 1 && option.hasPrefix("-") ? option : "argument \(index)") \(problem)")
    }
}

/// The CLI run through sudo as another account, as the Debian package's operators run it (`sudo -u warrant-gate
/// warrant-gate …`). That account's powers (its store, the log signing key, the TLS key the running service holds) are
/// lent to the person who ran sudo for the admin commands, and no further: the signing key signs only the installed
/// gateway's store (never a log the operator made, which would then verify as the county's), a restore into it trusts
/// nothing the operator brings, no path the operator could change between a check and its use is taken, no gateway of
/// the operator's own runs with the service's keys, and the operator is the person who ran sudo.
struct SudoInvocation {
    /// Where the Debian package installs the gateway's configuration, whose `database:` is the store the key signs.
    static let installedConfiguration = "/etc/warrant-gate/gateway.yaml"
    /// Whether this host has an installed gateway (its configuration at ``installedConfiguration``).
    static var hostHasInstalledGateway: Bool { FileManager.default.fileExists(atPath: installedConfiguration) }
    /// Where it installs the policies, `agencies.yaml` and `courts.yaml`: the CLI's defaults for them under sudo.
    static let installedPolicies = "/etc/warrant-gate/policies"

    /// Refuses a list the commands trust (the courts whose signatures count, the agency directory) unless only root may
    /// change it and every directory on its way: an operator's own list would make their forgery "verified" for the
    /// next person, who approves what the registry shows. Returns the path with its links resolved, to be read in
    /// place of `path`: the list's relative paths (a court's CA certificates) are then read beside the file checked,
    /// not beside a link in a directory of the operator's.
    func checkTrustList(_ path: String, what: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw CLIError(.notFound, "\(what) \(path): \(String(cString: strerror(errno)))") }
        defer { free(resolved) }
        let file = String(cString: resolved)
        for place in Self.selfAndAncestors(of: file) {
            var status = stat()
            guard stat(place, &status) == 0, status.st_uid == 0, status.st_mode & 0o022 == 0 else {
                throw CLIError(.refused, "run through sudo, \(what) must name a file that only root may change, in directories only root may change (such as \(Self.installedPolicies)): \(place) is not")
            }
        }
        return file
    }

    /// The absolute path by which the kernel opened `descriptor`, or nil if it cannot say (longer than `PATH_MAX`, a
    /// file since removed, one outside this process's root, a name that is not UTF-8, which would not name it again).
    private static func openedPath(_ descriptor: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count)
        guard length > 0, length < buffer.count, buffer[0] == CChar(UInt8(ascii: "/")) else { return nil }
        return String(validating: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` (absolute, its links resolved) and each directory above it, up to `/`.
    private static func selfAndAncestors(of path: String) -> [String] {
        var places = [path]
        while let last = places.last, last != "/" { places.append(URL(fileURLWithPath: last).deletingLastPathComponent().path) }
        return places
    }

    /// The account that ran sudo.
    let operatorAccount: String
    /// Its user id, and the ids of its groups (its primary group's among them).
    let operatorID: uid_t
    let operatorGroups: Set<gid_t>

    /// Nil unless sudo started this process as an account other than the one that ran it (`SUDO_USER` and
    /// `SUDO_UID`, which sudo sets, naming another user than the process's). When sudo ran it from root, and the
    /// kernel's audit login id names another person (`sudo -i`, then `sudo -u warrant-gate`, or `SUDO_UID=0` set by
    /// hand), the operator is that person, with their own account's rights: root is a step between, not who ran it.
    static var current: SudoInvocation? {
        let environment = ProcessInfo.processInfo.environment
        guard let user = environment["SUDO_USER"], !user.isEmpty, let uid = environment["SUDO_UID"].flatMap(uid_t.init), uid != getuid() else {
            return nil
        }
        if uid == 0, let login = ProcessAccount.loginUID(), login != 0, ProcessAccount.inInitialUserNamespace() {
            let person = ProcessAccount.accountName(login) ?? "uid \(login)"
            let primary = ProcessAccount.primaryGroup(login) ?? gid_t.max
            return SudoInvocation(operatorAccount: person, operatorID: login, operatorGroups: Self.groups(of: person, primary: primary))
        }
        // The account's own primary group, never SUDO_GID: a variable set by hand would lend the service's group.
        let primary = ProcessAccount.primaryGroup(uid) ?? gid_t.max
        return SudoInvocation(operatorAccount: user, operatorID: uid, operatorGroups: Self.groups(of: user, primary: primary))
    }

    /// The groups of `user` in the group database, and `primary`.
    private static func groups(of user: String, primary: gid_t) -> Set<gid_t> {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(user, primary, &groups, &count) == -1, count <= 1 << 16 {
            groups = [gid_t](repeating: 0, count: Int(count) * 2)
            count = Int32(groups.count)
        }
        return Set(groups.prefix(max(0, Int(count)))).union([primary])
    }

    /// Whether the operator's own account holds the rights `bits` (read 4, write 2, search 1) on a file of `status`
    /// with the access control list `list`, as the kernel decides: by the list if it has one (none if it cannot be
    /// read), else by the owner's, the group's or everyone's bits.
    private func operatorMay(_ bits: mode_t, _ status: stat, _ list: AccessControlList.Reading) -> Bool {
        if operatorID == 0 { return true }
        switch list {
        case .unreadable:
            return false
        // Linux reads the list only when the mode's group bits (the list's mask) are not all clear.
        case .list(let list) where status.st_mode & 0o070 != 0:
            return list.grants(bits, user: operatorID, groups: operatorGroups, owner: status.st_uid, group: status.st_gid)
        case .list, .none:
            if status.st_uid == operatorID { return (status.st_mode >> 6) & bits == bits }
            if operatorGroups.contains(status.st_gid) { return (status.st_mode >> 3) & bits == bits }
            return status.st_mode & bits == bits
        }
    }

    /// Opens an input file for the operator, refusing one the operator's own account could not read: the service
    /// account's rights are lent for the admin commands, not to read its signing key or database (a password file's
    /// first line is sent to the server the operator names). Decided on the file opened, by its owner, mode and access
    /// control list, so that no link swapped in after the check is read; and on each directory on the way the kernel
    /// took to it, as it names the open file (a path it cannot name refuses: one `realpath` could not resolve skipped
    /// the directories).
    func openAsOperator(_ path: String, what: String) throws -> (handle: FileHandle, size: Int) {
        let refusal = "run through sudo, \(what) may name only a file \(operatorAccount) may read: \(path)"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard descriptor >= 0 else { throw CLIError(errno == ENOENT ? .notFound : .failure, "\(what) \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat(), named = stat()
        // The path the kernel names the file by must lead to the very file in this process's own view: not through
        // another mount namespace's directories (`/proc/PID/root/…` of the operator's own namespace).
        guard fstat(descriptor, &status) == 0, let opened = Self.openedPath(descriptor), stat(opened, &named) == 0,
              named.st_dev == status.st_dev, named.st_ino == status.st_ino else { throw CLIError(.refused, refusal) }
        for directory in Self.selfAndAncestors(of: opened).dropFirst() {
            var status = stat()
            guard stat(directory, &status) == 0, operatorMay(1, status, AccessControlList.read(path: directory)) else {
                throw CLIError(.refused, refusal)
            }
        }
        guard status.st_mode & S_IFMT == S_IFREG, operatorMay(4, status, AccessControlList.read(descriptor: descriptor)) else {
            throw CLIError(.refused, refusal)
        }
        return (handle, Int(status.st_size))
    }

    /// Reads an input file for the operator (``openAsOperator(_:what:)``), at most `limit` bytes.
    func readAsOperator(_ path: String, what: String, limit: Int) throws -> Data {
        let (handle, size) = try openAsOperator(path, what: what)
        guard size <= limit else { throw CLIError(.refused, "\(what) \(path) is larger than \(limit) bytes") }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw CLIError(.failure, "\(what) \(path): \(error.localizedDescription)")
        }
    }

    /// Refuses an environment that says otherwise than the kernel about who ran the command. Where the kernel's audit
    /// login id is set (in the initial user namespace), it names the person who logged in, and no variable changes
    /// it; `SUDO_UID` and `SUDO_USER` are only the environment, which a sudo rule with `SETENV` lets anyone set:
    /// - a process running as an account other than root and the person's own, with no `SUDO_UID` naming someone
    ///   else, was switched to it without sudo saying who (`SUDO_UID` set to the target, `su`, `runuser`): the
    ///   operator's restrictions would not apply, so it is refused, unless the person is root (root's own login,
    ///   which `runuser -u warrant-gate` leaves as it is: what the service account alone may do is root's to do);
    /// - a `SUDO_UID` other than the person's, or root's (sudo run again from a root shell, where ``current`` names the
    ///   person logged in as the operator), a `SUDO_UID` without `SUDO_USER`, or a `SUDO_USER` that is not the name of
    ///   `SUDO_UID`'s account, was set by hand: the two-person rule would compare a made-up name.
    ///
    /// Without a login id (a container, a console without `pam_loginuid`) nothing can be checked, and sudo's word is
    /// taken: docs/debian.md says why its rule must not allow `SETENV`.
    static func checkEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let login = ProcessAccount.loginUID(), ProcessAccount.inInitialUserNamespace() else { return }
        let uid = getuid()
        let claimed = environment["SUDO_UID"].flatMap(uid_t.init)
        let person = ProcessAccount.named(login)
        if uid != 0, login != uid, login != 0, claimed == nil || claimed == uid {
            throw CLIError(.refused, """
                this runs as \(ProcessAccount.named(uid)) for \(person), who logged in, but not through sudo as sudo runs it (SUDO_UID \
                would name \(person)): run it with `sudo -u \(ProcessAccount.accountName(uid) ?? "the service account") warrant-gate …`, \
                under a sudo rule without SETENV
                """)
        }
        guard let claimed, claimed != uid else { return }
        // sudo sets both, and an operator without a name would be no operator at all.
        guard !(environment["SUDO_USER"] ?? "").isEmpty else {
            throw CLIError(.refused, "SUDO_UID is set without SUDO_USER, as sudo never runs a command: it was set by hand")
        }
        guard claimed == login || claimed == 0 else {
            throw CLIError(.refused, "SUDO_UID says \(ProcessAccount.named(claimed)) ran sudo, but \(person) logged in: it was set by hand")
        }
        if let user = environment["SUDO_USER"], let name = ProcessAccount.accountName(claimed), user != name {
            throw CLIError(.refused, "SUDO_USER says \(FreeText.escaped(user)), but SUDO_UID is \(ProcessAccount.named(claimed)): it was set by hand")
        }
    }

    /// An input file's bytes, at most `limit`: under sudo, read from the very file whose rights were checked, so that no
    /// link swapped in after the check (of the file, or of a directory on its path) is read with the service's rights;
    /// otherwise by `read`.
    static func readInput(_ path: String, what: String, limit: Int, read: (String) throws -> Data) throws -> Data {
        guard let sudo = current else { return try read(path) }
        return try sudo.readAsOperator(path, what: what, limit: limit)
    }

    /// How a YAML file and the files it names (a policy's includes and profiles) are opened: under sudo, each as
    /// ``openAsOperator(_:what:)`` opens it, its refusal naming the option `what`.
    static func opener(what: String) -> YAMLNode.Opener {
        guard let sudo = current else { return YAMLNode.openForReading }
        return { path, _ in try sudo.openAsOperator(path, what: what).handle }
    }

    /// A regular file the operator names, of at most `limit` bytes (``PrivateFile/read(_:limit:)``), read as
    /// ``readInput(_:what:limit:read:)`` reads.
    static func readFile(_ path: String, what: String, limit: Int) throws -> Data {
        try readInput(path, what: what, limit: limit) { path in try storeCall { try PrivateFile.read(path, limit: limit) } }
    }

    /// A document the operator names (a scan, its detached signature), as ``DocumentStore/read(path:)`` reads one.
    static func readDocument(_ path: String, what: String) throws -> Data {
        try readFile(path, what: what, limit: DocumentStore.maximumSize)
    }

    /// Refuses an input file the operator could not read (``openAsOperator(_:what:)``), for one a library reads
    /// itself (a backup, an archive, a bundle): checked here and opened again there.
    static func checkOperatorMayRead(_ path: String?, what: String) throws {
        guard let path, let sudo = current else { return }
        _ = try sudo.openAsOperator(path, what: what)
    }

    /// Refuses a command that runs a gateway: the service manager runs it, with the service's keys.
    static func refuseGateway(_ command: String) throws {
        guard let sudo = current else { return }
        throw CLIError(.refused, "\(command) is not run through sudo (\(sudo.operatorAccount) ran it): the service manager runs the gateway with the service's keys (systemctl start warrant-gate)")
    }

    /// Refuses a command that needs none of the service account's rights (it reads only files the operator names).
    static func refuseUnneeded(_ command: String) throws {
        guard let sudo = current else { return }
        throw CLIError(.refused, "\(command) needs none of the service account's rights (\(sudo.operatorAccount) ran it through sudo): run it without sudo")
    }

    /// Refuses (exit 2) an operator named other than the account that ran sudo: the two-person rule compares names.
    func checkOperator(_ name: String) throws {
        guard name == operatorAccount else {
            throw ValidationError("run through sudo by \(operatorAccount), the operator is \(operatorAccount); --operator and $WARRANT_GATE_OPERATOR may not name '\(name)'")
        }
    }

    /// The installed gateway's store, the CA its server's certificate is checked with (PostgreSQL) and its log signing
    /// key, if a configuration is installed: read once per process, as every check of a command asks for it.
    private static let installedGateway = Result { () throws(CLIError) -> InstalledGateway? in
        let path = installedConfiguration
        guard hostHasInstalledGateway else { return nil }
        do {
            let configuration = try GatewayConfiguration.load(path: path)
            let key = configuration.logSigningKeyPath.map(LogKeyFiles.init(privatePath:))
                ?? LogKeyFiles(filesDirectory: configuration.database.filesDirectory)
            return InstalledGateway(store: configuration.database, caFile: configuration.databaseCAFile, key: key)
        } catch {
            throw CLIError(.failure, "run through sudo, the CLI reads the installed gateway's store from \(path), which cannot be read: \(error)")
        }
    }

    private func installed() throws -> InstalledGateway? {
        try Self.installedGateway.get()
    }

    /// The installed gateway's store, by its installed configuration, if one is installed and can be read.
    static var installedStore: StoreLocation? {
        ((try? installedGateway.get()) ?? nil)?.store
    }

    /// Whether `location` is the installed gateway's store (by its installed configuration), run through sudo or not.
    static func isInstalledStore(_ location: StoreLocation) -> Bool {
        installedStore.map(location.isSameDatabase) ?? false
    }

    /// The store `--db` names, or the installed gateway's when `--db` was left out (its default is the demo's).
    func store(_ location: StoreLocation, given db: String) throws -> StoreLocation {
        guard db == AdminOptions.demoDatabase, let installed = try installed() else { return location }
        return installed.store
    }

    /// Refuses to sign (a checkpoint, a backup's seal, an archive's checkpoint) any store but the installed gateway's,
    /// or with any key but its own: another key's checkpoint in its log would never verify again.
    func checkSigning(_ location: StoreLocation, with key: LogKeyFiles) throws {
        guard let installed = try installed() else { return }
        guard location.isSameDatabase(as: installed.store) else {
            throw CLIError(.refused, "run through sudo, the log signing key signs only the installed gateway's store (\(installed.store), from \(Self.installedConfiguration)), not \(location)")
        }
        guard FilePlace(key.privatePath) == FilePlace(installed.key.privatePath) else {
            throw CLIError(.refused, "run through sudo, the installed gateway's store is signed only with its own key (\(installed.key.privatePath)), not \(key.privatePath)")
        }
        // In the clear over loopback, whoever listens at the address answers: another account's server, holding a log of
        // its making, would have the county's key sign it.
        guard !installed.store.reachesServerUnverified(caFile: installed.caFile) else {
            throw CLIError(.refused, """
                run through sudo, the log signing key signs only a store whose server proves who it is: \(installed.store) is reached \
                over loopback in the clear, where any local account could answer at that address. Set database.ca-file in \
                \(Self.installedConfiguration) to the certificate (or its CA) of the server, for the URL's host
                """)
        }
    }

    /// The CA that a connection to `location` checks its server's certificate with: for the installed gateway's store,
    /// the installed configuration's (and `given`, if any, must be that file), so that the operator cannot vouch for a
    /// server of their own; for another store, `given`.
    func caFile(for location: StoreLocation, given: String?) throws -> String? {
        guard let installed = try installed(), location.sqlitePath == nil, location.isSameDatabase(as: installed.store) else { return given }
        if let given, installed.caFile.map({ FilePlace(given) == FilePlace($0) }) != true {
            throw CLIError(.refused, "run through sudo, the installed gateway's store is reached with its own CA (\(installed.caFile ?? "none: loopback in the clear"), from \(Self.installedConfiguration)), not --db-ca-file \(given)")
        }
        return installed.caFile
    }

    /// Refuses a restore into the installed gateway's store that would trust what the operator brings: a backup
    /// checked with a key other than the installed one (a store the operator made and sealed with a key of their own),
    /// or an unsealed one, whose registry (warrants, approvals) nothing vouches for, or one checked against no checkpoint
    /// held off the machine (`offsite` false), where a rollback goes unnoticed if the key's record is gone too. Refuses a
    /// restore into another store that shares the installed one's files directory or its key's record of the last
    /// checkpoint signed. `given` is `--key`'s contents, as the restore then uses them.
    func checkRestore(into location: StoreLocation, verifierKey given: Data?, allowUnsealed: Bool, offsite: Bool) throws {
        guard let installed = try installed() else { return }
        guard location.isSameDatabase(as: installed.store) else {
            // Beside the installed store, another one would share its documents and its key's record of the last
            // checkpoint signed, which a rollback restored there would set back without a word in the installed log.
            let files = LogKeyFiles(filesDirectory: location.filesDirectory)
            if FilePlace(location.filesDirectory) == FilePlace(installed.store.filesDirectory)
                || FilePlace(files.lastSigned.path) == FilePlace(installed.key.lastSigned.path) {
                throw CLIError(.refused, """
                    run through sudo, a restore beside the installed gateway's store (\(installed.store)) is refused: it would share \
                    its files and its log signing key's record; restore into a directory of its own
                    """)
            }
            return
        }
        guard !allowUnsealed else {
            throw CLIError(.refused, "run through sudo, an unsealed backup is not restored into the installed gateway's store: nothing vouches for its registry")
        }
        guard offsite else {
            throw CLIError(.refused, """
                run through sudo, a restore into the installed gateway's store is checked against a checkpoint held off the machine: \
                give --against (without one, an older backup passes for the latest once the key's record is lost too); a restore \
                without one is the service account's, from root's own login (runuser -u warrant-gate)
                """)
        }
        guard let given else { return }
        guard let own = try? PrivateFile.read(installed.key.publicPath, limit: 1 << 16), given == own else {
            throw CLIError(.refused, "run through sudo, a backup restored into the installed gateway's store is checked with its own verifier key (\(installed.key.publicPath)), not another --key")
        }
    }

    /// Refuses, run through sudo, an output file (`--out`) the operator could redirect (``checkTrustedPath(_:what:)``)
    /// or one in the installed gateway's files directory (beside its keys and database) or below it.
    static func checkOutput(_ path: String?) throws {
        guard let path, let sudo = current else { return }
        try sudo.checkTrustedPath(path, what: "--out")
        guard let installed = try sudo.installed() else { return }
        let files = FilePlace(installed.store.filesDirectory)
        var directory = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
        while true {
            if FilePlace(directory.path) == files {
                throw CLIError(.refused, "run through sudo, --out may not be in the installed gateway's files directory (\(installed.store.filesDirectory)), beside its keys")
            }
            guard directory.path != "/" else { return }
            directory.deleteLastPathComponent()
        }
    }

    /// Refuses a path the operator could change between this check and its use (swap a link, rename a directory),
    /// so that a store or key checked is the store or key used: one through a symbolic link, or through a directory
    /// that neither root nor this account owns, or that others may write to (but a root-owned sticky one, such as
    /// `/tmp`, holding what exists), or one whose missing part lies in a directory others may write to (they could
    /// make it first). What does not exist yet is then created by this account.
    func checkTrustedPath(_ path: String, what: String) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let components = absolute.split(separator: "/", omittingEmptySubsequences: true)
        var prefix = ""
        var status = stat()
        for (index, component) in ([""] + components.map(String.init)).enumerated() {
            let parentShared = index > 0 && status.st_mode & 0o022 != 0
            prefix = index == 0 ? "/" : (prefix == "/" ? "" : prefix) + "/" + component
            guard lstat(prefix, &status) == 0 else {
                guard errno == ENOENT else { throw CLIError(.failure, "\(what) \(path): cannot read \(prefix)") }
                guard !parentShared else {
                    throw CLIError(.refused, "run through sudo, \(what) may not name \(prefix), which does not exist yet in a directory others may write to: they could make it first (use a directory of the service account, such as /var/lib/warrant-gate/drill)")
                }
                return
            }
            let refusal = "run through sudo, \(what) may not pass through \(prefix)"
            if status.st_mode & S_IFMT == S_IFLNK { throw CLIError(.refused, "\(refusal), a symbolic link: give the path itself") }
            guard index < components.count else { return }
            guard status.st_uid == 0 || status.st_uid == geteuid() else {
                throw CLIError(.refused, "\(refusal): a directory of another account, which could change what the path names")
            }
            let sharedSticky = status.st_mode & mode_t(S_ISVTX) != 0 && status.st_uid == 0
            guard status.st_mode & 0o022 == 0 || sharedSticky else {
                throw CLIError(.refused, "\(refusal): a directory others may write to, who could change what the path names")
            }
        }
    }
}

/// Where the CLI finds its database, and who is running it.
struct AdminOptions: ParsableArguments {
    static let demoDatabase = ".warrant-gate/demo/warrant-gate.sqlite"

    @Option(name: .long, help: "The database: a SQLite file, or postgres://user@host:port/database (default: the demo's, \(AdminOptions.demoDatabase)).")
    var db: String = AdminOptions.demoDatabase

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Who is running this command (default: $WARRANT_GATE_OPERATOR, else the person who ran sudo, else the login name).")
    var `operator`: String?

    /// The operator recorded with every admin action: `--operator`, else `$WARRANT_GATE_OPERATOR`, else the person
    /// who ran sudo (``SudoInvocation/current``: run as `sudo -u warrant-gate warrant-gate …`, so that the two-person
    /// rule sees two people; under sudo the first two may only repeat it), else `$SUDO_USER`, else the login name, else
    /// `$USER`.
    var operatorName: String {
        if let given = `operator`, !given.isEmpty { return given }
        let environment = ProcessInfo.processInfo.environment
        if let value = environment["WARRANT_GATE_OPERATOR"], !value.isEmpty { return value }
        if let sudo = SudoInvocation.current { return sudo.operatorAccount }
        if let value = environment["SUDO_USER"], !value.isEmpty { return value }
        if let login = getlogin() { return String(cString: login) }
        return ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    }

    /// Refuses (exit 2) an operator name, from whichever source, too long to be composed and compared (see
    /// `OperatorName`), before the command does anything.
    func validate() throws {
        if let problem = FreeText.lengthProblem(operatorName, limit: OperatorName.maxLength) {
            throw ValidationError("the operator name (--operator, $WARRANT_GATE_OPERATOR or the person who ran sudo) \(problem)")
        }
        try SudoInvocation.current?.checkOperator(operatorName)
    }

    /// The store `--db` names, with its files directory.
    func location() throws -> StoreLocation {
        try database.location(db)
    }

    /// Opens the database. Read commands refuse a SQLite file that does not exist rather than create an empty one.
    /// `readonly`: a SQLite file is opened for reading only, neither migrated nor written (an auditor's evidence copy),
    /// and a PostgreSQL store whose definitions are not this release's is read, with a warning.
    func open(create: Bool = false, readonly: Bool = false) throws -> Store {
        try database.open(db, create: create, readonly: readonly)
    }

    /// The registry, in the time zone the gateway recorded (UTC if none is yet). Only registration depends on the
    /// zone, and it refuses to work without a recorded one (see `WarrantCommand.Register`).
    func registry(create: Bool = false) throws -> Registry {
        let store = try open(create: create)
        return store.registry(timeZone: (try? store.recordedTimeZone()) ?? nil ?? .gmt)
    }
}

/// How to reach a PostgreSQL store: the password and CA never on the command line itself, and the directory of the
/// files kept outside the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "For a postgres:// database: a file whose first line is the password (else $PGPASSWORD).")
    var dbPasswordFile: String?

    @Option(name: .long, help: "For a postgres:// database off this host: the CA that signed the server's certificate.")
    var dbCaFile: String?

    @Option(name: .long, help: "For a postgres:// database: the directory of the log signing key and document scans (default: \(StoreLocation.defaultFilesDirectory)).")
    var filesDir: String?

    /// The store `db` names (under sudo, the installed gateway's if `db` is left out: ``SudoInvocation``). Refused as
    /// root when its SQLite file belongs to another account: a file the CLI then creates beside it (the journal, a
    /// scan, a key) would be root's, and the gateway could not open it. On a host with an installed gateway, `db`
    /// left out is refused outside sudo: the demo's store it would name is not the one the gateway decides on, and a
    /// revocation or a withdrawal written there would report success and change nothing.
    func location(_ db: String) throws -> StoreLocation {
        var location: StoreLocation
        do { location = try StoreLocation(db, filesDirectory: filesDir) } catch { throw CLIError(.usage, error.message) }
        if SudoInvocation.current == nil, db == AdminOptions.demoDatabase, SudoInvocation.hostHasInstalledGateway {
            let named = SudoInvocation.installedStore.map { " (the installed gateway's: --db \($0))" } ?? ""
            throw CLIError(.usage, """
                this host has an installed gateway (\(SudoInvocation.installedConfiguration)), and --db was left out: its \
                default is the demo's store, not the gateway's. Run the command as `sudo -u warrant-gate warrant-gate …` to \
                act on the installed gateway's store, or name a store with --db\(named)
                """)
        }
        if let sudo = SudoInvocation.current {
            location = try sudo.store(location, given: db)
            if let path = location.sqlitePath { try sudo.checkTrustedPath(path, what: "--db") }
            if let filesDir { try sudo.checkTrustedPath(filesDir, what: "--files-dir") }
        }
        if let path = location.sqlitePath { try refuseRoot(in: path) }
        return location
    }

    /// How to connect to `location`. Under sudo, the password file is read here, as its operator may read it
    /// (``SudoInvocation``), and the CA file checked so; the installed gateway's store is reached with its own CA.
    func options(for location: StoreLocation) throws -> StoreOptions {
        guard let sudo = SudoInvocation.current else { return StoreOptions(passwordFile: dbPasswordFile, caFile: dbCaFile) }
        try SudoInvocation.checkOperatorMayRead(dbCaFile, what: "--db-ca-file")
        var options = StoreOptions(caFile: try sudo.caFile(for: location, given: dbCaFile))
        if let dbPasswordFile {
            let contents = try sudo.readAsOperator(dbPasswordFile, what: "--db-password-file", limit: 1 << 16)
            guard let text = String(data: contents, encoding: .utf8) else {
                throw CLIError(.refused, "the database password file \(dbPasswordFile) is not UTF-8 text")
            }
            do {
                options.password = try PostgresLocation.password(text: text, file: dbPasswordFile)
            } catch {
                throw CLIError(.refused, error.message)
            }
        }
        return options
    }

    func open(_ db: String, create: Bool = false, readonly: Bool = false) throws -> Store {
        let location = try location(db)
        if let path = location.sqlitePath, !create, !FileManager.default.fileExists(atPath: path) {
            throw CLIError(.notFound, "no database at \(path) (start `warrant-gate demo` once, or pass --db)")
        }
        var options = try options(for: location)
        options.readonly = readonly
        do {
            return try Store.open(location, options: options)
        } catch {
            throw CLIError(.failure, StoreDatabase.describe(error))
        }
    }
}

/// Refuses root where `path` (a store, or the directory a key is made in) belongs to another account: a file the CLI
/// made there would be root's, and the gateway, running as that account, could not open it.
func refuseRoot(in path: String) throws {
    var status = stat()
    guard geteuid() == 0, stat(path, &status) == 0, status.st_uid != 0 else { return }
    let owner = getpwuid(status.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(status.st_uid)"
    throw CLIError(.refused, "\(path) belongs to \(owner): run the CLI as that account (sudo -u \(owner) warrant-gate …), not as root")
}

/// The text of a small input file the operator named (a checkpoint, a verifier key); a file that does not read is not
/// found. Under sudo it is read from the very file checked (``SudoInvocation/readInput(_:what:limit:read:)``).
func readInputText(_ path: String) throws -> String {
    let data = try SudoInvocation.readInput(path, what: "an input file", limit: YAMLNode.maximumFileSize) { path in
        guard let text = try? YAMLNode.readText(path: path) else { throw CLIError(.notFound, "cannot read \(path)") }
        return Data(text.utf8)
    }
    guard let text = String(data: data, encoding: .utf8) else { throw CLIError(.usage, "\(path) is not UTF-8 text") }
    return text
}

/// Runs a store operation, turning its errors into CLI errors.
@discardableResult
func storeCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CLIError {
        throw error
    } catch let error as RegistrationError {
        throw CLIError(.refused, error.description)
    } catch let error as PrivateFileError {
        switch error.kind {
        case .notFound: throw CLIError(.notFound, error.message)
        case .refused: throw CLIError(.refused, error.message)
        case .failed: throw CLIError(.failure, error.message)
        }
    } catch let error as StoreError {
        let notFound = error.message.hasPrefix("no document")
        throw CLIError(notFound ? .notFound : .refused, error.message)
    } catch {
        throw CLIError(.failure, StoreDatabase.describe(error))
    }
}

/// Plain text tables for people; scripts use `--json`.
enum Table {
    /// Cells are escaped (see `FreeText.escaped`): a stored value cannot break the table or drive the terminal.
    static func render(header: [String], rows: [[String]]) -> String {
        let rows = rows.map { $0.map(FreeText.escaped) }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }
}

/// Prints JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// The installed gateway's store, as its configuration names it.
struct InstalledGateway {
    let store: StoreLocation
    /// The CA its PostgreSQL server's certificate is checked with; nil for the system's trust store, or none on loopback.
    let caFile: String?
    let key: LogKeyFiles
}
