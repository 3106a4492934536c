import CohortCore

/// A change to a group's membership, as a monitor sees it: the processes that joined or left, with
/// multiplicity (a process that joined twice in one call appears twice).
public enum GroupEvent: Sendable, Equatable {
    case join(group: String, pids: [PID])
    case leave(group: String, pids: [PID])

    /// The group the event is about.
    public var group: String {
        switch self {
        case .join(let group, _), .leave(let group, _): group
        }
    }
}
