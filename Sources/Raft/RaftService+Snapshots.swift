import CohortCore
import RaftCore
import RaftPersistence
import Logging
import Mesh

/// How snapshots travel: the leader streams the stored snapshot's data to a follower as `.raftSnapshot`
/// requests in the bulk class, one chunk in flight at a time (``SnapshotChunk``); the follower assembles
/// them (``SnapshotAssembly``) and hands message and data to the core once the data is whole and checked.
/// A new attempt after a cut first asks where the follower is and continues from there.
extension RaftService {
    /// One outgoing transfer: the task streaming it and the snapshot it streams.
    struct OutgoingSnapshot {
        var id: UInt64
        var snapshot: SnapshotIdentity
        var task: Task<Void, Never>
    }

    /// The newest snapshot a node holds to send: its metadata and size, and its data while storage cannot
    /// read it back in parts (``RaftStorage/readsSnapshotsInParts``) or has not saved it yet. With
    /// `FileRaftStorage` a node does not keep its snapshot (the size of the whole state) in memory.
    struct HeldSnapshot: Sendable {
        var metadata: SnapshotMetadata
        var size: Int
        var data: [UInt8]?
    }

    /// `snapshot` as this node holds it from now on: without its data once `saved` and storage reads it
    /// back in parts.
    func hold(_ snapshot: StoredSnapshot, saved: Bool) -> HeldSnapshot {
        HeldSnapshot(metadata: snapshot.metadata, size: snapshot.data.count, data: saved && storage.readsSnapshotsInParts ? nil : snapshot.data)
    }

    /// Why an outgoing transfer stopped short.
    private enum TransferFailure: Error, CustomStringConvertible {
        case mesh(MeshError)
        case unreadable(RaftServiceError)
        case malformedReply
        case superseded
        case checksumMismatch
        case noProgress(offset: UInt64)

        var description: String {
            switch self {
            case .mesh(let error): "\(error)"
            case .unreadable(let error): "the stored snapshot cannot be read: \(error)"
            case .malformedReply: "the follower's reply does not decode"
            case .superseded: "the follower is assembling a newer snapshot"
            case .checksumMismatch: "the data failed its checksum at the follower twice"
            case .noProgress(let offset): "the follower keeps asking for offset \(offset) without taking it"
            }
        }
    }

    /// The core asked for a snapshot to go to `message.to`: starts streaming it, unless that very snapshot
    /// is already streaming there (the core asks again after `snapshotTimeoutTicks`, and a big snapshot
    /// may well take longer). A transfer of an older snapshot to the same peer is cancelled.
    func sendSnapshot(_ message: Message, _ metadata: SnapshotMetadata) {
        let peer = message.to
        guard let snapshot = currentSnapshot, snapshot.metadata == metadata else {
            logger.error("raft snapshot requested that is not the stored one", metadata: [
                "peer": "\(peer)", "raft.snapshot_index": "\(metadata.index)",
            ])
            node.reportSnapshot(to: peer, delivered: false)
            return
        }
        let identity = SnapshotIdentity(index: metadata.index, term: metadata.term)
        if let running = outgoingSnapshots[peer] {
            if running.snapshot == identity { return }
            running.task.cancel()
        }
        nextOutgoingSnapshot += 1
        let id = nextOutgoingSnapshot
        let encoded = codec.encode(message)
        let task = Task { await self.stream(snapshot, message: encoded, to: peer, transfer: id) }
        outgoingSnapshots[peer] = OutgoingSnapshot(id: id, snapshot: identity, task: task)
    }

    /// Cancels every outgoing transfer (the service stops, or this node no longer leads).
    func cancelOutgoingSnapshots() {
        for transfer in outgoingSnapshots.values { transfer.task.cancel() }
        outgoingSnapshots = [:]
    }

