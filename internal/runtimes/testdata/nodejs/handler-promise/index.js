const http = require('http')

exports.handler = async function(event) {
  const url = event.url
  const promise = new Promise(function(resolve, reject) {
    http.get(url, (res) => {
        resolve(res.statusCode)
      }).on('error', (e) => {
        reject(Error(e))
      })
    })
  return promise
}
