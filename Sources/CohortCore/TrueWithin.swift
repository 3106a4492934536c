/// True when `operation` returns true before `timeout` passes; false when it returns false, or the timeout
/// passes first (its task is then cancelled, so `operation` must end on cancellation).
public func trueWithin(_ timeout: Duration, _ operation: @escaping @Sendable () async -> Bool) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask { await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}
