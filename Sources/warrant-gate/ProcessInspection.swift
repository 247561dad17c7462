import CProcessControl
import Glibc

/// Closes the process to inspection before it reads a key or a document. A `warrant-gate` process holds what its
/// account may not hand on: the log signing key, the TLS keys, warrants, the store's passwords. Another process of
/// the same account (the SIEM forwarder, an operator's CLI run through sudo, anything that account is made to run)
/// could otherwise read it all through `/proc/<pid>` (`mem`, `environ`, `fd`, `root`, which reaches files that
/// systemd hides from the other process) or attach with ptrace; and a crash would write it to a core file. Not
/// dumpable, the process is reachable only by a process with CAP_SYS_PTRACE, and writes no core.
enum ProcessInspection {
    /// Makes the process not dumpable; throws if the kernel refuses, so that no command runs open to inspection.
    static func forbid() throws {
        guard wg_forbid_inspection() == 0 else {
            throw CLIError(.failure, "cannot close the process to inspection (prctl PR_SET_DUMPABLE): \(String(cString: strerror(errno)))")
        }
    }
}
