import Foundation
import Testing

/// The Debian packaging in packaging/ and scripts/package-deb, checked with systemd's and dpkg's own tools.
@Suite("Debian packaging", .ownThreads, .serialized)
struct DebianPackagingTests {
    static let packaging = Repository.root.appendingPathComponent("packaging")

    @Test(
        "systemd-analyze verify accepts each unit, with nothing to warn about, and scores it well confined",
        .enabled(if: SystemTool.enabled("systemd-analyze")),
        arguments: [
            ("warrant-gate.service", "serve --config /etc/warrant-gate/gateway.yaml"),
            ("warrant-gate-forward.service", "forward syslog --db ${WARRANT_GATE_DB} --to ${WARRANT_GATE_SIEM} $WARRANT_GATE_FORWARD_OPTIONS"),
        ]
    )
    func unitVerifies(unitName: String, arguments: String) throws {
        try #require(SystemTool.path("systemd-analyze") != nil, "systemd-analyze is needed: .ci/run installs systemd")
        let scratch = try Scratch()
        // verify checks that ExecStart's program exists: the copy runs the binary the build made.
        let unit = try String(contentsOf: Self.packaging.appendingPathComponent(unitName), encoding: .utf8)
        #expect(unit.contains("\nExecStart=/usr/bin/warrant-gate \(arguments)\n"))
        let copy = scratch.url.appendingPathComponent(unitName)
        try unit.replacingOccurrences(of: "ExecStart=/usr/bin/warrant-gate ", with: "ExecStart=\(CLIProcess.executable.path) ")
            .replacingOccurrences(of: "EnvironmentFile=/etc/warrant-gate/forward.env", with: "EnvironmentFile=\(Self.packaging.path)/forward.env")
            .write(to: copy, atomically: true, encoding: .utf8)

        let verified = try SystemTool.run("systemd-analyze", ["verify", copy.path])
        #expect(verified.status == 0, "\(verified.stderr)")
        // An unknown key or system-call group is only a warning to verify, on standard error: it must have none.
        #expect(verified.stderr.isEmpty, "\(verified.stderr)")

        // The hardening, as systemd scores it (0 is the most confined, 10 the least).
        let security = try SystemTool.run("systemd-analyze", ["security", "--offline=yes", copy.path])
        let exposure = security.stdout.components(separatedBy: "Overall exposure level for \(unitName): ").last?
            .split(separator: " ").first.flatMap { Double($0) }
        #expect((exposure ?? 10) <= 1.5, "\(security.stdout)\(security.stderr)")
    }

    @Test("the sysusers.d and tmpfiles.d entries make the account and an owner-only /var/lib/warrant-gate",
          .enabled(if: SystemTool.enabled("systemd-sysusers", "systemd-tmpfiles")))
    func accountAndStateDirectory() throws {
        for tool in ["systemd-sysusers", "systemd-tmpfiles"] { try #require(SystemTool.path(tool) != nil, "\(tool) is needed: .ci/run installs systemd") }
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("root")
        let manager = FileManager.default
        for directory in ["etc", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d", "var/lib"] {
            try manager.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try manager.copyItem(at: Self.packaging.appendingPathComponent("warrant-gate.sysusers"), to: root.appendingPathComponent("usr/lib/sysusers.d/warrant-gate.conf"))
        try manager.copyItem(at: Self.packaging.appendingPathComponent("warrant-gate.tmpfiles"), to: root.appendingPathComponent("usr/lib/tmpfiles.d/warrant-gate.conf"))
        // As an upgrade may find it: the directory exists already, too open, and owned by root.
        let state = root.appendingPathComponent("var/lib/warrant-gate")
        try manager.createDirectory(at: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])

        // As postinst runs them, by the entries' names, against the scratch root.
        let sysusers = try SystemTool.run("systemd-sysusers", ["--root", root.path, "warrant-gate.conf"])
        #expect(sysusers.status == 0, "\(sysusers.stderr)")
        let passwd = try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
        let entry = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("warrant-gate:") }, "\(passwd)")
        let account = entry.split(separator: ":", omittingEmptySubsequences: false)
        #expect(account.count == 7)
        let uid = try #require(UInt32(account[2]))
        #expect(uid > 0 && uid < 1000, "a system account")
        #expect(account[5] == "/var/lib/warrant-gate" && account[6] == "/usr/sbin/nologin")
        let group = try String(contentsOf: root.appendingPathComponent("etc/group"), encoding: .utf8)
        #expect(group.contains("warrant-gate:x:\(account[3]):"))

