CONFIG = {}


def load():
    return CONFIG["table"]


TABLE = load()


def handler(event, context):
    return None
