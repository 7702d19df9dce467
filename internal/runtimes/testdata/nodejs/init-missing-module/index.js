const sdk = require('aws-sdk')

exports.handler = async function() {
  return sdk
}
