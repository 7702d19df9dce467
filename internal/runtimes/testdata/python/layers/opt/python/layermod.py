VALUE = "opt/python"
