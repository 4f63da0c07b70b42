/// Facts about this build of the engine, for `--version`, `rag doctor` and the server's start-up log.
public enum BuildInfo {
    /// The release version. The Helm chart's `appVersion` says the same (a test checks it).
    public static let version = "0.1.0"
}
