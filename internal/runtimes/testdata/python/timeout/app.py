import os
import time

STARTED = time.time()


def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "started": STARTED}
