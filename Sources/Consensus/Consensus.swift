// The Raft consensus core.
