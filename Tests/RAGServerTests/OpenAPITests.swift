import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationEssentialsCompat
import RAGServer
import RAGTesting
import Testing

/// docs/openapi.yaml against the server: every route the routers register is documented (and nothing else), and
/// the JSON the routes return uses exactly the properties the spec's schemas list.
@Suite struct OpenAPITests {
    static let specURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")

    static func spec() throws -> OpenAPIText {
        OpenAPIText(try String(contentsOf: specURL, encoding: .utf8))
    }

    /// "GET /v1/documents/{id}" for every route of the API and metrics routers.
    static func registeredOperations() async throws -> Set<String> {
        let state = try await TestServer().state()
        let api = buildRouter(state).routes.map { "\($0.method.rawValue) \($0.path)" }
        let metrics = buildMetricsRouter(state).routes.map { "\($0.method.rawValue) \($0.path)" }
        return Set(api + metrics)
    }

    @Test func everyRegisteredRouteIsDocumented() async throws {
        let registered = try await Self.registeredOperations()
        #expect(registered.count >= 12, "the routers register \(registered.sorted())")
        let missing = registered.subtracting(try Self.spec().operations)
        #expect(missing.isEmpty, "routes missing from docs/openapi.yaml: \(missing.sorted())")
    }

    @Test func everyDocumentedRouteIsRegistered() async throws {
        let stale = try Self.spec().operations.subtracting(try await Self.registeredOperations())
        #expect(stale.isEmpty, "docs/openapi.yaml documents routes the server does not have: \(stale.sorted())")
    }

    /// The reader itself: it finds paths and methods, and only those, so the checks above can fail.
    @Test func theSpecReaderFindsOperationsAndSchemas() {
        let text = OpenAPIText("""
            openapi: 3.1.0
            paths:
              /v1/documents:
                post:
                  summary: upload
                  responses:
                    "201": { description: created }
                get:
                  summary: list
              /v1/documents/{id}:
                delete:
                  parameters:
                    - name: id
            components:
              schemas:
                Upload:
                  type: object
                  required: [document, unchanged]
                  properties:
                    document: { $ref: "#/components/schemas/Document" }
                    unchanged:
                      type: boolean
                  example:
                    get: not-a-method
            """)
        #expect(text.operations == ["POST /v1/documents", "GET /v1/documents", "DELETE /v1/documents/{id}"])
        #expect(text.properties(of: "Upload") == ["document", "unchanged"])
        #expect(text.required(of: "Upload") == ["document", "unchanged"])
        #expect(text.properties(of: "Missing") == nil)
        let registered: Set = ["GET /v1/documents", "POST /v1/documents", "DELETE /v1/documents/{id}", "GET /v1/models"]
        #expect(registered.subtracting(text.operations) == ["GET /v1/models"])
    }

