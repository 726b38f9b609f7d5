pytest_plugins = ["realservices.plugin"]
