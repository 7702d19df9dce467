def other_handler(event, context):
    return None
