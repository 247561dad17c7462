import NIOCore

/// Closes a channel once it has been waiting for `timeout` (for a request head, or with no stream open). Starting a
/// wait costs no scheduling: the one timer moves only when it fires before the current wait is due.
final class WaitDeadline {
    private let timeout: TimeAmount
    private var since: NIODeadline?
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func startWaiting(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        since = now
        if timer == nil { arm(context, at: now + timeout) }
    }

    func stopWaiting() {
        since = nil
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }

    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (wait, context) = bound.value
            wait.timer = nil
            guard let since = wait.since else { return }
            let due = since + wait.timeout
            if due <= .now() { return context.close(promise: nil) }
            wait.arm(context, at: due)
        }
    }
}
