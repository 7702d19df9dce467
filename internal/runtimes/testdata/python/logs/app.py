import logging
import sys

logger = logging.getLogger()
logger.setLevel(logging.INFO)
logger.info("loaded during init")


def handler(event, context):
    print("hello from print")
    print("two", "words")
    logger.info("info %s", "message")
    logger.debug("not shown at INFO")
    logging.getLogger("child").warning("from a child logger")
    sys.stderr.write("to stderr\n")
    logger.error("first line\nsecond line")
    context.log("from context.log\n")
    print("no newline at the end", end="")
    return "ok"