        let tmpfiles = try SystemTool.run("systemd-tmpfiles", ["--create", "--root", root.path, "warrant-gate.conf"])
        #expect(tmpfiles.status == 0, "\(tmpfiles.stderr)")
        var info = stat()
        #expect(stat(state.path, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o700, "mode \(String(info.st_mode & 0o7777, radix: 8))")
        #expect(info.st_uid == uid && info.st_gid == UInt32(account[3]))
    }

    @Test("scripts/package-deb builds a .deb with the binary, the conffiles, the unit and the maintainer scripts",
          .enabled(if: SystemTool.enabled("dpkg-deb", "dpkg-shlibdeps")))
    func package() throws {
        for tool in ["dpkg-deb", "dpkg-shlibdeps"] { try #require(SystemTool.path(tool) != nil, "\(tool) is needed: .ci/run installs dpkg-dev") }
        let scratch = try Scratch()
        // The debug build stands in for the release one: its Swift runtime is in /opt/swift, hence the flag.
        let built = try SystemTool.run(Repository.root.appendingPathComponent("scripts/package-deb").path, [
            "--binary", CLIProcess.executable.path, "--allow-unpackaged-libraries", "--compression", "none",
            "--version", "1.2.3-test", "--out", scratch.url.path,
        ])
        #expect(built.status == 0, "\(built.stderr)")
        let deb = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb.hasSuffix("/warrant-gate_1.2.3-test_\(try SystemTool.run("dpkg", ["--print-architecture"]).stdout.trimmingCharacters(in: .newlines)).deb"))

        let field = { (name: String) throws -> String in try SystemTool.run("dpkg-deb", ["--field", deb, name]).stdout.trimmingCharacters(in: .newlines) }
        #expect(try field("Package") == "warrant-gate")
        #expect(try field("Version") == "1.2.3-test")
        let depends = try field("Depends")
        for dependency in ["libc6", "libsqlite3-0", "systemd", "init-system-helpers", "procps"] { #expect(depends.contains(dependency), "\(depends)") }

        // Every file, with its mode and owner.
        let listing = try SystemTool.run("dpkg-deb", ["--contents", deb])
        #expect(listing.status == 0, "\(listing.stderr)")
        var entries: [String: (mode: String, owner: String)] = [:]
        for line in listing.stdout.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6 else { continue }
            let path = String(fields[5].dropFirst())  // "./etc/…" → "/etc/…"
            entries[path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path] = (String(fields[0]), String(fields[1]))
        }
        let expected: [String: String] = [
            "/usr/bin/warrant-gate": "-rwxr-xr-x",
            "/etc/warrant-gate": "drwxr-xr-x",
            "/etc/warrant-gate/tls": "drwxr-xr-x",
            "/etc/warrant-gate/gateway.yaml": "-rw-r--r--",
            "/etc/warrant-gate/policies/denver.yaml": "-rw-r--r--",
            "/etc/warrant-gate/policies/agencies.yaml": "-rw-r--r--",
            "/etc/warrant-gate/policies/profiles/niem-immigration.yaml": "-rw-r--r--",
            "/etc/warrant-gate/policies/tests/denver.yaml": "-rw-r--r--",
            "/usr/lib/systemd/system/warrant-gate.service": "-rw-r--r--",
            "/usr/lib/systemd/system/warrant-gate-forward.service": "-rw-r--r--",
            "/etc/warrant-gate/forward.env": "-rw-r--r--",
            "/usr/lib/sysusers.d/warrant-gate.conf": "-rw-r--r--",
            "/usr/lib/tmpfiles.d/warrant-gate.conf": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/debian.md": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/configuration.md": "-rw-r--r--",
            "/usr/share/warrant-gate/monitoring/warrant-gate-alerts.yaml": "-rw-r--r--",
            "/usr/share/warrant-gate/monitoring/grafana-dashboard.json": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/copyright": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/examples/sudoers": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/changelog.gz": "-rw-r--r--",
            "/usr/share/man/man1/warrant-gate.1.gz": "-rw-r--r--",
            "/usr/share/lintian/overrides/warrant-gate": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/third-party/swift-nio.LICENSE.txt": "-rw-r--r--",
            "/usr/share/doc/warrant-gate/third-party/GRDB.swift.LICENSE": "-rw-r--r--",
        ]
        for (path, mode) in expected {
            #expect(entries[path]?.mode == mode, "\(path): \(entries[path].map { "\($0)" } ?? "missing")")
        }
        #expect(entries.values.allSatisfy { $0.owner == "root/root" })
        #expect(!entries.keys.contains { $0.hasPrefix("/var") }, "the state directory is made by tmpfiles.d, not shipped")

        // Every file under /etc is a conffile, and nothing else is.
        let control = scratch.url.appendingPathComponent("control")
        #expect(try SystemTool.run("dpkg-deb", ["--control", deb, control.path]).status == 0)
        let conffiles = try String(contentsOf: control.appendingPathComponent("conffiles"), encoding: .utf8).split(separator: "\n").map(String.init)
        let etcFiles = entries.filter { $0.key.hasPrefix("/etc/") && $0.value.mode.hasPrefix("-") }.keys.sorted()
        #expect(conffiles == etcFiles)
        #expect(conffiles.contains("/etc/warrant-gate/gateway.yaml") && conffiles.contains("/etc/warrant-gate/policies/profiles/niem-immigration.yaml"))

        // The maintainer scripts: packaging/'s own, executable, valid shell.
        for script in ["postinst", "prerm", "postrm"] {
            let path = control.appendingPathComponent(script).path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o755, "\(script)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: Self.packaging.appendingPathComponent(script)), "\(script)")
            #expect(try SystemTool.run("/bin/sh", ["-n", path]).status == 0, "\(script)")
        }
        let postinst = try String(contentsOf: control.appendingPathComponent("postinst"), encoding: .utf8)
        #expect(postinst.contains("systemd-sysusers warrant-gate.conf") && postinst.contains("systemd-tmpfiles --create warrant-gate.conf"))

        // The unpacked tree: packaging/'s files as they are, and a binary that runs and accepts the shipped policies
        // where the package puts them.
        let tree = scratch.url.appendingPathComponent("tree")
        #expect(try SystemTool.run("dpkg-deb", ["--extract", deb, tree.path]).status == 0)
        for (packaged, source) in [
            ("usr/lib/systemd/system/warrant-gate.service", "warrant-gate.service"), ("etc/warrant-gate/gateway.yaml", "gateway.yaml"),
            ("usr/lib/systemd/system/warrant-gate-forward.service", "warrant-gate-forward.service"), ("etc/warrant-gate/forward.env", "forward.env"),
            ("usr/lib/sysusers.d/warrant-gate.conf", "warrant-gate.sysusers"), ("usr/lib/tmpfiles.d/warrant-gate.conf", "warrant-gate.tmpfiles"),
            ("etc/warrant-gate/policies/agencies.yaml", "agencies.yaml"),
        ] {
            #expect(try Data(contentsOf: tree.appendingPathComponent(packaged)) == Data(contentsOf: Self.packaging.appendingPathComponent(source)), "\(packaged)")
        }
        // The copyright file names every linked package's license; the md5sums cover every installed file.
        let copyright = try String(contentsOf: tree.appendingPathComponent("usr/share/doc/warrant-gate/copyright"), encoding: .utf8)
        #expect(copyright.hasPrefix("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"))
        #expect(copyright.contains("Files: third-party/swift-nio\nCopyright: see third-party/swift-nio.*\nLicense: Apache-2.0\n"), "\(copyright)")
        #expect(copyright.contains("Files: third-party/GRDB.swift\nCopyright: see third-party/GRDB.swift.*\nLicense: Expat\n"), "\(copyright)")
        let sums = try String(contentsOf: control.appendingPathComponent("md5sums"), encoding: .utf8).split(separator: "\n")
        #expect(sums.count == entries.filter { $0.value.mode.hasPrefix("-") && !$0.key.hasPrefix("/etc/") }.count, "\(sums.count) sums")
        #expect(!sums.contains { $0.hasSuffix(" etc/warrant-gate/gateway.yaml") }, "conffiles have dpkg's own checksums")
        let verified = try SystemTool.run("/bin/sh", ["-c", "cd '\(tree.path)' && md5sum --check --quiet '\(control.appendingPathComponent("md5sums").path)'"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let checked = try SystemTool.run(tree.appendingPathComponent("usr/bin/warrant-gate").path, [
            "policy", "check", tree.appendingPathComponent("etc/warrant-gate/policies").path,
        ])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
    }

    /// The example is what docs/debian.md tells operators to copy: it must parse as shipped, and with its rule on.
    @Test("the example sudo rule parses, as shipped and with its rule enabled; it sets no SETENV",
          .enabled(if: SystemTool.enabled("visudo")))
    func sudoersExample() throws {
        let scratch = try Scratch()
        let shipped = Repository.root.appendingPathComponent("packaging/sudoers")
        let text = try String(contentsOf: shipped, encoding: .utf8)
        let enabled = scratch.url.appendingPathComponent("sudoers")
        try text.replacingOccurrences(of: "# %warrant-gate-operators", with: "%warrant-gate-operators").write(to: enabled, atomically: true, encoding: .utf8)
        for file in [shipped.path, enabled.path] {
            let checked = try SystemTool.run("visudo", ["-c", "-f", file])
            #expect(checked.status == 0, "\(file): \(checked.stdout) \(checked.stderr)")
        }
        let rules = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rules.contains("Defaults!WARRANT_GATE env_reset, !setenv"))
        #expect(!rules.contains { $0.uppercased().contains("SETENV:") || $0.contains("NOPASSWD") })
    }

    @Test("scripts/package-deb refuses a binary that needs libraries no Debian package provides",
          .enabled(if: SystemTool.enabled("dpkg-deb", "dpkg-shlibdeps")))
    func refusesUnpackagedLibraries() throws {
        let scratch = try Scratch()
        let refused = try SystemTool.run(Repository.root.appendingPathComponent("scripts/package-deb").path, [
            "--binary", CLIProcess.executable.path, "--out", scratch.url.path,
        ])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("libswiftCore.so") && refused.stderr.contains("--static-swift-stdlib"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }
}
