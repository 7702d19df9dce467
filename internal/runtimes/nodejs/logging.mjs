// Console output as Lambda's Node.js runtime writes it, in the text log
// format: one line per console call,
//
//	TIMESTAMP\tREQUEST_ID\tLEVEL\tMESSAGE
//
// with the time in ISO form (milliseconds, Z), the request id of the
// invocation under way ("undefined" before the first one), and the
// arguments formatted as console.log formats them. Newlines inside the
// message become carriage returns, so that one console call stays one log
// event.

import { format } from 'node:util';

// Console methods and the level each writes at. console.trace writes its
// message at TRACE without a stack, as on Lambda; console.fatal is
// Lambda's addition.
const levels = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  log: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'FATAL',
};

// Logger holds the request id that log lines carry.
export class Logger {
  constructor(out) {
    this.out = out;
    this.requestId = 'undefined';
  }

  write(level, args) {
    const line = `${new Date().toISOString()}\t${this.requestId}\t${level}\t${format(...args)}`;
    this.out.write(line.replace(/\n/g, '\r') + '\n');
  }

  // patch replaces the console's methods with ones that write through the
  // logger.
  patch(target) {
    for (const [method, level] of Object.entries(levels)) {
      target[method] = (...args) => this.write(level, args);
    }
  }
}
