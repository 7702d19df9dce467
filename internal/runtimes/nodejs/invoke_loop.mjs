// The invoke loop: GET /next, call the handler with the event and a
// context, POST what it gave. How an invocation ends follows Lambda's
// Node.js runtime:
//
//   - A handler that returns a promise (an async handler) ends the
//     invocation when the promise settles, whatever is left on the event
//     loop.
//   - callback(err) and context.done/succeed/fail end it at once.
//   - callback(null, result) ends it when the event loop is empty (Node.js
//     emits 'beforeExit'), unless context.callbackWaitsForEmptyEventLoop was
//     set to false: then at once. What is still pending stays pending and
//     runs on in the next invocations.
//   - A handler that reported nothing when the event loop empties gives
//     null.
//   - From Node.js 24 on, Lambda has no callbacks: the handler's value (or
//     promise) is the result, and the context has no callback members.
//   - A streamified handler (see response_stream.mjs) writes its response
//     to a stream; the invocation ends when the handler's promise has
//     settled and the stream has ended and been read to its end. A stream
//     left open when the event loop empties is ended then.

import { errorBody, forLog } from './errors.mjs';
import { ResponseStream, isStreaming, streamOptions } from './response_stream.mjs';

const alreadyDone = 'Invocation has already been reported as done. Cannot call complete more than once per invocation.';

// Runtime runs the handler for one event at a time. Its name shows in the
// stack frames of handler errors ("at Runtime.handler (…)"), as on Lambda.
export class Runtime {
  // fn holds the function's settings read from the environment at start.
  constructor(client, handler, logger, fn, callbacks) {
    this.client = client;
    this.handler = handler;
    this.logger = logger;
    this.fn = fn;
    this.callbacks = callbacks;
    this.streaming = isStreaming(handler);
    // stream is the response stream of the invocation under way, if it
    // streams.
    this.stream = null;
    // onBeforeExit runs once when the event loop empties.
    this.onBeforeExit = null;
    // requestId is the invocation that process-level errors are reported
    // for.
    this.requestId = undefined;
    // posting chains the runtime's POSTs, so that they reach the API in
    // the order they were made.
    this.posting = Promise.resolve();
  }

  // beforeExit is wired to process.on('beforeExit').
  beforeExit() {
    const f = this.onBeforeExit;
    this.onBeforeExit = null;
    if (f) f();
  }

  // run serves events until the Runtime API fails.
  async run() {
    for (;;) {
      const inv = await this.client.next();
      await this.handleOnce(inv);
    }
  }

  // post sends after whatever was sent before.
  post(send) {
    const p = this.posting.then(send);
    this.posting = p.catch(() => {});
    return p;
  }

