// Module resolution hooks that let ES modules import packages from the
// node_modules directories of NODE_PATH, as Lambda's Node.js runtimes do
// from Node.js 18 on: a bare specifier ("pkg", "@scope/pkg/sub") that
// Node.js does not find from the importing module is looked up in each of
// those directories in turn. Registered only for ES module handlers when
// such a directory (a layer's /opt/nodejs/node_modules) exists.

import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parents = [];

// initialize receives the node_modules directories, in NODE_PATH order.
export function initialize(data) {
  // A parent module just above each directory makes Node.js look in
  // DIR/pkg first, with package.json "exports" and the "import" condition
  // applied as for any import.
  parents = (data?.dirs ?? []).map((dir) => pathToFileURL(path.join(path.dirname(dir), '__ember_node_path__.mjs')).href);
}

function isBare(specifier) {
  return !(specifier.startsWith('.') || specifier.startsWith('/') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier));
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier)) throw err;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (e) {
        if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
      }
    }
    throw err;
  }
}
