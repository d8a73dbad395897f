// The interactive API docs: reads /api/v1/openapi.json, lists the operations by tag with
// their parameters, bodies and replies, and sends a request with the token entered above.
// No dependencies; the DOM is built with textContent only, so no text is parsed as HTML.
"use strict";

let doc = null;

/** Creates an element with a class and children (strings become text). */
function el(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** The schema a $ref points at, or the schema itself. */
function resolve(schema) {
  const ref = schema && schema.$ref;
  if (!ref) return schema || {};
  return doc.components.schemas[ref.split("/").pop()] || {};
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

/** A link to a named schema in the Schemas section. */
function schemaLink(name) {
  const a = el("a", "schema", name);
  a.href = "#schema-" + name;
  return a;
}

/** A one-line type: `Order`, `string | null`, `"warehouse" | "store"`, `Product[]`. */
function typeOf(schema) {
  if (!schema) return el("span", "type", "any");
  const name = refName(schema);
  if (name) return schemaLink(name);
  const span = el("span", "type");
  const alternatives = schema.oneOf || schema.anyOf;
  if (schema.const !== undefined) {
    span.append(JSON.stringify(schema.const));
  } else if (schema.enum) {
    span.append(schema.enum.map((v) => JSON.stringify(v)).join(" | "));
  } else if (alternatives) {
    alternatives.forEach((s, i) => {
      if (i) span.append(" | ");
      span.append(typeOf(s));
    });
  } else {
    const types = [].concat(schema.type || "any");
    types.forEach((t, i) => {
      if (i) span.append(" | ");
      if (t === "array") {
        span.append(typeOf(schema.items), "[]");
      } else {
        span.append(t + (schema.format && t !== "null" ? " (" + schema.format + ")" : ""));
      }
    });
  }
  const bounds = [];
  if (schema.minimum !== undefined) bounds.push("≥ " + schema.minimum);
  if (schema.maximum !== undefined) bounds.push("≤ " + schema.maximum);
  if (bounds.length) span.append(" " + bounds.join(", "));
  return span;
}

/** A table of an object schema's properties. */
function propertiesTable(schema) {
  const object = resolve(schema);
  const props = object.properties || {};
  const required = new Set(object.required || []);
  const table = el("table", "props");
  for (const [name, prop] of Object.entries(props)) {
    table.append(
      el(
        "tr",
        null,
        el("td", "name", name, required.has(name) ? el("span", "req", " *") : null),
        el("td", null, typeOf(prop)),
        el("td", "desc", prop.description || ""),
      ),
    );
  }
  const alternatives = object.oneOf || object.anyOf;
  if (alternatives && !alternatives.every((s) => s.const !== undefined)) {
    const row = el("td", "desc", "and one of: ");
    alternatives.forEach((s, i) => {
      if (i) row.append(" · ");
      row.append(refName(s) ? schemaLink(refName(s)) : propertiesSummary(s));
    });
    table.append(el("tr", null, el("td"), el("td"), row));
  }
  return table;
}

function propertiesSummary(schema) {
  const names = Object.entries(schema.properties || {}).map(
    ([k, v]) => k + (v.const !== undefined ? " = " + JSON.stringify(v.const) : ""),
  );
  if (refName(schema.allOf && schema.allOf[0])) names.unshift("…" + refName(schema.allOf[0]));
  return "{" + names.join(", ") + "}";
}

/** A plausible request body for a schema: every required member, sample values. */
function example(schema, depth = 0) {
  const s = resolve(schema);
  if (depth > 5) return null;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum.find((v) => v !== null);
  const alternatives = s.oneOf || s.anyOf;
  if (alternatives) return example(alternatives.find((a) => a.type !== "null") || {}, depth + 1);
  const type = [].concat(s.type || "object").find((t) => t !== "null");
  switch (type) {
    case "object": {
      const out = {};
      for (const name of s.required || []) {
        out[name] = example(s.properties[name], depth + 1);
      }
      return out;
    }
    case "array":
      return [example(s.items || {}, depth + 1)];
    case "integer":
    case "number":
      return Math.max(s.minimum ?? 1, 1);
    case "boolean":
      return true;
    default:
      if (s.format === "date-time") return new Date().toISOString();
      if (s.format === "date") return new Date().toISOString().slice(0, 10);
      return "";
  }
}

function parameterTable(parameters) {
  const table = el("table", "props");
  for (const p of parameters) {
    table.append(
      el(
        "tr",
        null,
        el("td", "name", p.name, p.required ? el("span", "req", " *") : null),
        el("td", "in", p.in),
        el("td", null, typeOf(p.schema)),
        el("td", "desc", p.description || ""),
      ),
    );
  }
  return table;
}

function responsesList(responses) {
  const list = el("table", "props");
  for (const [status, reply] of Object.entries(responses)) {
    const media = Object.entries(reply.content || {})[0];
    list.append(
      el(
        "tr",
        null,
        el("td", "name status-" + status[0], status),
        el("td", null, media ? media[0] : ""),
        el("td", null, media ? typeOf(media[1].schema) : ""),
        el("td", "desc", reply.description || ""),
      ),
    );
  }
  return list;
}

/** The form that sends a request, and the place its answer is shown. */
function tryIt(method, path, op) {
  const form = el("form", "try");
  const inputs = [];
  for (const p of op.parameters || []) {
    const input = el("input");
    input.name = p.name;
    input.placeholder = p.required ? "required" : "optional";
    inputs.push([p, input]);
    form.append(el("label", null, el("span", null, p.name + " (" + p.in + ")"), input));
  }
  let body = null;
  if (op.requestBody) {
    const media = Object.values(op.requestBody.content)[0];
    body = el("textarea");
    body.rows = 8;
    body.spellcheck = false;
    body.value = op.requestBody.required ? JSON.stringify(example(media.schema), null, 2) : "";
    form.append(el("label", "body", el("span", null, "body (JSON)"), body));
  }
  const send = el("button", null, "Send");
  const stop = el("button", null, "Stop");
  stop.type = "button";
  stop.hidden = true;
  const output = el("pre", "output");
  output.hidden = true;
  form.append(el("div", "actions", send, stop), output);
  let controller = null;
  stop.addEventListener("click", () => controller && controller.abort());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const [p, input] of inputs) {
      if (input.value === "") continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(input.value));
      else if (p.in === "query") query.append(p.name, input.value);
      else if (p.in === "header") headers[p.name] = input.value;
    }
    if (query.toString()) url += "?" + query;
    const token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    const init = { method: method.toUpperCase(), headers };
    if (body && body.value.trim() !== "") {
      headers["Content-Type"] = "application/json";
      init.body = body.value;
    }
    controller = new AbortController();
    init.signal = controller.signal;
    output.hidden = false;
    output.textContent = init.method + " " + url + "\n…";
    stop.hidden = false;
    try {
      const response = await fetch(url, init);
      let head = init.method + " " + url + "\n" + response.status + " " + response.statusText + "\n";
      for (const name of ["content-type", "etag", "location", "x-request-id"]) {
        if (response.headers.has(name)) head += name + ": " + response.headers.get(name) + "\n";
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        output.textContent = head + "\n" + text;
      }
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch (_) {
        // not JSON: shown as it came
      }
      output.textContent = head + "\n" + text;
    } catch (error) {
      output.textContent += "\n" + (error.name === "AbortError" ? "stopped" : String(error));
    } finally {
      stop.hidden = true;
    }
  });
  return form;
}

