import { helper } from './lib.js'

const config = await new Promise((resolve) => setTimeout(() => resolve({ loaded: true }), 20))

export async function handler(event) {
  return { module: 'esm', ext: 'js', config, helper: helper(), isESM: typeof require === 'undefined' }
}
