// Finding and loading the function's handler from _HANDLER, as Lambda's
// Node.js runtime does.
//
// A handler is [DIR/]FILE.EXPORT[.NESTED…], relative to LAMBDA_TASK_ROOT.
// FILE is tried, in order:
//
//   1. DIR/FILE itself, when it exists, with require;
//   2. DIR/FILE.js with require, unless the nearest package.json says
//      "type": "module";
//   3. DIR/FILE.js with import, when it does;
//   4. DIR/FILE.mjs with import;
//   5. DIR/FILE.cjs with require;
//   6. FILE as a module name, looked up from the task root and DIR
//      (their node_modules) and in NODE_PATH (and so in /var/task); it
//      fails with Node.js's "Cannot find module 'FILE'", required from
//      the runtime.
//
// Loading runs the module's top-level code (and awaits its top-level
// await): the function's init.

import fs from 'node:fs';
import * as nodeModule from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  HandlerNotFound,
  ImportModuleError,
  MalformedHandlerName,
  UserCodeSyntaxError,
} from './errors.mjs';

// loadHandler returns the handler function.
//
// opts.require is the runtime's require, opts.esmDirs the node_modules
// directories of NODE_PATH that ES modules may import from.
export async function loadHandler(taskRoot, fullHandler, opts) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const base = path.basename(fullHandler);
  const moduleRoot = fullHandler.slice(0, fullHandler.length - base.length);
  const m = /^([^.]*)\.(.*)$/.exec(base);
  if (!m) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, exportPath] = m;

  const app = await loadModule(taskRoot, moduleRoot, moduleName, opts);
  const fn = exportPath.split('.').reduce((obj, key) => (obj === null || obj === undefined ? obj : obj[key]), app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

async function loadModule(taskRoot, moduleRoot, moduleName, opts) {
  try {
    return await tryLoad(taskRoot, moduleRoot, moduleName, opts);
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
    if (err?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
    throw err;
  }
}

async function tryLoad(taskRoot, moduleRoot, moduleName, opts) {
  const file = path.resolve(taskRoot, moduleRoot, moduleName);
  if (fs.existsSync(file)) return opts.require(file);
  const isModule = packageTypeIsModule(path.dirname(file));
  if (fs.existsSync(file + '.js')) {
    if (!isModule) return opts.require(file + '.js');
    return importModule(file + '.js', opts);
  }
  if (fs.existsSync(file + '.mjs')) return importModule(file + '.mjs', opts);
  if (fs.existsSync(file + '.cjs')) return opts.require(file + '.cjs');
  const roots = [taskRoot, path.resolve(taskRoot, moduleRoot)];
  return opts.require(opts.require.resolve(moduleName, { paths: roots }));
}

let hooksRegistered = false;

async function importModule(file, opts) {
  // module.register arrived in Node.js 18.19 and 20.6; before, ES
  // modules see no NODE_PATH.
  if (!hooksRegistered && opts.esmDirs.length > 0 && typeof nodeModule.register === 'function') {
    hooksRegistered = true;
    nodeModule.register(new URL('./esm_hooks.mjs', import.meta.url), { data: { dirs: opts.esmDirs } });
  }
  return import(pathToFileURL(file).href);
}

// packageTypeIsModule reports whether the package.json nearest to dir
// (dir's own or an ancestor's) says "type": "module".
function packageTypeIsModule(dir) {
  for (;;) {
    let text;
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return false;
      dir = parent;
      continue;
    }
    try {
      return JSON.parse(text)?.type === 'module';
    } catch {
      return false;
    }
  }
}
