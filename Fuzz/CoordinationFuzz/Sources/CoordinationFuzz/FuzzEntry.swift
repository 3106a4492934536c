import CohortCore
import CoordinationCore
import PlaneCore

/// Feeds one input to every coordination decoder. Each must return a value or throw its typed error. A
/// decoded command must survive re-encoding (its time and operation unchanged) and apply to a state
/// without trapping; a decoded snapshot of the current format must write the same bytes again (the format
/// is canonical; an earlier format restores and is written in the current one); a
/// decoded result, query or answer must decode again from its own encoding to the same thing. A crash, a
/// hang or a failed check is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let command = try? CoordinationCommand.decode(bytes) {
        guard (try? CoordinationCommand.decode(command.encoded())) == command else { fatalError("command does not survive re-encoding: \(command)") }
        var state = CoordinationState()
        _ = state.apply(command, index: 1)
        _ = state.apply(CoordinationCommand(.sweep, time: command.time &+ 3_600_000), index: 2)
    }
    if let result = try? CoordinationResult.decode(bytes) {
        guard (try? CoordinationResult.decode(result.encoded())) == result else { fatalError("result does not survive re-encoding: \(result)") }
    }
    if let state = try? CoordinationState(snapshot: bytes), bytes.starts(with: [0x43, 0x53, 0x4D, 2]) {
        guard state.snapshot() == bytes else { fatalError("a snapshot does not write the same bytes again") }
    }
    if let query = try? ReplicaQuery.decode(bytes) {
        guard (try? ReplicaQuery.decode(query.encoded())) == query else { fatalError("query does not survive re-encoding: \(query)") }
        _ = query.answer(from: CoordinationState())
    }
    if let answer = try? ReplicaAnswer.decode(bytes) {
        guard (try? ReplicaAnswer.decode(answer.encoded())) != nil else { fatalError("answer does not decode from its own encoding") }
    }
    if let message = try? PlaneMessage(decoding: bytes) {
        guard (try? PlaneMessage(decoding: message.encoded())) == message else { fatalError("plane message does not survive re-encoding: \(message)") }
    }
    // Every plane entry point takes any bytes without trapping.
    var sync = PlaneSync(selfID: NodeID("fuzz"), incarnation: Incarnation(1))
    sync.addPlane("p")
    sync.addPlane("q", owner: { entry in entry.value.flatMap { PID(String(decoding: $0, as: UTF8.self)) } })
    let time = PlaneTime(physicalMillis: 1_700_000_000_000, localMillis: 1)
    _ = sync.receiveEntries(bytes, at: time)
    _ = sync.receiveDigest(bytes, at: time)
    _ = sync.answerPull(bytes)
    _ = sync.tick(at: PlaneTime(physicalMillis: 1_800_000_000_000, localMillis: 100_000_000))
    return 0
}
