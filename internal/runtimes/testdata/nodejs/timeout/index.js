exports.handler = async function(event) {
  await new Promise((resolve) => setTimeout(resolve, event.ms))
  return { slept: event.ms }
}
