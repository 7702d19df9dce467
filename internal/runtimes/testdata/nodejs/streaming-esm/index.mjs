// An ES module sees the global awslambda in its module scope.
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.write('esm ')
  responseStream.end(context.functionName)
})
