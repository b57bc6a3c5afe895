// Stratus's runtime client for Node.js functions: the Lambda Runtime API loop, written against
// the documented contract (GET /next, POST /response | /error, POST /init/error). It loads
// CommonJS and ES module handlers, async or callback style, and gives them Lambda's context.
// Handlers wrapped in awslambda.streamifyResponse stream their response (see below).
import http from "node:http";
import net from "node:net";
import { Writable } from "node:stream";
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || "/var/task";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let currentRequestId = "";

// -- the Runtime API --------------------------------------------------------------------------

function request(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const [host, port] = API.split(":");
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host, port, method, agent,
        path: `/2018-06-01/runtime/${route}`,
        headers: { ...headers, ...(data ? { "Content-Length": data.length } : {}) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// -- the private channel -------------------------------------------------------------------------

// On Stratus's Linux backend the environment keeps its private channel to the server across the
// exec (its fd in _STRATUS_CHANNEL_FD): the same frames the Python environments speak
// (runtimes/pyboot/stratus_channel.py), one write each way per invoke instead of two HTTP
// exchanges. A frame: u32 length of the rest, u8 kind, u16 header length, a JSON header, the body.
// Init errors and streamed responses still go over the Runtime API, which the server serves for
// the same environment alongside the channel.
const NEXT = 1, EVENT = 2, RESPONSE = 3, ERROR = 4;

class Channel {
  constructor(fd) {
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.buffer = Buffer.alloc(0);
    this.waiting = null; // the resolve of the pending next()
    this.answer = null; // a RESPONSE or ERROR frame, sent with the next NEXT
    this.socket.on("data", (data) => this.received(data));
    this.socket.on("close", () => process.exit(0)); // the server is gone
    this.socket.on("error", () => process.exit(0));
  }

  static frame(kind, header, body) {
    const head = Buffer.from(JSON.stringify(header));
    const out = Buffer.allocUnsafe(7 + head.length);
    out.writeUInt32BE(3 + head.length + body.length, 0);
    out.writeUInt8(kind, 4);
    out.writeUInt16BE(head.length, 5);
    head.copy(out, 7);
    return body.length ? Buffer.concat([out, body]) : out;
  }

  received(data) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
    while (this.buffer.length >= 7) {
      const size = this.buffer.readUInt32BE(0);
      if (this.buffer.length < 4 + size) return;
      const kind = this.buffer.readUInt8(4);
      const headSize = this.buffer.readUInt16BE(5);
      const header = JSON.parse(this.buffer.subarray(7, 7 + headSize).toString());
      const body = this.buffer.subarray(7 + headSize, 4 + size);
      this.buffer = this.buffer.subarray(4 + size);
      if (kind !== EVENT || this.waiting === null) continue;
      const resolve = this.waiting;
      this.waiting = null;
      // While a handler runs the channel must not keep the process alive: an empty event loop
      // ('beforeExit') is what a callback-style handler's answer may wait for, as on Lambda.
      this.socket.unref();
      // As node's http module gives them: lower-case names.
      const headers = {};
      for (const [name, value] of Object.entries(header)) headers[name.toLowerCase()] = value;
      resolve({ headers, body });
    }
  }

  next() {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.ref(); // waiting for the next event keeps the process alive
      const answer = this.answer;
      this.answer = null;
      if (answer !== null && leftoverWork()) {
        // Work the handler left queued (a timer, an immediate) runs before the next event is
        // asked for, as it did while an HTTP /response round trip completed: it counts against
        // this invocation's timeout, and the next event does not wait behind it. The answer
        // goes now; the request for more after that work (timers of the same delay run in
        // the order they were set).
        this.socket.write(answer);
        setTimeout(() => this.socket.write(NEXT_FRAME), 0);
      } else {
        // The usual case: the answer and the request for more in one write, one wake-up of
        // the server.
        this.socket.write(answer === null ? NEXT_FRAME : Buffer.concat([answer, NEXT_FRAME]));
      }
    });
  }

  // The answer goes with the next request for more (next() is called right after).
  respond(requestId, body) {
    this.answer = Channel.frame(RESPONSE, { id: requestId, type: "application/json" }, Buffer.from(body));
  }

  fail(requestId, document) {
    const body = Buffer.from(JSON.stringify(document));
    this.answer = Channel.frame(ERROR, { id: requestId, type: document.errorType }, body);
  }

}

