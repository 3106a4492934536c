import CohortCore

/// Strong names: a reservation holds the name while the registering node asks every live node whether it
/// holds a conflicting binding; a confirmation turns it into a strong ``NameRecord``, a cancellation or
/// its deadline drops it. A reservation is held by its process like a name, so the process's exit and its
/// node's departure drop it too.
extension CoordinationState {
    mutating func reserve(_ name: ByteKey, pid: PID, timeout: UInt64) -> CoordinationResult {
        if let current = names[name] {
            // The owner's retry of a registration that already went through answers with its token.
            return current.pid == pid && current.scope == .strong ? .nameRegistered(token: current.token) : .nameTaken(owner: current.pid)
        }
        if let reservation = reservations[name] {
            // A retry of the same reservation (its reply was lost) gets the same one.
            return reservation.pid == pid ? .nameReserved(token: reservation.token, deadline: reservation.deadline) : .nameTaken(owner: reservation.pid)
        }
        let reservation = NameReservation(pid: pid, token: index, deadline: clock(after: timeout))
        reservations[name] = reservation
        deadlines[Deadline(at: reservation.deadline, subject: .reservation(name))] = true
        holdings[Holding(pid: pid, resource: .reservation(name))] = true
        return .nameReserved(token: reservation.token, deadline: reservation.deadline)
    }

    mutating func confirm(_ name: ByteKey, pid: PID, token: UInt64, changes: inout [CoordinationChange]) -> CoordinationResult {
        if let current = names[name], current.pid == pid, current.token == token, current.scope == .strong {
            return .nameRegistered(token: token)  // a retry of a confirmation that went through
        }
        // The clock advanced before this operation: a reservation past its deadline is already gone.
        guard let reservation = reservations[name], reservation.pid == pid, reservation.token == token else { return .reservationGone }
        dropReservation(name, reservation)
        names[name] = NameRecord(pid: pid, token: token, scope: .strong)
        strongNames += 1
        holdings[Holding(pid: pid, resource: .name(name))] = true
        changes.append(.nameRegistered(name: name, pid: pid, token: token))
        return .nameRegistered(token: token)
    }

    mutating func cancel(_ name: ByteKey, pid: PID, token: UInt64) -> CoordinationResult {
        guard let reservation = reservations[name], reservation.pid == pid, reservation.token == token else { return .reservationGone }
        dropReservation(name, reservation)
        return .reservationCancelled
    }

    /// Forgets a reservation with its deadline and holding.
    mutating func dropReservation(_ name: ByteKey, _ reservation: NameReservation) {
        reservations.removeValue(forKey: name)
        deadlines.removeValue(forKey: Deadline(at: reservation.deadline, subject: .reservation(name)))
        holdings.removeValue(forKey: Holding(pid: reservation.pid, resource: .reservation(name)))
    }
}
