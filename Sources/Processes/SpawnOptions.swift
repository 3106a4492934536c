import CohortCore

/// How a process is started.
public struct SpawnOptions: Sendable, Hashable {
    /// When true, an exit of a linked process arrives as ``ProcessEvent/linkDown(_:_:)`` (normal exits too, as with
    /// Erlang's `trap_exit`) instead of stopping this process. Default false: an abnormal exit of a linked process
    /// stops this one with ``ProcessOutcome/linked(_:)``, and a normal one is ignored.
    public var trapLinks: Bool
    /// A process to link the new one to before its body starts (Erlang's `spawn_link`), so an early exit of either
    /// side cannot slip between spawn and link. Default nil.
    public var link: PID?

    /// Creates options; the defaults give an unlinked process that does not trap links.
    public init(trapLinks: Bool = false, link: PID? = nil) {
        self.trapLinks = trapLinks
        self.link = link
    }
}