    @Test func responsesUseTheSchemasProperties() async throws {
        let spec = try Self.spec()
        let (app, _) = try await TestServer().app()
        // (schema, JSON) pairs from real responses.
        let samples: [(String, Data)] = try await app.test(.router) { client in
            var samples: [(String, Data)] = []
            func add(_ schema: String, _ object: Any?) {
                samples.append((schema, object.flatMap { try? JSONSerialization.data(withJSONObject: $0) } ?? Data()))
            }
            add("Readiness", try await client.execute(uri: "/readyz", method: .get).json)
            let upload = try await client.uploadHandbook().json
            add("Upload", upload)
            add("Document", upload["document"])
            add("DocumentList", try await client.execute(uri: "/v1/documents", method: .get).json)
            let search = try await client.execute(uri: "/v1/search", method: .post, body: Fixtures.jsonBody(["query": "vacation"])).json
            add("SearchResponse", search)
            add("Hit", (search["hits"] as? [Any])?.first)
            let answer = try await client.execute(uri: "/v1/ask", method: .post, body: Fixtures.jsonBody(["question": "How many vacation days?"])).json
            add("Answer", answer)
            add("Citation", (answer["citations"] as? [Any])?.first)
            add("Usage", answer["usage"])
            add("Timings", answer["timings"])
            let completion = try await client.execute(
                uri: "/v1/chat/completions", method: .post,
                body: Fixtures.jsonBody(["messages": [["role": "user", "content": "How many vacation days?"]]])).json
            add("ChatCompletion", completion)
            add("Usage", completion["usage"])
            add("ModelList", try await client.execute(uri: "/v1/models", method: .get).json)
            add("Error", try await client.execute(uri: "/v1/ask", method: .post, body: ByteBuffer(string: "{")).json)
            let id = try #require((upload["document"] as? [String: Any])?["id"] as? String)
            add("Removed", try await client.execute(uri: "/v1/documents/\(id)", method: .delete).json)
            return samples
        }
        #expect(samples.count == 15)
        for (schema, data) in samples {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                Issue.record("no JSON object to check against \(schema)")
                continue
            }
            guard let properties = spec.properties(of: schema), let required = spec.required(of: schema) else {
                Issue.record("docs/openapi.yaml has no schema \(schema) with properties")
                continue
            }
            let keys = Set(object.keys)
            #expect(keys.subtracting(properties).isEmpty, "\(schema): undocumented keys \(keys.subtracting(properties).sorted())")
            #expect(required.subtracting(keys).isEmpty, "\(schema): required keys missing \(required.subtracting(keys).sorted())")
        }
    }
}

/// A deliberately simple reader of the OpenAPI YAML text as docs/openapi.yaml writes it (two-space indents, block
/// style for paths and schemas): enough to list operations and a schema's top-level properties.
struct OpenAPIText {
    static let methods: Set = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
    let lines: [(indent: Int, text: String)]

    init(_ text: String) {
        lines = text.split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            return (line.count - trimmed.count, String(trimmed))
        }
    }

    /// The key of a `key:` or `key: value` line.
    static func key(_ text: String) -> String? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let key = text[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        return key.isEmpty || key.hasPrefix("-") ? nil : key
    }

    /// The lines nested under the line at `index` (more indented than it).
    func children(of index: Int) -> ArraySlice<(indent: Int, text: String)> {
        let indent = lines[index].indent
        let end = lines[(index + 1)...].firstIndex { $0.indent <= indent } ?? lines.endIndex
        return lines[(index + 1)..<end]
    }

    /// The index of the line `key:` directly under `parent` (or at the top level).
    func find(_ key: String, under parent: Int?) -> Int? {
        let scope = parent.map { children(of: $0) } ?? lines[...]
        guard let indent = scope.first?.indent else { return nil }
        return scope.indices.first { scope[$0].indent == indent && Self.key(scope[$0].text) == key }
    }

    /// The keys directly under the line at `index`.
    func keys(under index: Int) -> [String] {
        let scope = children(of: index)
        guard let indent = scope.first?.indent else { return [] }
        return scope.filter { $0.indent == indent }.compactMap { Self.key($0.text) }
    }

    /// "METHOD /path" for every operation under `paths:`.
    var operations: Set<String> {
        guard let paths = find("paths", under: nil) else { return [] }
        var result = Set<String>()
        for path in keys(under: paths) where path.hasPrefix("/") {
            guard let line = find(path, under: paths) else { continue }
            for method in keys(under: line) where Self.methods.contains(method) { result.insert("\(method.uppercased()) \(path)") }
        }
        return result
    }

    func schema(_ name: String) -> Int? {
        find("components", under: nil).flatMap { find("schemas", under: $0) }.flatMap { find(name, under: $0) }
    }

    /// The top-level property names of `components.schemas.NAME`.
    func properties(of name: String) -> Set<String>? {
        guard let schema = schema(name), let properties = find("properties", under: schema) else { return nil }
        return Set(keys(under: properties))
    }

    /// The `required: [a, b]` list of `components.schemas.NAME` (empty when it has none).
    func required(of name: String) -> Set<String>? {
        guard let schema = schema(name) else { return nil }
        guard let line = find("required", under: schema) else { return [] }
        let list = lines[line].text.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" }
        return Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }
}
