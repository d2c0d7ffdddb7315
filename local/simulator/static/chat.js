// Chat page of the WhatsApp simulator: the developer plays a WhatsApp user.
// Everything goes through the simulator's /_sim/ control API; user text is only ever inserted
// with textContent, so whatever the assistant answers cannot inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const state = { replyTo: null, lastJson: "", recorder: null, chunks: [], busy: false };

function identity() {
  return {
    from: $("wa-id").value.replace(/\D/g, ""),
    name: $("user-name").value.trim() || "Test User",
    provider: $("business").value, // which business number: the Cloud API's or the WAHA session's
  };
}

function remember() {
  localStorage.setItem("sim.wa_id", $("wa-id").value);
  localStorage.setItem("sim.name", $("user-name").value);
  localStorage.setItem("sim.business", $("business").value);
  state.lastJson = "";
  clearReply();
}

function showNotice(message) {
  const notice = $("notice");
  notice.textContent = message || "";
  notice.hidden = !message;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function postJson(path, payload) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
}

// ---- sending ------------------------------------------------------------------------------

async function sendInbound(message) {
  const payload = { ...identity(), ...message };
  if (state.replyTo) payload.context = { id: state.replyTo.wamid };
  setBusy(true);
  try {
    const result = await postJson("/_sim/inbound", payload);
    clearReply();
    if (result.webhook_status === null) {
      const reason = (result.error || "no webhook configured").slice(0, 100);
      showNotice(`Webhook not reached (${reason}…); the simulator keeps retrying.`);
    } else if (result.webhook_status >= 300) {
      showNotice(`The webhook answered HTTP ${result.webhook_status}; the simulator retries like Meta.`);
    } else {
      showNotice("");
    }
    await refresh();
  } catch (error) {
    showNotice(`Could not send: ${error.message}`);
  } finally {
    setBusy(false);
  }
}

// ---- who the user is, and the business's own phone ------------------------------------------

async function saveProfile() {
  const { from } = identity();
  if (!from) return;
  try {
    const user = await postJson(`/_sim/users/${from}`, {
      username: $("username").value.trim(),
      hide_phone: $("hide-phone").checked,
    });
    showNotice(user.hide_phone ? `Writing as @${user.username || "(no username)"} without a phone: ${user.user_id}` : "");
  } catch (error) {
    showNotice(`Could not change the user: ${error.message}`);
  }
}

async function loadProfile() {
  const { from } = identity();
  if (!from) return;
  const user = await api(`/_sim/users/${from}`).catch(() => null);
  if (!user) return;
  $("username").value = user.username || "";
  $("hide-phone").checked = Boolean(user.hide_phone);
}

async function sendFromBusinessApp() {
  const text = $("business-text").value.trim();
  if (!text) return;
  try {
    await postJson("/_sim/business-app/send", { to: identity().from, text });
    $("business-text").value = "";
    await refresh();
  } catch (error) {
    showNotice(`Could not send from the app: ${error.message}`);
  }
}

async function replayHistory() {
  try {
    const result = await postJson("/_sim/history", { wa_ids: [identity().from] });
    showNotice(`History sync sent: ${result.messages} messages (webhook answered ${result.webhook_status}).`);
  } catch (error) {
    showNotice(`Could not replay the history: ${error.message}`);
  }
}

function setBusy(busy) {
  state.busy = busy;
  $("send-button").disabled = busy;
}

async function sendText(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || state.busy) return;
  $("text").value = "";
  autoGrow();
  await sendInbound({ type: "text", text });
}

function kindOf(file, picked) {
  const mime = file.type || "";
  if (picked === "audio" || mime.startsWith("audio/")) return "audio";
  if (mime.startsWith("image/") && picked !== "file") return "image";
  if (mime.startsWith("video/") && picked !== "file") return "video";
  return "document";
}

async function uploadMedia(blob, filename) {
  const form = new FormData();
  form.append("file", blob, filename);
  form.append("mime_type", (blob.type || "application/octet-stream").split(";")[0].trim());
  form.append("filename", filename);
  return api("/_sim/media", { method: "POST", body: form });
}

async function sendFile(file, picked, voice = false) {
  try {
    const media = await uploadMedia(file, file.name || "file");
    const type = kindOf(file, picked);
    const message = { type, media_id: media.id, filename: file.name };
    if (type === "audio") message.voice = voice;
    const caption = $("text").value.trim();
    if (caption && ["image", "video", "document"].includes(type)) {
      message.caption = caption;
      $("text").value = "";
    }
    await sendInbound(message);
  } catch (error) {
    showNotice(`Upload failed: ${error.message}`);
  }
}

// ---- voice notes --------------------------------------------------------------------------

function preferredAudioType() {
  const candidates = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus", "audio/mp4"];
  return candidates.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || "";
}

