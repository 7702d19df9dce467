import not_installed_anywhere


def handler(event, context):
    return None
