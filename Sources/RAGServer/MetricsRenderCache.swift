import Synchronization

/// Bounds what `/metrics` costs: the rendered text is served again for `interval` after it was made, and scrapes
/// that arrive while a rendering runs wait for that one instead of starting their own (single flight). A flood of
/// scrapes then costs at most one rendering per `interval`, plus one at a time, whatever its rate.
///
/// ```swift
/// let cache = MetricsRenderCache(interval: .seconds(1)) { metrics.render() }
/// let text = await cache.text()
/// ```
public final class MetricsRenderCache: Sendable {
    private struct State {
        var text: String?
        var renderedAt: ContinuousClock.Instant?
        var inFlight: Task<String, Never>?
        var renders = 0
        var joined = 0
    }

    /// How long a rendering is served again.
    public let interval: Duration
    private let render: @Sendable () async -> String
    private let state = Mutex(State())

    /// - Parameters:
    ///   - interval: how long a rendering is served again; `.zero` renders for every scrape, one at a time.
    ///   - render: makes the text (`RAGMetrics.render`); runs in a task of its own, never twice at once.
    public init(interval: Duration, render: @escaping @Sendable () async -> String) {
        self.interval = interval
        self.render = render
    }

    /// Renderings made so far.
    public var renders: Int { state.withLock { $0.renders } }

    /// Scrapes that waited for a rendering another scrape had started.
    public var joined: Int { state.withLock { $0.joined } }

    /// The rendered text: the last one if it is younger than `interval`, else the one in progress, else a new one.
    public func text() async -> String {
        enum Source {
            case cached(String)
            case rendering(Task<String, Never>)
        }
        let source: Source = state.withLock { state in
            if let text = state.text, let renderedAt = state.renderedAt, ContinuousClock.now - renderedAt < interval {
                return .cached(text)
            }
            if let inFlight = state.inFlight {
                state.joined += 1
                return .rendering(inFlight)
            }
            state.renders += 1
            // The task records its result under the lock, which this closure holds until `inFlight` is set.
            let task = Task { [render, weak self] in
                let text = await render()
                self?.state.withLock { state in
                    state.text = text
                    state.renderedAt = .now
                    state.inFlight = nil
                }
                return text
            }
            state.inFlight = task
            return .rendering(task)
        }
        switch source {
        case .cached(let text): return text
        case .rendering(let task): return await task.value
        }
    }
}
