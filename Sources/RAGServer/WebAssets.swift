/// The chat page's files, embedded in the binary (no build step, nothing to install, nothing fetched from
/// elsewhere). `GET /` serves `index.html`; `GET /assets/{name}` serves the others.
///
/// The page follows the server's Content-Security-Policy (`default-src 'self'`): no inline scripts or styles,
/// and document text is only ever inserted as text nodes (`textContent`, `append(string)`), never as HTML.
enum WebAssets {
    struct Asset {
        var contentType: String
        var text: String
    }

    static let contentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

    static let files: [String: Asset] = [
        "index.html": Asset(contentType: "text/html; charset=utf-8", text: indexHTML),
        "app.css": Asset(contentType: "text/css; charset=utf-8", text: appCSS),
        "app.js": Asset(contentType: "text/javascript; charset=utf-8", text: appJS),
        "icon.svg": Asset(contentType: "image/svg+xml", text: iconSVG),
    ]

    static let iconSVG = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M10 7h9l5 5v13a1 1 0 0 1-1 1H10a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z" fill="#fff"/><path d="M19 7v5h5" fill="#c7d2fe"/><path d="M12 16h8M12 19.5h8M12 23h5" stroke="#4f46e5" stroke-width="1.6" stroke-linecap="round"/></svg>
        """#

    static let indexHTML = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>pdf-chatbot</title>
        <link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="/assets/app.css">
        <script src="/assets/app.js" defer></script>
        </head>
        <body>
        <a class="skip-link" href="#question">Skip to the question box</a>
        <header class="topbar">
          <div class="brand"><img src="/assets/icon.svg" alt="" width="28" height="28"><span>pdf-chatbot</span></div>
          <p class="status" id="status" aria-live="polite"><span class="dot" id="status-dot"></span><span id="status-text">Connecting…</span></p>
          <div class="topbar-actions">
            <button type="button" id="new-chat" class="ghost">New conversation</button>
            <button type="button" id="key-button" class="ghost">API key</button>
          </div>
        </header>
        <div class="banners">
          <div id="llm-banner" class="banner info" role="status" hidden>
            <strong>No language model is configured.</strong>
            <span>Answers quote your documents directly; set <code>OPENAI_API_KEY</code> (or <code>OPENAI_BASE_URL</code> for a local OpenAI-compatible server) on the server to get written answers.</span>
          </div>
          <div id="error-banner" class="banner error" role="alert" hidden>
            <span id="error-text"></span>
            <button type="button" id="error-close" class="icon-button" aria-label="Dismiss the error">×</button>
          </div>
        </div>
        <main class="layout" id="layout">
          <section class="panel docs" id="docs-panel" aria-labelledby="docs-title">
            <div class="panel-head">
              <h2 id="docs-title">Documents</h2>
              <span id="doc-count" class="count"></span>
            </div>
            <div id="dropzone" class="dropzone">
              <input type="file" id="file-input" class="visually-hidden" multiple
                     accept=".pdf,.txt,.md,.markdown,application/pdf,text/plain,text/markdown">
              <label for="file-input" class="dropzone-label">
                <svg class="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 16V4m0 0-4.5 4.5M12 4l4.5 4.5M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>
                <span class="dropzone-title">Drop PDFs here</span>
                <span class="dropzone-sub">or <span class="link">choose files</span> · PDF, TXT, Markdown</span>
              </label>
            </div>
            <p id="read-only-note" class="note" hidden>This deployment serves a read-only collection: documents are added by the ingestion job, not from this page.</p>
            <ul id="uploads" class="uploads" aria-label="Uploads"></ul>
            <ul id="doc-list" class="doc-list" aria-label="Indexed documents"></ul>
            <p id="doc-empty" class="empty">No documents yet. Upload a PDF to start.</p>
          </section>
          <section class="panel chat" aria-labelledby="chat-title">
            <h2 id="chat-title" class="visually-hidden">Conversation</h2>
            <div id="messages" class="messages" role="log" aria-live="polite" aria-relevant="additions">
              <div id="welcome" class="welcome">
                <h3 id="welcome-title">Ask your documents</h3>
                <p id="welcome-text">Upload a PDF, then ask a question about it. Answers cite their sources: select a number like <span class="cite-sample">1</span> to read the passage.</p>
              </div>
            </div>
            <form id="ask-form" class="composer" novalidate>
              <label for="question" class="visually-hidden">Your question</label>
              <textarea id="question" name="question" rows="1" placeholder="Ask a question about your documents…" autocomplete="off"></textarea>
              <button type="submit" id="ask-button" class="primary">Ask</button>
              <button type="button" id="stop-button" class="secondary" hidden>Stop</button>
            </form>
            <p class="hint" id="composer-hint">Enter to send · Shift+Enter for a new line</p>
          </section>
          <aside id="passage-panel" class="panel passage" aria-labelledby="passage-title" hidden>
            <div class="panel-head">
              <h2 id="passage-title" tabindex="-1">Source</h2>
              <button type="button" id="passage-close" class="icon-button" aria-label="Close the source">×</button>
            </div>
            <dl class="passage-meta">
              <div><dt>File</dt><dd id="passage-file"></dd></div>
              <div><dt>Page</dt><dd id="passage-pages"></dd></div>
              <div><dt>Relevance</dt><dd id="passage-score"></dd></div>
            </dl>
            <blockquote id="passage-text" class="passage-text"></blockquote>
          </aside>
        </main>
        <dialog id="key-dialog" aria-labelledby="key-title">
          <form method="dialog" id="key-form">
            <h2 id="key-title">API key</h2>
            <p id="key-reason">This server needs an API key.</p>
            <label for="key-input">API key</label>
            <input id="key-input" name="key" type="password" autocomplete="off" spellcheck="false">
            <p class="muted">Kept in this browser (localStorage) and sent as <code>Authorization: Bearer</code>.</p>
            <div class="dialog-actions">
              <button type="submit" value="forget" class="ghost" id="key-forget">Forget key</button>
              <span class="spacer"></span>
              <button type="submit" value="cancel" class="ghost">Cancel</button>
              <button type="submit" value="save" class="primary" id="key-save">Save</button>
            </div>
          </form>
        </dialog>
        </body>
        </html>
        """#

