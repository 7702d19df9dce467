const http = require('http')

exports.handler =  function(event, context, callback) {
  const url = event.url
  http.get(url, (res) => {
    callback(null, res.statusCode)
  }).on('error', (e) => {
    callback(Error(e))
  })
}
