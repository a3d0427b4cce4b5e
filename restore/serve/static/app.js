// restore serve: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
//
// Flow: open or drop an image -> paint the hole (or upload a mask) or pick super-resolution ->
// POST /api/jobs/{task} (multipart, fields named like the CLI's options) -> watch
// /api/jobs/{id}/events (server-sent events; closing the page cancels the job) -> fetch the result
// file as it is (full quality) -> show it beside the input with a before/after slider, labelled with
// what ran and why (the job's info: the method or model `auto` chose and its reason, as the CLI prints).
// Progress is the pipeline's own bar (search steps, SR tiles) from the job's events. A result can be
// used as the next input (inpaint, then upscale); opening an image clears the previous result.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const HOLE_RGB = [230, 30, 60]; // how the hole is shown; the mask sent is white on black
  const state = {
    models: null,
    imageFile: null,     // the file as opened: sent as is, so alpha/16-bit/ICC survive
    imageUrl: null,      // what the browser shows (a server preview for TIFF)
    width: 0,
    height: 0,
    ops: [],             // mask history for undo: strokes, uploaded masks, clears
    redo: [],            // what undo took off, for redo (emptied by a new edit)
    drawing: null,
    tool: "brush",
    job: null,
    events: null,
    result: null,        // {blob, job, url}
    zoom: "fit",
    urls: [],
  };
  const canvas = $("mask-canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  // ------------------------------------------------------------------ status
  function setStatus(text, kind, progress) {
    $("status").textContent = text;
    $("status").dataset.state = kind;
    document.body.dataset.state = kind;
    const bar = $("progress");
    bar.hidden = kind !== "running";
    if (progress && progress.total) {   // determinate: the pipeline's steps or tiles
      bar.max = progress.total;
      bar.value = progress.done;
    } else {
      bar.removeAttribute("value");     // indeterminate: queued, uploading, or a job without a bar
    }
  }

  function fail(message) {
    setStatus(message, "failed");
    $("run").disabled = !state.imageFile || Boolean(state.job);
    $("cancel").hidden = true;
  }

  function keepUrl(blob) {
    const url = URL.createObjectURL(blob);
    state.urls.push(url);
    return url;
  }

  async function errorOf(response) {
    try {
      const data = await response.json();
      return data.error || `HTTP ${response.status}`;
    } catch (e) {
      return `HTTP ${response.status}`;
    }
  }

  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB`;

  // ------------------------------------------------------------------ models and options
  async function loadModels() {
    const response = await fetch("/api/models");
    if (!response.ok) throw new Error(await errorOf(response));
    const m = await response.json();
    state.models = m;
    const method = $("method");
    for (const name of m.inpaint.methods) {
      const option = new Option(m.inpaint.classical.includes(name) ? `${name} (classical, no model)` : name, name);
      option.selected = name === m.inpaint.default_method;
      method.add(option);
    }
    const srModel = $("sr-model");
    for (const entry of m.sr.models) {
      const label = entry.scale ? `${entry.name} (×${entry.scale})` : `${entry.name} (classical)`;
      const option = new Option(label, entry.name);
      option.selected = entry.name === m.sr.default_model;
      srModel.add(option);
    }
    showModelNotes();
    $("server-info").textContent =
      `device ${m.device} · uploads up to ${mib(m.limits.max_upload_bytes)}, ` +
      `${(m.limits.max_pixels / 1e6).toFixed(0)} MP · ${m.limits.queue} may wait`;
    setStatus("Open an image to begin.", "ready");
  }

  function showModelNotes() {
    const m = state.models;
    if (!m) return;
    const entry = m.sr.models.find((e) => e.name === $("sr-model").value);
    $("sr-model-note").textContent = entry ? entry.description || "" : "";
    const method = $("method").value;
    $("method-note").textContent = method === "auto"
      ? "auto (as restore inpaint): a prior where the image is in its domain (faces, small gray images), "
        + "else the best classical method"
      : m.inpaint.classical.includes(method) ? "classical: no model, fast" : "a latent search over a generative prior";
  }

  function task() {
    return $("task-sr").checked ? "sr" : "inpaint";
  }

  function showTask() {
    const sr = task() === "sr";
    $("inpaint-options").hidden = sr;
    $("sr-options").hidden = !sr;
    canvas.hidden = sr || !state.imageFile;
    $("input-hint").textContent = sr || !state.imageFile ? "" : "paint over what should be filled";
    if (document.body.dataset.state === "image") {
      setStatus(sr ? "Choose a model, then Run." : "Paint the hole, then Run.", "image");
    }
  }

  // ------------------------------------------------------------------ images
  function loadImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error("the browser cannot show this file"));
      img.src = url;
    });
  }

  // A format the browser cannot draw (TIFF): the server decodes it with restore.io and sends a PNG.
  async function previewUrl(blob, name) {
    const form = new FormData();
    form.append("image", blob, name);
    const response = await fetch("/api/preview", { method: "POST", body: form });
    if (!response.ok) throw new Error(await errorOf(response));
    return keepUrl(await response.blob());
  }

  async function displayable(blob, name) {
    const url = keepUrl(blob);
    try {
      return { url, img: await loadImage(url) };
    } catch (e) {
      const preview = await previewUrl(blob, name);
      return { url: preview, img: await loadImage(preview) };
    }
  }

  async function openImage(file) {
    if (!file) return;
    if (state.job) await cancel("a new image was opened"); // its result would belong to the old image
    const limit = state.models ? state.models.limits.max_upload_bytes : Infinity;
    if (file.size > limit) {
      fail(`${file.name} is ${mib(file.size)}, more than this server takes (${mib(limit)}).`);
      return;
    }
    setStatus(`Opening ${file.name}…`, "running");
    let shown;
    try {
      shown = await displayable(file, file.name);
    } catch (e) {
      fail(`${file.name}: ${e.message}`);
      return;
    }
    state.imageFile = file;
    state.imageUrl = shown.url;
    state.width = shown.img.naturalWidth;
    state.height = shown.img.naturalHeight;
    const input = $("input-image");
    input.src = shown.url;
    $("input-frame").hidden = false;
    $("drop-zone").classList.remove("empty");
    canvas.width = state.width;
    canvas.height = state.height;
    state.ops = [];
    state.redo = [];
    $("mask-file").value = "";
    $("mask-file").disabled = false;
    redraw();
    const slider = $("brush-size");
    slider.max = String(Math.max(50, Math.round(Math.max(state.width, state.height) / 4)));
    slider.value = String(Math.max(2, Math.round(Math.min(state.width, state.height) / 24)));
    $("brush-size-value").textContent = slider.value;
    $("image-info").textContent = `${file.name}: ${state.width}×${state.height}, ${mib(file.size)}`;
    clearResult();
    $("run").disabled = false;
    setStatus("", "image");
    showTask();
  }

  // ------------------------------------------------------------------ the mask
  function strokePath(op) {
    ctx.globalCompositeOperation = op.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = `rgb(${HOLE_RGB.join(",")})`;
    ctx.lineWidth = op.size;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (op.points.length === 1) {
      const [x, y] = op.points[0];
      ctx.arc(x, y, op.size / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.moveTo(...op.points[0]);
      for (const p of op.points.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = "source-over";
  }

  function drawOp(op) {
    if (op.type === "clear") ctx.clearRect(0, 0, canvas.width, canvas.height);
    else if (op.type === "mask") {  // an uploaded mask replaces what was painted
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(op.canvas, 0, 0);
    }
    else strokePath(op);
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const op of state.ops) drawOp(op);
    const last = state.ops[state.ops.length - 1];
    $("undo").disabled = !state.ops.length;
    $("redo").disabled = !state.redo.length;
    $("clear").disabled = !state.ops.length || last.type === "clear";
  }

  function edit(op) {          // a new edit: recorded for undo, and redo's list is dropped
    state.ops.push(op);
    state.redo = [];
  }

  function pointOf(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
            (event.clientY - box.top) * canvas.height / box.height];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!state.imageFile || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    state.drawing = { type: "stroke", erase: state.tool === "eraser", size: Number($("brush-size").value),
                      points: [pointOf(event)] };
    edit(state.drawing);
    strokePath(state.drawing);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    const op = state.drawing;
    op.points.push(pointOf(event));
    strokePath({ ...op, points: op.points.slice(-2) }); // the new segment now; the whole stroke at the end
  });
  const endStroke = () => {
    if (!state.drawing) return;
    state.drawing = null;
    redraw(); // one path per stroke: the same pixels as after an undo
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  // The hole as restore reads masks: white = hole, black = keep (threshold 127, like the CLI).
  function holeCanvas() {
    const { width, height } = canvas;
    const painted = ctx.getImageData(0, 0, width, height).data;
    const out = new ImageData(width, height);
    let holes = 0;
    for (let i = 0; i < width * height; i++) {
      const hole = painted[4 * i + 3] > 127;
      holes += hole;
      const v = hole ? 255 : 0;
      out.data[4 * i] = out.data[4 * i + 1] = out.data[4 * i + 2] = v;
      out.data[4 * i + 3] = 255;
    }
    const c = document.createElement("canvas");
    c.width = width;
    c.height = height;
    c.getContext("2d").putImageData(out, 0, 0);
    return { canvas: c, holes };
  }

  function maskBlob() {
    // An uploaded mask nobody painted over goes as it is: the server reads it exactly as `restore inpaint`.
    const last = state.ops[state.ops.length - 1];
    if (last && last.type === "mask") return Promise.resolve(last.file);
    return new Promise((resolve) => holeCanvas().canvas.toBlob(resolve, "image/png"));
  }

  // Show an uploaded mask the way restore reads it: alpha plane if not opaque, else brightest channel > 127.
  async function openMask(file) {
    if (!file || !state.imageFile) return;
    let shown;
    try {
      shown = await displayable(file, file.name);
    } catch (e) {
      fail(`mask ${file.name}: ${e.message}`);
      return;
    }
    const { width, height } = canvas;
    const scratch = document.createElement("canvas");
    scratch.width = width;
    scratch.height = height;
    const sctx = scratch.getContext("2d", { willReadFrequently: true });
    sctx.imageSmoothingEnabled = false; // nearest neighbour, as the CLI resizes masks
    sctx.drawImage(shown.img, 0, 0, width, height);
    const pixels = sctx.getImageData(0, 0, width, height);
    const d = pixels.data;
    let transparent = false;
    for (let i = 3; i < d.length; i += 4) if (d[i] < 255) { transparent = true; break; }
    for (let i = 0; i < d.length; i += 4) {
      const hole = transparent ? d[i + 3] > 127 : Math.max(d[i], d[i + 1], d[i + 2]) > 127;
      [d[i], d[i + 1], d[i + 2]] = HOLE_RGB;
      d[i + 3] = hole ? 255 : 0;
    }
    sctx.putImageData(pixels, 0, 0);
    edit({ type: "mask", canvas: scratch, file });
    redraw();
  }

  function setTool(tool) {
    state.tool = tool;
    for (const [id, name] of [["tool-brush", "brush"], ["tool-eraser", "eraser"]]) {
      $(id).classList.toggle("active", tool === name);
      $(id).setAttribute("aria-pressed", String(tool === name));
    }
  }

  function undo() {
    if (!state.ops.length) return;
    state.redo.push(state.ops.pop());
    redraw();
  }

  function redo() {
    if (!state.redo.length) return;
    state.ops.push(state.redo.pop());
    redraw();
  }

  function clearMask() {
    const last = state.ops[state.ops.length - 1];
    if (!last || last.type === "clear") return;
    edit({ type: "clear" });
    redraw();
  }

  // ------------------------------------------------------------------ jobs
  async function run() {
    if (!state.imageFile) return;
    const kind = task();
    const form = new FormData();
    form.append("image", state.imageFile, state.imageFile.name);
    if (kind === "inpaint") {
      if (!state.ops.length || holeCanvas().holes === 0) {
        fail("Paint the hole first (or upload a mask): nothing is marked.");
        return;
      }
      form.append("mask", await maskBlob(), "mask.png");
      form.append("method", $("method").value);
      for (const name of ["steps", "restarts", "seed"]) {
        if ($(name).value !== "") form.append(name, $(name).value);
      }
      if ($("input-is-reference").checked) form.append("reference", state.imageFile, state.imageFile.name);
    } else {
      form.append("model", $("sr-model").value);
      if ($("outscale").value !== "") form.append("outscale", $("outscale").value);
      const reference = $("reference-file").files[0];
      if (reference) form.append("reference", reference, reference.name);
    }
    form.append("format", $("format").value);
    const imageFile = state.imageFile;
    $("run").disabled = true;
    setStatus("Uploading…", "running");
    let response;
    try {
      response = await fetch(`/api/jobs/${kind}`, { method: "POST", body: form });
    } catch (e) {
      fail(`The server did not answer (${e.message}).`);
      return;
    }
    if (!response.ok) {
      fail(await errorOf(response));
      return;
    }
    const job = await response.json();
    if (state.imageFile !== imageFile) {  // another image was opened during the upload
      fetch(`/api/jobs/${job.id}`, { method: "DELETE" }).catch(() => {});
      return;
    }
    watch(job, imageFile);
  }

  function describe(job) {
    const what = job.task === "sr" ? "Super-resolution" : "Inpainting";
    if (job.state === "queued") return job.position ? `Queued: ${job.position} job(s) ahead…` : "Queued…";
    const p = job.progress;
    let text = `${what}`;
    if (p && p.total) {
      const unit = p.unit === "tile" ? "tile" : "step";
      text += ` (${p.desc}): ${unit} ${p.done} of ${p.total}, ${Math.floor(p.percent)}%`;
      if (p.eta !== null && p.eta !== undefined && p.done < p.total) text += `, about ${formatSeconds(p.eta)} left`;
    } else {
      text += "…";
    }
    return `${text} · ${job.elapsed.toFixed(1)} s`;
  }

  function formatSeconds(s) {
    if (s < 1) return "<1 s";
    if (s < 90) return `${Math.round(s)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }

  function watch(job, imageFile) {
    state.job = { ...job, imageFile };
    $("cancel").hidden = false;
    $("run").disabled = true;
    setStatus(describe(job), "running", job.progress);
    const events = new EventSource(job.events_url);
    state.events = events;
    events.onmessage = (message) => {
      if (state.events !== events) return;
      const update = JSON.parse(message.data);
      if (update.state === "queued" || update.state === "running") {
        setStatus(describe(update), "running", update.progress);
        return;
      }
      events.close();
      state.events = null;
      finish(update);
    };
    events.onerror = async () => {
      if (state.events !== events) return;
      events.close();
      state.events = null;
      try {
        const response = await fetch(job.status_url);
        if (response.ok) {
          const update = await response.json();
          if (update.state !== "queued" && update.state !== "running") return finish(update);
        }
      } catch (e) { /* fall through */ }
      state.job = null;
      fail("Lost the connection to the server.");
    };
  }

  async function finish(job) {
    const imageFile = state.job ? state.job.imageFile : null;
    state.job = null;
    $("cancel").hidden = true;
    if (job.state !== "done") {
      fail(job.state === "cancelled" ? `Cancelled (${job.error || "on request"}).` : job.error || job.state);
      return;
    }
    const response = await fetch(job.result_url);
    if (!response.ok) {
      fail(await errorOf(response));
      return;
    }
    const blob = await response.blob();
    fetch(`/api/jobs/${job.id}`, { method: "DELETE" }); // the page holds the file now; free the server's copy
    if (imageFile !== state.imageFile) return; // another image was opened meanwhile: not its result
    let shown;
    try {
      shown = await displayable(blob, job.download_name);
    } catch (e) {
      shown = null;
    }
    state.result = { blob, job, url: shown ? shown.url : null };
    const link = $("download");
    link.href = keepUrl(blob);
    link.download = job.download_name;
    link.textContent = `Download ${job.download_name} (${job.width}×${job.height}, ${mib(blob.size)})`;
    showLabel(job);
    $("metrics").textContent = metricsText(job.metrics);
    $("result-tools").hidden = false;
    $("use-result").disabled = !shown;
    $("run").disabled = false;
    if (shown) {
      showResult(shown.url);
      const p = job.progress;
      const steps = p && p.total ? ` (${p.done} of ${p.total} ${p.unit}s)` : "";
      setStatus(`Done in ${job.seconds.toFixed(2)} s${steps}: ${job.width}×${job.height}.`, "done");
    } else {
      fail("The result cannot be shown here; it can still be downloaded.");
    }
  }

  // What ran and why, from the job's info: `auto`'s choice and reason as the CLI prints them.
  function labelParts(job) {
    const info = job.info || {};
    const requested = info.requested || (job.task === "sr" ? "auto" : info.method);
    let used;
    if (job.task === "sr") {
      used = `${info.model}, ×${info.outscale ?? info.scale}`;
    } else {
      used = info.method === "gan" || info.method === "vae" || info.method === "gan-vae-init"
        ? `${info.method} search with ${info.model}` : info.method;
    }
    const reason = info.reason || (requested === "auto" ? "" : "chosen in the menu");
    return { requested, used, reason };
  }

  function showLabel(job) {
    const { requested, used, reason } = labelParts(job);
    const label = $("result-label");
    label.replaceChildren();
    const what = document.createElement("b");
    what.textContent = requested === "auto" ? `auto → ${used}` : used;
    label.append(job.task === "sr" ? "Super-resolution: " : "Inpainting: ", what);
    if (reason) label.append(` — ${reason}`);
    label.hidden = false;
  }

  function metricsText(metrics) {
    if (!metrics) return "";
    if (metrics.error) return `No metrics: ${metrics.error}`;
    const psnr = typeof metrics.psnr === "number" ? `${metrics.psnr.toFixed(2)} dB` : metrics.psnr;
    const protocol = `${metrics.y_channel ? "Y channel" : "RGB"}, border ${metrics.crop_border}`;
    return `Against the reference: PSNR ${psnr}, SSIM ${Number(metrics.ssim).toFixed(4)} (${protocol})`;
  }

  function showResult(url) {
    $("compare-before").src = state.imageUrl;
    $("compare-after").src = url;
    $("compare-frame").hidden = false;
    $("compare-hint").hidden = false;
    $("compare").classList.remove("empty");
    setSlider(Number($("compare-slider").value));
    setZoom(state.zoom);
  }

  function setSlider(percent) {
    $("compare-before").style.clipPath = `inset(0 ${100 - percent}% 0 0)`;
    $("compare-line").style.left = `${percent}%`;
  }

  // fit: the whole result in the panel; a number: that many screen pixels per result pixel (scrolls)
  function setZoom(zoom) {
    state.zoom = zoom;
    $("zoom").value = zoom;
    const after = $("compare-after");
    const stage = $("compare");
    const factor = zoom === "fit" ? 0 : Number(zoom);
    stage.classList.toggle("zoomed", factor > 0);
    stage.classList.toggle("pixelated", factor >= 2);
    after.style.width = factor && after.naturalWidth ? `${after.naturalWidth * factor}px` : "";
  }

  function clearResult() {
    state.result = null;
    $("compare-before").removeAttribute("src");
    $("compare-after").removeAttribute("src");
    for (const id of ["compare-frame", "compare-hint", "result-tools", "result-label"]) $(id).hidden = true;
    $("result-label").replaceChildren();
    $("compare").classList.add("empty");
    $("download").removeAttribute("href");
    $("download").removeAttribute("download");
    $("download").textContent = "Download";
    $("metrics").textContent = "";
  }

  // Chaining: the result (the downloaded file's exact bytes) becomes the input, e.g. inpaint then upscale.
  async function useResult() {
    if (!state.result) return;
    const { blob, job } = state.result;
    const file = new File([blob], job.download_name, { type: blob.type || job.media_type });
    const task = job.task;
    await openImage(file);
    if (state.imageFile === file) {
      setStatus(`${job.download_name} is the input now (the ${task === "sr" ? "upscaled" : "inpainted"} result).`,
                "image");
    }
  }

  async function cancel(reason) {
    const job = state.job;
    if (!job) return;
    if (state.events) state.events.close();
    state.events = null;
    state.job = null;
    $("cancel").hidden = true;
    await fetch(`/api/jobs/${job.id}`, { method: "DELETE" }).catch(() => {});
    fail(typeof reason === "string" ? `Cancelled: ${reason}.` : "Cancelled.");
  }

  // ------------------------------------------------------------------ wiring
  $("image-file").addEventListener("change", (e) => openImage(e.target.files[0]));
  $("mask-file").addEventListener("change", (e) => openMask(e.target.files[0]));
  for (const id of ["task-inpaint", "task-sr"]) $(id).addEventListener("change", showTask);
  $("tool-brush").addEventListener("click", () => setTool("brush"));
  $("tool-eraser").addEventListener("click", () => setTool("eraser"));
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("clear").addEventListener("click", clearMask);
  $("brush-size").addEventListener("input", (e) => { $("brush-size-value").textContent = e.target.value; });
  $("method").addEventListener("change", showModelNotes);
  $("sr-model").addEventListener("change", showModelNotes);
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", () => cancel());
  $("use-result").addEventListener("click", useResult);
  $("zoom").addEventListener("change", (e) => setZoom(e.target.value));
  $("compare-after").addEventListener("load", () => setZoom(state.zoom));
  $("compare-slider").addEventListener("input", (e) => setSlider(Number(e.target.value)));
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
    if (!(e.ctrlKey || e.metaKey) || typing) return;
    const key = e.key.toLowerCase();
    if (key === "z" || key === "y") {
      e.preventDefault();
      if (key === "y" || e.shiftKey) redo(); else undo();
    }
  });
  document.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-zone").classList.add("dragging"); });
  document.addEventListener("dragleave", () => $("drop-zone").classList.remove("dragging"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop-zone").classList.remove("dragging");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) openImage(file);
  });
  window.addEventListener("pagehide", () => { if (state.events) state.events.close(); });

  // For scripts and tests: the exact bytes of the mask that would be sent and of the last result.
  const base64 = async (blob) => {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  };
  window.restoreApp = {
    state,
    maskBase64: async () => base64(await maskBlob()),
    resultBase64: async () => (state.result ? base64(state.result.blob) : null),
    describe,
  };

  loadModels().catch((e) => fail(`Cannot reach the server: ${e.message}`));
})();
