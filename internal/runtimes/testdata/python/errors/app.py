class OrderError(Exception):
    pass


def handler(event, context):
    case = event["case"]
    if case == "exception":
        raise Exception("something went wrong")
    if case == "custom":
        order = Order(event["order"])
        order.check
    if case == "keyerror":
        return ACTIONS[event['action']](event['number'])
    if case == "marshal":
        return {"ids": {1, 2}}
    if case == "unicode":
        raise ValueError("caf\u00e9 \u2615")
    return {"case": case}


class Order:
    def __init__(self, number):
        self.number = number

    @property
    def check(self):
        raise OrderError("order %s is not valid" % self.number)


ACTIONS = {"increment": lambda n: n + 1}
