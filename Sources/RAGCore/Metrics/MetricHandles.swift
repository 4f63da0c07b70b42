import Synchronization

/// Metric handles already made, by their label values.
///
/// swift-prometheus validates the metric name, the label names and the help text and takes the registry's lock on
/// every `make…` call; code that records on every request looks the handle up here instead, and calls `make…` only
/// the first time it meets a label set. The registry returns the same handle for the same name and labels, so the
/// rendered metrics are the same either way.
///
/// ```swift
/// let byRoute = MetricHandles<String, Counter>()
/// byRoute.get("/v1/ask") { registry.makeCounter(name: "requests_total", labels: [("route", $0)]) }.increment()
/// ```
///
/// Keys should come from small fixed sets (label values already must): the cache keeps every key it sees.
public final class MetricHandles<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
    private let handles = Mutex<[Key: Handle]>([:])

    public init() {}

    /// The handle for `key`, made by `make` the first time.
    public func get(_ key: Key, orMake make: (Key) -> Handle) -> Handle {
        if let handle = handles.withLock({ $0[key] }) { return handle }
        let handle = make(key)
        handles.withLock { $0[key] = handle }
        return handle
    }
}
