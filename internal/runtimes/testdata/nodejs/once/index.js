let invocations = 0
const initId = Math.random().toString(36).slice(2)
console.log('init ran', initId)

exports.handler = async function() {
  invocations++
  return { invocations, initId }
}
