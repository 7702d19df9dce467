// The Node.js runtime interface client of ember's nodejs* runtimes, written
// from Lambda's Runtime API and its documented Node.js behaviour. It uses
// Node.js built-ins only and runs on Node.js 18 to 24.
//
//	node /var/runtime/nodejs/bootstrap.mjs [OPT_DIR]
//
// OPT_DIR is the directory the function sees as /opt (its layers); "/opt"
// when absent. Outside a sandbox, where /opt is some other directory, the
// /opt entries of NODE_PATH are read as OPT_DIR's (see setNodePath).
//
// It reads its settings from the environment once, here: the Runtime API's
// address, _HANDLER, LAMBDA_TASK_ROOT, NODE_PATH and the function's
// AWS_LAMBDA_* variables.
//
// Before the function's code loads, it defines the global awslambda
// object (response streaming, see response_stream.mjs), unless
// AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA is 1 or true, as on Lambda.

import Module, { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CallbackHandlerDeprecated, UnhandledPromiseRejection, errorBody, forLog } from './errors.mjs';
import { Runtime } from './invoke_loop.mjs';
import { Logger } from './logging.mjs';
import { isStreaming, installGlobal } from './response_stream.mjs';
import { RuntimeAPIClient } from './runtime_api.mjs';
import { loadHandler } from './user_function.mjs';

// Exit codes of Lambda's Node.js runtime after an error it reported.
const exitUncaught = 129;
const exitUnhandledRejection = 128;

const nodeMajor = Number(process.versions.node.split('.')[0]);
const env = process.env;
const optDir = process.argv[2] || '/opt';
const taskRoot = env.LAMBDA_TASK_ROOT || '/var/task';
// The runtime directory (/var/runtime) holds this client under nodejs/.
const runtimeDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const logger = new Logger(process.stdout);
logger.patch(console);

const nodePath = setNodePath(env.NODE_PATH, optDir);

// require as the runtime's own module requires: Lambda's runtime is
// /var/runtime/index.mjs, the last entry of every require stack it shows.
const runtimeRequire = createRequire(path.join(runtimeDir, 'index.mjs'));

const client = new RuntimeAPIClient(env.AWS_LAMBDA_RUNTIME_API || '');
let runtime = null;
let initFailed = false;

// failInit reports an init error once and ends the process.
function failInit(err, code) {
  if (initFailed) return;
  initFailed = true;
  const exit = () => process.exit(code);
  client.postInitError(errorBody(err)).then(exit, exit);
}

process.on('uncaughtException', (err) => {
  console.error('Uncaught Exception', forLog(err));
  if (runtime) runtime.fatal(err, exitUncaught);
  else failInit(err, exitUncaught);
});

process.on('unhandledRejection', (reason, promise) => {
  const err = new UnhandledPromiseRejection(reason, promise);
  console.error('Unhandled Promise Rejection', forLog(err));
  if (runtime) runtime.fatal(err, exitUnhandledRejection);
  else failInit(err, exitUnhandledRejection);
});

process.on('beforeExit', () => runtime?.beforeExit());

const noGlobal = env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
if (noGlobal !== '1' && noGlobal !== 'true') installGlobal(globalThis);

// Awaited at the top level, as Lambda's runtime awaits its start: init
// code whose top-level await never settles ends the process with Node.js's
// code 13.
await start();

async function start() {
  let handler;
  try {
    handler = await loadHandler(taskRoot, env._HANDLER ?? '', {
      require: runtimeRequire,
      esmDirs: esmSearchDirs(nodePath, taskRoot),
    });
    checkSignature(handler);
  } catch (err) {
    console.error('Uncaught Exception', forLog(err));
    failInit(err, exitUncaught);
    return;
  }
  // Let a rejection that init code left unhandled be seen now, as an init
  // error, before the first event is asked for.
  await new Promise((resolve) => setImmediate(resolve));
  if (initFailed) return;
  const fn = {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  };
  runtime = new Runtime(client, handler, logger, fn, nodeMajor < 24);
  try {
    await runtime.run();
  } catch (err) {
    process.stderr.write(`ember nodejs runtime: ${err?.stack ?? err}\n`);
    process.exit(1);
  }
}

// checkSignature applies Lambda's rules for callback handlers (three
// parameters): gone from Node.js 24, announced as going on Node.js 22. A
// streamified handler's third parameter is its context.
function checkSignature(handler) {
  if (handler.length < 3 || isStreaming(handler)) return;
  if (nodeMajor >= 24) {
    throw new CallbackHandlerDeprecated('ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.');
  }
  if (nodeMajor === 22 && !env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING) {
    console.warn('AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.');
  }
}

// setNodePath makes require search NODE_PATH (Lambda's default when none
// is set) and returns it. Its entries name the paths a function sees;
// where this process sees them elsewhere (no sandbox), they are read as
// the directories given: /opt as OPT_DIR, /var/task as LAMBDA_TASK_ROOT,
// /var/runtime as the directory this client was installed in.
function setNodePath(value, opt) {
  let p = value;
  if (!p) {
    p = `/opt/nodejs/node${nodeMajor}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task`;
  }
  const moved = [['/opt', opt], ['/var/task', taskRoot], ['/var/runtime', runtimeDir]]
    .filter(([from, to]) => from !== to);
  if (moved.length > 0) {
    p = p.split(path.delimiter).map((dir) => {
      for (const [from, to] of moved) {
        if (dir === from) return to;
        if (dir.startsWith(from + '/')) return path.join(to, dir.slice(from.length + 1));
      }
      return dir;
    }).join(path.delimiter);
  }
  if (p !== value) {
    env.NODE_PATH = p;
    // Node.js read NODE_PATH at start; _initPaths reads it again.
    if (typeof Module._initPaths === 'function') Module._initPaths();
  }
  return p;
}

// esmSearchDirs are the node_modules directories of NODE_PATH outside the
// task root that exist: where ES module imports look after the usual
// places.
function esmSearchDirs(value, root) {
  const rel = (dir) => path.relative(root, dir);
  return value.split(path.delimiter).filter((dir) => {
    if (!path.isAbsolute(dir) || path.basename(dir) !== 'node_modules') return false;
    const r = rel(dir);
    if (r === '' || !(r.startsWith('..') || path.isAbsolute(r))) return false;
    try {
      return fs.statSync(dir).isDirectory();
    } catch {
      return false;
    }
  });
}
