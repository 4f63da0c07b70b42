/// The chat page's files, embedded in the binary (no build step, nothing to install).
enum WebAssets {
    struct Asset {
        var contentType: String
        var text: String
    }

    static let contentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

    static let files: [String: Asset] = [
        "index.html": Asset(contentType: "text/html; charset=utf-8", text: indexHTML),
    ]

    static let indexHTML = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>pdf-chatbot</title></head>
        <body><h1>pdf-chatbot</h1><p>The chat page is being written.</p></body></html>
        """
}
