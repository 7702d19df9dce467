exports.handler = async () => 'second.cjs'
