exports.handler = async function(event, context) {
  console.log('Remaining time: ', context.getRemainingTimeInMillis())
  console.log('Function name: ', context.functionName)
  return context.logStreamName
}

exports.fields = async function(event, context) {
  return {
    json: JSON.parse(JSON.stringify(context)),
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    memoryLimitType: typeof context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    identity: context.identity === undefined ? '<undefined>' : context.identity,
    clientContext: context.clientContext === undefined ? '<undefined>' : context.clientContext,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    methods: ['done', 'succeed', 'fail', 'getRemainingTimeInMillis'].map((m) => m + ':' + typeof context[m]),
    remaining: context.getRemainingTimeInMillis(),
    now: Date.now(),
    traceId: process.env._X_AMZN_TRACE_ID === undefined ? '<undefined>' : process.env._X_AMZN_TRACE_ID,
  }
}

// remaining returns the time left after waiting event.ms.
exports.remaining = async function(event, context) {
  const before = context.getRemainingTimeInMillis()
  await new Promise((r) => setTimeout(r, event.ms))
  return { before, after: context.getRemainingTimeInMillis() }
}
