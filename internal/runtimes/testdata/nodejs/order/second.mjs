export const handler = async () => 'second.mjs'
