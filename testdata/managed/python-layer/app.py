# Imports a module that a layer provides under /opt/python.
import greeting


def handler(event, context):
    return {"message": greeting.hello(event.get("name", "world")), "request_id": context.aws_request_id}
