exports.handler = async function() {
    return x + 10
  }

class ValidationError extends Error {
  constructor(message, field) {
    super(message)
    this.name = 'ValidationError'
    this.field = field
  }
}

class PlainCustomError extends Error {}

exports.custom = async function() {
  throw new ValidationError('amount must be positive', 'amount')
}

exports.plainCustom = async function() {
  throw new PlainCustomError('a subclass that keeps the name Error')
}

exports.rejectString = async function() {
  throw 'just a string'
}

exports.rejectObject = function() {
  return Promise.reject({ code: 42, reason: 'an object' })
}

exports.callbackString = function(event, context, callback) {
  callback('callback error string')
}

exports.syncThrow = function(event, context, callback) {
  throw new RangeError('thrown before any callback')
}

exports.circular = async function() {
  const o = {}
  o.self = o
  return o
}
