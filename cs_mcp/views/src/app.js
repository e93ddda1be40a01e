// The MCP Apps side of every cs-mcp view: JSON-RPC 2.0 over postMessage with the host
// (ui/initialize, the tool's input and result, size changes), the host's theme, and small
// DOM helpers. Text from the stack is only ever set as textContent, never parsed as HTML.
"use strict";

const CsView = (() => {
  const PROTOCOL_VERSION = "2026-01-26";
  const pending = new Map();
  const handlers = new Map();
  const themeListeners = [];
  let nextId = 1;
  let hostContext = {};
  let hostCapabilities = {};
  let lastSize = "";
  let sizeQueued = false;

  function post(message) {
    window.parent.postMessage(message, "*");
  }

  function request(method, params) {
    const id = nextId++;
    post({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  function notify(method, params) {
    post({ jsonrpc: "2.0", method, params });
  }

  window.addEventListener("message", (event) => {
    // Only the host (the frame's parent) speaks to a view.
    if (event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || typeof msg !== "object" || msg.jsonrpc !== "2.0") return;
    if (msg.method === undefined) {
      const waiting = pending.get(msg.id);
      if (!waiting) return;
      pending.delete(msg.id);
      if (msg.error) waiting.reject(new Error(String(msg.error.message || "the host refused")));
      else waiting.resolve(msg.result || {});
      return;
    }
    if (msg.id !== undefined) {
      // Requests from the host: a ping, or the notice before the frame is torn down.
      if (msg.method === "ping" || msg.method === "ui/resource-teardown") {
        post({ jsonrpc: "2.0", id: msg.id, result: {} });
      } else {
        post({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found" } });
      }
      return;
    }
    const handler = handlers.get(msg.method);
    if (handler) handler(msg.params || {});
  });

  function applyContext(update) {
    hostContext = Object.assign({}, hostContext, update);
    const root = document.documentElement;
    if (hostContext.theme === "light" || hostContext.theme === "dark") root.dataset.theme = hostContext.theme;
    const variables = hostContext.styles && hostContext.styles.variables;
    if (variables && typeof variables === "object") {
      for (const [name, value] of Object.entries(variables)) {
        if (name.startsWith("--") && typeof value === "string") root.style.setProperty(name, value);
      }
    }
    // A fixed container height is filled; a maximum caps what the view asks for (and the
    // page scrolls past it).
    const box = hostContext.containerDimensions || {};
    if (typeof box.height === "number") root.style.height = "100vh";
    else if (typeof box.maxHeight === "number") root.style.maxHeight = `${box.maxHeight}px`;
    // Fonts the host offers as CSS would load from the network, which this view's policy
    // forbids; --font-sans from the variables still applies.
    for (const listener of themeListeners) listener();
  }

  function reportSize() {
    sizeQueued = false;
    const box = document.documentElement.getBoundingClientRect();
    const width = Math.ceil(box.width);
    const height = Math.ceil(box.height);
    const key = `${width}x${height}`;
    if (key === lastSize) return;
    lastSize = key;
    notify("ui/notifications/size-changed", { width, height });
  }

  function queueSize() {
    if (sizeQueued) return;
    sizeQueued = true;
    requestAnimationFrame(reportSize);
  }

  // The structured answer of a tool result; a host that passes only text gets the JSON read
  // back from it (the cs-mcp tools answer their structured content as JSON text too).
  function payload(result) {
    if (result && result.structuredContent && typeof result.structuredContent === "object") {
      return result.structuredContent;
    }
    for (const block of (result && result.content) || []) {
      if (block && block.type === "text") {
        try {
          const value = JSON.parse(block.text);
          if (value && typeof value === "object") return value;
        } catch (_) {
          // not JSON: a line of prose before the answer
        }
      }
    }
    return null;
  }

  function errorText(result) {
    const texts = ((result && result.content) || []).filter((b) => b && b.type === "text").map((b) => b.text);
    return texts.join("\n") || "The tool failed.";
  }

  async function start(options) {
    handlers.set("ui/notifications/tool-input", (params) => options.onInput && options.onInput(params.arguments || {}));
    handlers.set("ui/notifications/tool-input-partial", () => {});
    handlers.set("ui/notifications/tool-result", (params) => options.onResult(params));
    handlers.set("ui/notifications/tool-cancelled", (params) => options.onCancelled && options.onCancelled(params.reason));
    handlers.set("ui/notifications/host-context-changed", (params) => applyContext(params));
    const answer = await request("ui/initialize", {
      protocolVersion: PROTOCOL_VERSION,
      appInfo: { name: options.name, version: options.version || "1" },
      appCapabilities: { availableDisplayModes: ["inline"] },
    });
    hostCapabilities = answer.hostCapabilities || {};
    applyContext(answer.hostContext || {});
    notify("ui/notifications/initialized", {});
    new ResizeObserver(queueSize).observe(document.documentElement);
    queueSize();
  }

  // Tools the host can call on the server for the view (hostCapabilities.serverTools).
  function canCallTools() {
    return Boolean(hostCapabilities.serverTools);
  }

  function callTool(name, args) {
    return request("tools/call", { name, arguments: args });
  }

  function toolName() {
    const info = hostContext.toolInfo;
    return (info && info.tool && info.tool.name) || null;
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function locale() {
    return hostContext.locale || undefined;
  }

  function count(n) {
    return new Intl.NumberFormat(locale()).format(n);
  }

  // Decimal units, as the tools' own sentences use them.
  function bytes(n) {
    const units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let value = Number(n);
    let unit = 0;
    while (Math.abs(value) >= 1000 && unit < units.length - 1) {
      value /= 1000;
      unit += 1;
    }
    const digits = unit === 0 ? 0 : 2;
    return `${new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
  }

  function percent(share, digits) {
    return new Intl.NumberFormat(locale(), {
      style: "percent",
      maximumFractionDigits: digits === undefined ? 1 : digits,
    }).format(share);
  }

  // A colour variable resolved to rgb() for the canvas: the variables may hold light-dark(),
  // which only the style engine resolves.
  let probe = null;
  function color(variable) {
    if (!probe) {
      probe = document.createElement("span");
      probe.className = "hidden";
      document.body.append(probe);
    }
    probe.style.color = `var(${variable})`;
    return getComputedStyle(probe).color;
  }

  return {
    start,
    payload,
    errorText,
    canCallTools,
    callTool,
    toolName,
    onTheme: (listener) => themeListeners.push(listener),
    context: () => hostContext,
    el,
    count,
    bytes,
    percent,
    color,
  };
})();
