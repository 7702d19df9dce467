VALUE = "task root"
