// Imports a package that a layer provides under /opt/nodejs/node_modules,
// and requires it too, as CommonJS code would.
import { createRequire } from "node:module";
import { hello } from "greet";

const require = createRequire(import.meta.url);

export const handler = async (event, context) => ({
  message: hello(event.name ?? "world"),
  required: require("greet").hello("cjs"),
  requestId: context.awsRequestId,
});