const NEXT_FRAME = Channel.frame(NEXT, {}, Buffer.alloc(0));

function leftoverWork() {
  return process.getActiveResourcesInfo().some((kind) => kind === "Timeout" || kind === "Immediate");
}

const CHANNEL_FD = process.env._STRATUS_CHANNEL_FD;
delete process.env._STRATUS_CHANNEL_FD; // the handler's environment is Lambda's, not ours
const channel = CHANNEL_FD === undefined ? null : new Channel(Number(CHANNEL_FD));

function errorDocument(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || "Error",
      errorMessage: error.message,
      trace: (error.stack || "").split("\n"),
    };
  }
  if (error !== null && typeof error === "object") {
    return { errorType: error.errorType || "object", errorMessage: error.errorMessage || JSON.stringify(error), trace: [] };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

async function postError(route, document) {
  await request("POST", route, JSON.stringify(document), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": document.errorType,
  });
}

async function initError(errorType, error, message) {
  const document = { errorType, errorMessage: message ?? `${error.name}: ${error.message}`, trace: (error?.stack || "").split("\n") };
  log("ERROR", [`Uncaught Exception \t${JSON.stringify(document)}`]);
  await postError("init/error", document);
  process.exit(129);
}

// -- logging: console output as Lambda's Node runtime writes it --------------------------------

// LoggingConfig: under LogFormat JSON each console call is one JSON object, and calls below
// ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL) are dropped; the text format is never filtered.
const JSON_LOGS = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const MIN_LEVEL = JSON_LOGS ? (LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL] ?? LEVELS.INFO) : 0;