    /// Streams one snapshot to `peer`: a query first (where is the follower with it?), then chunks from
    /// the offset each reply names until the follower reports it complete. Any failure is reported to the
    /// core as an undelivered snapshot; it will ask again, and the next attempt resumes.
    private func stream(_ snapshot: HeldSnapshot, message: [UInt8], to peer: NodeID, transfer id: UInt64) async {
        let identity = SnapshotIdentity(index: snapshot.metadata.index, term: snapshot.metadata.term)
        let total = UInt64(snapshot.size)
        let checksum: UInt32
        do {
            checksum = try await checksumOf(snapshot)
        } catch {
            return failed(transfer: id, peer: peer, identity, .unreadable(error))
        }
        let chunkBytes = UInt64(min(max(1, settings.snapshotChunkBytes), RaftServiceSettings.maxSnapshotChunkBytes))
        var request = SnapshotChunk.query(identity, total: total, checksum: checksum)
        var chunks = 0
        var mismatches = 0
        var stalls = 0
        var failure: TransferFailure?
        while failure == nil {
            let reply: SnapshotChunkReply
            do {
                reply = try await exchange(request, with: peer)
            } catch let error as MeshError {
                if case .noHandler = error, request.isQuery, await sendWholeSnapshot(message, snapshot, to: peer) {
                    // A follower of an earlier release: it takes the whole snapshot as one message.
                    return finish(transfer: id, peer: peer)
                }
                failure = .mesh(error)
                break
            } catch is CancellationError {
                return
            } catch {
                failure = .malformedReply
                break
            }
            // Replaced by a newer transfer, or the service stopped: its owner reports, not this task.
            guard !Task.isCancelled, outgoingSnapshots[peer]?.id == id else { return }
            let next: UInt64
            switch reply {
            case .complete:
                logger.info("raft snapshot sent", metadata: [
                    "peer": "\(peer)", "raft.snapshot_index": "\(identity.index)", "bytes": "\(total)", "chunks": "\(chunks)",
                ])
                metrics?.countTransfer(.delivered)
                return finish(transfer: id, peer: peer)
            case .superseded:
                failure = .superseded
                continue
            case .checksumMismatch:
                mismatches += 1
                metrics?.countDropped(.malformed)
                logger.warning("raft snapshot failed its checksum at the follower; sending it again", metadata: [
                    "peer": "\(peer)", "raft.snapshot_index": "\(identity.index)",
                ])
                if mismatches > 1 { failure = .checksumMismatch; continue }
                next = 0
            case .next(let offset):
                guard offset <= total else { failure = .malformedReply; continue }
                next = offset
            }
            if request.isQuery, next > 0 {
                logger.info("raft snapshot transfer resumed", metadata: [
                    "peer": "\(peer)", "raft.snapshot_index": "\(identity.index)", "offset": "\(next)", "bytes": "\(total)",
                ])
                metrics?.snapshotTransfersResumed.increment()
            }
            // A follower that answers a chunk with the offset it was sent at (or earlier, other than a
            // restart) is not taking it; give up after a few rather than loop.
            if !request.isQuery, next <= request.offset, reply != .checksumMismatch {
                stalls += 1
                if stalls > 3 { failure = .noProgress(offset: next); continue }
            } else {
                stalls = 0
            }
            let end = min(next + chunkBytes, total)
            let bytes: [UInt8]
            do {
                bytes = try await part(of: snapshot, from: Int(next), count: Int(end - next))
            } catch {
                failure = .unreadable(error)
                continue
            }
            request = SnapshotChunk(
                snapshot: identity, total: total, checksum: checksum, offset: next,
                message: end == total ? message : [], bytes: bytes
            )
            chunks += 1
            metrics?.snapshotBytesSent.increment(by: Int64(bytes.count))
        }
        failed(transfer: id, peer: peer, identity, failure)
    }

    /// Reports a transfer that stopped short: to the log, the metrics and the core (it asks again later).
    private func failed(transfer id: UInt64, peer: NodeID, _ identity: SnapshotIdentity, _ failure: TransferFailure?) {
        let reason = failure.map { "\($0)" } ?? "unknown"
        metrics?.countTransfer(.failed)
        logger.warning("raft snapshot not sent", metadata: [
            "peer": "\(peer)", "raft.snapshot_index": "\(identity.index)", "reason": "\(reason)",
        ])
        finish(transfer: id, peer: peer)
        node.reportSnapshot(to: peer, delivered: false)
        kick()
    }

    /// `count` bytes of the snapshot's data from `offset`: from memory, or read from storage off the event
    /// loop (exactly that many, or it throws).
    private func part(of snapshot: HeldSnapshot, from offset: Int, count: Int) async throws(RaftServiceError) -> [UInt8] {
        if let data = snapshot.data { return Array(data[offset..<(offset + count)]) }
        let storage = storage, metadata = snapshot.metadata
        let bytes = try await offLoop { () throws(RaftStorageError) in try storage.snapshotData(metadata, offset: offset, count: count) }
        guard bytes.count == count else {
            throw .storage(.corrupt(path: "snapshot \(metadata.index)", reason: "\(bytes.count) bytes at \(offset), expected \(count)"))
        }
        return bytes
    }

    /// One chunk out, its reply back. Throws the mesh's error, `CancellationError`, or
    /// ``TransferFailure/malformedReply``.
    private func exchange(_ chunk: SnapshotChunk, with peer: NodeID) async throws -> SnapshotChunkReply {
        let bytes = try await mesh.request(
            chunk.encode(), to: peer, endpoint: .raftSnapshot, class: .bulk, timeout: settings.snapshotChunkTimeout
        )
        guard let reply = SnapshotChunkReply.decode(bytes) else { throw TransferFailure.malformedReply }
        return reply
    }

