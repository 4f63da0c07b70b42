/// The chat page's files, embedded in the binary (nothing to install beside it, nothing fetched from elsewhere).
/// They live in `Sources/RAGServer/Public/`; the EmbedWebAssets build plugin turns them into `embeddedFiles` at build
/// time. `GET /` serves `index.html`; `GET /assets/{name}` serves the others.
///
/// The page follows the server's Content-Security-Policy (`default-src 'self'`): no inline scripts or styles,
/// and document text is only ever inserted as text nodes (`textContent`, `append(string)`), never as HTML.
enum WebAssets {
    struct Asset {
        var contentType: String
        var text: String
    }

    static let contentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"

    /// Each embedded file with its content type (by extension; files of other kinds are not served).
    static let files: [String: Asset] = embeddedFiles.reduce(into: [:]) { files, entry in
        let types = [
            "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
            "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
        ]
        guard let type = types[String(entry.key.split(separator: ".").last ?? "")] else { return }
        files[entry.key] = Asset(contentType: type, text: entry.value)
    }
}
