import CohortCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Processes

/// One process event as `/v1/sessions/{pid}/events` reports it.
///
/// - `{"type":"message","from":"<pid>"|null,"topic":"...","payload":"<text>"}` (`payload_b64` instead
///   when the bytes are not UTF-8)
/// - `{"type":"exit","pid":"<pid>","outcome":{...}}`: a monitor fired (EXIT)
/// - `{"type":"link_down","pid":"<pid>","outcome":{...}}`: a linked process exited (LINK_DOWN)
/// - `{"type":"cancel","reason":"..."}`: someone asked the session to stop (CANCEL)
///
/// An outcome is `{"kind": "normal"|"failed"|"cancelled"|"terminated"|"linked"|"no_process"|"node_down",
/// "reason": "..."}` (reason for failed and cancelled, the linked PID for linked).
struct EventView: Encodable {
    struct Outcome: Encodable {
        var kind: String
        var reason: String?
        var resultBase64: String?

        enum CodingKeys: String, CodingKey {
            case kind, reason
            case resultBase64 = "result_b64"
        }

        init(_ outcome: ProcessOutcome) {
            kind = outcome.label
            switch outcome {
            case .normal(let bytes): resultBase64 = bytes.map { Data($0).base64EncodedString() }
            case .failed(let why), .cancelled(let why): reason = why
            case .linked(let pid): reason = pid.description
            case .terminated, .noProcess, .nodeDown: break
            }
        }
    }

    var type: String
    var from: String?
    var topic: String?
    var payload: String?
    var payloadBase64: String?
    var pid: String?
    var outcome: Outcome?
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case type, from, topic, payload, pid, outcome, reason
        case payloadBase64 = "payload_b64"
    }

    init(_ event: ProcessEvent) {
        switch event {
        case .message(let message):
            type = "message"
            from = message.from?.description
            topic = message.topic
            if let text = String(validating: message.payload, as: UTF8.self) {
                payload = text
            } else {
                payloadBase64 = Data(message.payload).base64EncodedString()
            }
        case .exit(let pid, let outcome):
            type = "exit"
            self.pid = pid.description
            self.outcome = Outcome(outcome)
        case .linkDown(let pid, let outcome):
            type = "link_down"
            self.pid = pid.description
            self.outcome = Outcome(outcome)
        case .cancel(let reason):
            type = "cancel"
            self.reason = reason
        }
    }

    /// The event as one line of JSON (for an SSE `data:` field).
    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
