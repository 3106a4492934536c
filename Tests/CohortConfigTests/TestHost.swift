import CohortConfig

/// A 32-byte key, base64.
let keyA = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
/// A 16-byte key, base64.
let keyB = "ZmVkY2JhOTg3NjU0MzIxMA=="
/// A 24-byte key, base64.
let keyC = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4"

/// The bytes of a base64 test key.
func bytes(_ base64: String) -> [UInt8] {
    switch base64 {
    case keyA: Array("0123456789abcdef0123456789abcdef".utf8)
    case keyB: Array("fedcba9876543210".utf8)
    case keyC: Array("abcdefghijklmnopqrstuvwx".utf8)
    default: []
    }
}

/// A loader over a fake host: no real environment, disk or host name.
func loader(
    environment: [String: String] = [:],
    hostName: String = "testhost",
    home: String? = "/home/test",
    files: [String: String] = [:]
) -> ConfigLoader {
    ConfigLoader(environment: environment, hostName: hostName, homeDirectory: home) { path in
        guard let text = files[path] else { throw ConfigLoader.ReadFailure(reason: "No such file or directory") }
        return Array(text.utf8)
    }
}

/// The error `body` throws, or nil.
func configError(_ body: () throws(ConfigError) -> CohortSettings) -> ConfigError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The description of the error loading `yaml` gives, or "no error".
func loadError(_ yaml: String, environment: [String: String] = [:], files: [String: String] = [:]) -> String {
    configError { () throws(ConfigError) in
        try loader(environment: environment, files: files).load(yaml: yaml)
    }?.description ?? "no error"
}
