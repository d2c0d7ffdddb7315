// The dashboard's only script (the Content-Security-Policy allows no inline code).
//
// - shows times in the operator's own time zone;
// - keeps a form from being sent twice;
// - polls the live JSON endpoints every two seconds and adds or updates bubbles and rows.
//
// Everything a customer wrote is put into the page with textContent, never as HTML: the JSON
// carries plain text, and the page is built element by element.
"use strict";

(function () {
  const POLL_MS = 2000;
  const HIDDEN_POLL_MS = 10000; // a background tab needs no two-second updates
  const SVG_NS = "http://www.w3.org/2000/svg";

  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
  const csrfToken = meta("csrf-token");
  const sprite = meta("icon-sprite");

  // -- small DOM helpers -----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(name, className) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", className ? `feather ${className}` : "feather");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const use = document.createElementNS(SVG_NS, "use");
    use.setAttribute("href", `${sprite}#${name}`);
    svg.appendChild(use);
    return svg;
  }

  function withIcon(node, name, text) {
    node.append(icon(name), ` ${text}`);
    return node;
  }

  // -- times -----------------------------------------------------------------------------------

  const clockFormat = new Intl.DateTimeFormat(undefined, {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const hhmmFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

  function ago(date) {
    const seconds = Math.max(0, Math.floor((Date.now() - date.getTime()) / 1000));
    if (seconds >= 86400) return `${Math.floor(seconds / 86400)} d ago`;
    if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ago`;
    if (seconds >= 60) return `${Math.floor(seconds / 60)} min ago`;
    return "just now";
  }

  function localizeTimes(root) {
    for (const time of root.querySelectorAll("time[datetime]")) {
      const value = time.getAttribute("datetime");
      if (!value) continue;
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) continue;
      time.title = date.toString();
      if (time.hasAttribute("data-clock")) time.textContent = clockFormat.format(date);
      if (time.hasAttribute("data-hhmm")) time.textContent = hhmmFormat.format(date);
      if (time.hasAttribute("data-relative")) time.textContent = ago(date);
    }
  }

  function timeElement(iso, attribute) {
    const time = el("time");
    if (iso) time.setAttribute("datetime", iso);
    time.setAttribute(attribute, "");
    return time;
  }

  // -- forms -----------------------------------------------------------------------------------

  function guardDoubleSubmit(root) {
    // Coming back with the browser's Back button restores the page as it was: buttons disabled.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      for (const form of root.querySelectorAll("form[data-submitted]")) {
        delete form.dataset.submitted;
        for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = false;
      }
    });
    root.addEventListener("submit", (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
      for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
    });
  }

  function csrfInput() {
    const input = el("input");
    input.type = "hidden";
    input.name = "csrf_token";
    input.value = csrfToken;
    return input;
  }

  // -- a chat bubble, the same markup as templates/_bubble.html ---------------------------------

  function formatNumber(value) {
    return value === null || value === undefined ? "—" : Number(value).toLocaleString();
  }

  function formatMs(value) {
    if (value === null || value === undefined) return "—";
    return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
  }

  function mediaBlock(media) {
    const box = el("div", `media media-${media.kind}`);
    if (media.status === "pending" && !media.url) {
      box.appendChild(withIcon(el("div", "media-pending small text-body-secondary"), "loader", `processing ${media.kind}…`));
    } else if ((media.kind === "image" || media.kind === "sticker") && media.url) {
      const link = el("a");
      link.href = media.download_url || media.url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = el("img", "media-image");
      img.src = media.url;
      img.alt = `${media.kind} sent by the customer`;
      img.loading = "lazy";
      link.appendChild(img);
      box.appendChild(link);
    } else if (media.kind === "audio" && media.url) {
      const audio = el("audio", "media-audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = media.url;
      box.appendChild(audio);
    } else if (media.kind === "video" && media.url) {
      const video = el("video", "media-video");
      video.controls = true;
      video.preload = "none";
      video.src = media.url;
      if (media.poster_url) video.poster = media.poster_url;
      box.appendChild(video);
    } else if (media.kind === "document") {
      const row = el("div", "media-document d-flex align-items-center gap-2");
      row.appendChild(icon("file"));
      const name = media.filename || "document";
      if (media.download_url) {
        const link = el("a", null, name);
        link.href = media.download_url;
        link.setAttribute("download", "");
        link.dir = "auto";
        row.appendChild(link);
      } else {
        const span = el("span", null, name);
        span.dir = "auto";
        row.appendChild(span);
      }
      box.appendChild(row);
    }
    if (media.transcript) {
      const transcript = el("div", "media-transcript small");
      transcript.dir = "auto";
      transcript.append(el("span", "label", "Transcript"), ` ${media.transcript}`);
      box.appendChild(transcript);
    }
    if (media.text_excerpt) {
      const details = el("details", "media-excerpt small");
      details.appendChild(el("summary", null, "Extracted text"));
      const text = el("div", "excerpt-text", media.text_excerpt);
      text.dir = "auto";
      details.appendChild(text);
      box.appendChild(details);
    }
    return box;
  }

  function ticks(view) {
    if (view.direction !== "outbound") {
      return el("span", `status status-${view.status}`, view.status_label);
    }
    const states = {
      failed: ["failed", ["alert-circle"]],
      unknown: ["unknown", ["help-circle"]],
      read: ["read", ["check", "check"]],
      played: ["read", ["check", "check"]],
      delivered: ["delivered", ["check", "check"]],
      sent: ["sent", ["check"]],
    };
    const [name, icons] = states[view.status] || ["pending", ["clock"]];
    const span = el("span", `ticks ${name}`);
    span.title = name === "pending" ? "accepted by WhatsApp" : name === "unknown" ? view.status_label : name;
    for (const iconName of icons) span.appendChild(icon(iconName));
    return span;
  }

  // The knowledge passages a reply was given (templates/_bubble.html: ai-sources).
  function sourcesBlock(sources) {
    const details = el("details", "ai-sources small");
    const summary = el("summary");
    summary.append(icon("book-open"), ` Sources (${sources.length})`);
    details.appendChild(summary);
    const list = el("ul", "list-unstyled mb-0");
    for (const source of sources) {
      const item = el("li", `ai-source${source.cited ? " cited" : ""}`);
      const name = el("span", "source-name");
      name.dir = "auto";
      if (source.cited) name.append(icon("check"), " ");
      name.append(source.source);
      item.appendChild(name);
      if (source.similarity !== null && source.similarity !== undefined) {
        item.append(" ", el("span", "source-score text-body-secondary", source.similarity.toFixed(2)));
      }
      const text = el("div", "source-text", source.text.length > 400 ? `${source.text.slice(0, 397)}...` : source.text);
      text.dir = "auto";
      item.appendChild(text);
      list.appendChild(item);
    }
    details.appendChild(list);
    return details;
  }

  function bubble(view, retryUrl) {
    const failed = view.status === "failed" ? " message-failed" : "";
    const message = el("div", `message message-${view.direction} author-${view.author}${failed}`);
    message.dataset.messageId = view.id;
    message.dataset.version = view.version;
    message.dataset.final = view.final ? "1" : "0";
    message.dataset.at = view.at || "";
    const box = el("div", "bubble");

    const head = el("div", "bubble-head small");
    head.appendChild(el("span", "author", view.author_label));
    head.appendChild(withIcon(el("span", "kind"), view.icon, view.type));
    if (view.forwarded) head.appendChild(withIcon(el("span", "forwarded"), "corner-up-right", "forwarded"));
    box.appendChild(head);

    if (view.reply_to_text) {
      const quote = el("blockquote", "reply-quote small", view.reply_to_text.slice(0, 140));
      quote.dir = "auto";
      box.appendChild(quote);
    }
    if (view.media) box.appendChild(mediaBlock(view.media));
    if (view.text) {
      const text = el("div", "text", view.text);
      text.dir = "auto";
      box.appendChild(text);
    }
    for (const line of view.details || []) {
      const detail = el("div", "detail small", line);
      detail.dir = "auto";
      box.appendChild(detail);
    }
    if (view.link_url && view.link_url.startsWith("https://")) {
      const link = withIcon(el("a", "small"), "external-link", view.link_label);
      link.href = view.link_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      box.appendChild(link);
    }
    if (view.error) {
      const failure = el("div", "failure small");
      failure.append(icon("alert-triangle"), " ", el("span", "failure-title", view.error.title));
      if (view.error.code) failure.append(" ", el("span", "failure-code", `(${view.error.code})`));
      if (view.error.detail) {
        const detail = el("div", "failure-detail", view.error.detail);
        detail.dir = "auto";
        failure.appendChild(detail);
      }
      box.appendChild(failure);
    }
    if (view.ai) {
      const ai = el("div", "ai-details small");
      ai.append(
        icon("cpu"), " ",
        el("span", "ai-model", view.ai.model || "model"), " · ",
        el("span", "ai-tokens", `${formatNumber(view.ai.input_tokens)} in / ${formatNumber(view.ai.output_tokens)} out tokens`), " · ",
        el("span", "ai-latency", formatMs(view.ai.latency_ms)),
      );
      if (view.ai.finish_reason && view.ai.finish_reason !== "STOP") {
        ai.append(" · ", el("span", "ai-finish", view.ai.finish_reason));
      }
      box.appendChild(ai);
      if (view.ai.handoff) {
        const handoff = el("div", "ai-handoff small");
        const reason = el("span", "", view.ai.handoff);
        reason.dir = "auto";
        handoff.append(icon("user-check"), " Handed to a person: ", reason);
        box.appendChild(handoff);
      }
      if (view.ai.envelope_error) {
        const plain = el("div", "ai-plain small");
        plain.title = view.ai.envelope_error;
        plain.append(icon("alert-circle"), " answered as plain text (the model's answer was not the expected JSON)");
        box.appendChild(plain);
      }
      if (view.ai.sources && view.ai.sources.length) box.appendChild(sourcesBlock(view.ai.sources));
    }

    const foot = el("div", "bubble-foot small");
    if (view.retried) foot.appendChild(el("span", "retried", "sent again"));
    foot.append(timeElement(view.at, "data-clock"), " ", ticks(view));
    box.appendChild(foot);

    if (view.can_retry && retryUrl) {
      const form = el("form", "retry-form");
      form.method = "post";
      form.action = retryUrl.replace("MESSAGE_ID", encodeURIComponent(view.id));
      form.appendChild(csrfInput());
      const button = withIcon(el("button", "btn btn-sm btn-outline-warning"), "refresh-cw", "Retry");
      button.type = "submit";
      form.appendChild(button);
      box.appendChild(form);
    }
    message.appendChild(box);
    localizeTimes(message);
    return message;
  }

  // -- polling ---------------------------------------------------------------------------------

  function poll(load) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      try {
        stopped = (await load()) === false;
      } catch (error) {
        // A missed poll (network blip, a deploy) is retried on the next tick.
      }
      if (!stopped) setTimeout(tick, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
    setTimeout(tick, POLL_MS);
  }

  async function fetchJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (response.status === 401 || response.status === 403) {
      showLiveProblem("Your session has ended: reload the page to sign in again.");
      return null;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  function showLiveProblem(text) {
    if (document.getElementById("live-problem")) return;
    const alert = el("div", "alert alert-warning live-status shadow", text);
    alert.id = "live-problem";
    alert.setAttribute("role", "status");
    document.body.appendChild(alert);
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
  }

  function liveThread(thread) {
    const url = new URL(thread.dataset.liveUrl, window.location.href);
    const retryUrl = thread.dataset.retryUrl;
    const byId = new Map();
    for (const node of thread.querySelectorAll(".message")) byId.set(node.dataset.messageId, node);

    function place(node) {
      // Keep the thread ordered by time: walk back from the end to the first older message.
      const at = node.dataset.at;
      let before = null;
      for (let sibling = thread.lastElementChild; sibling; sibling = sibling.previousElementSibling) {
        if (!sibling.classList.contains("message")) continue;
        if ((sibling.dataset.at || "") <= at) break;
        before = sibling;
      }
      thread.insertBefore(node, before);
    }

    function updateFlags(conversation) {
      for (const badge of document.querySelectorAll("#conversation-badges [data-flag]")) {
        badge.hidden = !conversation[badge.dataset.flag];
      }
    }

    poll(async () => {
      const query = new URLSearchParams({ seen: thread.dataset.seen || "", newest: thread.dataset.newest || "" });
      for (const node of thread.querySelectorAll('.message[data-final="0"]')) query.append("watch", node.dataset.messageId);
      url.search = query.toString();
      const data = await fetchJson(url);
      if (data === null) return false;
      const stickToBottom = nearBottom();
      let added = false;
      for (const view of data.messages) {
        const existing = byId.get(view.id);
        if (existing && existing.dataset.version === view.version) continue;
        const node = bubble(view, retryUrl);
        if (existing) {
          existing.replaceWith(node);
        } else {
          document.getElementById("empty-thread")?.remove();
          place(node);
          added = true;
        }
        byId.set(view.id, node);
        if (view.at && view.at > (thread.dataset.newest || "")) thread.dataset.newest = view.at;
      }
      if (data.seen) thread.dataset.seen = data.seen;
      updateFlags(data.conversation);
      if (added && stickToBottom) window.scrollTo({ top: document.body.scrollHeight });
      return true;
    });
  }

  // -- a conversation row, the same markup as templates/_conversation_row.html -------------------

  function conversationRow(row) {
    const link = el("a", "list-group-item list-group-item-action conversation-row");
    link.href = row.url;
    link.dataset.conversationId = row.id;
    const top = el("div", "d-flex w-100 justify-content-between gap-2");
    const who = el("div", "min-w-0");
    const title = el("div", "fw-semibold text-truncate", row.title);
    title.dir = "auto";
    who.append(title, el("div", "small text-body-secondary text-truncate identity", row.identity));
    const side = el("div", "text-end flex-shrink-0");
    const time = timeElement(row.last_message_at, "data-relative");
    time.className = "small text-body-secondary";
    time.textContent = row.ago;
    const answering = el("div", `small answering answering-${row.answering.who}`, row.answering.label);
    if (row.answering.until) {
      const until = timeElement(row.answering.until, "data-hhmm");
      until.textContent = hhmmFormat.format(new Date(row.answering.until));
      answering.append(" · paused until ", until);
    }
    const badges = el("div", "badges");
    if (row.handoff_waiting) {
      const handoff = el("span", "badge text-bg-warning handoff-badge", "asked for a person");
      handoff.title = row.handoff_reason || "";
      badges.appendChild(handoff);
    }
    if (row.needs_attention) badges.appendChild(el("span", "badge text-bg-warning", "attention"));
    if (row.ai_paused) badges.appendChild(el("span", "badge text-bg-secondary", "AI paused"));
    if (row.has_failure) badges.appendChild(el("span", "badge text-bg-danger", "failed"));
    if (row.opted_out) badges.appendChild(el("span", "badge text-bg-light", "opted out"));
    if (row.window === "closing") badges.appendChild(el("span", "badge text-bg-info", "window closing"));
    if (row.window === "closed") badges.appendChild(el("span", "badge text-bg-dark border", "window closed"));
    side.append(time, answering, badges);
    top.append(who, side);
    const preview = el("div", "small text-body-secondary text-truncate preview", row.preview);
    preview.dir = "auto";
    link.append(top);
    if (row.handoff_waiting && row.handoff_reason) {
      const reason = el("div", "small text-warning-emphasis text-truncate handoff-reason", row.handoff_reason);
      reason.dir = "auto";
      link.append(reason);
    }
    link.append(preview);
    return link;
  }

  function liveList(list) {
    const url = new URL(list.dataset.liveUrl, window.location.href);
    poll(async () => {
      url.search = new URLSearchParams({ since: list.dataset.since || "" }).toString();
      const data = await fetchJson(url);
      if (data === null) return false;
      for (const row of [...data.conversations].reverse()) {
        for (const old of list.querySelectorAll(".conversation-row")) {
          if (old.dataset.conversationId === row.id) old.remove();
        }
        list.prepend(conversationRow(row));
      }
      if (data.since) list.dataset.since = data.since;
      return true;
    });
  }

  // -- start -----------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    localizeTimes(document);
    guardDoubleSubmit(document);
    setInterval(() => {
      for (const time of document.querySelectorAll("time[data-relative]")) {
        const date = new Date(time.getAttribute("datetime"));
        if (!Number.isNaN(date.getTime())) time.textContent = ago(date);
      }
    }, 30000);
    const thread = document.getElementById("thread");
    if (thread) {
      if (thread.dataset.liveUrl) {
        window.scrollTo({ top: document.body.scrollHeight });
        liveThread(thread);
      }
    }
    const list = document.getElementById("conversation-list");
    if (list && list.dataset.liveUrl) liveList(list);
  });
  // The template picker: the chosen template's fields show, and the preview fills as values are typed.
  function templatePicker(form) {
    const choice = form.querySelector("#template-choice");
    const preview = form.querySelector(".template-preview");
    if (!choice || !preview) return;
    const fieldsets = Array.from(form.querySelectorAll(".template-fields"));
    function chosen() {
      return fieldsets.find((f) => f.dataset.templateId === choice.value);
    }
    function render() {
      const current = chosen();
      fieldsets.forEach((f) => {
        f.hidden = f !== current;
        f.disabled = f !== current;
      });
      if (!current) {
        preview.textContent = "Choose a template to see it filled.";
        return;
      }
      const values = {};
      current.querySelectorAll(".template-value").forEach((input) => {
        values[input.dataset.slot] = input.value.trim();
      });
      const lines = [];
      current.querySelectorAll("template.template-text").forEach((part) => {
        const text = part.content.textContent;
        if (!text) return;
        lines.push(text.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, key) => values[`${part.dataset.part}_${key}`] || whole));
      });
      preview.textContent = lines.join("\n");
    }
    choice.addEventListener("change", render);
    form.addEventListener("input", render);
    render();
  }

  document.querySelectorAll(".template-form").forEach(templatePicker);
})();
