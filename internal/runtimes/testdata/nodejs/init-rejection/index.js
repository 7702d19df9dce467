Promise.reject(new Error('rejected during init'))

exports.handler = async function() {
  return 'unreachable'
}
