/* riptide profiler dashboard: the live feed into Plotly charts, and the API's views. */
(function () {
  "use strict";

  var body = document.body;
  var FEED_PATH = body.dataset.feedPath;
  var API = body.dataset.apiRoot;
  var OWN = body.dataset.instance;
  var INTERVAL_SECS = Number(body.dataset.interval) || 5;
  // An instance is marked gone when no sample came for this many of its intervals (at least 5 s).
  var GONE_AFTER_INTERVALS = 3;
  var PALETTE = ["#2563eb", "#db2777", "#16a34a", "#9333ea", "#d97706", "#0ea5e9", "#dc2626", "#64748b"];
  var MAX_POINTS = 600;
  var BACKOFF_SECS = [1, 2, 4, 8, 15];
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1b2333" };
  var COLORS = { rss: "#2563eb", heap: "#16a34a", virtual: "#9333ea", warn: "#d97706", crit: "#dc2626",
    usage: "#2563eb", user: "#0ea5e9", system: "#f59e0b", process: "#db2777", load: "#64748b" };

  var thresholds = null;
  // Every instance heard on the feed: its recent samples, when it was last heard, gone or not.
  var instances = {};
  // The instance shown: a name, or "" for all of them side by side.
  var selected = OWN;
  var allNames = [];

  // -- helpers ---------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attrs[name]; } else { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function show(container, nodes) {
    container.replaceChildren.apply(container, nodes);
  }

  function showInChart(div, nodes) {
    Plotly.purge(div);
    div.classList.add("empty");
    show(div, nodes);
  }

  function notice(text, kind) { return el("p", { "class": "notice " + (kind || ""), text: text }); }

  function pad(n, width) { return String(n).padStart(width || 2, "0"); }

  // Plotly wants local wall-clock strings; the API speaks ISO 8601 UTC.
  function plotDate(iso) {
    var d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) +
      ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function clock(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function fmt(value, digits, unit) {
    if (value === null || value === undefined || Number.isNaN(value)) { return "—"; }
    return Number(value).toFixed(digits) + (unit || "");
  }

  function mb(bytes) {
    if (bytes === null || bytes === undefined) { return "—"; }
    if (bytes < 1048576) { return (bytes / 1024).toFixed(bytes < 10240 ? 1 : 0) + " KB"; }
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  // -- API calls -------------------------------------------------------------------------

  function callApi(method, path) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") { headers["X-CSRFToken"] = CSRF; }
    return fetch(API + path, { method: method, headers: headers, credentials: "same-origin" }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: response.status, ok: response.ok, data: data, retryAfter: response.headers.get("Retry-After") };
      });
    });
  }

  // The instance the buttons and views ask about: the one shown, or this server's in the all view.
  function target() { return selected || OWN; }

  function forTarget(path) {
    if (target() === OWN) { return path; }
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "instance=" + encodeURIComponent(target());
  }

  // A sentence for an answer that carries no result: missing endpoint, disabled, limited.
  function problem(result, what) {
    if (result.status === 504 || result.status === 502) {
      return notice(what + " for " + target() + " failed (HTTP " + result.status + "): " +
        (result.data && result.data.detail ? result.data.detail : "the instance did not answer"), "error");
    }
    if (result.status === 404 && result.data && /No live instance/.test(result.data.detail || "")) {
      return notice(result.data.detail, "error");
    }
    if (result.status === 404 || result.status === 405 || result.status === 501) {
      return notice(what + " is not available on this server yet (HTTP " + result.status + ").", "unavailable");
    }
    if (result.status === 503) {
      var why = result.data && result.data.detail ? result.data.detail : "profiling is disabled or not running";
      return notice(what + " is unavailable (HTTP 503): " + why, "unavailable");
    }
    if (result.status === 429) {
      return notice("Rate limited: try again in " + (result.retryAfter || "a few") + " s.", "error");
    }
    if (result.status === 401 || result.status === 403) {
      return notice("Not allowed (HTTP " + result.status + "): sign in again.", "error");
    }
    var detail = result.data && result.data.detail ? ": " + result.data.detail : "";
    return notice(what + " failed (HTTP " + result.status + ")" + detail, "error");
  }

  function failed(container, what) {
    return function (error) { show(container, [notice(what + " failed: " + error.message, "error")]); };
  }

  // -- charts ----------------------------------------------------------------------------

  function baseLayout(yTitle, y2Title) {
    return {
      font: FONT, margin: { l: 52, r: 56, t: 10, b: 36 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      hovermode: "x unified", showlegend: true,
      legend: { orientation: "h", y: -0.18, x: 0, font: { size: 11.5 } },
      xaxis: { type: "date", gridcolor: "#eef1f6", linecolor: "#e3e7ef" },
      yaxis: { title: { text: yTitle }, gridcolor: "#eef1f6", zeroline: false, rangemode: "tozero" },
      yaxis2: { title: { text: y2Title }, overlaying: "y", side: "right", showgrid: false, zeroline: false, rangemode: "tozero" },
    };
  }

  function line(name, color, extra) {
    return Object.assign({ x: [], y: [], name: name, type: "scatter", mode: "lines", line: { color: color, width: 2 } }, extra || {});
  }

  var memoryTraces = [
    function (m) { return m.memory.rss_mb; },
    function (m) { return m.memory.heap_mb; },
    function (m) { return m.memory.virtual_mb; },
  ];
  var cpuTraces = [
    function (m) { return m.cpu.cpu_usage_percent; },
    function (m) { return m.cpu.user_time_percent; },
    function (m) { return m.cpu.system_time_percent; },
    function (m) { return m.cpu.process ? m.cpu.process.cpu_percent : null; },
    function (m) { return m.cpu.load_average ? m.cpu.load_average.one_min : null; },
  ];

  // The memory and CPU charts: a time axis, the compared windows shaded on it, and while a
  // window is being picked a horizontal drag selects a time range instead of zooming.
  function timeLayout(yTitle, y2Title) {
    var layout = baseLayout(yTitle, y2Title);
    layout.shapes = windowShapes();
    layout.dragmode = diffPicking ? "select" : "zoom";
    layout.selectdirection = "h";
    return layout;
  }

  function thresholdShapes() {
    if (!thresholds) { return []; }
    return [
      { type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: thresholds.warning_mb, y1: thresholds.warning_mb, line: { color: COLORS.warn, dash: "dash", width: 1.5 } },
      { type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: thresholds.alert_mb, y1: thresholds.alert_mb, line: { color: COLORS.crit, dash: "dash", width: 1.5 } },
    ];
  }

  function memoryLayout() {
    var layout = timeLayout("MB", "virtual MB");
    // Virtual memory is several times RSS: its own strip below, not a second axis over the thresholds.
    layout.yaxis.domain = [0.34, 1];
    layout.yaxis2 = { title: { text: "virtual" }, domain: [0, 0.22], anchor: "x", gridcolor: "#eef1f6", zeroline: false, nticks: 3 };
    layout.xaxis.anchor = "y2";
    layout.margin.r = 16;
    layout.shapes = thresholdShapes().concat(layout.shapes);
    if (thresholds) {
      layout.annotations = [
        { xref: "paper", x: 0.995, xanchor: "right", yref: "y", y: thresholds.warning_mb, yanchor: "top", showarrow: false, text: "warning " + thresholds.warning_mb + " MB", font: { color: COLORS.warn, size: 11 } },
        { xref: "paper", x: 0.005, xanchor: "left", yref: "y", y: thresholds.alert_mb, yanchor: "bottom", showarrow: false, text: "alert " + thresholds.alert_mb + " MB", font: { color: COLORS.crit, size: 11 } },
      ];
    }
    return layout;
  }

  function drawCharts(samples) {
    var x = samples.map(function (m) { return plotDate(m.timestamp); });
    function series(pick) { return samples.map(pick); }
    Plotly.react($("memory-chart"), [
      line("RSS", COLORS.rss, { x: x, y: series(memoryTraces[0]), fill: "tozeroy", fillcolor: "rgba(37,99,235,.08)" }),
      line("heap (anon)", COLORS.heap, { x: x, y: series(memoryTraces[1]) }),
      line("virtual", COLORS.virtual, { x: x, y: series(memoryTraces[2]), yaxis: "y2", line: { color: COLORS.virtual, width: 1.5, dash: "dot" } }),
    ], memoryLayout(), PLOT_CONFIG);
    var cpuLayout = timeLayout("%", "load");
    Plotly.react($("cpu-chart"), [
      line("system usage", COLORS.usage, { x: x, y: series(cpuTraces[0]), fill: "tozeroy", fillcolor: "rgba(37,99,235,.08)" }),
      line("user", COLORS.user, { x: x, y: series(cpuTraces[1]), line: { color: COLORS.user, width: 1.5 } }),
      line("system", COLORS.system, { x: x, y: series(cpuTraces[2]), line: { color: COLORS.system, width: 1.5 } }),
      line("this process", COLORS.process, { x: x, y: series(cpuTraces[3]) }),
      line("load 1 min (right)", COLORS.load, { x: x, y: series(cpuTraces[4]), yaxis: "y2", line: { color: COLORS.load, width: 1.5, dash: "dot" } }),
    ], cpuLayout, PLOT_CONFIG);
  }

  // All instances side by side: RSS and process CPU, one line per instance.
  function drawAll() {
    allNames = Object.keys(instances).sort();
    function traces(pick, unit) {
      return allNames.map(function (name, i) {
        var samples = instances[name].samples;
        return line(name + (name === OWN ? " (this server)" : ""), PALETTE[i % PALETTE.length], {
          x: samples.map(function (m) { return plotDate(m.timestamp); }), y: samples.map(pick),
          hovertemplate: "%{y:.1f} " + unit, opacity: instances[name].gone ? 0.45 : 1,
        });
      });
    }
    var layout = memoryLayout();
    delete layout.yaxis2; layout.yaxis.domain = [0, 1]; layout.xaxis.anchor = "y";
    layout.yaxis.title = { text: "RSS MB" };
    Plotly.react($("memory-chart"), traces(memoryTraces[0], "MB"), layout, PLOT_CONFIG);
    var cpuLayout = timeLayout("process CPU %", "");
    delete cpuLayout.yaxis2;
    Plotly.react($("cpu-chart"), traces(cpuTraces[3], "%"), cpuLayout, PLOT_CONFIG);
  }

  function extendAll(index, message) {
    var t = plotDate(message.timestamp);
    Plotly.extendTraces($("memory-chart"), { x: [[t]], y: [[memoryTraces[0](message)]] }, [index], MAX_POINTS);
    Plotly.extendTraces($("cpu-chart"), { x: [[t]], y: [[cpuTraces[3](message)]] }, [index], MAX_POINTS);
  }

  function redraw() {
    if (selected) {
      var entry = instances[selected];
      drawCharts(entry ? entry.samples : []);
      if (entry && entry.samples.length) { showLatest(entry.samples[entry.samples.length - 1]); }
    } else {
      drawAll();
      showAllLatest();
    }
  }

  function extendCharts(message) {
    var t = plotDate(message.timestamp);
    function extend(div, picks) {
      Plotly.extendTraces(div, {
        x: picks.map(function () { return [t]; }),
        y: picks.map(function (pick) { return [pick(message)]; }),
      }, picks.map(function (_, i) { return i; }), MAX_POINTS);
    }
    extend($("memory-chart"), memoryTraces);
    extend($("cpu-chart"), cpuTraces);
  }

  function showAllLatest() {
    var live = Object.keys(instances).filter(function (name) { return !instances[name].gone; });
    var order = { normal: 0, warning: 1, critical: 2 };
    var worst = null, total = 0;
    live.forEach(function (name) {
      var samples = instances[name].samples, last = samples[samples.length - 1];
      if (!last) { return; }
      total += last.memory.rss_mb;
      var status = last.memory.threshold_status;
      if (worst === null || order[status] > order[worst]) { worst = status; }
    });
    var badge = $("status-badge");
    badge.dataset.status = worst || "unknown";
    badge.textContent = (worst || "no data") + " · " + live.length + " live instance" + (live.length === 1 ? "" : "s");
    $("memory-summary").textContent = "RSS of each instance · total " + fmt(total, 1, " MB");
    $("cpu-summary").textContent = "CPU of each instance's process (100 % = one core)";
  }

  function showLatest(message) {
    var memory = message.memory, cpu = message.cpu;
    var badge = $("status-badge");
    badge.dataset.status = memory.threshold_status;
    badge.textContent = memory.threshold_status + " · RSS " + fmt(memory.rss_mb, 1, " MB");
    var growth = memory.growth_rate_mb_per_sec;
    $("memory-summary").textContent = "RSS " + fmt(memory.rss_mb, 1, " MB") + " · heap " + fmt(memory.heap_mb, 1, " MB") +
      " · growth " + (growth === null ? "—" : fmt(growth * 60, 2, " MB/min")) + " · " + clock(message.timestamp);
    $("cpu-summary").textContent = "system " + fmt(cpu.cpu_usage_percent, 1, " %") + " · process " +
      fmt(cpu.process ? cpu.process.cpu_percent : null, 1, " %") + " · load " +
      (cpu.load_average ? fmt(cpu.load_average.one_min, 2) : "—");
  }

  // -- the live feed ---------------------------------------------------------------------

  var socket = null;
  var attempt = 0;
  var chartsReady = false;

  function setConnection(state, text) {
    var indicator = $("connection-status");
    indicator.dataset.state = state;
    indicator.querySelector(".text").textContent = text;
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + FEED_PATH);
    socket.onopen = function () { attempt = 0; setConnection("open", "live"); };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      var delay = BACKOFF_SECS[Math.min(attempt, BACKOFF_SECS.length - 1)];
      attempt += 1;
      var reason = event.code === 4503 ? "profiling off" : "disconnected";
      setConnection("closed", reason + " · retry in " + delay + " s");
      window.setTimeout(connect, delay * 1000);
    };
  }

  // WSGI servers have no websockets: the page polls the samples endpoint instead, at the
  // sampling interval (at least 1 s, so the per-endpoint rate limit is never reached),
  // and hands each sample to the same code the feed's messages go through.
  var lastPolled = null;
  var POLL_MIN_SECS = 1;

  function poll() {
    var path = "samples" + (lastPolled ? "?after=" + (Date.parse(lastPolled) / 1000) : "");
    var next = Math.max(INTERVAL_SECS, POLL_MIN_SECS);
    callApi("GET", path).then(function (result) {
      if (!result.ok || !result.data) {
        var wait = Number(result.retryAfter) || BACKOFF_SECS[Math.min(attempt, BACKOFF_SECS.length - 1)];
        attempt += 1;
        setConnection("closed", (result.status === 503 ? "profiling off" : "polling failed") + " · retry in " + wait + " s");
        window.setTimeout(poll, wait * 1000);
        return;
      }
      attempt = 0;
      var data = result.data;
      if (lastPolled === null) {
        handle({ type: "hello", instance: data.instance, interval_secs: data.interval_secs, thresholds: data.thresholds });
        handle({ type: "history", samples: data.samples });
      } else {
        data.samples.forEach(handle);
      }
      data.samples.forEach(function (m) { if (!lastPolled || m.timestamp > lastPolled) { lastPolled = m.timestamp; } });
      setConnection("open", "polling");
      window.setTimeout(poll, next * 1000);
    }).catch(function () {
      setConnection("closed", "polling failed · retry in " + next + " s");
      window.setTimeout(poll, next * 1000);
    });
  }

  function handle(message) {
    switch (message.type) {
      case "hello":
        thresholds = message.thresholds;
        if (message.instance !== OWN) {  // the server restarted: a new process, a new name
          if (selected === OWN) { selected = message.instance; }
          OWN = message.instance;
        }
        $("instance-name").textContent = message.instance;
        break;
      case "history":
        message.samples.forEach(record);
        redraw();
        chartsReady = true;
        renderInstances();
        break;
      case "sample":
        if (!record(message)) { break; }
        if (!chartsReady) { redraw(); chartsReady = true; }
        if (!selected) {
          var index = allNames.indexOf(message.instance);
          if (index < 0) { redraw(); } else { extendAll(index, message); showAllLatest(); }
        } else if (message.instance === selected) {
          extendCharts(message);
          showLatest(message);
        }
        renderInstances();
        break;
      case "alert":
        addEvent(message.timestamp, instanceTag(message) + "Memory status " + (message.previous_status || "—") + " → " + message.threshold_status +
          " (RSS " + fmt(message.rss_mb, 1, " MB") + ")");
        break;
      case "leak_report":
        addEvent(message.timestamp, instanceTag(message) + "Leak report: " + ((message.potential_leaks || []).length) + " potential leak(s)" +
          (message.highest_risk_component ? ", highest risk " + message.highest_risk_component : ""));
        if (message.potential_leaks && message.instance === target()) { showLeakReport(message); }
        break;
      case "snapshot":
        addEvent(message.timestamp, instanceTag(message) + "Snapshot " + (message.snapshot_id || "") + " written");
        if (message.snapshot_id && message.instance === target()) { showSnapshot(message); }
        break;
      case "error":
        addEvent(null, "Feed: " + message.detail);
        break;
      default:
        break;
    }
  }

  function instanceTag(message) { return message.instance && message.instance !== OWN ? message.instance + ": " : ""; }

  // -- instances -------------------------------------------------------------------------

  // Keep a sample in its instance's buffer; false for one already kept (a history replay).
  function record(message) {
    var name = message.instance;
    var entry = instances[name];
    if (!entry) { entry = instances[name] = { samples: [], lastSeen: 0, gone: false, interval: null }; }
    var time = Date.parse(message.timestamp);
    var samples = entry.samples;
    if (samples.length) {
      var previous = Date.parse(samples[samples.length - 1].timestamp);
      if (time <= previous) { return false; }
      entry.interval = (time - previous) / 1000;
    }
    samples.push(message);
    if (samples.length > MAX_POINTS) { samples.shift(); }
    entry.lastSeen = Date.now();
    entry.gone = false;
    return true;
  }

  function goneAfterMs(entry) {
    return 1000 * Math.max(5, GONE_AFTER_INTERVALS * (entry.interval || INTERVAL_SECS));
  }

  function checkGone() {
    var changed = false;
    Object.keys(instances).forEach(function (name) {
      var entry = instances[name];
      var gone = Date.now() - entry.lastSeen > goneAfterMs(entry);
      if (gone !== entry.gone) { entry.gone = gone; changed = true; }
    });
    if (changed) {
      renderInstances();
      if (!selected) { drawAll(); showAllLatest(); }
    }
  }

  function renderInstances() {
    var names = Object.keys(instances).sort();
    var live = 0;
    var items = names.map(function (name) {
      var entry = instances[name];
      var last = entry.samples[entry.samples.length - 1];
      if (!entry.gone) { live += 1; }
      var detail = (entry.gone ? "gone · last sample " : "live · ") + clock(last && last.timestamp) +
        (last ? " · RSS " + fmt(last.memory.rss_mb, 1, " MB") + " · " + last.memory.threshold_status : "");
      var item = el("li", { "data-instance": name, "data-state": entry.gone ? "gone" : "live", "class": name === selected ? "selected" : "",
        title: "show " + name }, [el("span", { "class": "dot" }), el("code", { text: name }),
        name === OWN ? el("span", { "class": "muted", text: "this server" }) : "", el("span", { "class": "muted", text: detail })]);
      item.addEventListener("click", function () { choose(name); });
      return item;
    });
    show($("instance-list"), items);
    var gone = names.length - live;
    $("instances-summary").textContent = live + " live" + (gone ? " · " + gone + " gone" : "") +
      " · a process is marked gone when its samples stop";
    syncOptions(names);
  }

  var optionsKey = null;

  // Rebuilt only when the instances or their state change: never under an open drop-down.
  function syncOptions(names) {
    var select = $("instance-select");
    var key = names.map(function (name) { return name + (instances[name].gone ? "-" : "+"); }).join(" ") + "|" + OWN + "|" + selected;
    if (key === optionsKey) { return; }
    optionsKey = key;
    var options = [el("option", { value: "", text: "all instances (" + names.length + ")" })].concat(names.map(function (name) {
      var entry = instances[name];
      return el("option", { value: name, text: name + (name === OWN ? " (this server)" : "") + (entry.gone ? " (gone)" : "") });
    }));
    show(select, options);
    select.value = selected;
  }

  function choose(name) {
    if (name === selected) { return; }
    selected = name;
    $("instance-select").value = name;
    redraw();
    renderInstances();
    show($("leak-report"), [el("p", { "class": "muted", text: "Leak detection runs in " + target() + "." })]);
    show($("snapshot-result"), [el("p", { "class": "muted", text: "The snapshot is taken in " + target() + "." })]);
    loadEndpoints();
    loadBottlenecks();
    loadDiff();
    loadAllocations();
  }

  var eventCount = 0;
  function addEvent(timestamp, text) {
    var list = $("events");
    if (eventCount === 0) { list.replaceChildren(); }
    eventCount += 1;
    list.insertBefore(el("li", {}, [el("time", { text: clock(timestamp || new Date().toISOString()) }), text]), list.firstChild);
    while (list.children.length > 50) { list.removeChild(list.lastChild); }
  }

  // -- leak detection --------------------------------------------------------------------

  function list(items) { return el("ul", {}, (items || []).map(function (s) { return el("li", { text: s }); })); }

  function showLeakReport(report) {
    var nodes = [];
    var leaks = report.potential_leaks || [];
    var took = report.analysis_duration_ms !== undefined ? " in " + report.analysis_duration_ms + " ms" : "";
    nodes.push(el("p", { "class": "muted", text: "Analysed at " + clock(report.timestamp) + took +
      (report.instance ? " in " + report.instance : "") + "." }));
    if (!leaks.length) {
      nodes.push(notice("No potential leak found." + (report.note ? " " + report.note : "")));
    } else {
      if (report.highest_risk_component) {
        nodes.push(el("p", {}, ["Highest risk: ", el("code", { text: report.highest_risk_component }),
          " · overall growth " + fmt(report.growth_rate_mb_per_hour, 2, " MB/h")]));
      }
      var head = el("tr", {}, ["component", "severity", "growth MB/h", "size", "allocations", "seen"].map(function (h, i) {
        return el("th", { "class": i >= 2 && i <= 4 ? "num" : "", text: h });
      }));
      var rows = leaks.map(function (leak) {
        return el("tr", {}, [
          el("td", {}, [el("code", { text: leak.component })]),
          el("td", {}, [el("span", { "class": "sev " + leak.severity, text: leak.severity })]),
          el("td", { "class": "num", text: fmt(leak.growth_rate_mb_per_hour, 2) }),
          el("td", { "class": "num", text: mb(leak.total_size_bytes) }),
          el("td", { "class": "num", text: leak.allocation_count === null || leak.allocation_count === undefined ? "—" : String(leak.allocation_count) }),
          el("td", { "class": "nowrap", text: clock(leak.first_seen) + "–" + clock(leak.last_seen) }),
        ]);
      });
      nodes.push(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]));
      if (report.note) { nodes.push(el("p", { "class": "muted", text: report.note })); }
    }
    if ((report.suspicious_patterns || []).length) { nodes.push(el("p", { text: "Patterns:" }), list(report.suspicious_patterns)); }
    if ((report.recommendations || []).length) { nodes.push(el("p", { text: "Recommendations:" }), list(report.recommendations)); }
    show($("leak-report"), nodes);
  }

  function runLeakDetection() {
    var button = $("leak-detection-button");
    button.disabled = true;
    show($("leak-report"), [el("p", { "class": "muted", text: "Analysing…" })]);
    callApi("POST", forTarget("leak-detection")).then(function (result) {
      if (result.ok && result.data) { showLeakReport(result.data); } else { show($("leak-report"), [problem(result, "Leak detection")]); }
    }).catch(failed($("leak-report"), "Leak detection")).finally(function () { button.disabled = false; });
  }

  // -- snapshots -------------------------------------------------------------------------

  // The API's answers carry the link; a feed event carries the id, and the link is built alike.
  function downloadUrl(snapshot) {
    if (snapshot.download_url) { return snapshot.download_url; }
    var url = API + "snapshot/" + encodeURIComponent(snapshot.snapshot_id) + "/download";
    return snapshot.instance && snapshot.instance !== OWN ? url + "?instance=" + encodeURIComponent(snapshot.instance) : url;
  }

  function showSnapshot(snapshot) {
    // The answer to the button and the feed's event tell of the same snapshot: shown once, so
    // the link is not swapped for a copy under a click.
    var shown = $("snapshot-download");
    if (shown && snapshot.snapshot_id && shown.dataset.snapshot === snapshot.snapshot_id) { return; }
    var link = el("a", { "class": "download", href: downloadUrl(snapshot), download: (snapshot.snapshot_id || "snapshot") + ".json",
      id: "snapshot-download", "data-snapshot": snapshot.snapshot_id || "", text: "Download " + snapshot.snapshot_id + " (" + mb(snapshot.size_bytes) + ")" });
    show($("snapshot-result"), [link, el("p", { "class": "muted", text: "Status " + snapshot.status + " · " +
      clock(snapshot.timestamp) + (snapshot.instance ? " · " + snapshot.instance : "") +
      (snapshot.file_path ? " · " + snapshot.file_path : "") })]);
  }

  function takeSnapshot() {
    var button = $("snapshot-button");
    button.disabled = true;
    show($("snapshot-result"), [el("p", { "class": "muted", text: "Writing the snapshot…" })]);
    callApi("POST", forTarget("snapshot")).then(function (result) {
      if (result.ok && result.data && result.data.download_url) { showSnapshot(result.data); } else { show($("snapshot-result"), [problem(result, "Snapshots")]); }
    }).catch(failed($("snapshot-result"), "Snapshot")).finally(function () { button.disabled = false; });
  }

  // -- bottlenecks -----------------------------------------------------------------------

  var bottlenecksAvailable = true;
  // The endpoint the bottlenecks and the flame graph are narrowed to ({ id, label }), or null for all.
  var endpoint = null;
  // Each load is numbered: an answer that arrives after a newer load began (another endpoint,
  // another instance) is dropped, so a slow one never shows over the newer choice.
  var bottlenecksLoad = 0;

  function forEndpoint(path) {
    if (!endpoint) { return path; }
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "endpoint=" + encodeURIComponent(endpoint.id);
  }

  function showHotspots(data) {
    var hotspots = data.hotspots || [];
    $("bottlenecks-summary").textContent = (endpoint ? endpoint.label + " · " : "") + (data.total_samples || 0) +
      " samples · CPU-bound " + fmt(data.cpu_bound_percent, 0, " %") +
      " · I/O-bound " + fmt(data.io_bound_percent, 0, " %") + " · memory-bound " + fmt(data.memory_bound_percent, 0, " %");
    if (!hotspots.length) {
      show($("bottlenecks-table"), [notice(endpoint ? "No hotspots of " + endpoint.label + " yet: none of its samples in the window."
        : "No hotspots yet: nothing busy in the window.")]);
      return;
    }
    var head = el("tr", {}, ["function", "CPU %", "wall %", "calls", "impact"].map(function (h, i) { return el("th", { "class": i ? "num" : "", text: h }); }));
    var rows = hotspots.map(function (h) {
      return el("tr", {}, [
        el("td", {}, [el("code", { text: h.function_name }), el("div", { "class": "muted", text: (h.file_location || "?") + ":" + (h.line_number || "?") })]),
        el("td", { "class": "num", text: fmt(h.cpu_time_percent, 1) }),
        el("td", { "class": "num", text: fmt(h.wall_time_percent, 1) }),
        el("td", { "class": "num", text: h.call_count === null || h.call_count === undefined ? "—" : String(h.call_count) }),
        el("td", { "class": "num" }, [impactBar(h.impact_score), fmt(h.impact_score, 2)]),
      ]);
    });
    var nodes = [el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)])];
    if ((data.recommendations || []).length) { nodes.push(list(data.recommendations)); }
    show($("bottlenecks-table"), nodes);
  }

  // Set through the CSSOM, not a style attribute, so a strict Content-Security-Policy allows it.
  function impactBar(score) {
    var bar = el("span", { "class": "impact" });
    bar.style.width = Math.round(40 * (score || 0)) + "px";
    return bar;
  }

  // A {name, children} tree as the parallel arrays of a Plotly icicle, each node sized by
  // `size(node)` (its samples by default); `nodes` are the tree's nodes in the same order.
  function flatten(tree, size) {
    size = size || function (node) { return node.value || 0; };
    var ids = [], labels = [], parents = [], values = [], nodes = [];
    var consistent = true;
    function walk(node, parentId, path) {
      var id = path + "/" + node.name;
      var value = size(node);
      ids.push(id); labels.push(node.name); parents.push(parentId); values.push(value); nodes.push(node);
      var children = node.children || [];
      var sum = 0;
      children.forEach(function (child, i) { sum += size(child); walk(child, id, id + "#" + i); });
      if (sum > value + 1e-9 * Math.max(1, value)) { consistent = false; }
    }
    walk(tree, "", "");
    return { ids: ids, labels: labels, parents: parents, values: values, nodes: nodes, branchvalues: consistent ? "total" : "remainder" };
  }

  // Plotly into a chart div that may hold a notice instead of a chart.
  function drawInChart(div, traces, layout) {
    if (div.classList.contains("empty")) { div.classList.remove("empty"); div.replaceChildren(); }
    Plotly.react(div, traces, layout, PLOT_CONFIG);
  }

  function showFlamegraph(tree) {
    var flat = flatten(tree);
    drawInChart($("flamegraph-chart"), [{
      type: "icicle", ids: flat.ids, labels: flat.labels, parents: flat.parents, values: flat.values,
      branchvalues: flat.branchvalues, tiling: { orientation: "v" }, maxdepth: 8, root: { color: "#eef1f6" },
      hovertemplate: "%{label}<br>%{value} samples (%{percentRoot:.1%})<extra></extra>",
      marker: { colorscale: "Blues", reversescale: false, colors: flat.values },
    }], { font: FONT, margin: { l: 4, r: 4, t: 4, b: 4 }, paper_bgcolor: "rgba(0,0,0,0)" });
  }

  function loadBottlenecks() {
    var load = ++bottlenecksLoad;
    function current() { return load === bottlenecksLoad; }
    callApi("GET", forTarget(forEndpoint("bottlenecks"))).then(function (result) {
      if (!current()) { return; }
      if (result.ok && result.data) { showHotspots(result.data); return; }
      bottlenecksAvailable = result.status !== 404;
      if (endpoint) { $("bottlenecks-summary").textContent = endpoint.label; }
      show($("bottlenecks-table"), [problem(result, "Bottleneck analysis")]);
    }).catch(function (error) { if (current()) { failed($("bottlenecks-table"), "Bottleneck analysis")(error); } });
    callApi("GET", forTarget(forEndpoint("flamegraph?format=json"))).then(function (result) {
      if (!current()) { return; }
      if (result.ok && result.data && result.data.name !== undefined) { showFlamegraph(result.data); return; }
      showInChart($("flamegraph-chart"), [problem(result, "The flame graph")]);
    }).catch(function (error) {
      if (current()) { showInChart($("flamegraph-chart"), [notice("The flame graph failed: " + error.message, "error")]); }
    });
  }

  // -- compare two windows (flame graph diff) ---------------------------------------------

  // The compared windows, unix seconds: { from, to } each, or null. While `diffPicking` is
  // "base" or "new" a horizontal drag on the memory or CPU chart picks that window.
  var diffWindows = { base: null, new: null };
  var diffPicking = null;
  var diffLoad = 0;
  var DIFF_SAME_POINTS = 0.5;  // a frame whose share moved less than this is drawn as unchanged
  var DIFF_COLORS = { same: [229, 231, 235], more: [220, 38, 38], less: [22, 163, 74] };
  var WINDOW_FILL = { base: "rgba(100,116,139,.16)", new: "rgba(217,119,6,.16)" };
  var WINDOW_LINE = { base: "#64748b", new: "#d97706" };

  // A time on a Plotly date axis (local wall clock, a string or its milliseconds) in unix seconds.
  function plotSeconds(value) {
    if (typeof value === "number") {
      var u = new Date(value);
      return new Date(u.getUTCFullYear(), u.getUTCMonth(), u.getUTCDate(), u.getUTCHours(), u.getUTCMinutes(),
        u.getUTCSeconds(), u.getUTCMilliseconds()).getTime() / 1000;
    }
    var m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(\.\d+)?)?)?)?$/.exec(String(value).trim());
    if (!m) { return NaN; }
    return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0), Number(m[6] || 0),
      Math.round(Number(m[7] || 0) * 1000)).getTime() / 1000;
  }

  function windowShapes() {
    return ["base", "new"].filter(function (which) { return diffWindows[which]; }).map(function (which) {
      var w = diffWindows[which];
      return { type: "rect", xref: "x", yref: "paper", x0: plotDate(w.from * 1000), x1: plotDate(w.to * 1000), y0: 0, y1: 1,
        fillcolor: WINDOW_FILL[which], line: { color: WINDOW_LINE[which], width: 1 }, layer: "below", name: "diff-" + which,
        label: { text: diffPicking ? "first" : which, textposition: "top left", font: { size: 11, color: WINDOW_LINE[which] } } };
    });
  }

  // The windows and the drag mode onto both time charts (a redraw builds them in as well).
  function markWindows() {
    var update = { dragmode: diffPicking ? "select" : "zoom", selectdirection: "h", selections: [] };
    Plotly.relayout($("memory-chart"), Object.assign({ shapes: thresholdShapes().concat(windowShapes()) }, update));
    Plotly.relayout($("cpu-chart"), Object.assign({ shapes: windowShapes() }, update));
  }

  function windowText(which, name) {
    var w = diffWindows[which];
    return (name || which) + " " + clock(w.from * 1000) + "–" + clock(w.to * 1000) + " (" + fmt(w.to - w.from, 0, " s") + ")";
  }

  function showWindows() {
    var text;
    if (diffPicking === "base") {
      text = "Drag across the memory or CPU chart over the first window to compare (Esc cancels).";
    } else if (diffPicking === "new") {
      text = windowText("base", "first") + " · now drag over the second window.";
    } else if (diffWindows.base && diffWindows.new) {
      text = windowText("base") + " → " + windowText("new");
    } else {
      text = "Pick two windows on the memory or CPU chart: where the time went in the second against the first.";
    }
    $("diff-windows").textContent = text;
    $("diff-pick").setAttribute("aria-pressed", diffPicking ? "true" : "false");
    $("diff-clear").hidden = !(diffPicking || diffWindows.base);
  }

  // Forget the windows and the chart of their diff; `picking` starts picking two new ones.
  function resetDiff(picking) {
    diffLoad += 1;  // an answer still on its way is for the windows given up
    diffPicking = picking;
    diffWindows = { base: null, new: null };
    showWindows();
    markWindows();
    $("diff-summary").textContent = "";
    $("diff-legend").hidden = true;
    show($("diff-message"), []);
    show($("diff-table"), []);
    showInChart($("diff-chart"), []);
  }

  function startPicking() { resetDiff("base"); }

  function clearDiff() { resetDiff(null); }

  // The drag's entry point: a time range [a, b] (chart values or unix seconds) for the window
  // being picked. The earlier of the two windows is the base.
  function pickWindow(start, end) {
    if (!diffPicking) { return; }
    var a = typeof start === "number" && start < 1e11 ? start : plotSeconds(start);
    var b = typeof end === "number" && end < 1e11 ? end : plotSeconds(end);
    if (!Number.isFinite(a) || !Number.isFinite(b) || a === b) { return; }
    diffWindows[diffPicking] = { from: Math.min(a, b), to: Math.max(a, b) };
    if (diffPicking === "base") {
      diffPicking = "new";
    } else {
      diffPicking = null;
      if (diffWindows.new.from < diffWindows.base.from) {
        diffWindows = { base: diffWindows.new, new: diffWindows.base };
      }
    }
    showWindows();
    markWindows();
    if (!diffPicking) { loadDiff(); }
  }

  function onSelected(event) {
    if (!diffPicking || !event || !event.range || !event.range.x) { return; }
    var range = event.range.x;
    // Plotly is still finishing its own selection: change the layout after it.
    window.setTimeout(function () { pickWindow(range[0], range[1]); }, 0);
  }

  function instantParam(seconds, up) { return String(up ? Math.ceil(seconds) : Math.floor(seconds)); }

  function diffPath() {
    var b = diffWindows.base, n = diffWindows.new;
    return "flamegraph/diff?base_from=" + instantParam(b.from) + "&base_to=" + instantParam(b.to, true) +
      "&from=" + instantParam(n.from) + "&to=" + instantParam(n.to, true);
  }

  function loadDiff() {
    if (!diffWindows.base || !diffWindows.new || diffPicking) { return; }
    var load = ++diffLoad;
    $("diff-summary").textContent = (endpoint ? endpoint.label + " · " : "") + "loading…";
    callApi("GET", forTarget(forEndpoint(diffPath()))).then(function (result) {
      if (load !== diffLoad) { return; }
      if (result.ok && result.data && result.data.tree) { showDiff(result.data); return; }
      $("diff-summary").textContent = endpoint ? endpoint.label : "";
      $("diff-legend").hidden = true;
      // A window outside the profile history: the API says which range it holds.
      var shown = result.status === 400 && result.data && result.data.detail
        ? notice(result.data.detail, "error") : problem(result, "Comparing two windows");
      show($("diff-table"), []);
      showInChart($("diff-chart"), []);
      show($("diff-message"), [shown]);
    }).catch(function (error) {
      if (load !== diffLoad) { return; }
      show($("diff-table"), []);
      showInChart($("diff-chart"), []);
      show($("diff-message"), [notice("Comparing two windows failed: " + error.message, "error")]);
    });
  }

  function trendOf(node) {
    var delta = node.delta_percent || 0;
    return delta >= DIFF_SAME_POINTS ? "more" : delta <= -DIFF_SAME_POINTS ? "less" : "same";
  }

  // Grey for unchanged; towards red (more of its window's time in the newer one) or green
  // (less) with the size of the change, against the largest change in the tree.
  function diffColor(node, scale) {
    var trend = trendOf(node);
    var grey = DIFF_COLORS.same, target = DIFF_COLORS[trend];
    var t = trend === "same" ? 0 : 0.4 + 0.6 * Math.min(1, Math.abs(node.delta_percent) / scale);
    return "rgb(" + grey.map(function (g, i) { return Math.round(g + (target[i] - g) * t); }).join(",") + ")";
  }

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function signed(value) { return (value > 0 ? "+" : value < 0 ? "−" : "±") + Math.abs(value).toFixed(1); }

  var ONLY_IN = { base: " (gone)", new: " (new)" };

  function showDiff(data) {
    var tree = data.tree, base = data.base || {}, newer = data.new || {};
    var baseTotal = tree.base_value || 0, newTotal = tree.value || 0;
    $("diff-summary").textContent = (endpoint ? endpoint.label + " · " : "") + "base " + count(base.samples) + " samples · new " +
      count(newer.samples) + " samples · " + clock(data.timestamp);
    show($("diff-message"), []);
    show($("diff-table"), []);
    if (!(tree.children || []).length) {
      $("diff-legend").hidden = true;
      showInChart($("diff-chart"), [notice("No busy samples in " + (baseTotal || newTotal ? "one of the windows" : "either window") +
        (endpoint ? " for " + endpoint.label : "") + ": nothing to compare.")]);
      return;
    }
    // Each frame sized by the mean of its shares of the two windows, so a frame seen in one only still shows.
    function share(value, total) { return total ? 100 * (value || 0) / total : 0; }
    var flat = flatten(tree, function (node) { return (share(node.base_value, baseTotal) + share(node.value, newTotal)) / 2; });
    var scale = Math.max(2, Math.max.apply(null, flat.nodes.map(function (node) { return Math.abs(node.delta_percent || 0); })));
    var labels = flat.nodes.map(function (node) { return node.name + (ONLY_IN[node.only_in] || ""); });
    var hover = flat.nodes.map(function (node) {
      var trend = trendOf(node);
      return "<b>" + escapeHtml(node.name) + "</b>" + escapeHtml(ONLY_IN[node.only_in] || "") +
        "<br>base window: " + fmt(node.base_share_percent, 1, " %") + " (" + count(node.base_value) + " of " + baseTotal + " samples)" +
        "<br>new window: " + fmt(node.share_percent, 1, " %") + " (" + count(node.value) + " of " + newTotal + " samples)" +
        "<br>" + signed(node.delta_percent || 0) + " points: " + (trend === "more" ? "more time in the new window"
          : trend === "less" ? "less time in the new window" : "about the same") +
        (node.only_in === "base" ? "<br>only in the base window" : node.only_in === "new" ? "<br>only in the new window" : "");
    });
    drawInChart($("diff-chart"), [{
      type: "icicle", ids: flat.ids, labels: labels, parents: flat.parents, values: flat.values,
      branchvalues: flat.branchvalues, tiling: { orientation: "v" }, maxdepth: 8, sort: false,
      hovertext: hover, hovertemplate: "%{hovertext}<extra></extra>",
      customdata: flat.nodes.map(function (node) {
        return [node.name, trendOf(node), node.only_in || "", node.base_share_percent, node.share_percent, node.delta_percent];
      }),
      marker: {
        colors: flat.nodes.map(function (node) { return diffColor(node, scale); }),
        // One width for all: Plotly 3.8's icicle draws NaN paths when a zoom animates per-node widths.
        line: { width: 1.5, color: flat.nodes.map(function (node) { return node.only_in ? "#111827" : "#ffffff"; }) },
        pattern: { shape: flat.nodes.map(function (node) { return node.only_in ? "/" : ""; }), fgcolor: "rgba(17,24,39,.6)", size: 7, solidity: 0.12,
          fillmode: "overlay" },
      },
    }], { font: FONT, margin: { l: 4, r: 4, t: 4, b: 4 }, paper_bgcolor: "rgba(0,0,0,0)" });
    $("diff-legend").hidden = false;
    showChanges(flat, share(1, baseTotal), share(1, newTotal));
  }

  var DIFF_TABLE_ROWS = 10;
  var ZOOM_CONTEXT_LEVELS = 3;  // a function picked in the table is shown under this many of its callers

  // The functions whose own time (not their callees') moved most, summed over every place in
  // the tree they were seen; a row picked zooms the icicle to the largest of those places.
  function showChanges(flat, basePerSample, newPerSample) {
    var byName = {}, parentOf = {};
    flat.nodes.forEach(function (node, i) {
      parentOf[flat.ids[i]] = flat.parents[i];
      if (i === 0) { return; }  // the root: samples with no frame of their own
      var kids = node.children || [];
      var base = (node.base_value || 0) - kids.reduce(function (sum, kid) { return sum + (kid.base_value || 0); }, 0);
      var value = (node.value || 0) - kids.reduce(function (sum, kid) { return sum + (kid.value || 0); }, 0);
      var entry = byName[node.name] || (byName[node.name] = { name: node.name, base: 0, value: 0, id: null, weight: -1 });
      entry.base += base; entry.value += value;
      if (base + value > entry.weight) { entry.weight = base + value; entry.id = flat.ids[i]; }
    });
    var rows = Object.keys(byName).map(function (name) {
      var entry = byName[name];
      entry.baseShare = entry.base * basePerSample; entry.share = entry.value * newPerSample;
      entry.delta = entry.share - entry.baseShare;
      entry.only = entry.base <= 0 ? "new" : entry.value <= 0 ? "base" : null;
      return entry;
    }).filter(function (entry) { return Math.abs(entry.delta) >= DIFF_SAME_POINTS; }).sort(function (a, b) {
      return Math.abs(b.delta) - Math.abs(a.delta) || (a.name < b.name ? -1 : 1);
    }).slice(0, DIFF_TABLE_ROWS);
    if (!rows.length) {
      show($("diff-table"), [notice("No function's own time moved by " + DIFF_SAME_POINTS + " points or more.")]);
      return;
    }
    function zoom(entry) {
      var level = entry.id;
      for (var up = 0; up < ZOOM_CONTEXT_LEVELS && parentOf[level]; up += 1) { level = parentOf[level]; }
      Plotly.restyle($("diff-chart"), { level: [level] });
    }
    var head = el("tr", {}, ["function (own time)", "base %", "new %", "change"].map(function (h, i) {
      return el("th", { "class": i ? "num" : "", text: h });
    }));
    var body = rows.map(function (entry) {
      var trend = entry.delta > 0 ? "more" : "less";
      var row = el("tr", { "data-function": entry.name, "data-trend": trend, tabindex: "0", title: "show " + entry.name + " in the chart" }, [
        el("td", {}, [el("code", { text: entry.name }), entry.only ? el("span", { "class": "muted", text: ONLY_IN[entry.only] }) : ""]),
        el("td", { "class": "num", text: fmt(entry.baseShare, 1) }),
        el("td", { "class": "num", text: fmt(entry.share, 1) }),
        el("td", { "class": "num " + trend, text: signed(entry.delta) }),
      ]);
      row.addEventListener("click", function () { zoom(entry); });
      row.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); zoom(entry); }
      });
      return row;
    });
    show($("diff-table"), [el("table", { "class": "changes", "aria-label": "the functions whose own time changed most" },
      [el("thead", {}, [head]), el("tbody", {}, body)])]);
  }

  // -- endpoints -------------------------------------------------------------------------

  var endpointsAvailable = true;
  var endpointsLoad = 0;
  var ENDPOINTS_LIMIT = 20;
  // The endpoint ids that name no route: what each one holds.
  var SPECIAL_ENDPOINTS = {
    background: "samples taken outside any request",
    unmatched: "requests that matched no route",
    other: "the routes past the most the profiler keeps apart, together",
  };

  function endpointLabel(entry) {
    var special = SPECIAL_ENDPOINTS[entry.endpoint];
    return special ? entry.endpoint + " (" + special + ")" : entry.endpoint;
  }

  function count(n) { return n === null || n === undefined ? "—" : String(n); }

  function markRow(row) {
    var on = endpoint !== null && row.dataset.endpoint === endpoint.id;
    row.setAttribute("aria-selected", on ? "true" : "false");
    row.classList.toggle("selected", on);
  }

  function endpointRows() { return Array.prototype.slice.call($("endpoints-table").querySelectorAll("tr[data-endpoint]")); }

  function endpointRow(entry) {
    var latency = entry.latency_ms || {};
    var top = (entry.hotspots || [])[0];
    var about = SPECIAL_ENDPOINTS[entry.endpoint] || entry.name;
    var row = el("tr", { "data-endpoint": entry.endpoint, tabindex: "0",
      title: "narrow the bottlenecks and the flame graph to " + entry.endpoint + " (again: all endpoints)" }, [
      el("td", {}, [el("code", { text: entry.endpoint }), about ? el("div", { "class": "muted", text: about }) : ""]),
      el("td", { "class": "num", text: count(entry.requests) }),
      el("td", { "class": "num" + (entry.errors ? " bad" : ""), text: count(entry.errors) }),
      el("td", { "class": "num", text: fmt(latency.p50, 1) }),
      el("td", { "class": "num", text: fmt(latency.p95, 1) }),
      el("td", { "class": "num", text: fmt(latency.p99, 1) }),
      el("td", { "class": "num", text: fmt(entry.cpu_ms_per_request, 1) }),
      el("td", { "class": "num" }, [impactBar((entry.busy_time_percent || 0) / 100), fmt(entry.busy_time_percent, 1)]),
      el("td", {}, top ? [el("code", { text: top.function_name }), el("div", { "class": "muted",
        text: (top.file_location || "?") + ":" + (top.line_number || "?") + " · CPU " + fmt(top.cpu_time_percent, 0, " %") })]
        : [el("span", { "class": "muted", text: "—" })]),
    ]);
    row.addEventListener("click", function () { toggleEndpoint(entry); });
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggleEndpoint(entry); }
    });
    markRow(row);
    return row;
  }

  function showEndpoints(data) {
    var entries = data.endpoints || [];
    $("endpoints-summary").textContent = entries.length + " endpoint" + (entries.length === 1 ? "" : "s") + " · " +
      count(data.busy_samples) + " busy samples in the last " + fmt(data.window_secs, 0, " s") + " at " +
      fmt(data.sample_hz, 0, " Hz") + " · " + clock(data.timestamp);
    if (!entries.length) { show($("endpoints-table"), [notice(data.note || "No requests and no busy samples in the window yet.")]); return; }
    // A refresh rebuilds the rows: the one that had the keyboard focus gets it back.
    var focused = document.activeElement;
    var focusedId = focused && $("endpoints-table").contains(focused) ? focused.dataset.endpoint : undefined;
    var head = el("tr", {}, ["endpoint", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "CPU ms/request", "busy time %", "top hotspot"]
      .map(function (h, i) { return el("th", { "class": i >= 1 && i <= 7 ? "num" : "", text: h }); }));
    var nodes = [el("table", { "class": "endpoints", role: "grid", "aria-label": "endpoints: select one to narrow the bottlenecks to it" },
      [el("thead", {}, [head]), el("tbody", {}, entries.map(endpointRow))])];
    if (data.note) { nodes.push(el("p", { "class": "muted", text: data.note })); }
    show($("endpoints-table"), nodes);
    endpointRows().forEach(function (row) { if (row.dataset.endpoint === focusedId) { row.focus(); } });
  }

  function selectEndpoint(entry) {
    endpoint = entry ? { id: entry.endpoint, label: endpointLabel(entry) } : null;
    endpointRows().forEach(markRow);
    $("endpoints-clear").hidden = !endpoint;
    $("bottlenecks-summary").textContent = (endpoint ? endpoint.label : "all endpoints") + " · loading…";
    loadBottlenecks();
    loadDiff();
  }

  function toggleEndpoint(entry) { selectEndpoint(endpoint && endpoint.id === entry.endpoint ? null : entry); }

  function clearEndpoint() {
    var button = $("endpoints-clear");
    var hadFocus = document.activeElement === button;
    selectEndpoint(null);
    if (hadFocus) { $("bottlenecks-refresh").focus(); }  // the hidden button can keep no focus
  }

  function loadEndpoints() {
    var load = ++endpointsLoad;
    callApi("GET", forTarget("endpoints?limit=" + ENDPOINTS_LIMIT)).then(function (result) {
      if (load !== endpointsLoad) { return; }
      if (result.ok && result.data) { endpointsAvailable = true; showEndpoints(result.data); return; }
      // A server without the endpoint is asked no more by the timer; an instance gone is asked again.
      endpointsAvailable = !(result.status === 404 && !/No live instance/.test((result.data && result.data.detail) || ""));
      $("endpoints-summary").textContent = "";
      show($("endpoints-table"), [problem(result, "Per-endpoint profiling")]);
    }).catch(function (error) { if (load === endpointsLoad) { failed($("endpoints-table"), "Per-endpoint profiling")(error); } });
  }

  // -- allocations -----------------------------------------------------------------------

  var allocationsAvailable = true;

  function showAllocations(data) {
    var top = (data.top_allocators || []).slice(0, 12).reverse();
    $("allocations-charts").hidden = false;
    var nodes = [];
    $("allocations-summary").textContent = "efficiency " + fmt(data.efficiency_score, 2) + " · fragmentation " +
      fmt(data.fragmentation_percent, 1, " %") + " · " + clock(data.timestamp);
    if (!top.length) { nodes.push(notice(data.note || "No allocation window has completed yet; it is tracing now.")); }
    if ((data.recommendations || []).length) { nodes.push(list(data.recommendations)); }
    show($("allocations-message"), nodes);
    Plotly.react($("allocators-chart"), [{
      type: "bar", orientation: "h", x: top.map(function (p) { return p[1] / 1048576; }), y: top.map(function (p) { return p[0]; }),
      marker: { color: COLORS.rss }, hovertemplate: "%{y}<br>%{x:.2f} MB<extra></extra>",
    }], Object.assign(baseLayout("", ""), { showlegend: false, xaxis: { title: { text: "live MB" }, gridcolor: "#eef1f6", type: "linear" },
      yaxis: { automargin: true, tickfont: { size: 11 } }, margin: { l: 8, r: 16, t: 10, b: 40 } }), PLOT_CONFIG);
    var dist = data.size_distribution || {};
    var buckets = [["small_0_1kb", "< 1 KiB"], ["medium_1_100kb", "1–100 KiB"], ["large_100kb_1mb", "100 KiB–1 MiB"], ["huge_1mb_plus", "≥ 1 MiB"]];
    Plotly.react($("size-chart"), [{
      type: "bar", x: buckets.map(function (b) { return b[1]; }), y: buckets.map(function (b) { return dist[b[0]] || 0; }),
      marker: { color: [COLORS.user, COLORS.rss, COLORS.virtual, COLORS.crit] }, hovertemplate: "%{x}: %{y} blocks<extra></extra>",
    }], Object.assign(baseLayout("live blocks", ""), { showlegend: false, xaxis: { type: "category" },
      yaxis: { title: { text: "live blocks" }, type: "log", gridcolor: "#eef1f6" },
      margin: { l: 56, r: 16, t: 10, b: 40 } }), PLOT_CONFIG);
  }

  // A window still tracing says when it ends ("ask again in N s"): ask again then, once.
  var allocationsTimer = null;

  function askAllocationsAgain(data) {
    if (allocationsTimer !== null) { window.clearTimeout(allocationsTimer); allocationsTimer = null; }
    var wait = Number(data.retry_after_secs);
    if (!data.collecting || !(wait > 0)) { return; }
    allocationsTimer = window.setTimeout(function () {
      allocationsTimer = null;
      if (!document.hidden) { loadAllocations(); }
    }, wait * 1000);
  }

  function loadAllocations() {
    callApi("GET", forTarget("allocations")).then(function (result) {
      if (result.ok && result.data) { showAllocations(result.data); askAllocationsAgain(result.data); return; }
      allocationsAvailable = result.status !== 404;
      $("allocations-charts").hidden = true;
      show($("allocations-message"), [problem(result, "Allocation tracking")]);
    }).catch(failed($("allocations-message"), "Allocation tracking"));
  }

  // -- start -----------------------------------------------------------------------------

  $("leak-detection-button").addEventListener("click", runLeakDetection);
  $("snapshot-button").addEventListener("click", takeSnapshot);
  $("bottlenecks-refresh").addEventListener("click", loadBottlenecks);
  $("endpoints-refresh").addEventListener("click", loadEndpoints);
  $("endpoints-clear").addEventListener("click", clearEndpoint);
  $("allocations-refresh").addEventListener("click", loadAllocations);
  $("diff-pick").addEventListener("click", startPicking);
  $("diff-clear").addEventListener("click", clearDiff);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && diffPicking) { clearDiff(); }
  });
  $("instance-select").addEventListener("change", function (event) { choose(event.target.value); });
  window.setInterval(checkGone, 1000);
  drawCharts([]);
  $("memory-chart").on("plotly_selected", onSelected);
  $("cpu-chart").on("plotly_selected", onSelected);
  showWindows();
  if (FEED_PATH) { connect(); } else { poll(); }
  loadEndpoints();
  loadBottlenecks();
  loadAllocations();
  // Endpoints and bottlenecks are cheap to ask for (the chosen endpoint stays chosen); allocations
  // start a bounded tracing window, so less often.
  window.setInterval(function () {
    if (document.hidden) { return; }
    if (endpointsAvailable) { loadEndpoints(); }
    if (bottlenecksAvailable) { loadBottlenecks(); }
  }, 10000);
  window.setInterval(function () { if (allocationsAvailable && !document.hidden) { loadAllocations(); } }, 30000);
})();
