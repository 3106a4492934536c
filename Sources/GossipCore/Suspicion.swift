// Only the logarithms from the C library: the core does no I/O.
#if canImport(Glibc)
import func Glibc.log
#elseif canImport(Darwin)
import func Darwin.log
#endif
import CohortCore

/// Lifeguard's dynamic suspicion timer for one suspect (memberlist's `suspicion.go`).
///
/// The timer starts at `maximum` and shrinks towards `minimum` as *independent* members confirm the
/// suspicion: timeout = max − log(n+1)/log(k+1) × (max − min), never below min, for n of the k wanted
/// confirmations. The accuser who started it never counts, and nor does anyone twice. With k < 1 the timer
/// is simply `minimum`.
public struct Suspicion: Hashable, Sendable {
    /// When the suspicion started.
    public let start: ContinuousClock.Instant
    /// Confirmations wanted before the timer reaches its minimum.
    public let wantedConfirmations: Int
    /// The shortest timeout.
    public let minimum: Duration
    /// The longest timeout.
    public let maximum: Duration
    /// Members who accused the suspect: the original accuser and every confirmation.
    public private(set) var accusers: Set<NodeID>

    /// Starts a suspicion raised by `accuser`.
    public init(
        accuser: NodeID, wantedConfirmations: Int, minimum: Duration, maximum: Duration, start: ContinuousClock.Instant
    ) {
        self.start = start
        self.wantedConfirmations = wantedConfirmations
        self.minimum = minimum
        self.maximum = maximum
        self.accusers = [accuser]
    }

    /// Independent confirmations so far.
    public var confirmations: Int { accusers.count - 1 }

    /// Records an accusation; true if it is a new, independent confirmation (which the caller re-gossips).
    public mutating func confirm(from accuser: NodeID) -> Bool {
        guard confirmations < wantedConfirmations, !accusers.contains(accuser) else { return false }
        accusers.insert(accuser)
        return true
    }

    /// When the suspect is declared dead unless it refutes first.
    public var deadline: ContinuousClock.Instant {
        guard wantedConfirmations >= 1 else { return start + minimum }
        let fraction = log(Double(confirmations) + 1) / log(Double(wantedConfirmations) + 1)
        let maximumSeconds = Self.seconds(maximum), minimumSeconds = Self.seconds(minimum)
        let raw = maximumSeconds - fraction * (maximumSeconds - minimumSeconds)
        let timeout = Duration.milliseconds(Int64((raw * 1000).rounded(.down)))
        return start + Swift.max(timeout, minimum)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
