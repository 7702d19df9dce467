function listBuckets(params, callback) {
  setImmediate(() => callback(null, { Buckets: [] }))
}

exports.handler = function(event, context, callback) {
  context.callbackWaitsForEmptyEventLoop = !!event.wait
  listBuckets(null, callback)
  setTimeout(function () {
    console.log('Timeout complete.')
  }, event.timerMs)
}
