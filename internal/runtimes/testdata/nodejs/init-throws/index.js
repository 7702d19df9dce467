throw new Error('cold')

exports.handler = async function() {}
