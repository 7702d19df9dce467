def handler(event, context):
    return {"module": __name__, "package": __package__}
