import sys

import layermod
import shadowed
import sitemod
import taskfirst


def handler(event, context):
    return {
        "layermod": layermod.VALUE,
        "sitemod": sitemod.VALUE,
        "shadowed": shadowed.VALUE,
        "taskfirst": taskfirst.VALUE,
        "path": sys.path[:4],
    }
