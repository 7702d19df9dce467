// The client of the Runtime API (2018-06-01). A warm invocation costs one
// GET /next and one POST, each written with one write on a kept-alive
// connection. It speaks the little of HTTP/1.1 the API needs, over
// node:net: a request is built in one buffer, an answer is read by its
// Content-Length or its chunks. Connections wait unreferenced between
// requests, so that an idle connection does not keep the event loop of the
// function's code from emptying.
//
// A streamed response (StreamedResponse) is the one request whose body is
// written while it is made: POST /response in chunks, on a connection of
// its own, ended by the last chunk and, after a failure, the error
// trailers.

import net from 'node:net';

const base = '/2018-06-01/runtime';

const errorTypeHeader = 'Lambda-Runtime-Function-Error-Type';
const errorBodyHeader = 'Lambda-Runtime-Function-Error-Body';
const responseModeHeader = 'Lambda-Runtime-Function-Response-Mode';

// Limit on an answer's head: the Client-Context and Cognito-Identity
// headers fit with room to spare.
const maxHead = 81920;

// Invocation is one event and its headers as /next gives them.
export class Invocation {
  constructor(headers, body) {
    this.requestId = headers['lambda-runtime-aws-request-id'];
    this.deadlineMs = Number(headers['lambda-runtime-deadline-ms']);
    this.invokedFunctionArn = headers['lambda-runtime-invoked-function-arn'];
    this.traceId = headers['lambda-runtime-trace-id'];
    this.clientContext = headers['lambda-runtime-client-context'];
    this.cognitoIdentity = headers['lambda-runtime-cognito-identity'];
    this.tenantId = headers['lambda-runtime-aws-tenant-id'];
    this.body = body;
  }
}

export class RuntimeAPIClient {
  // hostPort is AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001", "[::1]:9001".
  constructor(hostPort) {
    const i = hostPort.lastIndexOf(':');
    if (i <= 0) throw new Error(`AWS_LAMBDA_RUNTIME_API is not host:port: ${JSON.stringify(hostPort)}`);
    this.host = hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(hostPort.slice(i + 1));
    this.hostHeader = hostPort;
    // idle holds the open connections that no request uses.
    this.idle = [];
  }

  // next waits, without a timeout, for the next event.
  async next() {
    const res = await this.request('GET', `${base}/invocation/next`, '', null);
    if (res.status !== 200) {
      throw new Error(`GET /runtime/invocation/next answered ${res.status}: ${res.body}`);
    }
    return new Invocation(res.headers, res.body.toString('utf8'));
  }

  // postResponse sends a serialised result. A refusal (the invocation was
  // answered or has failed already) is Lambda's to report, not ours.
  postResponse(requestId, body) {
    return this.request('POST', `${base}/invocation/${encodeURIComponent(requestId)}/response`,
      'Content-Type: application/json\r\n', body);
  }

  // streamResponse is the streamed response to an invocation; nothing is
  // sent until its start.
  streamResponse(requestId) {
    return new StreamedResponse(this, `${base}/invocation/${encodeURIComponent(requestId)}/response`);
  }

  // postError sends an error body (see errors.mjs) for an invocation.
  postError(requestId, body) {
    return this.request('POST', `${base}/invocation/${encodeURIComponent(requestId)}/error`,
      errorHeaders(body), JSON.stringify(body));
  }

  // postInitError reports a failed init.
  postInitError(body) {
    return this.request('POST', `${base}/init/error`, errorHeaders(body), JSON.stringify(body));
  }

