// Greets the name in the event, and says which function and memory size it ran as.
export const handler = async (event, context) => {
  console.log("greeting", event.name);
  return {
    message: `Hello, ${event.name ?? "world"}!`,
    function: context.functionName,
    memory: context.memoryLimitInMB,
  };
};