    /// The earlier release's way (format version 2, one message), for a follower that has no
    /// `.raftSnapshot` request handler; false when it cannot go that way (unreadable, too big, or not
    /// queued).
    private func sendWholeSnapshot(_ message: [UInt8], _ snapshot: HeldSnapshot, to peer: NodeID) async -> Bool {
        guard let data = try? await part(of: snapshot, from: 0, count: snapshot.size) else { return false }
        let payload = SnapshotPayload.encode(message: message, data: data)
        guard case .queued = mesh.send(payload, to: peer, endpoint: .raftSnapshot, class: .bulk) else { return false }
        logger.info("raft snapshot sent", metadata: [
            "peer": "\(peer)", "bytes": "\(data.count)", "format": "2",
        ])
        metrics?.countTransfer(.delivered)
        metrics?.snapshotBytesSent.increment(by: Int64(data.count))
        return true
    }

    private func finish(transfer id: UInt64, peer: NodeID) {
        if outgoingSnapshots[peer]?.id == id { outgoingSnapshots[peer] = nil }
    }

    /// The CRC-32C of a snapshot's data, computed once per snapshot off the event loop: from memory, or
    /// by reading the stored snapshot through (which checks its file's own checksum on the way).
    private func checksumOf(_ snapshot: HeldSnapshot) async throws(RaftServiceError) -> UInt32 {
        let identity = SnapshotIdentity(index: snapshot.metadata.index, term: snapshot.metadata.term)
        if let cached = snapshotChecksum, cached.snapshot == identity { return cached.checksum }
        let checksum: UInt32
        if let data = snapshot.data {
            checksum = try await offLoop { () throws(RaftStorageError) in CRC32C.checksum(data) }
        } else {
            let storage = storage, metadata = snapshot.metadata
            let summary = try await offLoop { () throws(RaftStorageError) in try storage.snapshotSummary(metadata) }
            guard let summary, summary.size == snapshot.size else {
                throw .storage(.corrupt(path: "snapshot \(metadata.index)", reason: "its stored size is not \(snapshot.size)"))
            }
            checksum = summary.checksum
        }
        snapshotChecksum = (identity, checksum)
        return checksum
    }

    // MARK: Receiving

    /// A chunk (or query) from a leader: assembled, answered with the offset expected next; the chunk that
    /// completes a checked snapshot steps the core with its message, as a whole snapshot always did.
    func receiveSnapshotChunk(_ inbound: MeshInbound) async throws(RaftServiceError) -> [UInt8] {
        guard let chunk = SnapshotChunk.decode(inbound.payload) else {
            metrics?.countDropped(.malformed)
            throw .malformedRequest
        }
        if let hook = settings.snapshotChunkReceivedForTesting { await hook(inbound.from, chunk) }
        guard phase == .running, !bootstrapping else { throw .stopped }
        catchUpParkedTicks()
        defer { rearmTicks() }  // a transfer under way has an idle deadline
        switch snapshotAssembly.receive(chunk, from: inbound.from, now: .now) {
        case .reply(let reply):
            if reply == .checksumMismatch {
                metrics?.countDropped(.malformed)
                logger.warning("raft snapshot from the leader failed its checksum; asking for it again", metadata: [
                    "peer": "\(inbound.from)", "raft.snapshot_index": "\(chunk.snapshot.index)",
                ])
            }
            return reply.encode()
        case .complete(let message, let data):
            // Data whole and checked, but a message that is no snapshot from that peer (counted where it is
            // refused) installs nothing: the leader hears an error, not "complete".
            guard deliverSnapshot(message, data: data, from: inbound.from) else { throw .malformedRequest }
            kick()
            return SnapshotChunkReply.complete.encode()
        }
    }

    /// A whole snapshot (message and data) from `peer`: the data is kept for the install and the core is
    /// stepped with the message. Both formats end here. A message that does not decode, is misaddressed
    /// or is not a snapshot is counted and dropped (false).
    @discardableResult
    func deliverSnapshot(_ bytes: [UInt8], data: [UInt8], from peer: NodeID) -> Bool {
        guard let message = decode(bytes, from: peer) else { return false }
        guard case .snapshot(let metadata) = message.kind else {
            metrics?.countDropped(.malformed)
            logger.debug("raft snapshot dropped: its message is not a snapshot", metadata: ["peer": "\(peer)", "message": "\(message)"])
            return false
        }
        receivedSnapshots[metadata.index] = data
        node.step(message)
        noteContact(from: message.from)
        // Keep only the data of the snapshot the core is about to install (a `Ready` already handed out
        // carries its own copy): anything it refused would never be asked for.
        let pending = node.log.unstableSnapshot?.index
        receivedSnapshots = receivedSnapshots.filter { $0.key == pending }
        return true
    }

    /// Drops incoming transfers idle for ``RaftServiceSettings/snapshotTransferIdleTimeout``.
    func expireSnapshotTransfers(now: ContinuousClock.Instant) {
        for sender in snapshotAssembly.expire(now: now) {
            logger.info("raft snapshot transfer dropped: idle", metadata: ["peer": "\(sender)"])
        }
    }
}