  // request sends one request and reads the whole answer. A request that
  // finds its kept-alive connection closed by the server is sent once
  // more, on a new one.
  async request(method, path, headers, body) {
    let payload = null;
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n${headers}`;
    if (body !== null) {
      payload = Buffer.from(body, 'utf8');
      head += `Content-Length: ${payload.length}\r\n`;
    }
    head += '\r\n';
    const msg = payload === null ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), payload]);
    for (;;) {
      const conn = this.take();
      try {
        const res = await conn.exchange(msg);
        if (res.keepAlive) this.put(conn);
        else conn.close();
        return res;
      } catch (err) {
        conn.close();
        if (!(err instanceof StaleConnection)) throw err;
      }
    }
  }

  take() {
    while (this.idle.length > 0) {
      const conn = this.idle.pop();
      if (conn.open) return conn;
    }
    return new Connection(this.host, this.port);
  }

  put(conn) {
    if (!conn.open) return;
    conn.socket.unref();
    this.idle.push(conn);
  }
}

function errorHeaders(body) {
  return `Content-Type: application/json\r\n${errorTypeHeader}: ${headerValue(body.errorType)}\r\n`;
}

// headerValue keeps an error type fit for a header: printable ASCII only.
function headerValue(v) {
  return String(v ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 1024);
}

const crlf = Buffer.from('\r\n', 'latin1');

// StreamedResponse writes one response as the function produces it:
//
//	POST …/response HTTP/1.1
//	Lambda-Runtime-Function-Response-Mode: streaming
//	Transfer-Encoding: chunked
//	Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body
//	Content-Type: …
//
// then one chunk per write and the last chunk, with the error trailers
// when the function failed after the response began. Its connection is a
// new one, as a kept-alive one that the server has closed would be found
// out only after the body was sent; it stays unreferenced until the end,
// so that a function that has nothing left to do lets the event loop
// empty.
export class StreamedResponse {
  constructor(client, path) {
    this.client = client;
    this.path = path;
    this.conn = null;
    this.answer = null;
    this.ended = false;
    // gone is set once nothing more can reach the API: it answered early
    // (the caller stopped reading, or it refused the request) or the
    // connection closed. What is written then is dropped, so that the
    // function runs to its end as on Lambda when a caller goes away.
    this.gone = false;
    this.answeredEarly = false;
  }

  get started() {
    return this.conn !== null;
  }

  // start sends the request's head.
  start(contentType) {
    const c = this.client;
    const head = `POST ${this.path} HTTP/1.1\r\nHost: ${c.hostHeader}\r\n` +
      `${responseModeHeader}: streaming\r\nTransfer-Encoding: chunked\r\n` +
      `Trailer: ${errorTypeHeader}, ${errorBodyHeader}\r\n` +
      `Content-Type: ${headerValue(contentType)}\r\n\r\n`;
    const conn = new Connection(c.host, c.port);
    this.conn = conn;
    conn.socket.unref();
    conn.socket.on('close', () => { this.gone = true; });
    this.answer = conn.begin(Buffer.from(head, 'latin1'));
    const settled = () => {
      if (!this.ended) this.answeredEarly = true;
      this.gone = true;
    };
    this.answer.then(settled, settled);
  }

  // write sends data as one chunk and calls done when the connection has
  // taken it: at once, or when its buffer drains.
  write(data, done) {
    if (this.gone || data.length === 0) {
      done();
      return;
    }
    const socket = this.conn.socket;
    socket.cork();
    socket.write(data.length.toString(16) + '\r\n', 'latin1');
    socket.write(data);
    const room = socket.write(crlf);
    socket.uncork();
    if (room) {
      done();
      return;
    }
    const go = () => {
      socket.off('drain', go);
      socket.off('close', go);
      done();
    };
    socket.on('drain', go);
    socket.on('close', go);
  }

  // end sends the last chunk, with the error trailers for errBody (see
  // errors.mjs) when it is given, and resolves with the API's answer.
  async end(errBody) {
    this.ended = true;
    const conn = this.conn;
    if (!this.gone) {
      let last = '0\r\n';
      if (errBody) {
        last += `${errorTypeHeader}: ${headerValue(errBody.errorType)}\r\n`;
        last += `${errorBodyHeader}: ${Buffer.from(JSON.stringify(errBody), 'utf8').toString('base64')}\r\n`;
      }
      conn.socket.write(last + '\r\n', 'latin1');
    }
    conn.socket.ref();
    try {
      const res = await this.answer;
      // A connection answered before its body ended is in no state to
      // carry another request.
      if (res.keepAlive && !this.answeredEarly) this.client.put(conn);
      else conn.close();
      return res;
    } catch (err) {
      conn.close();
      throw err;
    }
  }
}

// StaleConnection is a kept-alive connection that the server closed before
// it answered anything: the request may be sent again.
class StaleConnection extends Error {}

// Connection is one HTTP/1.1 connection that carries one exchange at a
// time.
class Connection {
  constructor(host, port) {
    this.open = true;
    this.used = false;
    this.pending = null;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.onEnd(err));
    this.socket.on('close', () => this.onEnd(null));
  }

  close() {
    this.open = false;
    this.socket.destroy();
  }

  // exchange writes a request and resolves with its answer.
  exchange(msg) {
    return new Promise((resolve, reject) => {
      this.socket.ref();
      this.pending = new Answer(resolve, reject, this.used);
      this.used = true;
      this.socket.write(msg);
    });
  }

  // begin writes the head of a request whose body follows it, and
  // resolves with the answer.
  begin(head) {
    return new Promise((resolve, reject) => {
      this.pending = new Answer(resolve, reject, this.used);
      this.used = true;
      this.socket.write(head);
    });
  }

  onData(chunk) {
    const a = this.pending;
    if (a === null) return;
    try {
      if (a.feed(chunk)) {
        this.pending = null;
        a.finish();
      }
    } catch (err) {
      this.pending = null;
      this.close();
      a.reject(err);
    }
  }

  onEnd(err) {
    this.open = false;
    const a = this.pending;
    if (a === null) return;
    this.pending = null;
    if (a.untilClose && err === null) {
      a.finish();
      return;
    }
    if (a.reused && a.received === 0) {
      a.reject(new StaleConnection('the connection was closed'));
      return;
    }
    a.reject(err ?? new Error('the Runtime API closed the connection before it answered'));
  }
}

// Answer reads one HTTP response.
class Answer {
  constructor(resolve, reject, reused) {
    this.resolve = resolve;
    this.reject = reject;
    this.reused = reused;
    this.received = 0;
    this.head = null; // bytes of an unfinished head
    this.status = 0;
    this.headers = null;
    this.keepAlive = true;
    // The body: by length into body, by chunks or until close into parts.
    this.length = -1;
    this.body = null;
    this.filled = 0;
    this.chunked = false;
    this.untilClose = false;
    this.parts = [];
    this.rest = null; // unparsed chunked bytes
    this.chunkLeft = -1;
    this.done = false;
  }

  // feed takes the next bytes; true when the answer is complete.
  feed(chunk) {
    this.received += chunk.length;
    if (this.headers === null) {
      const buf = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > maxHead) throw new Error('the Runtime API answered with a head too large');
        this.head = buf;
        return false;
      }
      this.parseHead(buf.toString('latin1', 0, end));
      this.head = null;
      chunk = buf.subarray(end + 4);
      if (this.length === 0) return true;
    }
    if (this.chunked) return this.feedChunks(chunk);
    if (this.untilClose) {
      if (chunk.length > 0) this.parts.push(chunk);
      return false;
    }
    const n = Math.min(chunk.length, this.length - this.filled);
    if (this.body === null && n === this.length) {
      this.body = chunk.subarray(0, n);
    } else {
      if (this.body === null) this.body = Buffer.allocUnsafe(this.length);
      chunk.copy(this.body, this.filled, 0, n);
    }
    this.filled += n;
    return this.filled === this.length;
  }

  parseHead(text) {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error(`the Runtime API answered with no HTTP status line: ${JSON.stringify(lines[0])}`);
    this.status = Number(m[1]);
    const headers = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    this.headers = headers;
    if (/\bclose\b/i.test(headers.connection ?? '')) this.keepAlive = false;
    if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) {
      this.chunked = true;
    } else if (headers['content-length'] !== undefined) {
      this.length = Number(headers['content-length']);
      if (!Number.isSafeInteger(this.length) || this.length < 0) throw new Error('the Runtime API answered with a bad Content-Length');
    } else if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
      this.length = 0;
    } else {
      this.untilClose = true;
      this.keepAlive = false;
    }
  }

  // feedChunks reads a chunked body: SIZE\r\nDATA\r\n… 0\r\n[trailers]\r\n.
  feedChunks(chunk) {
    let buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    for (;;) {
      if (this.chunkLeft < 0) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        const size = parseInt(buf.toString('latin1', 0, eol).split(';')[0], 16);
        if (Number.isNaN(size)) throw new Error('the Runtime API answered with a bad chunk');
        buf = buf.subarray(eol + 2);
        if (size === 0) {
          this.chunkLeft = -2; // trailers follow
        } else {
          this.chunkLeft = size;
        }
      }
      if (this.chunkLeft === -2) {
        const end = buf.indexOf('\r\n');
        if (end < 0) break;
        if (end === 0) return true;
        buf = buf.subarray(end + 2); // a trailer line, ignored
        continue;
      }
      if (buf.length < this.chunkLeft + 2) break;
      this.parts.push(buf.subarray(0, this.chunkLeft));
      buf = buf.subarray(this.chunkLeft + 2);
      this.chunkLeft = -1;
    }
    if (buf.length > 0) this.rest = Buffer.from(buf);
    return false;
  }

  finish() {
    if (this.done) return;
    this.done = true;
    let body = this.body;
    if (body === null) body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.resolve({ status: this.status, headers: this.headers, body, keepAlive: this.keepAlive });
  }
}
