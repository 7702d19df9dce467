const fs = require('fs')

// The local ports of the established connections to the Runtime API, as
// /proc/self/net/tcp lists them.
exports.handler = async function() {
  const apiPort = Number(process.env.AWS_LAMBDA_RUNTIME_API.split(':').pop())
  const ports = []
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, remote, state] = line.trim().split(/\s+/)
      if (state === '01' && parseInt(remote.split(':')[1], 16) === apiPort) {
        ports.push(String(parseInt(local.split(':')[1], 16)))
      }
    }
  }
  return ports
}