    static let appCSS = #"""
        :root {
          --bg: #f4f5f8; --panel: #ffffff; --panel-2: #f8f9fb; --text: #1c2030; --muted: #646b7d; --border: #e1e4eb;
          --accent: #4f46e5; --accent-hover: #4338ca; --accent-soft: #eef0ff; --accent-text: #ffffff;
          --danger: #c2281d; --danger-soft: #fdecea; --ok: #15803d; --ok-soft: #e8f6ed; --warn: #8a5a00; --warn-soft: #fff5db;
          --user: #4f46e5; --user-text: #ffffff; --focus: 0 0 0 3px rgba(79, 70, 229, .35);
          --radius: 12px; --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
          font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
          font-size: 15px; line-height: 1.5; color: var(--text); background: var(--bg);
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #12141b; --panel: #1a1d27; --panel-2: #20242f; --text: #e6e8ee; --muted: #9aa1b2; --border: #2d3240;
            --accent: #8b85ff; --accent-hover: #a5a0ff; --accent-soft: #272a4a; --accent-text: #12141b;
            --danger: #ff8a80; --danger-soft: #3a1f1f; --ok: #6ee7a0; --ok-soft: #17301f; --warn: #ffd27a; --warn-soft: #352c14;
            --user: #4f46e5; --user-text: #ffffff; --focus: 0 0 0 3px rgba(139, 133, 255, .45);
            --shadow: none;
          }
        }
        *, *::before, *::after { box-sizing: border-box; }
        html, body { height: 100%; }
        body { margin: 0; display: flex; flex-direction: column; min-height: 100vh; }
        h2, h3 { margin: 0; }
        code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; }
        button, input, textarea { font: inherit; color: inherit; }
        :focus-visible { outline: none; box-shadow: var(--focus); }
        .visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
          overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
        .skip-link { position: absolute; left: 8px; top: -48px; background: var(--accent); color: var(--accent-text);
          padding: 8px 12px; border-radius: 8px; z-index: 10; text-decoration: none; }
        .skip-link:focus { top: 8px; }
        .muted { color: var(--muted); font-size: .9em; }

        /* Buttons */
        button { cursor: pointer; border-radius: 8px; border: 1px solid transparent; padding: 7px 14px; background: none; }
        button:disabled { cursor: not-allowed; opacity: .55; }
        .primary { background: var(--accent); color: var(--accent-text); font-weight: 600; }
        .primary:hover:not(:disabled) { background: var(--accent-hover); }
        .secondary { background: var(--panel-2); border-color: var(--border); font-weight: 600; }
        .secondary:hover { border-color: var(--muted); }
        .ghost { color: var(--muted); border-color: var(--border); background: var(--panel); }
        .ghost:hover { color: var(--text); border-color: var(--muted); }
        .icon-button { border: 0; width: 30px; height: 30px; padding: 0; font-size: 20px; line-height: 1; color: var(--muted); }
        .icon-button:hover { background: var(--panel-2); color: var(--text); }

        /* Top bar */
        .topbar { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: var(--panel);
          border-bottom: 1px solid var(--border); }
        .brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 17px; letter-spacing: -.01em; }
        .status { margin: 0; display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 13.5px;
          padding: 4px 10px; border-radius: 999px; background: var(--panel-2); border: 1px solid var(--border);
          min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--muted); flex: none; }
        .dot.ok { background: var(--ok); }
        .dot.warn { background: #e0a100; }
        .dot.bad { background: var(--danger); }
        .topbar-actions { margin-left: auto; display: flex; gap: 8px; }
        .topbar-actions button { font-size: 13.5px; padding: 6px 12px; }
        #key-button.has-key::before { content: "● "; color: var(--ok); }

        /* Banners */
        .banners { padding: 0 20px; }
        .banner { margin-top: 12px; padding: 10px 14px; border-radius: 10px; display: flex; gap: 8px; align-items: baseline;
          flex-wrap: wrap; font-size: 14px; border: 1px solid; }
        .banner.info { background: var(--warn-soft); color: var(--warn); border-color: rgba(224, 161, 0, .35); }
        .banner.error { background: var(--danger-soft); color: var(--danger); border-color: rgba(194, 40, 29, .3); align-items: center; }
        .banner.error span { flex: 1; }
        .banner[hidden] { display: none; }

        /* Layout */
        .layout { flex: 1; min-height: 0; display: grid; gap: 16px; padding: 16px 20px 20px;
          grid-template-columns: minmax(250px, 310px) minmax(0, 1fr); }
        .layout.with-passage { grid-template-columns: minmax(250px, 310px) minmax(0, 1fr) minmax(280px, 380px); }
        .panel { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow);
          min-height: 0; }
        .panel-head { display: flex; align-items: center; justify-content: space-between; gap: 8px; margin-bottom: 12px; }
        .panel-head h2 { font-size: 15px; font-weight: 650; }
        .count { font-size: 12px; font-weight: 600; color: var(--muted); background: var(--panel-2); border: 1px solid var(--border);
          border-radius: 999px; padding: 1px 8px; }
        .count:empty { display: none; }

        /* Documents */
        .docs { padding: 16px; display: flex; flex-direction: column; overflow: auto; max-height: calc(100vh - 110px); }
        .dropzone { position: relative; }
        .dropzone-label { display: flex; flex-direction: column; align-items: center; gap: 4px; text-align: center; cursor: pointer;
          padding: 20px 12px; border: 1.5px dashed var(--border); border-radius: 10px; background: var(--panel-2);
          transition: border-color .15s, background .15s; }
        .dropzone-label:hover, .dropzone.dragging .dropzone-label { border-color: var(--accent); background: var(--accent-soft); }
        .dropzone input:focus-visible + .dropzone-label { box-shadow: var(--focus); border-color: var(--accent); }
        .dropzone-icon { width: 26px; height: 26px; color: var(--accent); }
        .dropzone-title { font-weight: 600; }
        .dropzone-sub { color: var(--muted); font-size: 13px; }
        .link { color: var(--accent); text-decoration: underline; text-underline-offset: 2px; }
        .dropzone[hidden] { display: none; }
        .note { font-size: 13px; color: var(--muted); background: var(--panel-2); border-radius: 8px; padding: 10px; margin: 0; }
        .uploads, .doc-list { list-style: none; margin: 0; padding: 0; }
        .uploads { margin-top: 10px; display: flex; flex-direction: column; gap: 6px; }
        .upload { border: 1px solid var(--border); border-radius: 8px; padding: 8px 10px; font-size: 13px; display: grid;
          grid-template-columns: minmax(0, 1fr) auto; gap: 4px 8px; align-items: center; }
        .upload-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .upload-state { grid-column: 1 / -1; color: var(--muted); }
        .upload progress { grid-column: 1 / -1; width: 100%; height: 6px; accent-color: var(--accent); }
        .upload.done { border-color: rgba(21, 128, 61, .3); background: var(--ok-soft); }
        .upload.done .upload-state { color: var(--ok); }
        .upload.failed { border-color: rgba(194, 40, 29, .35); background: var(--danger-soft); }
        .upload.failed .upload-state { color: var(--danger); font-weight: 500; }
        .doc-list { margin-top: 14px; display: flex; flex-direction: column; gap: 2px; }
        .doc { display: grid; grid-template-columns: 28px minmax(0, 1fr) auto; gap: 2px 10px; align-items: center;
          padding: 8px; border-radius: 8px; }
        .doc:hover { background: var(--panel-2); }
        .doc-icon { grid-row: span 2; width: 28px; height: 34px; border-radius: 4px; background: var(--accent-soft); color: var(--accent);
          font-size: 9px; font-weight: 700; display: flex; align-items: flex-end; justify-content: center; padding-bottom: 5px; }
        .doc-name { font-weight: 600; font-size: 14px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .doc-meta { grid-column: 2; color: var(--muted); font-size: 12.5px; }
        .doc-actions { grid-row: 1 / span 2; grid-column: 3; }
        .doc-delete { color: var(--muted); border: 1px solid transparent; padding: 4px 8px; font-size: 12.5px; }
        .doc-delete:hover, .doc-delete.confirming { color: var(--danger); border-color: rgba(194, 40, 29, .35); background: var(--danger-soft); }
        .doc-warnings { grid-column: 2 / -1; font-size: 12.5px; color: var(--warn); }
        .doc-warnings summary { cursor: pointer; }
        .doc-warnings ul { margin: 4px 0 0; padding-left: 18px; }
        .empty { color: var(--muted); font-size: 13.5px; text-align: center; margin: 18px 0 4px; }
        .empty[hidden] { display: none; }

        /* Chat */
        .chat { display: flex; flex-direction: column; max-height: calc(100vh - 110px); min-height: 420px; }
        .messages { flex: 1; overflow-y: auto; padding: 20px 24px; display: flex; flex-direction: column; gap: 18px; scroll-behavior: smooth; }
        .welcome { margin: auto; max-width: 440px; text-align: center; color: var(--muted); }
        .welcome h3 { color: var(--text); font-size: 20px; margin-bottom: 6px; }
        .welcome[hidden] { display: none; }
        .cite-sample { display: inline-block; min-width: 18px; padding: 0 5px; border-radius: 5px; background: var(--accent-soft);
          color: var(--accent); font-weight: 700; font-size: 12px; }
        .turn { display: flex; flex-direction: column; gap: 10px; }
        .bubble { max-width: min(760px, 92%); padding: 10px 14px; border-radius: 14px; overflow-wrap: anywhere; }
        .bubble.user { align-self: flex-end; background: var(--user); color: var(--user-text); border-bottom-right-radius: 4px;
          white-space: pre-wrap; }
        .bubble.assistant { align-self: flex-start; background: var(--panel-2); border: 1px solid var(--border); border-bottom-left-radius: 4px; }
        .answer p { margin: 0 0 8px; }
        .answer p:last-child, .answer ul:last-child, .answer ol:last-child { margin-bottom: 0; }
        .answer ul, .answer ol { margin: 0 0 8px; padding-left: 22px; }
        .answer li + li { margin-top: 4px; }
        .answer.pending::after { content: ""; display: inline-block; width: 7px; height: 15px; margin-left: 2px; vertical-align: -2px;
          background: var(--accent); animation: blink 1s steps(2) infinite; }
        @keyframes blink { 50% { opacity: 0; } }
        .thinking { color: var(--muted); font-style: italic; }
        .cite { display: inline-flex; align-items: center; justify-content: center; min-width: 20px; height: 19px; padding: 0 5px;
          margin: 0 1px; border-radius: 5px; border: 0; background: var(--accent-soft); color: var(--accent); font-size: 12px;
          font-weight: 700; vertical-align: 1px; line-height: 1; }
        .cite:hover, .cite.active { background: var(--accent); color: var(--accent-text); }
        .sources { margin-top: 10px; padding-top: 10px; border-top: 1px solid var(--border); }
        .sources h4 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
        .sources ol { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
        .source { display: inline-flex; align-items: center; gap: 6px; padding: 4px 10px 4px 4px; border-radius: 999px;
          border: 1px solid var(--border); background: var(--panel); font-size: 13px; max-width: 100%; }
        .source:hover, .source.active { border-color: var(--accent); }
        .source-number { background: var(--accent-soft); color: var(--accent); border-radius: 999px; min-width: 22px; height: 22px;
          display: inline-flex; align-items: center; justify-content: center; font-weight: 700; font-size: 12px; }
        .source-file { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .source-page { color: var(--muted); white-space: nowrap; }
        .answer p.remark { color: var(--muted); font-size: 13px; }
        .passage-text mark { background: rgba(250, 204, 21, .35); color: inherit; border-radius: 3px; padding: 0 1px; }
        .answer-meta { margin-top: 8px; font-size: 12px; color: var(--muted); }
        .bubble.failed { background: var(--danger-soft); border-color: rgba(194, 40, 29, .35); }
        .turn-error { color: var(--danger); margin: 8px 0 0; font-weight: 500; }
        .turn-error:first-child { margin-top: 0; }
        .composer { display: flex; gap: 10px; align-items: flex-end; padding: 14px 16px 6px; border-top: 1px solid var(--border); }
        .composer textarea { flex: 1; resize: none; min-height: 44px; max-height: 200px; padding: 10px 12px; border-radius: 10px;
          border: 1px solid var(--border); background: var(--panel-2); line-height: 1.45; }
        .composer textarea:focus-visible { border-color: var(--accent); }
        .composer button { height: 44px; padding: 0 20px; }
        .hint { margin: 0; padding: 0 16px 10px; font-size: 12px; color: var(--muted); }

        /* Passage */
        .passage { padding: 16px; overflow: auto; max-height: calc(100vh - 110px); }
        .passage[hidden] { display: none; }
        .passage-meta { margin: 0 0 12px; display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
        .passage-meta div:first-child { grid-column: 1 / -1; }
        .passage-meta dt { font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
        .passage-meta dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
        .passage-text { margin: 0; padding: 12px 14px; border-left: 3px solid var(--accent); background: var(--panel-2);
          border-radius: 0 8px 8px 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 14px; }

        /* Dialog */
        dialog { border: 1px solid var(--border); border-radius: 14px; padding: 22px; width: min(440px, calc(100vw - 32px));
          background: var(--panel); color: var(--text); box-shadow: 0 20px 50px rgba(0, 0, 0, .25); }
        dialog::backdrop { background: rgba(15, 18, 30, .45); }
        dialog h2 { font-size: 18px; margin-bottom: 6px; }
        dialog label { display: block; font-weight: 600; margin: 12px 0 4px; }
        dialog input { width: 100%; padding: 9px 11px; border-radius: 8px; border: 1px solid var(--border); background: var(--panel-2); }
        .dialog-actions { display: flex; gap: 8px; margin-top: 16px; }
        .spacer { flex: 1; }

        /* Narrow screens: one column; the source opens as a sheet over the page. */
        @media (max-width: 820px) {
          .topbar { flex-wrap: wrap; padding: 10px 14px; gap: 10px; }
          .status { order: 3; width: 100%; }
          .banners { padding: 0 14px; }
          .layout, .layout.with-passage { grid-template-columns: minmax(0, 1fr); padding: 12px 14px; }
          .docs { max-height: 40vh; }
          .chat { max-height: none; min-height: 70vh; }
          .passage { position: fixed; left: 0; right: 0; bottom: 0; max-height: 65vh; z-index: 20; border-radius: 16px 16px 0 0;
            box-shadow: 0 -12px 40px rgba(0, 0, 0, .25); }
        }
        @media (prefers-reduced-motion: reduce) {
          .messages { scroll-behavior: auto; }
          .answer.pending::after { animation: none; }
        }
        """#

    static let appJS = #"""
        // pdf-chatbot chat page. No framework and no build step; document text is only ever inserted as text.
        "use strict";
        (() => {
          const KEY_STORAGE = "pdf-chatbot.api-key";
          const MAX_HISTORY_MESSAGES = 20;
          const $ = (id) => document.getElementById(id);

          const state = {
            key: readStoredKey(),
            history: [],       // [{role, content}] of finished turns, sent with follow-up questions
            documents: [],
            readOnly: false,
            asking: null,      // the AbortController of the answer in progress
            activeCitation: null,
            returnFocus: null,
          };

          // ---------- small helpers ----------

          /** Creates an element; `text` sets textContent, `on*` adds listeners, strings are appended as text. */
          function el(tag, props = {}, ...children) {
            const node = document.createElement(tag);
            for (const [name, value] of Object.entries(props)) {
              if (value === undefined || value === null || value === false) continue;
              if (name === "class") node.className = value;
              else if (name === "text") node.textContent = value;
              else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
              else node.setAttribute(name, value === true ? "" : String(value));
            }
            for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
            return node;
          }
          const plural = (n, word) => `${n}\u00a0${word}${n === 1 ? "" : "s"}`;
          function formatBytes(bytes) {
            if (bytes < 1024) return `${bytes}\u00a0B`;
            if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)}\u00a0KB`;
            return `${(bytes / 1024 / 1024).toFixed(1)}\u00a0MB`;
          }
          const pages = (c) => (c.page === c.page_end ? `p. ${c.page}` : `pp. ${c.page}–${c.page_end}`);

          class APIError extends Error {
            constructor(status, code, message, requestID) {
              super(message);
              this.status = status;
              this.code = code;
              this.requestID = requestID || null;
            }
          }
          function describe(error) {
            if (error instanceof APIError) {
              const id = error.requestID ? ` (request ${error.requestID})` : "";
              return `${error.message}${id}`;
            }
            return error && error.message ? error.message : String(error);
          }

          function showError(message) {
            $("error-text").textContent = message;
            $("error-banner").hidden = false;
          }
          $("error-close").addEventListener("click", () => { $("error-banner").hidden = true; });
          window.addEventListener("unhandledrejection", (event) => showError(`Unexpected error: ${describe(event.reason)}`));
          window.addEventListener("error", (event) => showError(`Unexpected error: ${event.message}`));

          // ---------- API key ----------

          function readStoredKey() {
            try { return localStorage.getItem(KEY_STORAGE) || ""; } catch (error) { return ""; }
          }
          function storeKey(key) {
            state.key = key;
            try {
              if (key) localStorage.setItem(KEY_STORAGE, key); else localStorage.removeItem(KEY_STORAGE);
            } catch (error) {
              showError(`The API key cannot be kept in this browser (${error.message}); it is used for this page only.`);
            }
            updateKeyButton();
          }
          function updateKeyButton() {
            const button = $("key-button");
            button.classList.toggle("has-key", Boolean(state.key));
            button.textContent = state.key ? "API key set" : "API key";
          }

          let keyPrompt = null;
          /** Asks for an API key in a dialog; resolves true when a key was saved. Concurrent callers share one dialog. */
          function askForKey(reason) {
            if (keyPrompt) return keyPrompt;
            const dialog = $("key-dialog");
            $("key-reason").textContent = reason;
            $("key-input").value = state.key;
            dialog.returnValue = "";
            keyPrompt = new Promise((resolve) => {
              dialog.addEventListener("close", () => {
                keyPrompt = null;
                const value = $("key-input").value.trim();
                if (dialog.returnValue === "save" && value) { storeKey(value); resolve(true); return; }
                if (dialog.returnValue === "forget") storeKey("");
                resolve(false);
              }, { once: true });
              dialog.showModal();
              $("key-input").focus();
            });
            return keyPrompt;
          }
          // Enter in the key field saves (the form's first submit button is "Forget key").
          $("key-input").addEventListener("keydown", (event) => {
            if (event.key === "Enter") {
              event.preventDefault();
              $("key-dialog").close("save");
            }
          });
          $("key-button").addEventListener("click", async () => {
            if (await askForKey("Set the API key this page sends to the server.")) refreshAll();
          });

          // ---------- HTTP ----------

          async function errorFrom(response) {
            let code = `http_${response.status}`;
            let message = `${response.status} ${response.statusText || "error"}`;
            try {
              const body = await response.json();
              if (body && body.error) {
                code = body.error.code || code;
                message = body.error.message || message;
              }
            } catch (error) { /* not JSON: keep the status line as the message */ }
            return new APIError(response.status, code, message, response.headers.get("X-Request-ID"));
          }

          function unauthorizedReason() {
            return state.key ? "The server did not accept the API key. Enter a valid key."
                             : "This server needs an API key. Enter yours to continue.";
          }

          /** fetch with the API key; on 401 asks for a key and retries; throws APIError for any non-2xx answer. */
          async function api(path, { method = "GET", json, signal } = {}) {
            for (let attempt = 0; ; attempt += 1) {
              const headers = {};
              if (state.key) headers.Authorization = `Bearer ${state.key}`;
              let body;
              if (json !== undefined) {
                headers["Content-Type"] = "application/json";
                body = JSON.stringify(json);
              }
              let response;
              try {
                response = await fetch(path, { method, headers, body, signal });
              } catch (error) {
                if (error.name === "AbortError") throw error;
                throw new APIError(0, "network", `Cannot reach the server (${error.message}).`);
              }
              if (response.status === 401 && attempt < 3 && await askForKey(unauthorizedReason())) continue;
              if (!response.ok) throw await errorFrom(response);
              return response;
            }
          }

          /** Reads a text/event-stream response body, yielding {event, data} with data parsed as JSON. */
          async function* serverSentEvents(response) {
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let buffer = "";
            for (;;) {
              const { value, done } = await reader.read();
              buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
              buffer = buffer.replace(/\r\n?/g, "\n");
              let end;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                let event = "message";
                const data = [];
                for (const line of block.split("\n")) {
                  if (line.startsWith("event:")) event = line.slice(6).trim();
                  else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
                }
                if (data.length === 0) continue;
                let parsed;
                try { parsed = JSON.parse(data.join("\n")); } catch (error) {
                  throw new APIError(0, "bad_event", `The server sent an unreadable '${event}' event.`);
                }
                yield { event, data: parsed };
              }
              if (done) return;
            }
          }

          // ---------- status ----------

          async function refreshStatus() {
            const dot = $("status-dot");
            try {
              const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
              if (!response.ok) throw await errorFrom(response);
              const ready = await response.json();
              const generative = Boolean(ready.llm && ready.llm.generative);
              state.readOnly = Boolean(ready.read_only);
              $("llm-banner").hidden = generative;
              $("dropzone").hidden = state.readOnly;
              $("read-only-note").hidden = !state.readOnly;
              const model = generative ? `Model: ${ready.llm.model}` : "No language model: quoting documents";
              $("status-text").textContent = `${model} · ${plural(ready.documents, "document")} · ${plural(ready.chunks, "passage")}`;
              dot.className = generative ? "dot ok" : "dot warn";
            } catch (error) {
              dot.className = "dot bad";
              $("status-text").textContent = "Server not ready";
              showError(`The server is not ready: ${describe(error)}`);
            }
          }

          // ---------- documents ----------

          async function refreshDocuments() {
            try {
              const response = await api("/v1/documents");
              const body = await response.json();
              state.documents = body.documents || [];
              renderDocuments();
            } catch (error) {
              showError(`Cannot list the documents: ${describe(error)}`);
            }
          }

          function renderDocuments() {
            const docs = state.documents;
            $("doc-list").replaceChildren(...docs.map(documentItem));
            $("doc-empty").hidden = docs.length > 0;
            $("doc-count").textContent = docs.length ? String(docs.length) : "";
            $("welcome-text").textContent = docs.length
              ? `Ask anything about your ${plural(docs.length, "document")}. Answers cite their sources: select a number to read the passage.`
              : "Upload a PDF, then ask a question about it. Answers cite their sources: select a number to read the passage.";
          }

          function documentItem(doc) {
            const meta = [plural(doc.pages, "page"), plural(doc.chunks, "chunk"), formatBytes(doc.bytes)];
            if (doc.indexed_pages < doc.pages) meta.push(`${doc.pages - doc.indexed_pages} without text`);
            const kind = (doc.kind === "markdown" ? "MD" : doc.kind || "pdf").toUpperCase();
            const title = doc.title && doc.title !== doc.file ? `${doc.title} — ${doc.file}` : doc.file;
            const item = el("li", { class: "doc", "data-id": doc.id, "data-file": doc.file },
              el("span", { class: "doc-icon", "aria-hidden": "true", text: kind }),
              el("span", { class: "doc-name", title, text: doc.file }),
              el("span", { class: "doc-meta", title: `Added ${new Date(doc.ingested_at).toLocaleString()}`, text: meta.join(" · ") }));
            if (!state.readOnly) {
              const button = el("button", { type: "button", class: "doc-delete", "aria-label": `Delete ${doc.file}`, text: "Delete" });
              button.addEventListener("click", () => deleteDocument(doc, button));
              item.append(el("span", { class: "doc-actions" }, button));
            }
            if (doc.warnings && doc.warnings.length) {
              item.append(el("details", { class: "doc-warnings" },
                el("summary", { text: plural(doc.warnings.length, "warning") }),
                el("ul", {}, doc.warnings.map((w) => el("li", { text: w.page ? `Page ${w.page}: ${w.message}` : w.message })))));
            }
            return item;
          }

          async function deleteDocument(doc, button) {
            if (!button.classList.contains("confirming")) {
              button.classList.add("confirming");
              button.textContent = "Confirm";
              button.setAttribute("aria-label", `Confirm deleting ${doc.file}`);
              setTimeout(() => {
                if (!button.isConnected || button.disabled) return;
                button.classList.remove("confirming");
                button.textContent = "Delete";
                button.setAttribute("aria-label", `Delete ${doc.file}`);
              }, 4000);
              return;
            }
            button.disabled = true;
            button.textContent = "Deleting…";
            try {
              await api(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
            } catch (error) {
              showError(`Cannot delete ${doc.file}: ${describe(error)}`);
            }
            await Promise.all([refreshDocuments(), refreshStatus()]);
          }

          // ---------- uploads ----------

          let uploadQueue = Promise.resolve();
          function uploadFiles(files) {
            if (state.readOnly) {
              showError("This deployment is read-only: documents are added by the ingestion job.");
              return;
            }
            for (const file of files) {
              const view = uploadView(file);
              $("uploads").prepend(view.item);
              uploadQueue = uploadQueue.then(() => upload(file, view)).catch((error) => view.fail(describe(error)));
            }
          }

          function uploadView(file) {
            const status = el("span", { class: "upload-state", text: "Waiting…" });
            const progress = el("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
            const dismiss = el("button", { type: "button", class: "icon-button", "aria-label": `Dismiss ${file.name}`, text: "×" });
            const item = el("li", { class: "upload", "data-file": file.name },
              el("span", { class: "upload-name", title: file.name, text: file.name }), dismiss, progress, status);
            dismiss.addEventListener("click", () => item.remove());
            return {
              item,
              progress(fraction) {
                progress.value = fraction;
                status.textContent = `Uploading… ${Math.round(fraction * 100)}% of ${formatBytes(file.size)}`;
              },
              indexing() {
                progress.removeAttribute("value");
                status.textContent = "Reading and indexing…";
              },
              done(text) {
                progress.remove();
                item.classList.add("done");
                status.textContent = text;
                setTimeout(() => item.remove(), 8000);
              },
              fail(message) {
                progress.remove();
                item.classList.add("failed");
                status.setAttribute("role", "alert");
                status.textContent = message;
              },
            };
          }

          /** Uploads one file as multipart/form-data (XMLHttpRequest, for upload progress). */
          function upload(file, view, attempt = 0) {
            return new Promise((resolve) => {
              const form = new FormData();
              form.append("file", file, file.name);
              const request = new XMLHttpRequest();
              request.open("POST", "/v1/documents");
              if (state.key) request.setRequestHeader("Authorization", `Bearer ${state.key}`);
              request.upload.addEventListener("progress", (event) => {
                if (event.lengthComputable) view.progress(event.loaded / event.total);
              });
              request.upload.addEventListener("load", () => view.indexing());
              request.addEventListener("load", async () => {
                let body = null;
                try { body = JSON.parse(request.responseText); } catch (error) { /* reported below */ }
                if (request.status === 401 && attempt < 3 && await askForKey(unauthorizedReason())) {
                  resolve(upload(file, view, attempt + 1));
                  return;
                }
                if (request.status >= 200 && request.status < 300 && body && body.document) {
                  const doc = body.document;
                  view.done(body.unchanged ? "Already indexed (same file)."
                    : `Indexed: ${plural(doc.pages, "page")}, ${plural(doc.chunks, "chunk")}.`);
                  await Promise.all([refreshDocuments(), refreshStatus()]);
                } else if (body && body.error) {
                  view.fail(body.error.message || body.error.code);
                } else if (request.status === 413) {
                  view.fail("The file is larger than the server's upload limit (RAG_MAX_UPLOAD_BYTES).");
                } else {
                  view.fail(`The upload failed: HTTP ${request.status} ${request.statusText}`);
                }
                resolve();
              });
              request.addEventListener("error", () => {
                view.fail("The upload was interrupted: the connection closed. The file may be larger than the server's upload limit.");
                resolve();
              });
              request.addEventListener("abort", () => { view.fail("The upload was cancelled."); resolve(); });
              view.progress(0);
              request.send(form);
            });
          }

          $("file-input").addEventListener("change", (event) => {
            const files = Array.from(event.target.files || []);
            event.target.value = "";
            uploadFiles(files);
          });
          // Files dropped anywhere on the page are uploaded; the browser must never navigate to them.
          let dragDepth = 0;
          const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
          window.addEventListener("dragenter", (event) => {
            if (!hasFiles(event)) return;
            dragDepth += 1;
            $("dropzone").classList.add("dragging");
          });
          window.addEventListener("dragleave", () => {
            dragDepth = Math.max(0, dragDepth - 1);
            if (dragDepth === 0) $("dropzone").classList.remove("dragging");
          });
          window.addEventListener("dragover", (event) => {
            if (!hasFiles(event)) return;
            event.preventDefault();
            event.dataTransfer.dropEffect = state.readOnly ? "none" : "copy";
          });
          window.addEventListener("drop", (event) => {
            if (!hasFiles(event)) return;
            event.preventDefault();
            dragDepth = 0;
            $("dropzone").classList.remove("dragging");
            uploadFiles(Array.from(event.dataTransfer.files));
          });

          // ---------- answers ----------

          /** Renders answer text: paragraphs, "- " and "1. " lists, **bold**, and [n] / [1, 2] as citation buttons. */
          function renderAnswer(container, text, citations) {
            container.replaceChildren();
            for (const block of text.split(/\n{2,}/)) {
              let paragraph = null;
              let list = null;
              for (const line of block.split("\n")) {
                const bullet = line.match(/^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/);
                if (bullet) {
                  const tag = bullet[1] ? "ol" : "ul";
                  if (!list || list.tagName.toLowerCase() !== tag) {
                    list = el(tag);
                    container.append(list);
                  }
                  const item = el("li");
                  inline(item, bullet[2], citations);
                  list.append(item);
                  paragraph = null;
                } else if (line.trim()) {
                  if (!paragraph) {
                    paragraph = el("p");
                    container.append(paragraph);
                  } else {
                    paragraph.append(el("br"));
                  }
                  inline(paragraph, line, citations);
                  list = null;
                  // A paragraph that is one parenthetical remark (the extractive answerer's notice) is set apart.
                  if (/^\(.*\)$/.test(block.trim())) paragraph.classList.add("remark");
                }
              }
            }
          }

          function inline(parent, text, citations) {
            const pattern = /\*\*([^*]+)\*\*|\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
            let last = 0;
            for (const match of text.matchAll(pattern)) {
              parent.append(text.slice(last, match.index));
              if (match[1] !== undefined) {
                parent.append(el("strong", { text: match[1] }));
              } else {
                const numbers = match[2].split(/[,;]/).map((n) => Number(n.trim()));
                if (numbers.every((n) => citations.has(n))) {
                  for (const n of numbers) parent.append(citeButton(citations.get(n)));
                } else {
                  parent.append(match[0]);
                }
              }
              last = match.index + match[0].length;
            }
            parent.append(text.slice(last));
          }

          /** The quoted sentences of an answer ("..." of 20 characters or more), marked in the passages they cite. */
          function quotesIn(text) {
            return Array.from(text.matchAll(/["“]([^"“”]{20,})["”]/g), (m) => m[1].replace(/…$/, ""));
          }

          function citeButton(citation) {
            const label = `Source ${citation.number}: ${citation.file}, ${pages(citation)}`;
            const button = el("button", { type: "button", class: "cite", title: label, "aria-label": label,
              "data-number": citation.number, text: String(citation.number) });
            button.addEventListener("click", () => showPassage(citation, button));
            return button;
          }

          function sourcesList(citations, heading) {
            const list = el("ol");
            for (const citation of citations) {
              const button = el("button", { type: "button", class: "source", "data-number": citation.number,
                  "aria-label": `Source ${citation.number}: ${citation.file}, ${pages(citation)}` },
                el("span", { class: "source-number", text: String(citation.number) }),
                el("span", { class: "source-file", text: citation.file }),
                el("span", { class: "source-page", text: pages(citation) }));
              button.addEventListener("click", () => showPassage(citation, button));
              list.append(el("li", {}, button));
            }
            return el("div", { class: "sources" }, el("h4", { text: heading }), list);
          }

          function scrollToEnd(force) {
            const box = $("messages");
            if (force || box.scrollHeight - box.scrollTop - box.clientHeight < 120) box.scrollTop = box.scrollHeight;
          }

          /** The view of one question and its answer. */
          function turnView(question) {
            const answer = el("div", { class: "answer pending" }, el("span", { class: "thinking", text: "Searching your documents…" }));
            const bubble = el("div", { class: "bubble assistant", "aria-busy": "true" }, answer);
            const turn = el("div", { class: "turn" }, el("div", { class: "bubble user", text: question }), bubble);
            $("welcome").hidden = true;
            $("messages").append(turn);
            scrollToEnd(true);
            let text = "";
            let citations = new Map();
            let frame = 0;
            const render = () => {
              frame = 0;
              renderAnswer(answer, text, citations);
              scrollToEnd(false);
            };
            return {
              passages(list) {
                citations = new Map(list.map((c) => [c.number, c]));
                if (!text) answer.replaceChildren(el("span", { class: "thinking", text: `Reading ${plural(list.length, "passage")}…` }));
              },
              delta(piece) {
                text += piece;
                if (!frame) frame = requestAnimationFrame(render);
              },
              done(result) {
                if (frame) cancelAnimationFrame(frame);
                const all = new Map((result.passages || []).map((c) => [c.number, c]));
                for (const c of result.citations || []) all.set(c.number, c);
                text = result.answer;
                renderAnswer(answer, text, all);
                answer.classList.remove("pending");
                bubble.removeAttribute("aria-busy");
                if (result.citations && result.citations.length) bubble.append(sourcesList(result.citations, "Sources"));
                else if (result.passages && result.passages.length) bubble.append(sourcesList(result.passages, "Passages searched"));
                const meta = [result.answered === false ? "No passage was relevant enough to answer from"
                  : result.generated ? result.model : "Quoted from your documents (no language model)",
                  `${result.timings.total_s.toFixed(1)} s`];
                if (result.generated) meta.push(`${result.usage.total_tokens} tokens${result.usage.estimated ? " (estimated)" : ""}`);
                bubble.append(el("p", { class: "answer-meta", text: meta.join(" · ") }));
                bubble.classList.add("finished");
                scrollToEnd(false);
              },
              fail(message) {
                if (frame) cancelAnimationFrame(frame);
                answer.classList.remove("pending");
                bubble.removeAttribute("aria-busy");
                if (text) renderAnswer(answer, text, citations); else answer.replaceChildren();
                bubble.classList.add("failed");
                bubble.append(el("p", { class: "turn-error", role: "alert", text: message }));
                scrollToEnd(false);
              },
            };
          }

          async function ask(question) {
            const view = turnView(question);
            const controller = new AbortController();
            state.asking = controller;
            setAsking(true);
            try {
              const history = state.history.slice(-MAX_HISTORY_MESSAGES);
              const response = await api("/v1/ask", { method: "POST", json: { question, history, stream: true }, signal: controller.signal });
              let finished = false;
              for await (const { event, data } of serverSentEvents(response)) {
                if (event === "passages") view.passages(data.passages || []);
                else if (event === "delta") view.delta(data.text || "");
                else if (event === "done") {
                  view.done(data);
                  finished = true;
                  state.history.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
                } else if (event === "error") {
                  const error = data.error || {};
                  throw new APIError(0, error.code || "error", error.message || "The answer failed.");
                }
              }
              if (!finished) throw new APIError(0, "incomplete", "The answer stream ended before the answer was complete.");
            } catch (error) {
              if (error.name === "AbortError") view.fail("Stopped.");
              else view.fail(describe(error));
            } finally {
              state.asking = null;
              setAsking(false);
            }
          }

          function setAsking(asking) {
            $("ask-button").hidden = asking;
            $("stop-button").hidden = !asking;
            if (!asking) $("question").focus();
          }

          const question = $("question");
          function fitQuestion() {
            question.style.height = "auto";
            question.style.height = `${Math.min(question.scrollHeight + 2, 200)}px`;
          }
          question.addEventListener("input", fitQuestion);
          question.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              $("ask-form").requestSubmit();
            }
          });
          $("ask-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const text = question.value.trim();
            if (!text || state.asking) return;
            question.value = "";
            fitQuestion();
            ask(text);
          });
          $("stop-button").addEventListener("click", () => { if (state.asking) state.asking.abort(); });
          $("new-chat").addEventListener("click", () => {
            if (state.asking) state.asking.abort();
            state.history = [];
            for (const turn of document.querySelectorAll("#messages .turn")) turn.remove();
            $("welcome").hidden = false;
            closePassage();
            question.focus();
          });

          // ---------- the source panel ----------

          function showPassage(citation, trigger) {
            if (state.activeCitation) state.activeCitation.classList.remove("active");
            state.activeCitation = trigger;
            trigger.classList.add("active");
            state.returnFocus = trigger;
            const answer = trigger.closest(".bubble") && trigger.closest(".bubble").querySelector(".answer");
            state.quotes = answer ? quotesIn(answer.textContent) : [];
            $("passage-title").textContent = `Source ${citation.number}`;
            $("passage-file").textContent = citation.file;
            $("passage-pages").textContent = citation.page === citation.page_end
              ? `Page ${citation.page}` : `Pages ${citation.page}–${citation.page_end}`;
            $("passage-score").textContent = typeof citation.score === "number" ? citation.score.toFixed(3) : "–";
            markQuotes($("passage-text"), citation.snippet, state.quotes || []);
            $("passage-panel").hidden = false;
            $("layout").classList.add("with-passage");
            $("passage-title").focus();
          }
          /** Sets the passage text, wrapping the parts the answer quotes in <mark> (as text nodes, never HTML). */
          function markQuotes(container, text, quotes) {
            container.replaceChildren();
            const flat = text.replace(/\s+/g, " ");
            const spans = [];
            for (const quote of quotes) {
              const at = flat.indexOf(quote.replace(/\s+/g, " "));
              if (at >= 0) spans.push([at, at + quote.replace(/\s+/g, " ").length]);
            }
            if (spans.length === 0) { container.textContent = text; return; }
            // Map positions in the whitespace-collapsed text back to the original.
            const map = [];
            let previousSpace = false;
            for (let i = 0; i < text.length; i += 1) {
              const space = /\s/.test(text[i]);
              if (space && previousSpace) continue;
              map.push(i);
              previousSpace = space;
            }
            map.push(text.length);
            spans.sort((a, b) => a[0] - b[0]);
            let last = 0;
            for (const [start, end] of spans) {
              const from = map[start];
              const to = map[end];
              if (from < last) continue;
              container.append(text.slice(last, from), el("mark", { text: text.slice(from, to) }));
              last = to;
            }
            container.append(text.slice(last));
          }

          function closePassage() {
            if ($("passage-panel").hidden) return;
            $("passage-panel").hidden = true;
            $("layout").classList.remove("with-passage");
            if (state.activeCitation) state.activeCitation.classList.remove("active");
            state.activeCitation = null;
            if (state.returnFocus && state.returnFocus.isConnected) state.returnFocus.focus();
          }
          $("passage-close").addEventListener("click", closePassage);
          document.addEventListener("keydown", (event) => {
            if (event.key === "Escape" && !$("key-dialog").open) closePassage();
          });

          // ---------- start ----------

          async function refreshAll() {
            await refreshStatus();  // first: read-only mode decides whether documents get delete buttons
            await refreshDocuments();
          }
          updateKeyButton();
          refreshAll().finally(() => document.body.setAttribute("data-ready", "true"));
          question.focus();
        })();
        """#
}
