import { hostname } from 'node:os'

const started = await Promise.resolve('top-level await done')
console.log(started)

export const handler = async (event) => {
  return { module: 'esm', ext: 'mjs', started, type: typeof hostname, echo: event }
}
