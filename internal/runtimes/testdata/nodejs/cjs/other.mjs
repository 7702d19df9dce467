export const handler = async () => 'other.mjs'
