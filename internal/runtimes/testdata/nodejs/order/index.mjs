export const handler = async () => 'index.mjs'
