exports.succeed = function(event, context) {
  context.succeed({ via: 'succeed' })
}

exports.fail = function(event, context) {
  context.fail(new Error('failed via context.fail'))
}

exports.failEmpty = function(event, context) {
  context.fail()
}

exports.doneResult = function(event, context) {
  context.done(null, { via: 'done' })
}

exports.doneError = function(event, context) {
  context.done(new TypeError('failed via context.done'))
}

// succeed does not wait for the event loop: the timer is still pending.
exports.succeedNoWait = function(event, context) {
  setTimeout(() => console.log('timer after succeed'), 300)
  context.succeed('answered before the timer')
}

exports.twice = function(event, context) {
  context.succeed('first')
  context.succeed('second')
}
