import logging
import os
import time

time.sleep(0.3)
INITS = 1
count = 0
print("init: module loaded, pid", os.getpid())
logging.getLogger().warning("init warning")


def handler(event, context):
    global count
    count += 1
    return {"inits": INITS, "invocations": count, "pid": os.getpid()}
