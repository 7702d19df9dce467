exports.handler = async () => 'index.js'