function operationView(path, method, op) {
  const details = el("details", "op");
  details.id = op.operationId;
  details.dataset.search = (method + " " + path + " " + op.operationId + " " + op.summary).toLowerCase();
  const secured = (op.security || []).length > 0;
  details.append(
    el(
      "summary",
      null,
      el("span", "method " + method, method.toUpperCase()),
      el("code", "path", path),
      el("span", "summary", op.summary || ""),
      el("span", secured ? "auth" : "auth public", secured ? "bearer" : "no token"),
    ),
  );
  const body = el("div", "op-body");
  body.append(el("p", "id", "operationId: " + op.operationId));
  if (op["x-stockbook-action"]) body.append(el("p", "id", "permission: " + op["x-stockbook-action"]));
  if (op.description) body.append(el("p", null, op.description));
  if (op.parameters) body.append(el("h4", null, "Parameters"), parameterTable(op.parameters));
  if (op.requestBody) {
    const media = Object.entries(op.requestBody.content)[0];
    body.append(
      el("h4", null, "Body ", el("small", null, media[0] + (op.requestBody.required ? "" : ", optional")), " ", typeOf(media[1].schema)),
      propertiesTable(media[1].schema),
    );
  }
  body.append(el("h4", null, "Responses"), responsesList(op.responses));
  body.append(el("h4", null, "Try it"), tryIt(method, path, op));
  details.append(body);
  return details;
}

function render() {
  document.getElementById("version").textContent = doc.info.version;
  document.getElementById("about").textContent = doc.info.description || "";
  const main = document.getElementById("ops");
  main.textContent = "";
  const byTag = new Map((doc.tags || []).map((t) => [t.name, { description: t.description, ops: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, { description: "", ops: [] });
      byTag.get(tag).ops.push(operationView(path, method, op));
    }
  }
  for (const [tag, group] of byTag) {
    if (!group.ops.length) continue;
    main.append(el("section", "tag", el("h2", null, tag), el("p", "desc", group.description || ""), ...group.ops));
  }
  const schemas = el("section", "tag", el("h2", null, "Schemas"));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const details = el("details", "schema-def");
    details.id = "schema-" + name;
    details.append(el("summary", null, el("code", null, name), el("span", "summary", schema.description || "")));
    details.append(schema.properties || schema.oneOf || schema.anyOf ? propertiesTable(schema) : el("p", null, typeOf(schema)));
    schemas.append(details);
  }
  main.append(schemas);
}

function openTarget() {
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target && target.tagName === "DETAILS") target.open = true;
}

document.getElementById("filter").addEventListener("input", (event) => {
  const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const op of document.querySelectorAll("details.op")) {
    op.hidden = !words.every((w) => op.dataset.search.includes(w));
  }
});
window.addEventListener("hashchange", openTarget);

fetch("/api/v1/openapi.json")
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status + " " + r.statusText))))
  .then((d) => {
    doc = d;
    render();
    openTarget();
  })
  .catch((error) => {
    document.getElementById("ops").textContent = "Could not load /api/v1/openapi.json: " + error;
  });
