exports.handler = async () => 'index.cjs'
