// The /home page: pick an image (drop, file picker, paste, URL or a sample), send it to
// POST /api/classify, show the top-5 as bars with the model and timings, and put every
// error into words. Plain JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
// The largest image the API takes: read from /api/models (its `limits`), never written
// here; until that answer arrives the server's own 413 speaks for it.
let maxBytes = Infinity;
const mib = (n) => `${Math.round(n / 1048576)} MiB`;

function setBusy(text) {
  $("status").textContent = text;
  $("error").hidden = true;
  $("predictions").innerHTML = "";
  $("meta").textContent = "";
}

function showError(message) {
  $("status").textContent = "";
  $("error").textContent = message;
  $("error").hidden = false;
}

function showPreview(src) {
  $("preview-img").src = src;
  $("preview").hidden = false;
}

// Words for the API's error codes; the server's message is the fallback.
const MESSAGES = {
  get body_too_large() { return `That image is too big (the limit is ${mib(maxBytes)}).`; },
  get fetch_too_large() { return `The image at that URL is too big (the limit is ${mib(maxBytes)}).`; },
  not_an_image: "That file is not an image.",
  decode_failed: "That image looks damaged or incomplete.",
  unsupported_format: "That image format is not supported. Use JPEG, PNG, WebP, GIF or BMP.",
  image_too_large: "That image has too many pixels to process.",
  empty_body: "That file is empty.",
  overloaded: "The server is busy right now. Please try again in a moment.",
  classify_unavailable: "The classifier is unavailable right now. Please try again soon.",
  forbidden_address: "That URL points to a private address, which is not allowed.",
  bad_url_scheme: "Only http:// and https:// URLs can be fetched.",
  fetch_not_image: "That URL did not return an image.",
  fetch_timeout: "That URL took too long to answer.",
};

async function classify(body, contentType) {
  setBusy("Classifying…");
  const model = $("model").value;
  let response;
  try {
    response = await fetch(`/api/classify?model=${encodeURIComponent(model)}&top=5`, {
      method: "POST",
      headers: contentType ? { "content-type": contentType } : {},
      body,
    });
  } catch (e) {
    return showError("Could not reach the server: " + e.message);
  }
  let data;
  try {
    data = await response.json();
  } catch (e) {
    return showError(`The server answered ${response.status} without a readable body.`);
  }
  if (!response.ok) {
    const err = data.error || {};
    return showError(MESSAGES[err.code] || err.message || `Request failed (${response.status}).`);
  }
  render(data);
}

function render(data) {
  $("status").textContent = `Top ${data.predictions.length} from ${data.model}`;
  const list = $("predictions");
  list.innerHTML = "";
  for (const p of data.predictions) {
    const pct = (p.probability * 100).toFixed(1);
    const li = document.createElement("li");
    li.innerHTML = `<div class="label"><span class="name"></span><span class="pct">${pct}%</span></div>` +
      `<div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${pct}"><span style="width:0%"></span></div>`;
    li.querySelector(".name").textContent = p.label;
    li.querySelector(".bar").setAttribute("aria-label", `${p.label}: ${pct} percent`);
    list.appendChild(li);
    requestAnimationFrame(() => { li.querySelector(".bar span").style.width = `${Math.max(pct, 0.5)}%`; });
  }
  const t = data.timings_ms || {};
  const total = data.frontend ? data.frontend.total_ms : t.total;
  $("meta").textContent = `inference ${fmt(t.inference)} ms · decode ${fmt(t.decode)} ms · preprocess ${fmt(t.preprocess)} ms · end to end ${fmt(total)} ms`;
}

const fmt = (v) => (typeof v === "number" ? v.toFixed(1) : "?");

function useFile(file) {
  if (!file) return;
  if (file.size > maxBytes) return showError(MESSAGES.body_too_large);
  showPreview(URL.createObjectURL(file));
  const form = new FormData();
  form.append("image", file, file.name || "upload");
  classify(form);
}

async function useSample(src) {
  showPreview(src);
  const blob = await (await fetch(src)).blob();
  classify(blob, blob.type || "application/octet-stream");
}

async function loadModels() {
  try {
    const data = await (await fetch("/api/models")).json();
    const select = $("model");
    select.innerHTML = "";
    for (const m of data.models || []) {
      const opt = document.createElement("option");
      opt.value = opt.textContent = m.name;
      if (m.default) opt.selected = true;
      select.appendChild(opt);
    }
    if (data.limits && data.limits.max_body_bytes > 0) {
      maxBytes = data.limits.max_body_bytes;
      $("max-size").textContent = mib(maxBytes);
    }
  } catch (e) { /* keep the built-in default */ }
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", () => {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => useFile(e.target.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => useFile(e.dataTransfer.files[0]));
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData || {}).items || []].find((i) => i.type.startsWith("image/"));
    if (item) useFile(item.getAsFile());
  });
  $("url-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const url = $("url").value.trim();
    if (!url) return showError("Enter an image URL first.");
    showPreview(url);
    classify(JSON.stringify({ url }), "application/json");
  });
  document.querySelectorAll("[data-sample]").forEach((b) => b.addEventListener("click", () => useSample(b.dataset.sample)));
  loadModels();
});
