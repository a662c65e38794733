// The deeprank search page. The query state (collection, k, class, max
// distance, and the stored image searched by) lives in the URL, so that a
// search can be bookmarked, shared and gone back to.
"use strict";

const $ = (id) => document.getElementById(id);
const state = new URLSearchParams(location.search);
let lastUpload = null; // the image last dropped, pasted or picked
let blobURLs = [];     // thumbnails fetched with the token, to release

// The token, when the server wants one: asked once, kept for the tab.
function authHeaders() {
  const t = sessionStorage.getItem("deeprank-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

async function api(path, init = {}) {
  init.headers = Object.assign({}, init.headers, authHeaders());
  let resp = await fetch(path, init);
  if (resp.status === 401) {
    const t = prompt("This server needs its token (serve.token):");
    if (t) {
      sessionStorage.setItem("deeprank-token", t);
      init.headers = Object.assign({}, init.headers, authHeaders());
      resp = await fetch(path, init);
    }
  }
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error.message; } catch (e) { /* not JSON: keep the status */ }
    throw new Error(msg);
  }
  return resp;
}

function say(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// setImage shows an image from the API: a plain URL, or, with a token,
// the bytes fetched with it (an <img> cannot send a header).
async function setImage(img, url) {
  if (!sessionStorage.getItem("deeprank-token")) { img.src = url; return; }
  const blob = await (await api(url)).blob();
  const u = URL.createObjectURL(blob);
  blobURLs.push(u);
  img.src = u;
}

function filterText() {
  return $("class").value.split(",").map((s) => s.trim()).filter(Boolean).map((c) => "class=" + c).join(",");
}

function maxDistance() {
  const v = Number($("max").value);
  return v >= Number($("max").max) ? null : v;
}

// saveState writes the form into the URL; id is the stored image searched
// by, or null after an upload (an upload cannot live in a URL).
function saveState(id, push) {
  const p = new URLSearchParams();
  p.set("c", $("collection").value);
  if (id) p.set("id", id);
  if ($("k").value !== "10") p.set("k", $("k").value);
  if ($("class").value.trim()) p.set("class", $("class").value.trim());
  if (maxDistance() !== null) p.set("max", $("max").value);
  const url = "?" + p.toString();
  if (url !== location.search) history[push ? "pushState" : "replaceState"](null, "", url);
}

function loadState() {
  const p = new URLSearchParams(location.search);
  if (p.get("c")) $("collection").value = p.get("c");
  $("k").value = p.get("k") || "10";
  $("class").value = p.get("class") || "";
  $("max").value = p.get("max") || $("max").max;
  showMax();
  return p.get("id");
}

function showMax() {
  const m = maxDistance();
  $("maxOut").textContent = m === null ? "off" : m.toFixed(2);
}

async function search(query) {
  const coll = $("collection").value;
  if (!coll) return;
  const fields = { top_k: Number($("k").value) || 10 };
  if (filterText()) fields.filter = filterText();
  if (maxDistance() !== null) fields.max_distance = maxDistance();
  let init;
  if (query.file) {
    const form = new FormData();
    form.append("image", query.file);
    for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
    init = { method: "POST", body: form };
  } else {
    init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(Object.assign({ id: query.id }, fields)) };
  }
  say("Searching…");
  try {
    const began = performance.now();
    const resp = await (await api("/v1/collections/" + encodeURIComponent(coll) + "/search", init)).json();
    show(resp.results);
    say(resp.results.length + " results in " + Math.round(performance.now() - began) + " ms (model " + resp.model_version + ")");
  } catch (e) {
    say(e.message, true);
  }
}

function show(results) {
  blobURLs.forEach((u) => URL.revokeObjectURL(u));
  blobURLs = [];
  const list = $("results");
  list.replaceChildren();
  for (const r of results) {
    const li = document.createElement("li");
    li.dataset.id = r.id; // for scripts and tests that read the grid
    li.dataset.distance = String(r.distance);
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "hit";
    btn.title = "Search by this image: " + r.path;
    const img = document.createElement("img");
    img.alt = "#" + r.rank + " " + r.path.split("/").pop();
    img.loading = "lazy";
    setImage(img, r.thumbnail).catch(() => { img.alt += " (thumbnail unavailable)"; });
    btn.append(img);
    btn.addEventListener("click", () => searchByID(r.id, true));
    const meta = document.createElement("div");
    meta.className = "meta";
    const dist = document.createElement("span");
    dist.textContent = "#" + r.rank + " · " + r.distance.toFixed(3) + (r.metadata.class ? " · " + r.metadata.class : "");
    const link = document.createElement("a");
    link.href = r.image;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "full image";
    meta.append(dist, link);
    li.append(btn, meta);
    list.append(li);
  }
}

function searchByID(id, push) {
  lastUpload = null;
  saveState(id, push);
  const url = "/v1/collections/" + encodeURIComponent($("collection").value) + "/images/" + id + "/thumbnail";
  $("preview").hidden = false;
  setImage($("preview"), url).catch(() => { $("preview").hidden = true; });
  search({ id });
}

function searchByFile(file) {
  if (!file || !file.type.startsWith("image/")) { say("That is not an image.", true); return; }
  lastUpload = file;
  saveState(null, true);
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
  search({ file });
}

// rerun repeats the current search with the form's new settings.
function rerun() {
  const id = new URLSearchParams(location.search).get("id");
  saveState(id, false);
  if (lastUpload) search({ file: lastUpload });
  else if (id) search({ id });
}

async function loadCollections() {
  try {
    const { collections } = await (await api("/v1/collections")).json();
    const sel = $("collection");
    sel.replaceChildren(...collections.map((c) => new Option(c.name + " (" + c.count + ")", c.name)));
    if (!collections.length) say("No collections yet: run deeprank ingest first.", true);
  } catch (e) {
    say("Cannot list collections: " + e.message, true);
  }
}

async function describe() {
  const c = $("collection").value;
  if (!c) return;
  try {
    const i = await (await api("/v1/collections/" + encodeURIComponent(c))).json();
    $("info").textContent = i.count + " images · " + i.metric + " · model " + i.model_version;
    // The slider spans the metric's range for unit vectors.
    $("max").max = i.metric === "L2" ? "2" : i.metric === "COSINE" ? "2" : "1";
    $("max").min = i.metric === "IP" ? "-1" : "0";
    showMax();
  } catch (e) {
    $("info").textContent = "";
  }
}

// start wires the page before it loads anything, so that an image given
// while the collections load is not lost, then runs the search in the URL.
async function start() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => searchByFile(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    searchByFile(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (e) => {
    const item = [...e.clipboardData.items].find((i) => i.type.startsWith("image/"));
    if (item) { e.preventDefault(); searchByFile(item.getAsFile()); }
  });
  $("collection").addEventListener("change", () => { lastUpload = null; $("results").replaceChildren(); saveState(null, true); describe(); });
  $("max").addEventListener("input", showMax);
  $("max").addEventListener("change", rerun);
  $("query").addEventListener("submit", (e) => { e.preventDefault(); rerun(); });
  window.addEventListener("popstate", () => {
    const id = loadState();
    describe();
    if (id) searchByID(id, false);
  });

  await loadCollections();
  const id = loadState();
  await describe();
  if (id) searchByID(id, false);
}

start();