function log(level, args) {
  if (LEVELS[level] < MIN_LEVEL) return;
  if (JSON_LOGS) {
    const entry = { timestamp: new Date().toISOString(), level, requestId: currentRequestId, message: util.format(...args) };
    if (args.length === 1 && args[0] instanceof Error) {
      Object.assign(entry, { errorType: args[0].name, errorMessage: args[0].message, stackTrace: (args[0].stack || "").split("\n") });
    }
    process.stdout.write(JSON.stringify(entry) + "\n");
    return;
  }
  const text = util.format(...args).replace(/\n/g, "\r");
  process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${text}\n`);
}
// Output that can no longer be written (the server's end of the pipe is gone) is dropped: an
// 'error' without a listener is an uncaught exception, whose report is itself a write, and that
// loop would spin forever instead of letting the client notice the Runtime API is gone and exit.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});
console.log = (...args) => log("INFO", args);
console.info = (...args) => log("INFO", args);
console.warn = (...args) => log("WARN", args);
console.error = (...args) => log("ERROR", args);
console.debug = (...args) => log("DEBUG", args);
console.trace = (...args) => log("TRACE", args);

// -- response streaming: the awslambda global of Lambda's Node runtimes -------------------------
//
// awslambda.streamifyResponse(handler) marks a handler that takes (event, responseStream,
// context); what it writes is POSTed to /response as it is written, in a chunked request with
// Lambda-Runtime-Function-Response-Mode: streaming. An error after the first byte goes in the
// request's trailers (Lambda-Runtime-Function-Error-Type, and -Body as base64 JSON); before it,
// through /error as for any handler. awslambda.HttpResponseStream.from(stream, {statusCode,
// headers, cookies}) sets a function URL's status and headers: a JSON prelude and 8 NUL bytes
// ahead of the body, under its own content type.

const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response";

class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_PRELUDE_TYPE);
    const text = JSON.stringify(prelude ?? {});
    stream._beforeFirstWrite = (write) => {
      write(Buffer.from(text));
      write(Buffer.alloc(8));
    };
    return stream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options?.highWaterMark) handler.highWaterMark = options.highWaterMark;
    return handler;
  },
  HttpResponseStream,
};

function responseStream(requestId, highWaterMark) {
  let contentType = "application/octet-stream";
  let req = null;
  let settle;
  const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  done.catch(() => {}); // awaited by the invoke loop; an early refusal must not go unhandled
  const open = () => {
    if (req) return req;
    const [host, port] = API.split(":");
    req = http.request(
      {
        host, port, method: "POST", agent: false, // its own connection, closed once answered
        path: `/2018-06-01/runtime/invocation/${requestId}/response`,
        headers: {
          "Content-Type": contentType,
          "Lambda-Runtime-Function-Response-Mode": "streaming",
          "Transfer-Encoding": "chunked",
          Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => settle.resolve(res.statusCode));
        res.on("error", settle.reject);
      },
    );
    req.on("error", settle.reject);
    if (stream._beforeFirstWrite) {
      const before = stream._beforeFirstWrite;
      stream._beforeFirstWrite = null;
      before((data) => req.write(data));
    }
    return req;
  };
  const stream = new Writable({
    highWaterMark,
    write(chunk, encoding, callback) {
      const data = typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk;
      open().write(data, () => callback());
    },
    final(callback) {
      open().end();
      callback();
    },
  });
  stream.setContentType = (type) => { contentType = type; };
  return {
    writable: stream,
    done,
    get started() { return req !== null; },
    async fail(document) {
      if (stream.writableLength > 0) await new Promise((resolve) => stream.once("drain", resolve));
      const body = Buffer.from(JSON.stringify(document)).toString("base64");
      req.addTrailers({ "Lambda-Runtime-Function-Error-Type": document.errorType, "Lambda-Runtime-Function-Error-Body": body });
      req.end();
    },
  };
}

async function invokeStreaming(handler, event, context, requestId) {
  const response = responseStream(requestId, handler.highWaterMark);
  try {
    await handler(event, response.writable, context);
    if (!response.writable.writableEnded) response.writable.end();
  } catch (error) {
    if (!response.started) throw error; // nothing sent yet: reported through /error
    const document = errorDocument(error);
    log("ERROR", [`Invoke Error \t${JSON.stringify(document)}`]);
    await response.fail(document);
  }
  await response.done;
}

// -- loading the handler -----------------------------------------------------------------------

function moduleFile(base) {
  for (const ext of [".js", ".mjs", ".cjs"]) {
    if (existsSync(base + ext)) return base + ext;
  }
  return null;
}

async function loadHandler(handlerString) {
  const slash = handlerString.lastIndexOf("/");
  const dir = handlerString.slice(0, slash + 1);
  const rest = handlerString.slice(slash + 1);
  const dot = rest.indexOf(".");
  if (dot <= 0 || dot === rest.length - 1) {
    return initError("Runtime.MalformedHandlerName", new Error("Bad handler"), `Bad handler ${handlerString}`);
  }
  const moduleName = dir + rest.slice(0, dot);
  const names = rest.slice(dot + 1).split(".");
  const file = moduleFile(path.resolve(TASK_ROOT, moduleName));
  if (file === null) {
    const error = new Error(`Cannot find module '${moduleName}'`);
    error.name = "Runtime.ImportModuleError";
    return initError("Runtime.ImportModuleError", error, `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${process.argv[1]}`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (error) {
    if (error instanceof SyntaxError) return initError("Runtime.UserCodeSyntaxError", error);
    if (error?.code === "MODULE_NOT_FOUND" || error?.code === "ERR_MODULE_NOT_FOUND") {
      return initError("Runtime.ImportModuleError", error);
    }
    // Anything else the module throws as it loads is reported as itself, as Lambda does.
    const document = errorDocument(error);
    return initError(document.errorType, error, document.errorMessage);
  }
  let fn = mod;
  for (const name of names) fn = fn?.[name] ?? (fn === mod ? mod.default?.[name] : undefined);
  if (typeof fn !== "function") {
    return initError("Runtime.HandlerNotFound", new Error(`${handlerString} is undefined or not exported`),
      `${handlerString} is undefined or not exported`);
  }
  return fn;
}

// -- the invoke loop ---------------------------------------------------------------------------

function contextFor(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const parse = (value) => (value ? JSON.parse(value) : undefined);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  return context;
}

// Lambda's Node runtime acts "when the event loop is empty" (Node's 'beforeExit': nothing left
// that keeps the process alive; this client's idle keep-alive socket does not). A callback-style
// handler's answer waits for it when callbackWaitsForEmptyEventLoop is true, and one that never
// calls back answers null then.
function invokeHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    let onEmpty = null;
    const whenLoopEmpties = (action) => {
      if (onEmpty) process.off("beforeExit", onEmpty);
      onEmpty = action;
      if (action) process.once("beforeExit", action);
    };
    const finish = (error, value) => {
      whenLoopEmpties(null);
      if (error !== undefined && error !== null) reject(error);
      else resolve(value);
    };
    const settle = (error, value, wait = false) => {
      if (settled) return;
      settled = true;
      if (wait && (error === undefined || error === null)) whenLoopEmpties(() => finish(null, value));
      else finish(error, value);
    };
    const callback = (error, value) => settle(error, value, context.callbackWaitsForEmptyEventLoop);
    context.done = (error, value) => settle(error, value);
    context.succeed = (value) => settle(null, value);
    context.fail = (error) => settle(error ?? new Error("handled"));
    try {
      const result = handler(event, context, callback);
      if (result && typeof result.then === "function") result.then((v) => settle(null, v), (e) => settle(e));
      else if (handler.length < 3) settle(null, result);
      else if (!settled) whenLoopEmpties(() => settle(null, undefined));
    } catch (error) {
      settle(error);
    }
  });
}

async function main() {
  const handler = await loadHandler(process.env._HANDLER || "");
  for (;;) {
    const next = channel ? await channel.next() : await request("GET", "invocation/next");
    const headers = next.headers;
    const requestId = headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    const context = contextFor(headers);
    try {
      const event = JSON.parse(next.body.toString() || "null");
      if (handler[STREAMING] === "response") {
        await invokeStreaming(handler, event, context, requestId);
        continue;
      }
      const result = await invokeHandler(handler, event, context);
      const body = JSON.stringify(result === undefined ? null : result);
      if (channel) channel.respond(requestId, body);
      else await request("POST", `invocation/${requestId}/response`, body, { "Content-Type": "application/json" });
    } catch (error) {
      const document = errorDocument(error);
      log("ERROR", [`Invoke Error \t${JSON.stringify(document)}`]);
      if (channel) channel.fail(requestId, document);
      else await postError(`invocation/${requestId}/error`, document);
    }
  }
}

process.on("uncaughtException", async (error) => {
  const document = errorDocument(error);
  log("ERROR", [`Uncaught Exception \t${JSON.stringify(document)}`]);
  try {
    await postError(currentRequestId ? `invocation/${currentRequestId}/error` : "init/error", document);
  } finally {
    process.exit(129);
  }
});
process.on("unhandledRejection", async (reason) => {
  const document = { ...errorDocument(reason), errorType: "Runtime.UnhandledPromiseRejection" };
  log("ERROR", [`Unhandled Promise Rejection \t${JSON.stringify(document)}`]);
  try {
    await postError(currentRequestId ? `invocation/${currentRequestId}/error` : "init/error", document);
  } finally {
    process.exit(128);
  }
});

main();
