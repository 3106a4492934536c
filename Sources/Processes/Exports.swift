// `import Processes` brings the process table's types too (PIDs' outcomes, events, signals): the runtime's
// API is made of them.
@_exported import ProcessCore
