// A handler without a callback that returns a value: Lambda ignores the
// value and answers null once the event loop is empty.
exports.handler = function(event) {
  return 'ignored'
}

// An async handler whose promise never settles, with nothing pending.
exports.never = function(event, context) {
  return new Promise(() => {})
}
