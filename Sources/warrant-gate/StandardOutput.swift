// Glibc alone, imported before Swift 6's checks: `stdout` is the C library's own stream, which locks itself.
@preconcurrency import Glibc

/// Flushes what `print` buffered for standard output, and fails if any of it could not be written (a full disk, a
/// closed pipe, `/dev/full`): a command whose output was lost must not exit 0, nor record that it delivered it.
func flushStandardOutput() throws {
    errno = 0
    guard fflush(stdout) != 0 || ferror(stdout) != 0 else { return }
    let reason = errno != 0 ? String(cString: strerror(errno)) : "a write failed"
    clearerr(stdout)
    throw CLIError(.failure, "cannot write standard output: \(reason)")
}