async function toggleRecording() {
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    $("pick-audio").dataset.voice = "1";
    $("pick-audio").click(); // no recorder here: pick an audio file instead
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const mimeType = preferredAudioType();
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
    state.chunks = [];
    recorder.ondataavailable = (event) => state.chunks.push(event.data);
    recorder.onstop = () => finishRecording(recorder, stream);
    recorder.start();
    state.recorder = recorder;
    $("record-button").classList.add("recording");
    $("record-button").setAttribute("aria-label", "Stop recording and send");
  } catch (error) {
    showNotice(`Microphone unavailable (${error.message}); pick an audio file instead.`);
    $("pick-audio").dataset.voice = "1";
    $("pick-audio").click();
  }
}

async function finishRecording(recorder, stream) {
  stream.getTracks().forEach((track) => track.stop());
  state.recorder = null;
  $("record-button").classList.remove("recording");
  $("record-button").setAttribute("aria-label", "Record a voice message");
  const type = (recorder.mimeType || "audio/ogg").split(";")[0];
  const extension = type.split("/")[1] || "ogg";
  const file = new File(state.chunks, `voice.${extension}`, { type });
  if (file.size > 0) await sendFile(file, "audio", true);
}

// ---- rendering ----------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function safeUrl(url) {
  return typeof url === "string" && /^(https?:\/\/|\/)/i.test(url) ? url : null;
}

function mediaSource(media) {
  if (media.id) return `/_sim/media/${encodeURIComponent(media.id)}`;
  return safeUrl(media.link);
}

function renderMedia(message) {
  const media = message.media;
  const src = media && mediaSource(media);
  if (!src) return element("div", "kind", `[${message.type}]`);
  const mime = media.mime_type || "";
  if (message.type === "image" || message.type === "sticker") {
    const img = element("img", message.type === "sticker" ? "sticker" : "");
    img.src = src;
    img.alt = message.type;
    return img;
  }
  if (message.type === "video") {
    const video = element("video");
    video.src = src;
    video.controls = true;
    return video;
  }
  if (message.type === "audio") {
    const wrap = element("div");
    if (media.voice) wrap.append(element("div", "kind", "voice message"));
    const audio = element("audio");
    audio.src = src;
    audio.controls = true;
    wrap.append(audio);
    return wrap;
  }
  const link = element("a", "doc", `▤ ${media.filename || mime || "document"}`);
  link.href = src;
  link.target = "_blank";
  link.rel = "noopener";
  link.dir = "auto";
  return link;
}

function tickFor(message) {
  const status = message.status;
  if (status === "failed") return { text: "⚠", cls: "failed" };
  if (status === "read") return { text: "✓✓", cls: "read" };
  if (status === "delivered") return { text: "✓✓", cls: "" };
  if (status === "sent") return { text: "✓", cls: "" };
  return { text: "◷", cls: "" }; // accepted / pending
}

