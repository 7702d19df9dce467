const layerpkg = require('layerpkg')

exports.handler = async function() {
  return { greeting: layerpkg.greet('cjs'), format: layerpkg.format }
}
