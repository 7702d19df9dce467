def hello(name):
    return "hello, " + name + ", from a layer"