function timeOf(message) {
  return new Date(message.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function quoteFor(message, byId) {
  if (!message.reply_to) return null;
  const quoted = byId.get(message.reply_to);
  const text = quoted ? quoted.text || `[${quoted.type}]` : "(earlier message)";
  return element("div", "quote", text);
}

function renderButtons(message) {
  const interactive = message.interactive || null;
  const action = (interactive && interactive.action) || null;
  if (!action) return null;
  // Reply buttons, or a list's rows (all its sections), each tapped as WhatsApp sends the tap back.
  const choices = Array.isArray(action.buttons)
    ? action.buttons.map((b) => ({ kind: "button_reply", ...(b.reply || {}) }))
    : (action.sections || []).flatMap((section) => (section.rows || []).map((row) => ({ kind: "list_reply", ...row })));
  if (!choices.length) return null;
  const box = element("div", "buttons");
  if (!Array.isArray(action.buttons) && action.button) box.append(element("div", "list-label", action.button));
  for (const choice of choices) {
    const node = element("button", "", choice.title || choice.id || "?");
    node.type = "button";
    node.dir = "auto";
    if (choice.description) node.title = choice.description;
    node.addEventListener("click", (event) => {
      event.stopPropagation();
      state.replyTo = { wamid: message.wamid };
      const reply = { id: choice.id, title: choice.title };
      if (choice.kind === "list_reply" && choice.description) reply.description = choice.description;
      sendInbound({ type: "interactive", interactive: { type: choice.kind, [choice.kind]: reply } });
    });
    box.append(node);
  }
  return box;
}

function renderMessage(message, byId) {
  const bubble = element("div", `bubble ${message.direction}${message.business_app ? " business-app" : ""}`);
  bubble.title = "Click to reply";
  bubble.addEventListener("click", () => startReply(message));
  if (message.business_app) bubble.append(element("div", "kind", "from the Business app"));
  const quote = quoteFor(message, byId);
  if (quote) bubble.append(quote);
  if (message.media) bubble.append(renderMedia(message));
  else if (!["text", "interactive", "button", "reaction", "location"].includes(message.type)) {
    bubble.append(element("div", "kind", `[${message.type}]`));
  }
  if (message.text) {
    const text = element("div", "text", message.type === "reaction" ? `reacted ${message.text}` : message.text);
    text.dir = "auto";
    bubble.append(text);
  }
  const buttons = renderButtons(message);
  if (buttons) bubble.append(buttons);
  for (const error of message.errors || []) {
    bubble.append(element("div", "error", `${error.code} ${error.title || ""}`));
  }
  const meta = element("div", "meta");
  meta.append(element("span", "", timeOf(message)));
  const tick = tickFor(message);
  meta.append(element("span", `ticks ${tick.cls}`, tick.text));
  bubble.append(meta);
  return bubble;
}

function render(conversation) {
  const waha = (conversation.providers || []).includes("waha");
  $("business-choice").hidden = !waha;
  if (!waha && $("business").value !== "cloud") {
    $("business").value = "cloud"; // no WAHA session in this simulator
    remember();
  }
  $("business-name").textContent = conversation.business.name || conversation.business.display_phone_number;
  $("peer-status").textContent = conversation.typing ? "typing…" : `+${conversation.business.display_phone_number}`;
  const thread = $("thread");
  const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
  thread.replaceChildren();
  if (!conversation.messages.length) {
    const hint = conversation.webhook_url
      ? "Say hello: your messages go to the assistant's webhook."
      : "No webhook configured: start the simulator with --webhook-url.";
    thread.append(element("div", "empty", hint));
  }
  const byId = new Map(conversation.messages.map((m) => [m.wamid, m]));
  for (const message of conversation.messages) thread.append(renderMessage(message, byId));
  if (conversation.typing) thread.append(element("div", "typing", "typing…"));
  if (nearBottom) thread.scrollTop = thread.scrollHeight;
}

async function refresh() {
  const waId = identity().from;
  if (!waId) return;
  try {
    const provider = encodeURIComponent(identity().provider);
    const response = await fetch(`/_sim/conversation?wa_id=${encodeURIComponent(waId)}&provider=${provider}`);
    const json = await response.text();
    if (json === state.lastJson) return; // unchanged: keep the DOM (and media players) as they are
    state.lastJson = json;
    render(JSON.parse(json));
  } catch (error) {
    $("peer-status").textContent = "simulator unreachable";
  }
}

// ---- replying and small UI helpers --------------------------------------------------------

function startReply(message) {
  state.replyTo = message;
  $("reply-text").textContent = message.text || `[${message.type}]`;
  $("reply-bar").hidden = false;
  $("text").focus();
}

function clearReply() {
  state.replyTo = null;
  $("reply-bar").hidden = true;
}

function autoGrow() {
  const text = $("text");
  text.style.height = "auto";
  text.style.height = `${Math.min(text.scrollHeight, 120)}px`;
}

function toggleAttachMenu(open) {
  const menu = $("attach-menu");
  const show = open === undefined ? menu.hidden : open;
  menu.hidden = !show;
  $("attach-button").setAttribute("aria-expanded", String(show));
}

function wirePickers() {
  for (const picked of ["photo", "audio", "file"]) {
    const input = $(`pick-${picked}`);
    input.addEventListener("change", async () => {
      const file = input.files[0];
      const voice = input.dataset.voice === "1";
      delete input.dataset.voice;
      input.value = "";
      if (file) await sendFile(file, picked, voice);
    });
  }
  $("attach-menu").addEventListener("click", (event) => {
    const picked = event.target.closest("button")?.dataset.pick;
    if (!picked) return;
    toggleAttachMenu(false);
    $(`pick-${picked}`).click();
  });
}

function init() {
  $("wa-id").value = localStorage.getItem("sim.wa_id") || $("wa-id").value;
  $("user-name").value = localStorage.getItem("sim.name") || $("user-name").value;
  loadProfile();
  $("wa-id").addEventListener("change", () => { remember(); loadProfile(); });
  $("username").addEventListener("change", saveProfile);
  $("hide-phone").addEventListener("change", saveProfile);
  $("business-send").addEventListener("click", sendFromBusinessApp);
  $("history-replay").addEventListener("click", replayHistory);
  $("user-name").addEventListener("change", remember);
  $("business").value = localStorage.getItem("sim.business") || "cloud";
  $("business").addEventListener("change", remember);
  $("composer").addEventListener("submit", sendText);
  $("text").addEventListener("input", autoGrow);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) sendText(event); // Shift+Enter = new line
  });
  $("attach-button").addEventListener("click", () => toggleAttachMenu());
  $("record-button").addEventListener("click", toggleRecording);
  $("reply-cancel").addEventListener("click", clearReply);
  wirePickers();
  refresh();
  setInterval(refresh, POLL_MS);
}

init();
