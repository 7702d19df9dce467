exports.handler = async () => 'third.cjs'
