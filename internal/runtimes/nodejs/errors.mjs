// Errors as Lambda's Node.js runtime names and shapes them: the runtime's
// own error classes, the JSON body posted to the Runtime API, and the form
// an error takes in a log line.

import { types } from 'node:util';

// RuntimeError is the base of the errors the runtime raises itself. Each
// subclass carries Lambda's name on its prototype, so that the name is in
// place when the stack is captured: "Runtime.HandlerNotFound: …".
class RuntimeError extends Error {}

function runtimeError(name) {
  const cls = class extends RuntimeError {};
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  return cls;
}

export const ImportModuleError = runtimeError('Runtime.ImportModuleError');
export const HandlerNotFound = runtimeError('Runtime.HandlerNotFound');
export const MalformedHandlerName = runtimeError('Runtime.MalformedHandlerName');
export const UserCodeSyntaxError = runtimeError('Runtime.UserCodeSyntaxError');
export const CallbackHandlerDeprecated = runtimeError('Runtime.CallbackHandlerDeprecated');
export const InvalidStreamingOperation = runtimeError('Runtime.InvalidStreamingOperation');

// UnhandledPromiseRejection wraps the reason of a rejection nobody handled.
// Its message is the reason as a string ("Error: boom"); reason and promise
// stay on it, enumerable, so that the log line shows them.
export class UnhandledPromiseRejection extends RuntimeError {
  constructor(reason, promise) {
    super(reason === undefined || reason === null ? undefined : safeString(reason));
    this.reason = reason;
    this.promise = promise;
  }
}
Object.defineProperty(UnhandledPromiseRejection.prototype, 'name', {
  value: 'Runtime.UnhandledPromiseRejection', writable: true, configurable: true,
});

function safeString(v) {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

// isErrorLike is true for native errors and for objects that carry a
// string name, message and stack as errors do.
function isErrorLike(v) {
  if (typeof Error.isError === 'function' ? Error.isError(v) : types.isNativeError(v)) return true;
  return v !== null && typeof v === 'object' &&
    typeof v.name === 'string' && typeof v.message === 'string' && typeof v.stack === 'string';
}

// DEL is not allowed in an HTTP header; Lambda escapes it in error bodies.
const escapeDel = (s) => (typeof s === 'string' ? s.replace(/\x7F/g, '%7F') : s);

// errorBody is the JSON body of /error and /init/error: errorType,
// errorMessage and trace (the stack, line by line). A value that is not an
// error gives its JavaScript type as errorType and an empty trace.
export function errorBody(err) {
  try {
    if (isErrorLike(err)) {
      const stack = typeof err.stack === 'string' ? err.stack : `${err.name}: ${err.message}`;
      return {
        errorType: escapeDel(err.name),
        errorMessage: escapeDel(err.message),
        trace: escapeDel(stack).split('\n'),
      };
    }
    return { errorType: typeof err, errorMessage: safeString(err), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// forLog is the error as a log line shows it, after a tab: JSON in which
// every Error becomes {errorType, errorMessage, code, …its own enumerable
// fields, stack as lines}.
export function forLog(err) {
  try {
    return '\t' + JSON.stringify(err, (_key, value) => expandError(value));
  } catch {
    return '\t' + JSON.stringify(errorBody(err));
  }
}

function expandError(value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}
