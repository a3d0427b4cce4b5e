// restore serve: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
//
// Flow: open or drop an image -> paint the hole (or upload a mask) or pick super-resolution ->
// POST /api/jobs/{task} (multipart, fields named like the CLI's options) -> watch
// /api/jobs/{id}/events (server-sent events; closing the page cancels the job) -> fetch the result
// file as it is (full quality) -> show it beside the input with a before/after slider.
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
    drawing: null,
    tool: "brush",
    job: null,
    events: null,
    result: null,        // {blob, job}
    urls: [],
  };
  const canvas = $("mask-canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  // ------------------------------------------------------------------ status
  function setStatus(text, kind) {
    $("status").textContent = text;
    $("status").dataset.state = kind;
    document.body.dataset.state = kind;
    $("progress").hidden = kind !== "running";
  }

  function fail(message) {
    setStatus(message, "failed");
    $("run").disabled = !state.imageFile;
    $("cancel").disabled = true;
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
    $("server-info").textContent =
      `device ${m.device} · uploads up to ${mib(m.limits.max_upload_bytes)}, ` +
      `${(m.limits.max_pixels / 1e6).toFixed(0)} MP · ${m.limits.queue} may wait`;
    setStatus("Open an image to begin.", "ready");
  }

  function task() {
    return $("task-sr").checked ? "sr" : "inpaint";
  }

  function showTask() {
    const sr = task() === "sr";
    $("inpaint-options").hidden = sr;
    $("sr-options").hidden = !sr;
    canvas.hidden = sr || !state.imageFile;
    $("input-hint").textContent = sr ? "" : "paint over what should be filled";
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
    input.hidden = false;
    $("drop-zone").classList.remove("empty");
    canvas.width = state.width;
    canvas.height = state.height;
    state.ops = [];
    redraw();
    const slider = $("brush-size");
    slider.max = String(Math.max(50, Math.round(Math.max(state.width, state.height) / 4)));
    slider.value = String(Math.max(2, Math.round(Math.min(state.width, state.height) / 24)));
    $("brush-size-value").textContent = slider.value;
    $("image-info").textContent = `${file.name}: ${state.width}×${state.height}, ${mib(file.size)}`;
    clearResult();
    showTask();
    $("run").disabled = Boolean(state.job); // one run at a time from this page
    setStatus(task() === "inpaint" ? "Paint the hole, then Run." : "Choose a model, then Run.", "image");
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
    else if (op.type === "mask") ctx.drawImage(op.canvas, 0, 0);
    else strokePath(op);
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const op of state.ops) drawOp(op);
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
    state.ops.push(state.drawing);
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
    if (state.ops.length === 1 && state.ops[0].type === "mask") return Promise.resolve(state.ops[0].file);
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
    state.ops = [{ type: "mask", canvas: scratch, file }];
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
    state.ops.pop();
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
    watch(await response.json());
  }

  function describe(job) {
    const what = job.task === "sr" ? "super-resolution" : "inpainting";
    if (job.state === "queued") return job.position ? `Queued: ${job.position} job(s) ahead…` : "Queued…";
    return `Running ${what}… ${job.elapsed.toFixed(1)} s`;
  }

  function watch(job) {
    state.job = job;
    $("cancel").disabled = false;
    setStatus(describe(job), "running");
    const events = new EventSource(job.events_url);
    state.events = events;
    events.onmessage = (message) => {
      const update = JSON.parse(message.data);
      if (update.state === "queued" || update.state === "running") {
        setStatus(describe(update), "running");
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
      fail("Lost the connection to the server.");
    };
  }

  async function finish(job) {
    $("cancel").disabled = true;
    state.job = null;
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
    let shown;
    try {
      shown = await displayable(blob, job.download_name);
    } catch (e) {
      fail(`The result cannot be shown (${e.message}); it can still be downloaded.`);
      shown = null;
    }
    state.result = { blob, job };
    if (shown) showResult(shown.url);
    const link = $("download");
    link.href = keepUrl(blob);
    link.download = job.download_name;
    link.textContent = `Download ${job.download_name} (${job.width}×${job.height}, ${mib(blob.size)})`;
    link.hidden = false;
    $("metrics").textContent = metricsText(job.metrics);
    $("run").disabled = false;
    if (shown) setStatus(`Done in ${job.seconds.toFixed(2)} s: ${job.width}×${job.height}.`, "done");
  }

  function metricsText(metrics) {
    if (!metrics) return "";
    if (metrics.error) return `No metrics: ${metrics.error}`;
    const psnr = typeof metrics.psnr === "number" ? `${metrics.psnr.toFixed(2)} dB` : metrics.psnr;
    const protocol = `${metrics.y_channel ? "Y channel" : "RGB"}, border ${metrics.crop_border}`;
    return `Against the reference: PSNR ${psnr}, SSIM ${Number(metrics.ssim).toFixed(4)} (${protocol})`;
  }

  function showResult(url) {
    const before = $("compare-before");
    const after = $("compare-after");
    before.src = state.imageUrl;
    after.src = url;
    before.hidden = after.hidden = false;
    $("compare-line").hidden = false;
    $("compare").classList.remove("empty");
    $("compare-slider").disabled = false;
    setSlider(Number($("compare-slider").value));
  }

  function setSlider(percent) {
    $("compare-after").style.clipPath = `inset(0 0 0 ${percent}%)`;
    $("compare-line").style.left = `${percent}%`;
  }

  function clearResult() {
    state.result = null;
    for (const id of ["compare-before", "compare-after", "compare-line", "download"]) $(id).hidden = true;
    $("compare").classList.add("empty");
    $("compare-slider").disabled = true;
    $("metrics").textContent = "";
  }

  async function cancel() {
    const job = state.job;
    if (!job) return;
    if (state.events) state.events.close();
    state.events = null;
    state.job = null;
    $("cancel").disabled = true;
    await fetch(`/api/jobs/${job.id}`, { method: "DELETE" }).catch(() => {});
    fail("Cancelled.");
  }

  // ------------------------------------------------------------------ wiring
  $("image-file").addEventListener("change", (e) => openImage(e.target.files[0]));
  $("mask-file").addEventListener("change", (e) => openMask(e.target.files[0]));
  for (const id of ["task-inpaint", "task-sr"]) $(id).addEventListener("change", showTask);
  $("tool-brush").addEventListener("click", () => setTool("brush"));
  $("tool-eraser").addEventListener("click", () => setTool("eraser"));
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", () => { if (state.ops.length) { state.ops.push({ type: "clear" }); redraw(); } });
  $("brush-size").addEventListener("input", (e) => { $("brush-size-value").textContent = e.target.value; });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  $("compare-slider").addEventListener("input", (e) => setSlider(Number(e.target.value)));
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "z" && !(e.target instanceof HTMLInputElement)) {
      e.preventDefault();
      undo();
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
  };

  loadModels().catch((e) => fail(`Cannot reach the server: ${e.message}`));
})();
