// The internode mesh: handshake, framing, per-class queues, request/reply; the MeshService shell.
