import CohortCore

/// One entry of a process's mailbox.
public enum ProcessEvent: Sendable, Hashable {
    /// A message sent with ``ProcessRuntime/send(from:to:topic:payload:)``.
    case message(ProcessMessage)
    /// `EXIT(result)`: a monitor fired because the monitored process exited (or was never alive, or its node left).
    /// Delivered once per ``MonitorReference``.
    case exit(PID, ProcessOutcome)
    /// `CANCEL(reason)`: someone asked this process to stop; the body decides how (and whether) to.
    case cancel(reason: String)
    /// `LINK_DOWN`: a linked process exited; delivered only to a process that traps links.
    case linkDown(PID, ProcessOutcome)
}

/// A message: who sent it (if a process did), what it is about and its bytes.
public struct ProcessMessage: Sendable, Hashable {
    /// The sending process, or nil when the sender is not a process (e.g. an HTTP handler).
    public let from: PID?
    /// What the message is about; routing and matching key chosen by the application.
    public let topic: String
    /// The message body, opaque to the runtime.
    public let payload: [UInt8]

    /// Creates a message.
    public init(from: PID?, topic: String, payload: [UInt8]) {
        self.from = from
        self.topic = topic
        self.payload = payload
    }
}