  handleOnce(inv) {
    const id = inv.requestId;
    this.requestId = id;
    this.logger.requestId = id;
    if (inv.traceId) {
      process.env._X_AMZN_TRACE_ID = inv.traceId;
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    if (this.streaming) return this.streamOnce(inv);

    return new Promise((resolve, reject) => {
      let reported = false;
      const report = (send) => {
        if (reported) {
          console.error(alreadyDone);
          return;
        }
        reported = true;
        this.onBeforeExit = null;
        this.post(send).then(resolve, reject);
      };
      const succeed = (result) => report(() => this.sendResult(id, result));
      const fail = (err) => report(() => this.sendError(id, err));

      // A callback of an invocation that has ended (one reported, or a
      // callback called again) changes nothing of the current one.
      const ended = () => {
        if (reported) console.error(alreadyDone);
        return reported;
      };

      let waitForEmptyEventLoop = true;
      const callback = (err, result) => {
        if (ended()) return;
        this.onBeforeExit = null;
        if (err !== undefined && err !== null) {
          fail(err);
        } else if (!waitForEmptyEventLoop) {
          succeed(result);
        } else {
          this.onBeforeExit = () => succeed(result);
        }
      };
      const done = (err, result) => {
        if (ended()) return;
        this.onBeforeExit = null;
        if (err !== undefined && err !== null) fail(err);
        else succeed(result);
      };
      const ctxSucceed = (result) => done(null, result);
      const ctxFail = (err) => done(err === undefined || err === null ? 'handled' : err, null);

      // Nothing reported by the time the event loop empties: null.
      this.onBeforeExit = () => succeed(null);

      try {
        const event = JSON.parse(inv.body);
        const context = this.context(inv, this.callbacks ? {
          get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
          set callbackWaitsForEmptyEventLoop(v) { waitForEmptyEventLoop = v; },
          succeed: ctxSucceed,
          fail: ctxFail,
          done,
        } : {});
        if (this.callbacks) {
          const result = this.handler(event, context, callback);
          if (isPromise(result)) result.then(ctxSucceed, ctxFail);
        } else {
          Promise.resolve(this.handler(event, context)).then(succeed, fail);
        }
      } catch (err) {
        if (this.callbacks) callback(err);
        else fail(err);
      }
    });
  }

  // streamOnce runs a streamified handler for one event.
  async streamOnce(inv) {
    const id = inv.requestId;
    const stream = new ResponseStream(this.client.streamResponse(id), streamOptions(this.handler));
    this.stream = stream;
    // When the event loop empties, nothing can write any more: the stream
    // is ended, whether or not the handler's promise has settled.
    let emptied;
    const loopEmpty = new Promise((resolve) => { emptied = resolve; });
    this.onBeforeExit = () => {
      emptied(null);
      stream.endIfOpen();
    };

    const failed = await Promise.race([this.callStreaming(inv, stream), loopEmpty]);
    let err;
    if (failed !== null) {
      err = failed.error;
    } else {
      err = await stream.closed();
    }
    this.onBeforeExit = null;
    if (failed !== null || err !== null) {
      console.error('Invoke Error', forLog(err));
      if (!stream.fail(err)) {
        this.stream = null;
        await this.post(() => this.client.postError(id, errorBody(err)));
        return;
      }
    }
    await this.post(() => stream.answered());
    this.stream = null;
  }

  // callStreaming calls the handler and resolves with null, or with
  // {error} holding what it threw or rejected with.
  async callStreaming(inv, stream) {
    try {
      const event = JSON.parse(inv.body);
      const result = this.handler(event, stream, this.context(inv, {}));
      if (!isPromise(result)) throw new Error('Streaming does not support non-async handlers.');
      const value = await result;
      if (value !== undefined) console.warn('Streaming handlers ignore return values.');
      return null;
    } catch (err) {
      return { error: err };
    }
  }

  // context builds the context object on top of base (the callback
  // members), in the order of Lambda's: callback members, then the
  // function's settings, then the invocation's.
  context(inv, base) {
    const deadline = inv.deadlineMs;
    const ctx = Object.assign(base, this.fn, {
      clientContext: parseHeader(inv.clientContext, 'ClientContext'),
      identity: parseHeader(inv.cognitoIdentity, 'CognitoIdentity'),
      invokedFunctionArn: inv.invokedFunctionArn,
      awsRequestId: inv.requestId,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
    if (inv.tenantId !== undefined) ctx.tenantId = inv.tenantId;
    return ctx;
  }

  async sendResult(id, result) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch {
      return this.sendError(id, new Error('Unable to stringify response body'));
    }
    // A value JSON has no form for (a function, a symbol) is null.
    await this.client.postResponse(id, body === undefined ? 'null' : body);
  }

  async sendError(id, err) {
    console.error('Invoke Error', forLog(err));
    await this.client.postError(id, errorBody(err));
  }

  // fatal reports an error that escaped the handler (an uncaught exception
  // or a rejection nobody handled) for the invocation under way, then
  // ends the process with code, as Lambda's runtime does.
  fatal(err, code) {
    const id = this.requestId;
    const exit = () => process.exit(code);
    // A response stream that has begun carries the error in its trailers.
    const stream = this.stream;
    if (stream?.fail(err)) {
      this.post(() => stream.answered()).then(exit, exit);
      return;
    }
    this.post(() => this.client.postError(id, errorBody(err))).then(exit, exit);
  }
}

function isPromise(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function parseHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}
