// Response streaming as Lambda's Node.js runtime offers it: the global
// awslambda object with streamifyResponse and HttpResponseStream, and the
// response stream a streamified handler writes to.
//
//	export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
//	  responseStream.setContentType('text/plain');
//	  responseStream.write('hello ');
//	  responseStream.end('world');
//	});
//
// The response stream is a Writable. Its first write (or its end) begins
// the response; until then a failure of the handler is reported as any
// other (POST /error), after it in the response's trailers (see
// StreamedResponse in runtime_api.mjs).

import { Writable } from 'node:stream';

import { InvalidStreamingOperation, errorBody } from './errors.mjs';

// The marks streamifyResponse puts on a handler, under the names Lambda's
// runtime uses, which tracing wrappers copy onto the handlers they wrap.
const streamingMark = Symbol.for('aws.lambda.runtime.handler.streaming');
const highWaterMarkMark = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const streamResponse = 'response';

const defaultContentType = 'application/octet-stream';
const preludeContentType = 'application/vnd.awslambda.http-integration-response';
const preludeDelimiter = 8;

// streamifyResponse marks handler as one that the runtime calls with
// (event, responseStream, context); options.highWaterMark sets the
// stream's buffer, in bytes.
export function streamifyResponse(handler, options) {
  handler[streamingMark] = streamResponse;
  if (typeof options?.highWaterMark === 'number') {
    handler[highWaterMarkMark] = parseInt(String(options.highWaterMark), 10);
  }
  return handler;
}

// isStreaming reports whether handler was streamified.
export function isStreaming(handler) {
  return handler?.[streamingMark] === streamResponse;
}

// streamOptions are the response stream's options for handler.
export function streamOptions(handler) {
  const hwm = handler?.[highWaterMarkMark];
  return Number.isSafeInteger(hwm) && hwm > 0 ? { highWaterMark: hwm } : {};
}

// HttpResponseStream gives a response stream the metadata prelude of
// HTTP integrations (function URLs, API Gateway): the JSON of prelude
// ({statusCode, headers, cookies}), 8 NUL bytes, then the body.
export class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(preludeContentType);
    const meta = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(meta);
      write(new Uint8Array(preludeDelimiter));
    };
    return stream;
  }
}

// installGlobal defines awslambda on target (globalThis), keeping what
// is there already.
export function installGlobal(target) {
  target.awslambda = { ...target.awslambda, streamifyResponse, HttpResponseStream };
}

// ResponseStream is the stream a streamified handler writes. Strings,
// Buffers and Uint8Arrays are written as they are; other values as their
// JSON, as on Lambda.
export class ResponseStream extends Writable {
  #wire;
  #contentType = defaultContentType;
  #writeCalled = false;
  #hookRan = false;
  // #abandoned is set when the invocation failed before the response
  // began: the failure went to /error and what is written now is dropped.
  #abandoned = false;
  // #errorBody, when set, goes in the trailers of the last chunk.
  #errorBody = null;
  #closed;
  #answered;

  constructor(wire, options) {
    super({ ...options, decodeStrings: true });
    this.#wire = wire;
    // _onBeforeFirstWrite is Lambda's hook (HttpResponseStream sets it):
    // called with a write function before the first bytes go out.
    this._onBeforeFirstWrite = undefined;
    this.#closed = deferred();
    this.#answered = deferred();
  }

  // setContentType sets the response's Content-Type; too late once
  // writing has begun.
  setContentType(contentType) {
    if (this.#writeCalled) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    this.#contentType = String(contentType);
  }

  write(chunk, encoding, cb) {
    this.#writeCalled = true;
    return super.write(bytesOf(chunk), encoding, cb);
  }

  end(chunk, encoding, cb) {
    if (chunk !== null && chunk !== undefined && typeof chunk !== 'function') {
      this.#writeCalled = true;
      chunk = bytesOf(chunk);
    }
    return super.end(chunk, encoding, cb);
  }

  _write(chunk, _encoding, cb) {
    this.#send([chunk], cb);
  }

  _writev(chunks, cb) {
    this.#send(chunks.map((c) => c.chunk), cb);
  }

  _final(cb) {
    if (!this.#abandoned) {
      // A stream ended with nothing written still begins its response
      // (with its prelude, if it has one).
      this.#begin();
      const pre = this.#prelude();
      const finish = () => this.#answered.resolve(this.#wire.end(this.#errorBody));
      if (pre.length > 0) this.#wire.write(Buffer.concat(pre), finish);
      else finish();
    } else {
      this.#answered.resolve(null);
    }
    this.#closed.resolve(null);
    cb();
  }

  _destroy(err, cb) {
    this.#closed.resolve(err ?? new Error('The response stream was destroyed before it ended.'));
    cb(err);
  }

  #begin() {
    if (!this.#wire.started) this.#wire.start(this.#contentType);
  }

  // #prelude runs the first-write hook once and returns what it wrote.
  #prelude() {
    const out = [];
    if (this.#hookRan) return out;
    this.#hookRan = true;
    if (typeof this._onBeforeFirstWrite === 'function') {
      this._onBeforeFirstWrite((data) => {
        out.push(Buffer.from(bytesOf(data)));
        return true;
      });
    }
    return out;
  }

  #send(chunks, cb) {
    if (this.#abandoned) {
      cb();
      return;
    }
    this.#begin();
    const pre = this.#prelude();
    const all = pre.length === 0 && chunks.length === 1 ? chunks[0] : Buffer.concat([...pre, ...chunks]);
    this.#wire.write(all, () => cb());
  }

  // closed resolves when the stream has ended (null) or was destroyed
  // (the error, or one saying so).
  closed() {
    return this.#closed.promise;
  }

  // answered resolves with the Runtime API's answer to the response, once
  // its last chunk is sent; null when the response never began.
  answered() {
    return this.#answered.promise;
  }

  // endIfOpen ends a stream that the handler left open when nothing is
  // left for it to do.
  endIfOpen() {
    if (!this.writableEnded && !this.destroyed) this.end();
  }

  // fail reports err for the invocation, returning false when the response
  // had not begun: the caller reports it with /error and the stream drops
  // what is written later. Once begun, err goes in the trailers, after
  // what was written; once ended, it is too late for anything but the log.
  fail(err) {
    if (!this.#wire.started) {
      this.#abandoned = true;
      this.#answered.resolve(null);
      return false;
    }
    if (this.#wire.ended) return true;
    this.#errorBody = errorBody(err);
    if (this.destroyed) {
      this.#answered.resolve(this.#wire.end(this.#errorBody));
    } else if (!this.writableEnded) {
      this.end();
    }
    return true;
  }
}

// bytesOf is what a value writes: the value itself for a string, Buffer
// or Uint8Array, its JSON otherwise.
function bytesOf(chunk) {
  if (chunk === null || chunk === undefined) return chunk;
  if (typeof chunk === 'string' || chunk instanceof Uint8Array) return chunk;
  return JSON.stringify(chunk);
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}
