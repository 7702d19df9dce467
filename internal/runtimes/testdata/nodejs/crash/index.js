exports.uncaught = function(event, context, callback) {
  setTimeout(() => {
    throw new Error('thrown from a timer')
  }, 10)
}

exports.unhandled = async function() {
  Promise.reject(new Error('nobody handles this'))
  await new Promise((resolve) => setTimeout(resolve, 200))
  return 'too late'
}
