// The coordination state machine's pure core: see docs/coordination.md.
