import logging

logger = logging.getLogger()


def handler(event, context):
    logger.debug("debug")
    logger.info("info")
    logger.warning("warning")
    logger.error("error")
    return logging.getLevelName(logger.level)
