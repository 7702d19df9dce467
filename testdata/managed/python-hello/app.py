# Greets the name in the event, and says which function and memory size it ran as.
def handler(event, context):
    print("greeting", event.get("name"))
    return {
        "message": "Hello, " + event.get("name", "world") + "!",
        "function": context.function_name,
        "memory": context.memory_limit_in_mb,
    }
