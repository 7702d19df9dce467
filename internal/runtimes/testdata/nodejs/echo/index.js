exports.handler = async function(event, context) {
  return { event, clientContext: context.clientContext }
}
