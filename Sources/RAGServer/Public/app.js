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
    indexVersion: 0,   // the newest index_version this page's writes returned: questions ask for at least it
    asking: null,      // the AbortController of the answer in progress
    activeCitation: null,
    returnFocus: null,
    pageImage: null,   // {controller, url} of the page image shown (or loading) in the source panel
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
    // "12 of 40 pages read by OCR, mean confidence 91": scanned pages, read by Tesseract.
    if (doc.reading && doc.reading.summary) meta.push(doc.reading.summary);
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
      const response = await api(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
      noteIndexVersion((await response.json()).index_version);
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
      waiting(text) {
        progress.removeAttribute("value");
        status.textContent = text;
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

  function noteIndexVersion(version) {
    if (typeof version === "number" && version > state.indexVersion) state.indexVersion = version;
  }

  /**
   * Follows a queued upload's status URL until the worker has made it ready or it failed, showing each state as it
   * comes: queued, processing (with the attempt), then indexed or the reason it failed.
   */
  async function followJob(job, view) {
    let pause = 500;
    for (;;) {
      if (job.status === "ready") {
        noteIndexVersion(job.index_version);
        const doc = job.document;
        view.done(doc ? `Indexed: ${plural(doc.pages, "page")}, ${plural(doc.chunks, "chunk")}.` : "Indexed.");
        await Promise.all([refreshDocuments(), refreshStatus()]);
        return;
      }
      if (job.status === "failed") {
        view.fail(job.error ? job.error.message || job.error.code : "The document could not be indexed.");
        return;
      }
      view.waiting(job.status === "processing"
        ? (job.attempts > 1 ? `Reading and indexing (attempt ${job.attempts})…` : "Reading and indexing…")
        : "Queued: waiting for a worker…");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 1.5, 3000);
      try {
        job = await (await api(job.status_url)).json();
      } catch (error) {
        if (error.status === 404) { view.fail("The upload is no longer queued (it was removed)."); return; }
        view.waiting(`Checking the status again… (${describe(error)})`);
      }
    }
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
        if (request.status >= 200 && request.status < 300 && body && body.status_url && !body.document) {
          await followJob(body, view);
        } else if (request.status >= 200 && request.status < 300 && body && body.document) {
          const doc = body.document;
          noteIndexVersion(body.index_version);
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
      const response = await api("/v1/ask", { method: "POST", json: { question, history, stream: true, ...(state.indexVersion ? { min_index_version: state.indexVersion } : {}) }, signal: controller.signal });
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
    showPageImage(citation);
    $("passage-panel").hidden = false;
    $("layout").classList.add("with-passage");
    $("passage-title").focus();
  }
  /** Forgets the page image shown: stops its download and frees its object URL. */
  function dropPageImage() {
    if (!state.pageImage) return;
    state.pageImage.controller.abort();
    if (state.pageImage.url) URL.revokeObjectURL(state.pageImage.url);
    state.pageImage = null;
    $("passage-image").removeAttribute("src");
  }

  /**
   * Shows the cited page, drawn by the server with the passage highlighted, beside the snippet; and the page's printed
   * label when the PDF has page labels. Fetched with the API key (an <img src> could not send it), as a blob.
   */
  async function showPageImage(citation) {
    dropPageImage();
    const figure = $("passage-figure");
    const image = $("passage-image");
    const note = $("passage-image-note");
    $("passage-label-row").hidden = true;
    image.removeAttribute("data-highlights");
    const known = state.documents.find((doc) => doc.id === citation.document_id);
    if (typeof citation.chunk_index !== "number" || !citation.document_id || (known && known.kind !== "pdf")) {
      figure.hidden = true;
      return;
    }
    const controller = new AbortController();
    const shown = { controller, url: null };
    state.pageImage = shown;
    figure.hidden = false;
    figure.classList.add("loading");
    figure.classList.remove("unavailable");
    note.textContent = `Loading page ${citation.page}`;
    image.alt = `Page ${citation.page} of ${citation.file}, with the cited passage highlighted`;
    const path = `/v1/documents/${encodeURIComponent(citation.document_id)}/pages/${citation.page}/image`
      + `?chunk=${citation.chunk_index}`;
    try {
      const response = await api(path, { signal: controller.signal });
      const blob = await response.blob();
      if (state.pageImage !== shown) return;  // another citation was clicked meanwhile
      shown.url = URL.createObjectURL(blob);
      image.setAttribute("data-highlights", response.headers.get("X-Highlight-Count") || "0");
      image.src = shown.url;
      const label = response.headers.get("X-Page-Label");
      if (label) {
        let text = label;
        try { text = decodeURIComponent(label); } catch (error) { /* keep it as sent */ }
        $("passage-label").textContent = text;
        $("passage-label-row").hidden = false;
      }
      note.textContent = response.headers.get("X-Highlight-Count") === "0"
        ? `Page ${citation.page}; the passage could not be located on it`
        : `Page ${citation.page}, the passage highlighted`;
    } catch (error) {
      if (error.name === "AbortError" || state.pageImage !== shown) return;
      figure.classList.add("unavailable");
      note.textContent = `The page cannot be shown: ${describe(error)}`;
    } finally {
      if (state.pageImage === shown) figure.classList.remove("loading");
    }
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
    dropPageImage();
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
